// Initial x86 CPU state for the boot protocols and for test guests: GDT,
// identity page tables, and register sets for real, 32-bit and 64-bit entry.
#pragma once

#include <cstdint>

#include "host/error.h"
#include "host/memory.h"
#include "host/vcpu.h"

namespace twinstep::host {

// Writes the GDT and the identity map of the first 4 GiB (2 MiB pages). With
// user_pages the pages are accessible from ring 3.
Status WriteBootTables(GuestMemory& mem, bool user_pages);

// 16-bit real mode at cs:ip (tests).
Status EnterRealMode(Vcpu& vcpu, uint16_t cs, uint16_t ip);
// 32-bit protected mode, paging off, flat segments (PVH): eip, ebx.
Status EnterProtected32(Vcpu& vcpu, uint32_t eip, uint32_t ebx);
// 64-bit long mode on the identity map: rip, rsi (Linux: boot_params), rsp.
// With ring3 the vCPU enters ring 3 with IOPL 3 through a ring-0 iretq
// trampoline at layout::kRing3Trampoline (test guests).
Status EnterLongMode(Vcpu& vcpu, GuestMemory& mem, uint64_t rip, uint64_t rsi, uint64_t rsp, bool ring3);

}  // namespace twinstep::host
