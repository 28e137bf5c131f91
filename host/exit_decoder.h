// Decodes a vCPU's kvm_run after KVM_RUN returned: a pure function of the
// shared page, testable without /dev/kvm.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>

namespace twinstep::host {

enum class ExitKind : uint8_t {
  kIo,             // port I/O: port, size, count, is_write, data_offset
  kMmio,           // MMIO: address, len, is_write; data in kvm_run::mmio.data
  kHlt,            // only without an in-kernel irqchip
  kShutdown,       // triple fault
  kSystemEvent,    // guest asked for reset, shutdown or crash (detail = type)
  kInternalError,  // KVM could not emulate (detail = suberror)
  kFailEntry,      // VM entry failed (detail = hardware reason)
  kInterrupted,    // a signal or immediate_exit: nothing to do
  kDebug,
  kUnknown,        // an exit reason this VMM does not handle (detail = reason)
  kMalformed,      // the shared page names sizes or offsets that cannot be right
};

const char* ExitKindName(ExitKind kind);

struct VcpuExit {
  ExitKind kind = ExitKind::kUnknown;
  bool is_write = false;
  uint8_t size = 0;        // I/O: bytes per access (1, 2, 4)
  uint16_t port = 0;       // I/O
  uint32_t count = 0;      // I/O: repetitions (string I/O)
  uint32_t data_offset = 0;  // I/O: data's offset in the kvm_run page
  uint32_t len = 0;        // MMIO: 1..8
  uint64_t address = 0;    // MMIO
  uint64_t detail = 0;
};

// run_size: the size of the mapped kvm_run area (KVM_GET_VCPU_MMAP_SIZE), used to
// check that I/O data lies inside it.
VcpuExit DecodeExit(const kvm_run& run, size_t run_size);

}  // namespace twinstep::host
