// Save and restore of a whole Machine: guest memory, every vCPU, PIC/IOAPIC,
// PIT, kvmclock and every device, in the container of format.h. One image
// encoder and one checked decoder serve the snapshot file here and the
// in-memory checkpoint images of host/replication/.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "host/error.h"
#include "host/machine.h"
#include "host/snapshot/codec.h"
#include "host/snapshot/format.h"
#include "host/snapshot/page_section.h"

namespace twinstep::host {

inline constexpr uint32_t kSecConfig = SectionId("CONF");
inline constexpr uint32_t kSecVmDevices = SectionId("KVMD");
inline constexpr uint32_t kSecDevices = SectionId("DEVS");
inline uint32_t VcpuSectionId(uint32_t i) { return SectionId("VCP\0") + (i << 24); }

struct SnapshotConfig {
  uint64_t mem_bytes = 0;
  uint32_t vcpus = 0;
};

struct SnapshotStats {
  uint64_t file_bytes = 0;
  uint64_t pages_saved = 0;
};

// The sections of a paused machine: CONF, VCPn, KVMD, DEVS and a PAGE section
// of the given frames (its pages stay in guest memory until written out).
class MachineImage {
 public:
  static Result<MachineImage> Capture(Machine& m, std::span<const uint64_t> gfns, uint32_t page_flags);
  // Adds a section carried as is; bytes must outlive Sections().
  void AddSection(uint32_t id, std::span<const uint8_t> bytes) { extra_.push_back({id, {bytes}}); }
  std::vector<SectionData> Sections() const;
  uint64_t pages() const { return pages_.pages(); }

 private:
  ByteWriter conf_;
  std::vector<ByteWriter> vcpus_;
  ByteWriter kvmd_;
  ByteWriter devs_;
  PageSectionWriter pages_;
  std::vector<SectionData> extra_;
};

// Checks the whole image against m first: CONF (RAM size, vCPU count), every
// vCPU and KVMD section, the PAGE section (complete if require_complete).
// Then loads the devices (rolled back to their previous state if one refuses
// its state), writes the pages, sets irqchip, PIT, clock and every vCPU.
// m must not be running. Does not touch the dirty log: the pages written here
// are not reported by CollectDirty, pages dirtied before still are. Only a
// state the kernel refuses after these checks leaves m half-restored.
Status ApplyMachineImage(Machine& m, const SnapshotIndex& image, bool require_complete);

// The machine must be paused (Machine::Pause).
Result<SnapshotStats> SaveSnapshot(Machine& m, const std::string& path);
// What machine a snapshot needs (to create one to restore into).
Result<SnapshotConfig> ReadSnapshotConfig(const SnapshotIndex& image);
inline Result<SnapshotConfig> ReadSnapshotConfig(const SnapshotFile& file) { return ReadSnapshotConfig(file.index()); }
// Restores into a machine that is not running, of the same memory size, vCPU
// count and devices (ApplyMachineImage with a complete memory image); the
// dirty log then starts empty.
Status RestoreSnapshot(Machine& m, const SnapshotFile& file);

}  // namespace twinstep::host
