// VM-state images for replication: a checkpoint of a paused Machine (the given
// dirty pages, every vCPU, irqchip/PIT/clock, devices and an opaque blob of the
// controller's) and memory-only page images for the pre-copy of a live join,
// in memory, in the snapshot container (host/snapshot/); plus a RAM digest.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "host/error.h"
#include "host/machine.h"
#include "host/memory.h"
#include "host/snapshot/format.h"
#include "host/snapshot/page_section.h"

namespace twinstep::host {

// The controller's blob in a checkpoint image.
inline constexpr uint32_t kSecExtra = SectionId("XTRA");
inline constexpr uint64_t kMaxExtraBytes = 1ull << 20;

// A checkpoint image of m, which must be paused (Machine::Pause): the pages
// gfns (4 KiB frames, any order, duplicates merged), every vCPU, the VM
// devices and the device state, and `extra` carried as is. A frame outside RAM
// is an error naming it. complete: gfns are all non-zero pages
// (NonZeroPages) and the receiver zeroes every other page, for a full
// resynchronisation of a receiver whose memory is stale.
Result<std::vector<uint8_t>> EncodeCheckpoint(Machine& m, std::span<const uint64_t> gfns, std::span<const uint8_t> extra,
                                              bool complete = false);
// The same into *out, reusing its memory: a fresh buffer for a large image
// costs a page fault per 4 KiB, more than the copy (docs/BENCHMARKS.md).
Status EncodeCheckpointInto(Machine& m, std::span<const uint64_t> gfns, std::span<const uint8_t> extra,
                            std::vector<uint8_t>* out, bool complete = false);

// Applies a checkpoint image to m, which must not be running (fresh, or
// paused). Everything is checked before anything changes: container (magic,
// version, every section's bounds and CRC-64), RAM size and vCPU count, every
// vCPU and KVM section, the page list (frames ascending and in RAM), the extra
// blob; devices that refuse their state are put back. Errors name the section
// and page. On success *extra_out (if not null) receives the blob.
// Dirty tracking: the pages written here are never reported by m's
// CollectDirty; pages m dirtied itself before the apply stay reported.
Status ApplyCheckpoint(Machine& m, std::span<const uint8_t> image, std::vector<uint8_t>* extra_out);

// Memory only, for pre-copy rounds while the source guest runs: a page read
// while the guest writes it is torn in the image but consistent with its CRC,
// and the guest's write leaves it dirty for the next round, provided each
// round calls CollectDirty before it encodes (the first round included, to
// set the baseline before NonZeroPages). complete: frames
// not listed are zero (the first round: every page NonZeroPages lists, see
// host/snapshot/page_section.h; later rounds: the frames CollectDirty returns).
Result<std::vector<uint8_t>> EncodePages(const GuestMemory& mem, std::span<const uint64_t> gfns, bool complete = false);
Status EncodePagesInto(const GuestMemory& mem, std::span<const uint64_t> gfns, bool complete, std::vector<uint8_t>* out);
// Writes a page image into mem (not reported by CollectDirty, see above); the
// VM must not be running. Checked like ApplyCheckpoint first.
Status ApplyPages(GuestMemory& mem, std::span<const uint8_t> image);

// A secondary's dirty pages at a checkpoint, each with the CRC-64 of its
// content, so that the primary sends only the pages whose content differs:
// in lockstep both replicas almost always wrote the same bytes, and the
// transfer of identical pages was most of each checkpoint's pause.
struct PageCrc {
  uint64_t gfn = 0;
  uint64_t crc = 0;
};
std::vector<uint8_t> EncodePageCrcs(const GuestMemory& mem, std::span<const uint64_t> gfns);
// Checks the shape (whole 16-byte entries, frames ascending, inside RAM).
Result<std::vector<PageCrc>> DecodePageCrcs(const GuestMemory& mem, std::span<const uint8_t> bytes);
// Of `gfns` (ascending: both replicas' dirty pages), those the peer's copy may
// differ in: the peer did not list the page, or its CRC is not ours.
std::vector<uint64_t> PagesThatDiffer(const GuestMemory& mem, std::span<const uint64_t> gfns,
                                      std::span<const PageCrc> peer);

// A digest of all RAM: CRC-64/XZ over every run of adjacent non-zero pages in
// frame order, each as (first frame, page count, pages), so that two memories
// are equal exactly when their digests are (up to CRC collisions), whatever
// their holes. 0 for all-zero RAM.
uint64_t MemoryDigest(const GuestMemory& mem);

}  // namespace twinstep::host
