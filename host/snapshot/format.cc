// Snapshot container writing (to a file or into memory), mapping and validation.
#include "host/snapshot/format.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "common/crc.h"

namespace twinstep::host {
namespace {

std::span<const uint8_t> Bytes(const void* p, size_t n) { return {static_cast<const uint8_t*>(p), n}; }

uint32_t HeaderCrc(const SnapshotHeader& h) { return Crc32c(Bytes(&h, offsetof(SnapshotHeader, header_crc))); }

Status WriteAll(int fd, std::span<const uint8_t> b, const std::string& path) {
  while (!b.empty()) {
    const ssize_t n = write(fd, b.data(), std::min<size_t>(b.size(), 1 << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno(Errc::kIo, "write " + path);
    }
    b = b.subspan(static_cast<size_t>(n));
  }
  return {};
}

// Offsets and sizes of the sections, laid out after the header and the table.
std::vector<SectionEntry> LayOut(std::span<const SectionData> sections) {
  std::vector<SectionEntry> table;
  uint64_t off = sizeof(SnapshotHeader) + sections.size() * sizeof(SectionEntry);
  for (const SectionData& s : sections) {
    SectionEntry e{s.id, 0, off, 0, 0};
    for (auto p : s.parts) e.size += p.size();
    off += e.size;
    table.push_back(e);
  }
  return table;
}

SnapshotHeader Seal(std::span<const SectionEntry> table) {
  SnapshotHeader h{};
  std::memcpy(h.magic, kSnapshotMagic, 8);
  h.version = kSnapshotVersion;
  h.section_count = static_cast<uint32_t>(table.size());
  h.table_offset = sizeof(SnapshotHeader);
  h.table_crc = Crc32c(Bytes(table.data(), table.size() * sizeof(SectionEntry)));
  h.header_crc = HeaderCrc(h);
  return h;
}

}  // namespace

std::string SectionName(uint32_t id) {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>(id >> (8 * i));
    s += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return s;
}

Status WriteSnapshotFile(const std::string& path, std::span<const SectionData> sections) {
  std::vector<SectionEntry> table = LayOut(sections);
  for (size_t i = 0; i < sections.size(); ++i) {
    for (auto p : sections[i].parts) table[i].crc64 = Crc64Update(table[i].crc64, p);
  }
  const SnapshotHeader h = Seal(table);

  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return FailErrno(Errc::kIo, "create " + tmp);
  Status st = WriteAll(fd, Bytes(&h, sizeof h), tmp);
  if (st) st = WriteAll(fd, Bytes(table.data(), table.size() * sizeof(SectionEntry)), tmp);
  for (const SectionData& s : sections) {
    for (auto p : s.parts) {
      if (st) st = WriteAll(fd, p, tmp);
    }
  }
  if (st && fsync(fd) != 0) st = FailErrno(Errc::kIo, "fsync " + tmp);
  close(fd);
  if (st && rename(tmp.c_str(), path.c_str()) != 0) st = FailErrno(Errc::kIo, "rename " + tmp + " to " + path);
  if (!st) unlink(tmp.c_str());
  return st;
}

std::vector<uint8_t> BuildSnapshotImage(std::span<const SectionData> sections) {
  std::vector<uint8_t> out;
  BuildSnapshotImage(sections, &out);
  return out;
}

void BuildSnapshotImage(std::span<const SectionData> sections, std::vector<uint8_t>* image) {
  std::vector<SectionEntry> table = LayOut(sections);
  const uint64_t total = table.empty() ? sizeof(SnapshotHeader) : table.back().offset + table.back().size;
  std::vector<uint8_t>& out = *image;
  out.resize(total);  // every byte is written below
  // Copy and CRC in pieces small enough that the CRC reads what the copy has
  // just left in the cache.
  constexpr size_t kPieceBytes = 128 << 10;
  for (size_t i = 0; i < sections.size(); ++i) {
    uint8_t* dst = out.data() + table[i].offset;
    for (auto p : sections[i].parts) {
      for (size_t at = 0; at < p.size(); at += kPieceBytes) {
        const size_t n = std::min(kPieceBytes, p.size() - at);
        std::memcpy(dst, p.data() + at, n);
        table[i].crc64 = Crc64Update(table[i].crc64, {dst, n});
        dst += n;
      }
    }
  }
  const SnapshotHeader h = Seal(table);
  std::memcpy(out.data(), &h, sizeof h);
  if (!table.empty()) std::memcpy(out.data() + sizeof h, table.data(), table.size() * sizeof(SectionEntry));
}

Result<SnapshotIndex> SnapshotIndex::Parse(std::span<const uint8_t> f) {
  SnapshotHeader h;
  if (f.size() < sizeof h) {
    return Fail(Errc::kSnapshotTruncated, "file of " + std::to_string(f.size()) + " bytes is shorter than the header");
  }
  std::memcpy(&h, f.data(), sizeof h);
  if (std::memcmp(h.magic, kSnapshotMagic, 8) != 0) return Fail(Errc::kSnapshotCorrupt, "bad magic: not a twinstep snapshot");
  if (h.header_crc != HeaderCrc(h)) return Fail(Errc::kSnapshotCorrupt, "header checksum mismatch");
  if (h.version != kSnapshotVersion) {
    return Fail(Errc::kSnapshotVersion, "format version " + std::to_string(h.version) + ", this build reads version " +
                                            std::to_string(kSnapshotVersion));
  }
  if (h.section_count > kMaxSections) {
    return Fail(Errc::kSnapshotCorrupt, std::to_string(h.section_count) + " sections (at most " +
                                            std::to_string(kMaxSections) + ")");
  }
  const uint64_t table_bytes = uint64_t{h.section_count} * sizeof(SectionEntry);
  if (h.table_offset > f.size() || table_bytes > f.size() - h.table_offset) {
    return Fail(Errc::kSnapshotTruncated, "section table ends past the end of the file");
  }
  SnapshotIndex idx;
  idx.file_ = f;
  idx.table_.resize(h.section_count);
  std::memcpy(idx.table_.data(), f.data() + h.table_offset, table_bytes);
  if (Crc32c(Bytes(idx.table_.data(), table_bytes)) != h.table_crc) {
    return Fail(Errc::kSnapshotCorrupt, "section table checksum mismatch");
  }
  for (size_t i = 0; i < idx.table_.size(); ++i) {
    const SectionEntry& e = idx.table_[i];
    for (size_t j = 0; j < i; ++j) {
      if (idx.table_[j].id == e.id) return Fail(Errc::kSnapshotCorrupt, "section " + SectionName(e.id) + " appears twice");
    }
    if (e.offset > f.size() || e.size > f.size() - e.offset) {
      return Fail(Errc::kSnapshotTruncated, "section " + SectionName(e.id) + " (" + std::to_string(e.size) +
                                                " bytes at " + std::to_string(e.offset) + ") ends past the end of the file");
    }
    if (Crc64(f.subspan(e.offset, e.size)) != e.crc64) {
      return Fail(Errc::kSnapshotCorrupt, "section " + SectionName(e.id) + " checksum mismatch");
    }
  }
  return idx;
}

bool SnapshotIndex::Find(uint32_t id, std::span<const uint8_t>* out) const {
  for (const SectionEntry& e : table_) {
    if (e.id == id) {
      *out = file_.subspan(e.offset, e.size);
      return true;
    }
  }
  return false;
}

Result<std::unique_ptr<SnapshotFile>> SnapshotFile::Open(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FailErrno(Errc::kIo, "open snapshot " + path);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    close(fd);
    return FailErrno(Errc::kIo, "stat " + path);
  }
  std::unique_ptr<SnapshotFile> sf(new SnapshotFile());
  sf->size_ = static_cast<uint64_t>(st.st_size);
  if (sf->size_ > 0) {
    sf->map_ = mmap(nullptr, sf->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (sf->map_ == MAP_FAILED) {
      sf->map_ = nullptr;
      close(fd);
      return FailErrno(Errc::kIo, "mmap " + path);
    }
  }
  close(fd);
  auto idx = SnapshotIndex::Parse({static_cast<const uint8_t*>(sf->map_), sf->size_});
  if (!idx) {
    Error e = idx.error();
    e.detail = path + ": " + e.detail;
    return MakeUnexpected(e);
  }
  sf->index_ = std::move(*idx);
  return sf;
}

SnapshotFile::~SnapshotFile() {
  if (map_ != nullptr) munmap(map_, size_);
}

}  // namespace twinstep::host
