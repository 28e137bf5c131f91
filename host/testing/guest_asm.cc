// GuestAsm: encodings from the Intel SDM, volume 2.
#include "host/testing/guest_asm.h"

namespace twinstep::host::testing {

GuestAsm& GuestAsm::MovDx(uint16_t v) {
  if (mode_ == Mode::k64) Emit({0x66});
  Emit({0xba});
  Imm(v, 2);
  return *this;
}
GuestAsm& GuestAsm::MovAl(uint8_t v) {
  Emit({0xb0, v});
  return *this;
}
GuestAsm& GuestAsm::MovEax(uint32_t v) {
  if (mode_ == Mode::k16) Emit({0x66});
  Emit({0xb8});
  Imm(v, 4);
  return *this;
}
GuestAsm& GuestAsm::OutDxAl() {
  Emit({0xee});
  return *this;
}
GuestAsm& GuestAsm::OutDxEax() {
  if (mode_ == Mode::k16) Emit({0x66});
  Emit({0xef});
  return *this;
}
GuestAsm& GuestAsm::InAlDx() {
  Emit({0xec});
  return *this;
}
GuestAsm& GuestAsm::Print(std::string_view text) {
  MovDx(0x3f8);
  for (char c : text) MovAl(static_cast<uint8_t>(c)).OutDxAl();
  return *this;
}
GuestAsm& GuestAsm::Exit(uint32_t code) { return MovDx(0x501).MovEax(code).OutDxEax(); }
GuestAsm& GuestAsm::MovRdi(uint64_t v) {
  Emit({0x48, 0xbf});
  Imm(v, 8);
  return *this;
}
GuestAsm& GuestAsm::MovRcx(uint64_t v) {
  Emit({0x48, 0xb9});
  Imm(v, 8);
  return *this;
}
GuestAsm& GuestAsm::StoreAlAtRdi() {
  Emit({0x88, 0x07});
  return *this;
}
GuestAsm& GuestAsm::IncQwordAtRdi() {
  Emit({0x48, 0xff, 0x07});
  return *this;
}
GuestAsm& GuestAsm::AddRdi(uint32_t v) {
  Emit({0x48, 0x81, 0xc7});
  Imm(v, 4);
  return *this;
}
GuestAsm& GuestAsm::DecRcx() {
  Emit({0x48, 0xff, 0xc9});
  return *this;
}
GuestAsm& GuestAsm::IncAl() {
  Emit({0xfe, 0xc0});
  return *this;
}
GuestAsm& GuestAsm::Jnz(size_t target) {
  const int64_t rel = static_cast<int64_t>(target) - static_cast<int64_t>(here() + 6);
  Emit({0x0f, 0x85});
  Imm(static_cast<uint64_t>(rel), 4);
  return *this;
}
GuestAsm& GuestAsm::Jmp(size_t target) {
  const int64_t rel = static_cast<int64_t>(target) - static_cast<int64_t>(here() + 5);
  Emit({0xe9});
  Imm(static_cast<uint64_t>(rel), 4);
  return *this;
}
GuestAsm& GuestAsm::Pause() {
  Emit({0xf3, 0x90});
  return *this;
}

}  // namespace twinstep::host::testing
