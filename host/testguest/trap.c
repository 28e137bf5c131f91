/* Ring-0 exception report: prints vector, error code, RIP and CR2, then stops. */
#include "lib.h"

struct trap_frame {
  u64 r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
  u64 vector, error, rip, cs, rflags, rsp, ss;
};

void trap_report(const struct trap_frame *f);

void trap_report(const struct trap_frame *f) {
  u64 cr2;
  __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
  char mem[160];
  struct buf b;
  buf_init(&b, mem, sizeof mem);
  buf_str(&b, "twinstep-testguest: exception vector=");
  buf_u64(&b, f->vector);
  buf_str(&b, " error=0x");
  buf_hex(&b, f->error, 4);
  buf_str(&b, " rip=0x");
  buf_hex(&b, f->rip, 16);
  buf_str(&b, " cs=0x");
  buf_hex(&b, f->cs, 2);
  buf_str(&b, " cr2=0x");
  buf_hex(&b, cr2, 16);
  buf_str(&b, " halted");
  console_line(&b);
}
