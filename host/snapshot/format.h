// The snapshot container, for files and for in-memory checkpoint images alike:
// a header (magic, version, section count, CRC), a table of sections (id,
// offset, size, CRC-64) and the sections. Parsing is pure and checks everything
// (bounds, CRCs, version, duplicate sections) before anyone uses a byte.
//
//   Header   magic "TWSNAP\r\n" | u32 version | u32 section_count
//            | u64 table_offset | u32 table_crc32c | u32 header_crc32c
//   Table    section_count x { u32 id | u32 reserved | u64 offset | u64 size | u64 crc64 }
//   Sections at their offsets
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "host/error.h"

namespace twinstep::host {

inline constexpr char kSnapshotMagic[8] = {'T', 'W', 'S', 'N', 'A', 'P', '\r', '\n'};
inline constexpr uint32_t kSnapshotVersion = 2;  // 2: memory as a PAGE section (page_section.h)
inline constexpr uint32_t kMaxSections = 1024;

constexpr uint32_t SectionId(const char (&s)[5]) {
  return uint32_t(uint8_t(s[0])) | uint32_t(uint8_t(s[1])) << 8 | uint32_t(uint8_t(s[2])) << 16 |
         uint32_t(uint8_t(s[3])) << 24;
}
std::string SectionName(uint32_t id);

struct SnapshotHeader {
  char magic[8];
  uint32_t version;
  uint32_t section_count;
  uint64_t table_offset;
  uint32_t table_crc;
  uint32_t header_crc;  // CRC-32C of the bytes before it
};
static_assert(sizeof(SnapshotHeader) == 32);

struct SectionEntry {
  uint32_t id;
  uint32_t reserved;
  uint64_t offset;
  uint64_t size;
  uint64_t crc64;
};
static_assert(sizeof(SectionEntry) == 32);

// A section whose bytes come in pieces (so that guest memory is written from
// where it lies, without a copy).
struct SectionData {
  uint32_t id;
  std::vector<std::span<const uint8_t>> parts;
};

// Writes path atomically (a temporary file renamed over it).
Status WriteSnapshotFile(const std::string& path, std::span<const SectionData> sections);
// The same container in memory. Section CRCs are computed over the copied
// bytes, so the image is consistent even if a part changes while it is copied
// (pre-copy reads the memory of a running guest).
std::vector<uint8_t> BuildSnapshotImage(std::span<const SectionData> sections);
// The same into *out, reusing its memory: a large image in a fresh buffer
// costs a page fault per 4 KiB, more than the copy itself.
void BuildSnapshotImage(std::span<const SectionData> sections, std::vector<uint8_t>* out);

// A checked snapshot: every section's bounds and CRC verified.
class SnapshotIndex {
 public:
  // Checks header, table and every section CRC of an in-memory file.
  static Result<SnapshotIndex> Parse(std::span<const uint8_t> file);
  // The section's bytes, or an empty optional-like result when absent.
  bool Find(uint32_t id, std::span<const uint8_t>* out) const;
  const std::vector<SectionEntry>& sections() const { return table_; }

 private:
  std::span<const uint8_t> file_;
  std::vector<SectionEntry> table_;
};

// A snapshot file mapped read-only, then parsed. Keeps the mapping alive.
class SnapshotFile {
 public:
  static Result<std::unique_ptr<SnapshotFile>> Open(const std::string& path);
  ~SnapshotFile();
  const SnapshotIndex& index() const { return index_; }
  uint64_t size() const { return size_; }

 private:
  SnapshotFile() = default;
  void* map_ = nullptr;
  uint64_t size_ = 0;
  SnapshotIndex index_;
};

}  // namespace twinstep::host
