// Register map of the twinstep FPGA user box (fpga/rtl/ts_csr.sv, docs/fpga.md),
// shared by the Verilator model driver and the XRT backend.
#pragma once

#include <cstdint>

namespace twinstep::fpga::csr {

inline constexpr uint32_t kId = 0x000;       // reads 0x54575354 ("TWST")
inline constexpr uint32_t kVersion = 0x004;
inline constexpr uint32_t kCtrl = 0x008;     // bit 0 enable, bits 2:1 mode, bit 3 host time
inline constexpr uint32_t kCmd = 0x00C;      // write 1: bit 0 release all, bit 1 sweep, bit 2 reset
inline constexpr uint32_t kStatus = 0x010;   // bit 0 busy
inline constexpr uint32_t kTimeLo = 0x018;
inline constexpr uint32_t kTimeHi = 0x01C;
inline constexpr uint32_t kTimeoutLo = 0x020;
inline constexpr uint32_t kTimeoutHi = 0x024;
inline constexpr uint32_t kMaxHeld = 0x028;
inline constexpr uint32_t kMaxRecords = 0x02C;
inline constexpr uint32_t kMaxFlows = 0x030;
inline constexpr uint32_t kSeqFlows = 0x034;
inline constexpr uint32_t kCaps0 = 0x038;    // events << 16 | records
inline constexpr uint32_t kCaps1 = 0x03C;    // flows << 16 | digester flows
inline constexpr uint32_t kCounters = 0x100; // 64-bit each, see kCounter*
inline constexpr uint32_t kVdStatus = 0x200; // bits 5:0 count, bit 6 valid
inline constexpr uint32_t kVdPop = 0x204;
inline constexpr uint32_t kVdWords = 0x240;  // 12 words of the head verdict

inline constexpr uint32_t kCtrlEnable = 1u << 0;
inline constexpr uint32_t kModePrimary = 1u << 1, kModeSecondary = 2u << 1, kModeSolo = 3u << 1;
inline constexpr uint32_t kCtrlHostTime = 1u << 3;
inline constexpr uint32_t kCmdReleaseAll = 1u << 0, kCmdSweep = 1u << 1, kCmdReset = 1u << 2;
inline constexpr uint32_t kIdValue = 0x54575354;

// Counter index i lives at kCounters + 8 * i (comparator.h order first).
enum Counter : uint32_t {
  kCounterEvents = 0, kCounterRecords, kCounterReleasedMatched, kCounterReleasedCheckpoint, kCounterMismatches,
  kCounterMissingRecords, kCounterMissingEvents, kCounterOverflows, kCounterRecordsIgnored, kCounterMirrored,
  kCounterBeyondWindow, kCounterSeqResets, kCounterNoBuffer, kCounterCount
};
inline constexpr uint32_t CounterAddr(Counter c) { return kCounters + 8 * c; }

// Verdict word layout (340 bits, little-endian words): bits 63:0 secondary digest,
// 127:64 primary digest, 159:128 length, 223:160 out_seq, 287:224 flow,
// 303:288 buffer, 335:304 event id, 336 has_event, 339:337 kind.
struct VerdictBits {
  static constexpr int kSdig = 0, kPdig = 64, kLen = 128, kSeq = 160, kFlow = 224, kBuf = 288, kId = 304,
                       kHasEvent = 336, kKind = 337;
};

}  // namespace twinstep::fpga::csr
