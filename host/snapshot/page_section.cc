// The PAGE section: non-zero page scan, encoding and checked decoding.
#include "host/snapshot/page_section.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace twinstep::host {
namespace {

constexpr uint64_t kMaxGfn = (1ull << (64 - kPageShift)) - 1;
constexpr uint64_t kPopulateMinPages = 16;

// Stops at the first non-zero cache line: most pages in use say so early.
bool PageIsZero(const uint8_t* p) {
  const auto* w = reinterpret_cast<const uint64_t*>(p);  // pages are 4 KiB aligned in the mapping
  for (size_t i = 0; i < kPageSize / 8; i += 8) {
    if ((w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7]) != 0) return false;
  }
  return true;
}

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

uint8_t* PagePtr(const GuestMemory& mem, uint64_t gfn) {
  if (gfn > kMaxGfn) return nullptr;
  return mem.HostPtr(gfn << kPageShift, kPageSize);
}

void ForEachNonZeroPage(const GuestMemory& mem, const std::function<void(uint64_t, const uint8_t*)>& fn) {
  const off_t end = static_cast<off_t>(mem.size());
  for (const MemRegion& r : mem.regions()) {
    off_t pos = static_cast<off_t>(r.offset);
    const off_t region_end = std::min<off_t>(end, static_cast<off_t>(r.offset + r.size));
    while (pos < region_end) {
      off_t data = lseek(mem.fd(), pos, SEEK_DATA);
      off_t hole = region_end;
      if (data < 0) {
        if (errno == ENXIO) break;  // nothing but holes from pos on
        data = pos;                 // no SEEK_DATA here: read everything
      } else {
        hole = lseek(mem.fd(), data, SEEK_HOLE);
        if (hole < 0 || hole > region_end) hole = region_end;
      }
      if (data >= region_end) break;
      for (uint64_t off = static_cast<uint64_t>(data) & ~(kPageSize - 1); off < static_cast<uint64_t>(hole); off += kPageSize) {
        const uint8_t* p = mem.base() + off;
        if (!PageIsZero(p)) fn((r.gpa + (off - r.offset)) >> kPageShift, p);
      }
      pos = hole;
    }
  }
}

std::vector<uint64_t> NonZeroPages(const GuestMemory& mem) {
  std::vector<uint64_t> out;
  ForEachNonZeroPage(mem, [&](uint64_t gfn, const uint8_t*) { out.push_back(gfn); });
  return out;
}

Result<PageSectionWriter> PageSectionWriter::Build(const GuestMemory& mem, std::span<const uint64_t> gfns, uint32_t flags) {
  PageSectionWriter w;
  w.gfns_.assign(gfns.begin(), gfns.end());
  if (!std::is_sorted(w.gfns_.begin(), w.gfns_.end())) std::sort(w.gfns_.begin(), w.gfns_.end());
  w.gfns_.erase(std::unique(w.gfns_.begin(), w.gfns_.end()), w.gfns_.end());
  const uint8_t* run = nullptr;
  size_t run_bytes = 0;
  for (uint64_t gfn : w.gfns_) {
    const uint8_t* p = PagePtr(mem, gfn);
    if (p == nullptr) {
      return Fail(Errc::kArgument, "frame " + Hex(gfn) + " is not a page of the " + std::to_string(mem.size() >> 20) +
                                       " MiB of guest RAM");
    }
    if (run != nullptr && run + run_bytes == p) {
      run_bytes += kPageSize;
      continue;
    }
    if (run != nullptr) w.runs_.push_back({run, run_bytes});
    run = p;
    run_bytes = kPageSize;
  }
  if (run != nullptr) w.runs_.push_back({run, run_bytes});
  w.header_[0] = mem.size();
  w.header_[1] = flags;
  w.header_[2] = w.gfns_.size();
  return w;
}

SectionData PageSectionWriter::Section() const {
  SectionData s{kSecPages, {}};
  s.parts.push_back({reinterpret_cast<const uint8_t*>(header_), sizeof header_});  // plain integers: their bytes
  s.parts.push_back({reinterpret_cast<const uint8_t*>(gfns_.data()), gfns_.size() * sizeof(uint64_t)});
  s.parts.insert(s.parts.end(), runs_.begin(), runs_.end());
  return s;
}

uint64_t PageSectionView::gfn(uint64_t i) const {
  uint64_t g;
  std::memcpy(&g, gfns.data() + i * 8, 8);
  return g;
}

Result<PageSectionView> ParsePageSection(std::span<const uint8_t> s, const GuestMemory& mem) {
  static_assert(sizeof(uint64_t[3]) == kPageSectionHeaderBytes);
  if (s.size() < kPageSectionHeaderBytes) {
    return Fail(Errc::kSnapshotCorrupt, "PAGE section of " + std::to_string(s.size()) + " bytes is shorter than its header");
  }
  uint64_t ram = 0, count = 0;
  uint32_t flags = 0;
  std::memcpy(&ram, s.data(), 8);
  std::memcpy(&flags, s.data() + 8, 4);
  std::memcpy(&count, s.data() + 16, 8);
  if (ram != mem.size()) {
    return Fail(Errc::kSnapshotMismatch, "PAGE section is for " + std::to_string(ram >> 20) + " MiB of RAM, this VM has " +
                                             std::to_string(mem.size() >> 20) + " MiB");
  }
  if ((flags & ~kPagesComplete) != 0) return Fail(Errc::kSnapshotCorrupt, "PAGE section has unknown flags " + Hex(flags));
  const uint64_t body = s.size() - kPageSectionHeaderBytes;
  if (count > body / (8 + kPageSize) || body != count * (8 + kPageSize)) {
    return Fail(Errc::kSnapshotCorrupt, "PAGE section of " + std::to_string(s.size()) + " bytes cannot hold the " +
                                            std::to_string(count) + " pages its header announces");
  }
  PageSectionView v;
  v.flags = flags;
  v.count = count;
  v.gfns = s.subspan(kPageSectionHeaderBytes, count * 8);
  v.pages = s.subspan(kPageSectionHeaderBytes + count * 8);
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t g = v.gfn(i);
    if (PagePtr(mem, g) == nullptr) {
      return Fail(Errc::kSnapshotCorrupt, "PAGE section: page #" + std::to_string(i) + " (frame " + Hex(g) +
                                              ") is not a page of the " + std::to_string(mem.size() >> 20) + " MiB of guest RAM");
    }
    if (i > 0 && g <= v.gfn(i - 1)) {
      return Fail(Errc::kSnapshotCorrupt, "PAGE section: page #" + std::to_string(i) + " (frame " + Hex(g) +
                                              ") does not follow frame " + Hex(v.gfn(i - 1)) + " in ascending order");
    }
  }
  return v;
}

void WritePages(GuestMemory& mem, const PageSectionView& v) {
  if (v.complete()) {
    // Zero what is not listed, in place: punching the whole memfd would make
    // every listed page fault in again (tens of µs each under software KVM).
    uint64_t i = 0;
    ForEachNonZeroPage(mem, [&](uint64_t gfn, const uint8_t* page) {
      while (i < v.count && v.gfn(i) < gfn) ++i;
      if (i == v.count || v.gfn(i) != gfn) std::memset(const_cast<uint8_t*>(page), 0, kPageSize);  // mem is ours to write
    });
  }
  uint64_t i = 0;
  while (i < v.count) {
    uint8_t* dst = PagePtr(mem, v.gfn(i));
    uint64_t n = 1;
    while (i + n < v.count && v.gfn(i + n) == v.gfn(i) + n && PagePtr(mem, v.gfn(i + n)) == dst + n * kPageSize) ++n;
    // A run of pages not yet in memory is faulted in by one call, not one
    // fault per page; best effort (the copy faults in whatever is left).
    if (n >= kPopulateMinPages) (void)madvise(dst, n * kPageSize, MADV_POPULATE_WRITE);
    std::memcpy(dst, v.pages.data() + i * kPageSize, n * kPageSize);
    i += n;
  }
}

}  // namespace twinstep::host
