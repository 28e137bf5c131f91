// Checkpoint and page images for replication, on the snapshot encoder/decoder.
#include "host/replication/state_image.h"

#include <cstring>
#include <string>

#include "common/crc.h"
#include "host/snapshot/page_section.h"
#include "host/snapshot/snapshot.h"

namespace twinstep::host {
namespace {

// Container checks, named as a checkpoint (not a "snapshot") for the caller.
Result<SnapshotIndex> ParseImage(std::span<const uint8_t> image, const char* what) {
  auto idx = SnapshotIndex::Parse(image);
  if (!idx) {
    Error e = idx.error();
    e.detail = std::string(what) + ": " + e.detail;
    return MakeUnexpected(e);
  }
  return idx;
}

bool KnownCheckpointSection(uint32_t id, uint32_t vcpus) {
  for (uint32_t i = 0; i < vcpus; ++i) {
    if (id == VcpuSectionId(i)) return true;
  }
  return id == kSecConfig || id == kSecVmDevices || id == kSecDevices || id == kSecPages || id == kSecExtra;
}

}  // namespace

Status EncodeCheckpointInto(Machine& m, std::span<const uint64_t> gfns, std::span<const uint8_t> extra,
                            std::vector<uint8_t>* out, bool complete) {
  if (extra.size() > kMaxExtraBytes) {
    return Fail(Errc::kArgument, "extra blob of " + std::to_string(extra.size()) + " bytes (at most " +
                                     std::to_string(kMaxExtraBytes) + ")");
  }
  auto img = MachineImage::Capture(m, gfns, complete ? kPagesComplete : 0);
  if (!img) return MakeUnexpected(img.error());
  img->AddSection(kSecExtra, extra);
  BuildSnapshotImage(img->Sections(), out);
  return {};
}

Result<std::vector<uint8_t>> EncodeCheckpoint(Machine& m, std::span<const uint64_t> gfns, std::span<const uint8_t> extra,
                                              bool complete) {
  std::vector<uint8_t> out;
  if (auto s = EncodeCheckpointInto(m, gfns, extra, &out, complete); !s) return MakeUnexpected(s.error());
  return out;
}

Status ApplyCheckpoint(Machine& m, std::span<const uint8_t> image, std::vector<uint8_t>* extra_out) {
  auto idx = ParseImage(image, "checkpoint");
  if (!idx) return MakeUnexpected(idx.error());
  for (const SectionEntry& e : idx->sections()) {
    if (!KnownCheckpointSection(e.id, m.vm().vcpu_count())) {
      return Fail(Errc::kSnapshotCorrupt, "checkpoint: unexpected section " + SectionName(e.id));
    }
  }
  std::span<const uint8_t> extra;
  if (!idx->Find(kSecExtra, &extra)) return Fail(Errc::kSnapshotCorrupt, "checkpoint: no XTRA section");
  if (extra.size() > kMaxExtraBytes) {
    return Fail(Errc::kSnapshotCorrupt, "checkpoint: XTRA section of " + std::to_string(extra.size()) + " bytes");
  }
  if (auto s = ApplyMachineImage(m, *idx, false); !s) {
    Error e = s.error();
    e.detail = "checkpoint: " + e.detail;
    return MakeUnexpected(e);
  }
  if (extra_out != nullptr) extra_out->assign(extra.begin(), extra.end());
  return {};
}

Status EncodePagesInto(const GuestMemory& mem, std::span<const uint64_t> gfns, bool complete, std::vector<uint8_t>* out) {
  auto pages = PageSectionWriter::Build(mem, gfns, complete ? kPagesComplete : 0);
  if (!pages) return MakeUnexpected(pages.error());
  const SectionData s = pages->Section();
  BuildSnapshotImage({&s, 1}, out);
  return {};
}

Result<std::vector<uint8_t>> EncodePages(const GuestMemory& mem, std::span<const uint64_t> gfns, bool complete) {
  std::vector<uint8_t> out;
  if (auto s = EncodePagesInto(mem, gfns, complete, &out); !s) return MakeUnexpected(s.error());
  return out;
}

Status ApplyPages(GuestMemory& mem, std::span<const uint8_t> image) {
  auto idx = ParseImage(image, "page image");
  if (!idx) return MakeUnexpected(idx.error());
  std::span<const uint8_t> b;
  if (idx->sections().size() != 1 || !idx->Find(kSecPages, &b)) {
    return Fail(Errc::kSnapshotCorrupt, "page image: holds " + std::to_string(idx->sections().size()) +
                                            " sections, a page image has one PAGE section");
  }
  auto v = ParsePageSection(b, mem);
  if (!v) {
    Error e = v.error();
    e.detail = "page image: " + e.detail;
    return MakeUnexpected(e);
  }
  WritePages(mem, *v);
  return {};
}

namespace {
uint64_t PageCrcOf(const GuestMemory& mem, uint64_t gfn) {
  const uint8_t* page = PagePtr(mem, gfn);
  return page ? Crc64({page, kPageSize}) : 0;
}
}  // namespace

std::vector<uint8_t> EncodePageCrcs(const GuestMemory& mem, std::span<const uint64_t> gfns) {
  std::vector<uint8_t> out(gfns.size() * sizeof(PageCrc));
  for (size_t i = 0; i < gfns.size(); ++i) {
    const PageCrc e{gfns[i], PageCrcOf(mem, gfns[i])};
    std::memcpy(out.data() + i * sizeof e, &e, sizeof e);
  }
  return out;
}

Result<std::vector<PageCrc>> DecodePageCrcs(const GuestMemory& mem, std::span<const uint8_t> bytes) {
  if (bytes.size() % sizeof(PageCrc) != 0) {
    return Fail(Errc::kSnapshotCorrupt, "dirty-page list of " + std::to_string(bytes.size()) +
                                            " bytes is not a whole number of 16-byte (frame, CRC) entries");
  }
  std::vector<PageCrc> out(bytes.size() / sizeof(PageCrc));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  for (size_t i = 0; i < out.size(); ++i) {
    if (PagePtr(mem, out[i].gfn) == nullptr) {
      return Fail(Errc::kSnapshotCorrupt, "dirty-page list entry " + std::to_string(i) + ": frame " +
                                              std::to_string(out[i].gfn) + " is outside guest RAM");
    }
    if (i > 0 && out[i].gfn <= out[i - 1].gfn) {
      return Fail(Errc::kSnapshotCorrupt, "dirty-page list entry " + std::to_string(i) + ": frame " +
                                              std::to_string(out[i].gfn) + " is not above the one before");
    }
  }
  return out;
}

std::vector<uint64_t> PagesThatDiffer(const GuestMemory& mem, std::span<const uint64_t> gfns,
                                      std::span<const PageCrc> peer) {
  std::vector<uint64_t> out;
  size_t j = 0;  // both ascending: one merge walk
  for (const uint64_t gfn : gfns) {
    while (j < peer.size() && peer[j].gfn < gfn) ++j;
    if (j < peer.size() && peer[j].gfn == gfn && peer[j].crc == PageCrcOf(mem, gfn)) continue;
    out.push_back(gfn);
  }
  return out;
}

uint64_t MemoryDigest(const GuestMemory& mem) {
  // One CRC call per run of adjacent non-zero pages, not per page: the CLMUL
  // path's setup and final reduction would otherwise cost a third of the time.
  uint64_t crc = 0, first = 0, count = 0;
  const uint8_t* run = nullptr;
  auto flush = [&] {
    if (count == 0) return;
    const uint64_t head[2] = {first, count};
    crc = Crc64Update(crc, {reinterpret_cast<const uint8_t*>(head), sizeof head});  // two integers' bytes
    crc = Crc64Update(crc, {run, count * kPageSize});
  };
  ForEachNonZeroPage(mem, [&](uint64_t gfn, const uint8_t* page) {
    if (count != 0 && gfn == first + count && page == run + count * kPageSize) {
      ++count;
      return;
    }
    flush();
    first = gfn;
    run = page;
    count = 1;
  });
  flush();
  return crc;
}

}  // namespace twinstep::host
