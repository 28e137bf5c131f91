// One virtual CPU: its fd, its shared kvm_run page and its run loop, which
// sends I/O and MMIO exits to the buses. One thread runs one Vcpu.
#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "host/bus.h"
#include "host/error.h"

namespace twinstep::host {

// Why a VM (or one vCPU) stopped running.
struct VmStop {
  enum class Kind {
    kNone,           // still running
    kRequested,      // the VMM stopped it (Stop(), a snapshot, a signal)
    kGuestExit,      // the guest wrote its exit code to the debug-exit port
    kShutdown,       // triple fault
    kSystemEvent,    // reset / shutdown / crash request
    kInternalError,  // KVM could not emulate an instruction
    kFailEntry,      // VM entry failed
    kError,          // a malformed exit or a failing ioctl
  };
  Kind kind = Kind::kNone;
  uint64_t code = 0;  // exit code, event type, suberror or hardware reason
  std::string detail;
  std::string ToString() const;
};

struct VcpuCounters {
  std::atomic<uint64_t> exits{0};
  std::atomic<uint64_t> io_exits{0};
  std::atomic<uint64_t> mmio_exits{0};
};

class Vcpu {
 public:
  // cpuid: the filtered CPUID for this vCPU (see cpuid.h).
  static Result<std::unique_ptr<Vcpu>> Create(int vm_fd, uint32_t index, size_t run_size,
                                              std::span<const kvm_cpuid_entry2> cpuid);
  ~Vcpu();
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;

  int fd() const { return fd_; }
  uint32_t index() const { return index_; }
  const std::vector<kvm_cpuid_entry2>& cpuid() const { return cpuid_; }
  Status SetCpuid(std::span<const kvm_cpuid_entry2> cpuid);
  VcpuCounters& counters() { return counters_; }

  // Runs on the calling thread until stop is set or the guest stops.
  VmStop Run(const std::atomic<bool>& stop, Bus& pio, Bus& mmio);
  // From any thread: makes a Run in progress return soon.
  void Kick();
  // Clears the kick left by a previous Stop so that Run may be called again.
  void ClearKick();

 private:
  Vcpu() = default;
  void HandleIo(Bus& pio, uint16_t port, uint8_t size, uint32_t count, bool is_write, uint32_t data_offset);

  int fd_ = -1;
  uint32_t index_ = 0;
  kvm_run* run_ = nullptr;
  size_t run_size_ = 0;
  std::vector<kvm_cpuid_entry2> cpuid_;
  std::atomic<pthread_t> thread_{};
  std::atomic<bool> running_{false};
  VcpuCounters counters_;
};

// Installs the (empty) handler of the signal used to kick vCPU threads.
void InstallKickSignal();

}  // namespace twinstep::host
