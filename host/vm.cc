// Vm: /dev/kvm setup (irqchip, PIT, TSS, identity map), vCPU threads, stops.
#include "host/vm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "host/cpuid.h"
#include "host/kvm_abi.h"

namespace twinstep::host {
namespace {

// Three pages below the IOAPIC that the guest never uses as RAM (QEMU's choice).
constexpr uint64_t kIdentityMapAddr = 0xfeffc000;
constexpr uint64_t kTssAddr = 0xfeffd000;

Result<std::vector<kvm_cpuid_entry2>> SupportedCpuid(int kvm_fd) {
  for (uint32_t n = 128; n <= 4096; n *= 2) {
    std::vector<uint8_t> buf(sizeof(kvm::Cpuid2Header) + n * sizeof(kvm_cpuid_entry2));
    // buf holds the header and n entries, in the C layout (see kvm_abi.h).
    auto* c = reinterpret_cast<kvm::Cpuid2Header*>(buf.data());
    c->nent = n;
    if (ioctl(kvm_fd, kvm::kGetSupportedCpuid, c) == 0) {
      std::vector<kvm_cpuid_entry2> out(c->nent);
      std::memcpy(out.data(), buf.data() + sizeof(kvm::Cpuid2Header), out.size() * sizeof(kvm_cpuid_entry2));
      return out;
    }
    if (errno != E2BIG) return FailErrno(Errc::kKvmIoctl, "KVM_GET_SUPPORTED_CPUID");
  }
  return Fail(Errc::kKvmIoctl, "KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

}  // namespace

bool KvmUsable(std::string* why) {
  const int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    *why = std::string("/dev/kvm: ") + std::strerror(errno);
    return false;
  }
  const int api = ioctl(fd, KVM_GET_API_VERSION, 0);
  close(fd);
  if (api != KVM_API_VERSION) {
    *why = "/dev/kvm API version " + std::to_string(api) + ", want " + std::to_string(KVM_API_VERSION);
    return false;
  }
  return true;
}

Result<std::unique_ptr<Vm>> Vm::Create(const VmConfig& config) {
  std::unique_ptr<Vm> vm(new Vm());
  if (auto s = vm->Init(config); !s) return MakeUnexpected(s.error());
  return vm;
}

Status Vm::Init(const VmConfig& config) {
  config_ = config;
  if (config.vcpus == 0 || config.vcpus > 64) {
    return Fail(Errc::kArgument, "vCPU count " + std::to_string(config.vcpus) + " not in 1..64");
  }
  kvm_fd_ = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm_fd_ < 0) return FailErrno(Errc::kKvmUnavailable, "open /dev/kvm");
  if (ioctl(kvm_fd_, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
    return Fail(Errc::kKvmApi, "KVM_GET_API_VERSION is not " + std::to_string(KVM_API_VERSION));
  }
  for (int cap : {KVM_CAP_IRQCHIP, KVM_CAP_PIT2, KVM_CAP_USER_MEMORY, KVM_CAP_SET_TSS_ADDR, KVM_CAP_IOEVENTFD,
                  KVM_CAP_IRQFD, KVM_CAP_XSAVE, KVM_CAP_XCRS, KVM_CAP_VCPU_EVENTS, KVM_CAP_DEBUGREGS,
                  KVM_CAP_ADJUST_CLOCK, KVM_CAP_PIT_STATE2}) {
    if (ioctl(kvm_fd_, KVM_CHECK_EXTENSION, cap) <= 0) {
      return Fail(Errc::kKvmApi, "KVM capability " + std::to_string(cap) + " missing");
    }
  }
  const int run_size = ioctl(kvm_fd_, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size <= 0) return FailErrno(Errc::kKvmIoctl, "KVM_GET_VCPU_MMAP_SIZE");
  run_size_ = static_cast<size_t>(run_size);
  vm_fd_ = ioctl(kvm_fd_, KVM_CREATE_VM, 0);
  if (vm_fd_ < 0) return FailErrno(Errc::kKvmIoctl, "KVM_CREATE_VM");
  if (ioctl(vm_fd_, KVM_SET_TSS_ADDR, kTssAddr) != 0) return FailErrno(Errc::kKvmIoctl, "KVM_SET_TSS_ADDR");
  uint64_t ident = kIdentityMapAddr;
  if (ioctl(vm_fd_, KVM_SET_IDENTITY_MAP_ADDR, &ident) != 0) {
    return FailErrno(Errc::kKvmIoctl, "KVM_SET_IDENTITY_MAP_ADDR");
  }
  if (ioctl(vm_fd_, KVM_CREATE_IRQCHIP, 0) != 0) return FailErrno(Errc::kKvmIoctl, "KVM_CREATE_IRQCHIP");
  kvm_pit_config pit{};
  pit.flags = KVM_PIT_SPEAKER_DUMMY;  // port 0x61 handled in the kernel
  if (ioctl(vm_fd_, KVM_CREATE_PIT2, &pit) != 0) return FailErrno(Errc::kKvmIoctl, "KVM_CREATE_PIT2");

  auto mem = GuestMemory::Create(config.mem_bytes, config.hugepages);
  if (!mem) return MakeUnexpected(mem.error());
  memory_ = std::move(*mem);
  if (auto s = memory_->Register(vm_fd_); !s) return s;

  auto cpuid = SupportedCpuid(kvm_fd_);
  if (!cpuid) return MakeUnexpected(cpuid.error());
  supported_cpuid_ = std::move(*cpuid);
  for (uint32_t i = 0; i < config.vcpus; ++i) {
    auto v = Vcpu::Create(vm_fd_, i, run_size_, FilterCpuid(supported_cpuid_, i));
    if (!v) return MakeUnexpected(v.error());
    vcpus_.push_back(std::move(*v));
  }
  return {};
}

Vm::~Vm() {
  Stop();
  vcpus_.clear();
  if (vm_fd_ >= 0) close(vm_fd_);
  if (kvm_fd_ >= 0) close(kvm_fd_);
  // memory_ is released after the VM fd, so KVM never sees a dangling mapping.
}

Status Vm::SetIrqLine(uint32_t gsi, bool level) {
  kvm_irq_level irq{};
  irq.irq = gsi;
  irq.level = level ? 1 : 0;
  if (ioctl(vm_fd_, KVM_IRQ_LINE, &irq) != 0) return FailErrno(Errc::kKvmIoctl, "KVM_IRQ_LINE " + std::to_string(gsi));
  return {};
}

Status Vm::Start() {
  if (!threads_.empty()) return Fail(Errc::kArgument, "VM already running");
  stop_.store(false);
  for (auto& v : vcpus_) {
    v->ClearKick();
    Vcpu* vcpu = v.get();
    threads_.emplace_back([this, vcpu] {
      VmStop why = vcpu->Run(stop_, pio_, mmio_);
      RequestStop(std::move(why));
    });
  }
  return {};
}

void Vm::RequestStop(VmStop why) {
  {
    std::lock_guard lock(mu_);
    if (stop_reason_.kind == VmStop::Kind::kNone) stop_reason_ = std::move(why);
  }
  stop_.store(true, std::memory_order_release);
  for (auto& v : vcpus_) v->Kick();
  cv_.notify_all();
}

void Vm::Stop() {
  if (threads_.empty()) return;
  RequestStop(VmStop{VmStop::Kind::kRequested, 0, "stopped by the VMM"});
  for (auto& t : threads_) t.join();
  threads_.clear();
}

VmStop Vm::WaitForStop(int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return stop_reason_.kind != VmStop::Kind::kNone; });
  return stop_reason_;
}

void Vm::ClearStop() {
  std::lock_guard lock(mu_);
  stop_reason_ = VmStop{};
}

}  // namespace twinstep::host
