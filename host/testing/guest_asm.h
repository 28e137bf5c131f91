// A tiny x86 assembler for the VMM tests' guests: the handful of instructions
// that print to the UART, touch memory, loop and exit through the debug port.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace twinstep::host::testing {

class GuestAsm {
 public:
  enum class Mode { k16, k64 };
  explicit GuestAsm(Mode mode) : mode_(mode) {}

  const std::vector<uint8_t>& bytes() const { return code_; }
  size_t here() const { return code_.size(); }

  GuestAsm& MovDx(uint16_t v);            // mov dx, imm16
  GuestAsm& MovAl(uint8_t v);             // mov al, imm8
  GuestAsm& MovEax(uint32_t v);           // mov eax, imm32
  GuestAsm& OutDxAl();                    // out dx, al
  GuestAsm& OutDxEax();                   // out dx, eax
  GuestAsm& InAlDx();                     // in al, dx
  GuestAsm& Print(std::string_view text);  // to the UART at 0x3f8 (clobbers dx, al)
  GuestAsm& Exit(uint32_t code);           // debug-exit port (clobbers dx, eax)
  // 64-bit mode only.
  GuestAsm& MovRdi(uint64_t v);           // mov rdi, imm64
  GuestAsm& MovRcx(uint64_t v);           // mov rcx, imm64
  GuestAsm& StoreAlAtRdi();               // mov [rdi], al
  GuestAsm& IncQwordAtRdi();              // inc qword [rdi]
  GuestAsm& AddRdi(uint32_t v);           // add rdi, imm32
  GuestAsm& DecRcx();                     // dec rcx
  GuestAsm& IncAl();                      // inc al
  GuestAsm& Jnz(size_t target);           // jnz to an earlier offset
  GuestAsm& Jmp(size_t target);           // jmp to an earlier offset
  GuestAsm& Pause();                      // pause

 private:
  void Emit(std::initializer_list<uint8_t> b) { code_.insert(code_.end(), b); }
  void Imm(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) code_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  Mode mode_;
  std::vector<uint8_t> code_;
};

}  // namespace twinstep::host::testing
