// Where the VMM puts boot structures in low guest memory (all below 1 MiB but
// the command line), shared by the PVH and Linux loaders.
#pragma once

#include <cstdint>

namespace twinstep::host::layout {

inline constexpr uint64_t kGdt = 0x500;             // 8 descriptors (see x86_setup.cc)
inline constexpr uint64_t kTss = 0x1000;             // 64-bit TSS + full I/O bitmap (to 0x3069)
inline constexpr uint64_t kTssLimit = 104 + 8192;   // iomap base 104, 8 KiB bitmap, 0xff end byte
inline constexpr uint64_t kPvhStartInfo = 0x6000;   // hvm_start_info
inline constexpr uint64_t kPvhMemmap = 0x6100;      // hvm_memmap_table_entry[]
inline constexpr uint64_t kBootParams = 0x7000;     // Linux zero page
inline constexpr uint64_t kPml4 = 0x9000;           // identity map of the first 4 GiB
inline constexpr uint64_t kPdpt = 0xa000;
inline constexpr uint64_t kPd = 0xb000;             // four pages: 0xb000..0xefff
inline constexpr uint64_t kRing3Trampoline = 0x8000;  // iretq into ring 3 (EnterLongMode)
inline constexpr uint64_t kBootStack = 0x8ff0;      // initial stack for tests' guests
inline constexpr uint64_t kCmdline = 0x20000;
inline constexpr uint64_t kCmdlineMax = 0x10000;    // bytes, terminator included
inline constexpr uint64_t kEbdaStart = 0x9fc00;     // [kEbdaStart, 1 MiB) reserved
inline constexpr uint64_t kHighStart = 0x100000;    // 1 MiB: kernels load here
inline constexpr uint64_t kMaxInitrdAddr = 0x37ffffff;

// GDT selectors.
inline constexpr uint16_t kCode32Sel = 0x08;
inline constexpr uint16_t kCode64Sel = 0x10;
inline constexpr uint16_t kDataSel = 0x18;
inline constexpr uint16_t kTssSel = 0x20;
inline constexpr uint16_t kUserDataSel = 0x33;  // index 6, RPL 3
inline constexpr uint16_t kUserCode64Sel = 0x3b;  // index 7, RPL 3

}  // namespace twinstep::host::layout
