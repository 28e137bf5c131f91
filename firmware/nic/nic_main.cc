// The supervisor's entry point on the NIC's embedded aarch64 core: a HAL over
// the card's memory-mapped CSR block and frame windows, and the poll loop.
// Built -ffreestanding -nostdlib by nic/cross_check.sh (a build check: the
// addresses are the OpenNIC-style shell's, not verified on a card).
#include <cstddef>
#include <cstdint>

#include "firmware/hal.h"
#include "firmware/supervisor.h"

namespace twinstep::firmware {
namespace {

constexpr uintptr_t kCsrBase = 0x4000'0000;      // supervisor registers (firmware/regs.h offsets)
constexpr uintptr_t kDoorbell = 0x4000'0F00;     // host-written doorbell counter
constexpr uintptr_t kTxLen = 0x4000'0F10;        // write: frame length, starts the send
constexpr uintptr_t kTxBusy = 0x4000'0F14;       // read: nonzero while the last frame is sent
constexpr uintptr_t kRxLen = 0x4000'0F20;        // read: length of the waiting frame, 0: none
constexpr uintptr_t kRxDone = 0x4000'0F24;       // write: frame consumed
constexpr uintptr_t kTxWindow = 0x4000'1000;     // 16 KiB frame buffers
constexpr uintptr_t kRxWindow = 0x4000'5000;
constexpr size_t kWindowBytes = 0x4000;

// Every address above is a device register of the card's shell, mapped
// uncached at a fixed physical address; volatile keeps each access.
volatile uint32_t* Reg(uintptr_t addr) { return reinterpret_cast<volatile uint32_t*>(addr); }
volatile uint8_t* Byte(uintptr_t addr) { return reinterpret_cast<volatile uint8_t*>(addr); }

class NicHal final : public Hal {
 public:
  NicHal() {
    uint64_t f;
    asm volatile("mrs %0, cntfrq_el0" : "=r"(f));
    freq_hz_ = f == 0 ? 1 : f;
  }
  uint64_t NowNs() override {
    uint64_t t;
    asm volatile("isb; mrs %0, cntvct_el0" : "=r"(t));
    // Split to avoid overflowing t * 1e9 (the counter runs for years).
    return (t / freq_hz_) * 1'000'000'000ull + (t % freq_hz_) * 1'000'000'000ull / freq_hz_;
  }
  uint32_t ReadReg(uint32_t offset) override { return *Reg(kCsrBase + offset); }
  void WriteReg(uint32_t offset, uint32_t value) override { *Reg(kCsrBase + offset) = value; }
  uint32_t Doorbell() override { return *Reg(kDoorbell); }
  bool LinkSend(std::span<const uint8_t> frame) override {
    if (*Reg(kTxBusy) != 0 || frame.size() > kWindowBytes) return false;
    for (size_t i = 0; i < frame.size(); ++i) Byte(kTxWindow)[i] = frame[i];
    *Reg(kTxLen) = static_cast<uint32_t>(frame.size());
    return true;
  }
  size_t LinkReceive(std::span<uint8_t> buf) override {
    const uint32_t n = *Reg(kRxLen);
    if (n == 0) return 0;
    const size_t take = n < buf.size() ? n : buf.size();
    for (size_t i = 0; i < take; ++i) buf[i] = Byte(kRxWindow)[i];
    *Reg(kRxDone) = 1;
    return take;
  }

 private:
  uint64_t freq_hz_;
};

}  // namespace
}  // namespace twinstep::firmware

extern "C" {
alignas(16) unsigned char nic_stack[64 * 1024];

[[noreturn]] void NicMain() {
  using namespace twinstep::firmware;
  static NicHal hal;
  SupervisorConfig config;  // the card's boot loader patches node id and MACs in a real image
  static Supervisor supervisor(hal, config);
  for (;;) supervisor.Poll();
}

// Freestanding runtime: what the compiler may call on its own.
void* memcpy(void* d, const void* s, size_t n) {
  auto* dd = static_cast<unsigned char*>(d);
  auto* ss = static_cast<const unsigned char*>(s);
  while (n-- > 0) *dd++ = *ss++;
  return d;
}
void* memset(void* d, int c, size_t n) {
  auto* dd = static_cast<unsigned char*>(d);
  while (n-- > 0) *dd++ = static_cast<unsigned char>(c);
  return d;
}
void* memmove(void* d, const void* s, size_t n) {
  auto* dd = static_cast<unsigned char*>(d);
  auto* ss = static_cast<const unsigned char*>(s);
  if (dd < ss) {
    while (n-- > 0) *dd++ = *ss++;
  } else {
    while (n-- > 0) dd[n] = ss[n];
  }
  return d;
}
int memcmp(const void* a, const void* b, size_t n) {
  auto* aa = static_cast<const unsigned char*>(a);
  auto* bb = static_cast<const unsigned char*>(b);
  for (; n > 0; --n, ++aa, ++bb)
    if (*aa != *bb) return *aa < *bb ? -1 : 1;
  return 0;
}
[[noreturn]] void __cxa_pure_virtual() {
  for (;;) {
  }
}
}

// Entry: a stack, then the poll loop (the card's boot ROM jumps here).
asm(R"(
  .section .text._start, "ax"
  .global _start
_start:
  ldr x0, =nic_stack + 65536
  mov sp, x0
  bl NicMain
1: b 1b
)");
