// The memory section (PAGE) shared by snapshot files and checkpoint images: a
// list of guest frames and their contents. A "complete" section stands for all
// of RAM (frames not listed are zero); a partial one replaces only its frames.
//
//   u64 ram_bytes | u32 flags | u32 reserved | u64 count
//   | count x u64 gfn (strictly ascending) | count x 4096 bytes (in gfn order)
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "host/error.h"
#include "host/memory.h"
#include "host/snapshot/format.h"

namespace twinstep::host {

inline constexpr uint32_t kSecPages = SectionId("PAGE");
inline constexpr uint32_t kPagesComplete = 1;  // frames not listed are zero
inline constexpr uint64_t kPageSectionHeaderBytes = 24;

// Calls fn(gfn, page) for every page of RAM that is not all zero, in gfn
// order. Holes of the memfd (never written) are skipped without being read,
// so that scanning a mostly empty guest neither costs time nor faults pages in.
void ForEachNonZeroPage(const GuestMemory& mem, const std::function<void(uint64_t gfn, const uint8_t* page)>& fn);
// The frames of every non-zero page, ascending: what a full image must carry.
std::vector<uint64_t> NonZeroPages(const GuestMemory& mem);
// The host address of frame gfn, or nullptr when it is not a page of RAM.
uint8_t* PagePtr(const GuestMemory& mem, uint64_t gfn);

// A PAGE section ready to be written: the header and frame list it owns, the
// page contents as spans into guest memory (runs of adjacent pages merged).
class PageSectionWriter {
 public:
  // gfns in any order, duplicates allowed (sorted and merged here); a frame
  // outside RAM is an error naming it.
  static Result<PageSectionWriter> Build(const GuestMemory& mem, std::span<const uint64_t> gfns, uint32_t flags);
  // Valid while this writer and the guest memory live.
  SectionData Section() const;
  uint64_t pages() const { return gfns_.size(); }

 private:
  uint64_t header_[3] = {};
  std::vector<uint64_t> gfns_;
  std::vector<std::span<const uint8_t>> runs_;
};

// A checked PAGE section: sizes consistent, flags known, frames ascending and in RAM.
struct PageSectionView {
  uint32_t flags = 0;
  uint64_t count = 0;
  std::span<const uint8_t> gfns;   // count x u64, little-endian
  std::span<const uint8_t> pages;  // count x 4096 bytes
  uint64_t gfn(uint64_t i) const;
  bool complete() const { return (flags & kPagesComplete) != 0; }
};

// Checks a PAGE section against the memory it is for; errors name the frame.
Result<PageSectionView> ParsePageSection(std::span<const uint8_t> section, const GuestMemory& mem);
// Writes the pages; a complete section first zeroes, in place, every other
// non-zero frame. Plain stores into the mapping: neither KVM's dirty log nor
// the VMM's dirty bitmap sees them, so they are never reported by CollectDirty.
void WritePages(GuestMemory& mem, const PageSectionView& v);

}  // namespace twinstep::host
