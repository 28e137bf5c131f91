// The output digest: an output event (an Ethernet frame leaving the guest) is
// normalized so that two replicas' frames compare equal when they differ only
// where replicas legitimately differ (checksums, IP ID, IPv6 flow label, TCP
// timestamps, TCP initial sequence numbers), then digested with CRC-64/XZ.
// docs/digest.md specifies both exactly; RTL computes the same bits.
// No heap, no exceptions: usable from firmware and the FPGA model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/wire.h"

namespace twinstep::digest {

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86DD;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;
inline constexpr uint16_t kEtherTypeQinQ = 0x88A8;
inline constexpr uint8_t kTcpFlagSyn = 0x02;
inline constexpr uint8_t kTcpFlagAck = 0x10;
inline constexpr size_t kMaxPatches = 8;

// A byte range of the frame replaced by other bytes in the normalized event.
struct Patch {
  uint16_t offset = 0;
  uint8_t length = 0;  // 1..4
  uint8_t bytes[4] = {};
};

// What parsing an output frame found. Any frame parses: a layer that is
// malformed or truncated is left as it is, and so is everything inside it.
struct FrameInfo {
  uint64_t flow = 0;  // flow id: CRC-64 of the flow key (docs/digest.md)
  bool is_tcp = false;
  uint8_t tcp_flags = 0;
  uint32_t tcp_seq = 0;
  uint32_t tcp_ack = 0;
  uint16_t tcp_seq_offset = 0;  // where seq sits in the frame (ack follows at +4)
  uint8_t patch_count = 0;      // patches other than TCP seq/ack, in ascending offset
  Patch patches[kMaxPatches];
};

// Parses `frame` and lists the normalization patches (all but TCP seq/ack).
FrameInfo ParseFrame(std::span<const uint8_t> frame);

// CRC-64/XZ of the normalized frame. For TCP, `rel_seq` and `rel_ack` replace
// the sequence and acknowledgement numbers (ignored for other frames).
uint64_t DigestFrame(std::span<const uint8_t> frame, const FrameInfo& info, uint32_t rel_seq, uint32_t rel_ack);

// Writes the normalized frame (for tests, tools and docs); `out` must be at
// least frame.size() bytes. Returns the bytes written.
size_t NormalizeFrame(std::span<const uint8_t> frame, const FrameInfo& info, uint32_t rel_seq, uint32_t rel_ack,
                      std::span<uint8_t> out);

// Per-replica digest state: each flow's next output sequence and each TCP
// connection's sequence and acknowledgement bases. Fixed capacity; when full
// it starts empty again (deterministic, so two replicas stay in step).
class Digester {
 public:
  static constexpr size_t kDefaultCapacity = 1u << 16;
  // `slots` must hold a power-of-two number of slots (capacity = slots / 2).
  struct Slot {
    uint64_t flow = 0;
    uint64_t next_out_seq = 0;
    uint32_t seq_base = 0;
    uint32_t ack_base = 0;
    uint8_t used = 0;
    uint8_t has_seq_base = 0;
    uint8_t has_ack_base = 0;
  };
  explicit Digester(std::span<Slot> slots);

  // Digests one output event and assigns its per-flow output sequence.
  wire::OutputDigest Digest(std::span<const uint8_t> frame);
  // The same, for a frame already parsed.
  wire::OutputDigest Digest(std::span<const uint8_t> frame, const FrameInfo& info);

  void Clear();
  size_t flows() const { return used_; }
  uint64_t resets() const { return resets_; }

 private:
  Slot& Lookup(uint64_t flow);
  std::span<Slot> slots_;
  size_t used_ = 0;
  uint64_t resets_ = 0;
};

}  // namespace twinstep::digest
