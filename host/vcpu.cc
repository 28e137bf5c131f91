// Vcpu: KVM_CREATE_VCPU, the run loop and the kick signal.
#include "host/vcpu.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "host/exit_decoder.h"
#include "host/kvm_abi.h"

namespace twinstep::host {
namespace {

int KickSignal() { return SIGRTMIN + 1; }
void OnKick(int) {}

}  // namespace

void InstallKickSignal() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = OnKick;  // no SA_RESTART: KVM_RUN returns EINTR
    sigemptyset(&sa.sa_mask);
    sigaction(KickSignal(), &sa, nullptr);
  });
}

std::string VmStop::ToString() const {
  static constexpr const char* kNames[] = {"running",        "requested", "guest-exit", "shutdown", "system-event",
                                           "internal-error", "fail-entry", "error"};
  std::string s = kNames[static_cast<int>(kind)];
  s += " (code " + std::to_string(code) + ")";
  if (!detail.empty()) s += ": " + detail;
  return s;
}

Result<std::unique_ptr<Vcpu>> Vcpu::Create(int vm_fd, uint32_t index, size_t run_size,
                                           std::span<const kvm_cpuid_entry2> cpuid) {
  InstallKickSignal();
  std::unique_ptr<Vcpu> v(new Vcpu());
  v->index_ = index;
  v->fd_ = ioctl(vm_fd, KVM_CREATE_VCPU, static_cast<unsigned long>(index));
  if (v->fd_ < 0) return FailErrno(Errc::kKvmIoctl, "KVM_CREATE_VCPU " + std::to_string(index));
  void* p = mmap(nullptr, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd_, 0);
  if (p == MAP_FAILED) return FailErrno(Errc::kKvmIoctl, "mmap kvm_run of vCPU " + std::to_string(index));
  v->run_ = static_cast<kvm_run*>(p);
  v->run_size_ = run_size;
  if (auto s = v->SetCpuid(cpuid); !s) return MakeUnexpected(s.error());
  return v;
}

Vcpu::~Vcpu() {
  if (run_ != nullptr) munmap(run_, run_size_);
  if (fd_ >= 0) close(fd_);
}

Status Vcpu::SetCpuid(std::span<const kvm_cpuid_entry2> cpuid) {
  std::vector<uint8_t> buf(sizeof(kvm::Cpuid2Header) + cpuid.size() * sizeof(kvm_cpuid_entry2));
  // buf is sized for the header plus every entry, in the C layout (see kvm_abi.h).
  auto* c = reinterpret_cast<kvm::Cpuid2Header*>(buf.data());
  c->nent = static_cast<uint32_t>(cpuid.size());
  std::memcpy(buf.data() + sizeof(kvm::Cpuid2Header), cpuid.data(), cpuid.size() * sizeof(kvm_cpuid_entry2));
  if (ioctl(fd_, kvm::kSetCpuid2, c) != 0) return FailErrno(Errc::kKvmIoctl, "KVM_SET_CPUID2");
  cpuid_.assign(cpuid.begin(), cpuid.end());
  return {};
}

void Vcpu::Kick() {
  // run_ stays mapped for the Vcpu's lifetime; KVM reads immediate_exit at entry.
  __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
  if (running_.load()) pthread_kill(thread_.load(), KickSignal());
}

void Vcpu::ClearKick() { __atomic_store_n(&run_->immediate_exit, 0, __ATOMIC_SEQ_CST); }

void Vcpu::HandleIo(Bus& pio, uint16_t port, uint8_t size, uint32_t count, bool is_write, uint32_t data_offset) {
  // DecodeExit checked that data_offset + size * count lies inside the kvm_run area.
  uint8_t* data = reinterpret_cast<uint8_t*>(run_) + data_offset;
  for (uint32_t i = 0; i < count; ++i, data += size) {
    if (is_write) {
      pio.Write(port, {data, size});
    } else {
      pio.Read(port, {data, size});
    }
  }
}

VmStop Vcpu::Run(const std::atomic<bool>& stop, Bus& pio, Bus& mmio) {
  thread_.store(pthread_self());
  running_.store(true);
  VmStop result;
  while (!stop.load(std::memory_order_acquire)) {
    if (ioctl(fd_, KVM_RUN, 0) != 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      result = {VmStop::Kind::kError, static_cast<uint64_t>(errno),
                std::string("KVM_RUN on vCPU ") + std::to_string(index_) + ": " + std::strerror(errno)};
      break;
    }
    counters_.exits.fetch_add(1, std::memory_order_relaxed);
    const VcpuExit e = DecodeExit(*run_, run_size_);
    if (e.kind == ExitKind::kIo) {
      counters_.io_exits.fetch_add(1, std::memory_order_relaxed);
      HandleIo(pio, e.port, e.size, e.count, e.is_write, e.data_offset);
      continue;
    }
    if (e.kind == ExitKind::kMmio) {
      counters_.mmio_exits.fetch_add(1, std::memory_order_relaxed);
      if (e.is_write) {
        mmio.Write(e.address, {run_->mmio.data, e.len});
      } else {
        mmio.Read(e.address, {run_->mmio.data, e.len});
      }
      continue;
    }
    if (e.kind == ExitKind::kInterrupted) continue;
    VmStop::Kind kind = VmStop::Kind::kError;
    switch (e.kind) {
      case ExitKind::kShutdown: kind = VmStop::Kind::kShutdown; break;
      case ExitKind::kSystemEvent: kind = VmStop::Kind::kSystemEvent; break;
      case ExitKind::kInternalError: kind = VmStop::Kind::kInternalError; break;
      case ExitKind::kFailEntry: kind = VmStop::Kind::kFailEntry; break;
      default: break;
    }
    result = {kind, e.detail, std::string("vCPU ") + std::to_string(index_) + " exit " + ExitKindName(e.kind)};
    kvm_regs regs{};
    if (ioctl(fd_, KVM_GET_REGS, &regs) == 0) {
      char where[96];
      std::snprintf(where, sizeof where, " at rip %#llx rsp %#llx", static_cast<unsigned long long>(regs.rip),
                    static_cast<unsigned long long>(regs.rsp));
      result.detail += where;
    }
    if (e.kind == ExitKind::kInternalError) {
      for (uint32_t i = 0; i < run_->internal.ndata && i < 4; ++i) {
        result.detail += " data" + std::to_string(i) + "=" + std::to_string(run_->internal.data[i]);
      }
    }
    break;
  }
  running_.store(false);
  if (result.kind == VmStop::Kind::kNone) result.kind = VmStop::Kind::kRequested;
  return result;
}

}  // namespace twinstep::host
