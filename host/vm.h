// A KVM virtual machine: guest memory, in-kernel irqchip and PIT, the buses,
// the vCPUs and the threads that run them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "host/bus.h"
#include "host/error.h"
#include "host/memory.h"
#include "host/vcpu.h"

namespace twinstep::host {

struct VmConfig {
  uint64_t mem_bytes = 256ull << 20;
  uint32_t vcpus = 1;
  bool hugepages = false;
};

// Whether /dev/kvm can be used here; if not, *why says why (for test skips).
bool KvmUsable(std::string* why);

class Vm {
 public:
  static Result<std::unique_ptr<Vm>> Create(const VmConfig& config);
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  const VmConfig& config() const { return config_; }
  int kvm_fd() const { return kvm_fd_; }
  int vm_fd() const { return vm_fd_; }
  GuestMemory& memory() { return *memory_; }
  Bus& pio() { return pio_; }
  Bus& mmio() { return mmio_; }
  uint32_t vcpu_count() const { return static_cast<uint32_t>(vcpus_.size()); }
  Vcpu& vcpu(uint32_t i) { return *vcpus_[i]; }
  // KVM_GET_SUPPORTED_CPUID before filtering.
  const std::vector<kvm_cpuid_entry2>& supported_cpuid() const { return supported_cpuid_; }

  // Sets a GSI (ISA IRQ 0-15 on PIC and IOAPIC, 16-23 on the IOAPIC) level.
  Status SetIrqLine(uint32_t gsi, bool level);

  // Starts one thread per vCPU. Fails if already running.
  Status Start();
  // Stops and joins the vCPU threads; records kRequested unless a stop reason is
  // already recorded. Safe to call when not running.
  void Stop();
  // Records why the VM stops and kicks every vCPU (any thread, devices included).
  void RequestStop(VmStop why);
  // Blocks until a stop reason is recorded or timeout_ms passes (then kNone).
  VmStop WaitForStop(int64_t timeout_ms);
  bool running() const { return !threads_.empty(); }
  // Clears a recorded stop reason so that Start() may run the VM again.
  void ClearStop();

  // Guest frame numbers dirtied since the last call.
  Result<std::vector<uint64_t>> DirtyPages() { return memory_->CollectDirty(); }

 private:
  Vm() : pio_("pio"), mmio_("mmio") {}
  Status Init(const VmConfig& config);

  VmConfig config_;
  int kvm_fd_ = -1;
  int vm_fd_ = -1;
  size_t run_size_ = 0;
  std::unique_ptr<GuestMemory> memory_;
  Bus pio_;
  Bus mmio_;
  std::vector<kvm_cpuid_entry2> supported_cpuid_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  VmStop stop_reason_;
};

}  // namespace twinstep::host
