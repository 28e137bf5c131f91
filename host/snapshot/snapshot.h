// Save and restore of a whole Machine: guest memory (non-zero pages only), every
// vCPU, PIC/IOAPIC, PIT, kvmclock and every device, in the format of format.h.
// A restore checks and decodes the whole file before it changes anything.
#pragma once

#include <string>

#include "host/error.h"
#include "host/machine.h"
#include "host/snapshot/format.h"

namespace twinstep::host {

inline constexpr uint32_t kSecConfig = SectionId("CONF");
inline constexpr uint32_t kSecMemory = SectionId("MEMR");
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

// The machine must be paused (Machine::Pause).
Result<SnapshotStats> SaveSnapshot(Machine& m, const std::string& path);
// What machine a snapshot needs (to create one to restore into).
Result<SnapshotConfig> ReadSnapshotConfig(const SnapshotFile& file);
// Restores into a machine that is not running, of the same memory size, vCPU
// count and devices. On any error nothing has been changed, except where the
// kernel refuses a state already checked (then the machine must be discarded).
Status RestoreSnapshot(Machine& m, const SnapshotFile& file);

}  // namespace twinstep::host
