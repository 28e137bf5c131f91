// The supervisor's register map: the contract between NIC firmware and the
// host (the witness agent in firmware/witness/, the VMM). Byte offsets of
// 32-bit registers; 64-bit values are split into Lo/Hi.
#pragma once

#include <cstdint>

namespace twinstep::firmware {

// Firmware-written (host reads).
inline constexpr uint32_t kRegReleaseGate = 0x00;  // 1: this node's outputs reach the LAN
inline constexpr uint32_t kRegGuestControl = 0x04; // kGuestRun or kGuestStop
inline constexpr uint32_t kRegRole = 0x08;         // Role value
inline constexpr uint32_t kRegEpochLo = 0x0C;
inline constexpr uint32_t kRegEpochHi = 0x10;
inline constexpr uint32_t kRegArbSeq = 0x14;       // bumped for every witness request
inline constexpr uint32_t kRegArbKind = 0x18;      // ArbitrationKind of request kRegArbSeq
inline constexpr uint32_t kRegArbEpochLo = 0x1C;   // the requester's epoch
inline constexpr uint32_t kRegArbEpochHi = 0x20;
// Host-written mailbox: the host writes the args, then kRegHostCmd; the
// firmware consumes it and writes kRegHostCmd back to 0 (slot free).
inline constexpr uint32_t kRegHostCmd = 0x40;
inline constexpr uint32_t kRegHostArgLo = 0x44;
inline constexpr uint32_t kRegHostArgHi = 0x48;
inline constexpr uint32_t kRegHostArgSeq = 0x4C;   // witness replies: the kRegArbSeq answered
inline constexpr uint32_t kRegCount = 0x50 / 4;

inline constexpr uint32_t kGuestRun = 0;
inline constexpr uint32_t kGuestStop = 1;

enum class HostCommand : uint32_t {
  kNone = 0,
  kStartAlone = 1,      // no peer: ask the witness for a cold start
  kJoinComplete = 2,    // arg: the primary's epoch
  kPeerJoined = 3,
  kStop = 4,
  kRestart = 5,
  kWitnessGrant = 6,    // arg: granted epoch; seq: request answered
  kWitnessDeny = 7,     // seq: request answered
  kWitnessUnavailable = 8,
  kLeaseExpired = 9,
  kPeerHostUnresponsive = 10,  // our host: the peer's host stopped answering the protocol (its NIC still beats)
};

}  // namespace twinstep::firmware
