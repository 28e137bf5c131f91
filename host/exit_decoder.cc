// DecodeExit: kvm_run exit reasons to VcpuExit, with bounds checks.
#include "host/exit_decoder.h"

namespace twinstep::host {

const char* ExitKindName(ExitKind kind) {
  switch (kind) {
    case ExitKind::kIo: return "io";
    case ExitKind::kMmio: return "mmio";
    case ExitKind::kHlt: return "hlt";
    case ExitKind::kShutdown: return "shutdown";
    case ExitKind::kSystemEvent: return "system-event";
    case ExitKind::kInternalError: return "internal-error";
    case ExitKind::kFailEntry: return "fail-entry";
    case ExitKind::kInterrupted: return "interrupted";
    case ExitKind::kDebug: return "debug";
    case ExitKind::kUnknown: return "unknown";
    case ExitKind::kMalformed: return "malformed";
  }
  return "?";
}

VcpuExit DecodeExit(const kvm_run& run, size_t run_size) {
  VcpuExit e;
  switch (run.exit_reason) {
    case KVM_EXIT_IO: {
      const uint8_t size = run.io.size;
      const uint64_t bytes = static_cast<uint64_t>(size) * run.io.count;
      if ((size != 1 && size != 2 && size != 4) || run.io.count == 0 ||
          run.io.data_offset > run_size || bytes > run_size - run.io.data_offset) {
        e.kind = ExitKind::kMalformed;
        e.detail = KVM_EXIT_IO;
        return e;
      }
      e.kind = ExitKind::kIo;
      e.is_write = run.io.direction == KVM_EXIT_IO_OUT;
      e.size = size;
      e.port = run.io.port;
      e.count = run.io.count;
      e.data_offset = static_cast<uint32_t>(run.io.data_offset);
      return e;
    }
    case KVM_EXIT_MMIO:
      if (run.mmio.len == 0 || run.mmio.len > sizeof(run.mmio.data)) {
        e.kind = ExitKind::kMalformed;
        e.detail = KVM_EXIT_MMIO;
        return e;
      }
      e.kind = ExitKind::kMmio;
      e.is_write = run.mmio.is_write != 0;
      e.len = run.mmio.len;
      e.address = run.mmio.phys_addr;
      return e;
    case KVM_EXIT_HLT: e.kind = ExitKind::kHlt; return e;
    case KVM_EXIT_SHUTDOWN: e.kind = ExitKind::kShutdown; return e;
    case KVM_EXIT_SYSTEM_EVENT:
      e.kind = ExitKind::kSystemEvent;
      e.detail = run.system_event.type;
      return e;
    case KVM_EXIT_INTERNAL_ERROR:
      e.kind = ExitKind::kInternalError;
      e.detail = run.internal.suberror;
      return e;
    case KVM_EXIT_FAIL_ENTRY:
      e.kind = ExitKind::kFailEntry;
      e.detail = run.fail_entry.hardware_entry_failure_reason;
      return e;
    case KVM_EXIT_INTR: e.kind = ExitKind::kInterrupted; return e;
    case KVM_EXIT_DEBUG: e.kind = ExitKind::kDebug; return e;
    default:
      e.kind = ExitKind::kUnknown;
      e.detail = run.exit_reason;
      return e;
  }
}

}  // namespace twinstep::host
