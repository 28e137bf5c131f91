// The sync-link wire format: one Ethernet frame carries a twinstep header and a
// batch of records (docs/wire.md). Encoding writes into caller buffers and
// decoding reads views into the frame: no heap, no exceptions (firmware uses it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/expected.h"

namespace twinstep::wire {

inline constexpr uint16_t kEtherType = 0x88B5;  // IEEE 802 local experimental
inline constexpr uint32_t kMagic = 0x50535754;  // "TWSP" little-endian
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kEthHeaderBytes = 14;
inline constexpr size_t kHeaderBytes = 48;
inline constexpr size_t kRecordHeaderBytes = 8;
inline constexpr size_t kRecordAlignBytes = 8;
// Largest payload one frame may carry (a 9000-byte jumbo MTU less the headers).
inline constexpr size_t kMaxPayloadBytes = 9000 - kHeaderBytes;

// How the reliable link treats a frame.
enum class FrameType : uint8_t {
  kData = 1,      // sequenced, acknowledged, retransmitted
  kAck = 2,       // carries only ack/nack records; not sequenced
  kPriority = 3,  // heartbeats: not sequenced, never queued behind data
};

enum FrameFlags : uint8_t {
  kFlagAckValid = 1u << 0,    // header.ack is a cumulative acknowledgement
  kFlagRetransmit = 1u << 1,  // this frame was sent before
};

enum class RecordType : uint8_t {
  kMirroredInput = 1,
  kOutputDigest = 2,
  kHeartbeat = 3,
  kCheckpointBegin = 4,
  kCheckpointChunk = 5,
  kCheckpointEnd = 6,
  kAck = 7,
  kNack = 8,
  kControl = 9,
};

struct FrameHeader {
  FrameType type = FrameType::kData;
  uint8_t flags = 0;
  uint16_t record_count = 0;
  uint64_t epoch = 0;
  uint64_t seq = 0;
  uint64_t ack = 0;
  uint32_t payload_bytes = 0;  // bytes of records after the header
  uint32_t crc = 0;            // CRC32C of header (crc field zero) + payload
};

// A client packet entering the guest, in input order.
struct MirroredInput {
  uint64_t input_seq = 0;
  uint16_t port = 0;              // which guest NIC
  std::span<const uint8_t> packet;
};

// The secondary's digest of one output event (docs/digest.md).
struct OutputDigest {
  uint64_t flow = 0;
  uint64_t out_seq = 0;  // per-flow output sequence, from 0
  uint32_t length = 0;   // bytes of the event
  uint64_t digest = 0;
};

enum class NodeRole : uint8_t { kJoining = 1, kPrimary, kSecondary, kSolo, kFenced, kStopped };

struct Heartbeat {
  uint32_t node_id = 0;
  NodeRole role = NodeRole::kJoining;
  uint8_t host_alive = 1;  // 0: this NIC's own host stopped ringing its doorbell
  uint64_t send_time_ns = 0;
  uint64_t last_input_seq = 0;
};

// What a bulk transfer carries: a checkpoint image (join's last round or a
// lockstep checkpoint by its trigger), a join pre-copy round of memory pages,
// or the secondary's list of its own dirty pages.
enum class CheckpointKind : uint8_t { kJoin = 1, kPeriodic, kDivergence, kDirtyBound, kJoinPages, kDirtyList };

struct CheckpointBegin {
  uint64_t checkpoint_id = 0;
  uint64_t total_bytes = 0;
  uint32_t chunk_count = 0;
  CheckpointKind kind = CheckpointKind::kPeriodic;
};

struct CheckpointChunk {
  uint64_t checkpoint_id = 0;
  uint32_t chunk_index = 0;
  std::span<const uint8_t> data;
};

struct CheckpointEnd {
  uint64_t checkpoint_id = 0;
  uint32_t chunk_count = 0;
  uint64_t digest = 0;  // CRC-64 over the concatenated chunk data
};

// Cumulative ack up to and including `seq`; `sack` bit i set = seq + 2 + i received.
struct Ack {
  uint64_t seq = 0;
  uint64_t sack = 0;
};

// Frames [first, first + count) are missing; please resend.
struct Nack {
  uint64_t first = 0;
  uint32_t count = 0;
};

enum class ControlOp : uint16_t {
  kJoinRequest = 1,
  kJoinAccept = 2,
  kJoinReject = 3,
  kFailover = 4,
  kWitnessFence = 5,  // arg0: fenced epoch; the receiver must stop releasing
  kStop = 6,
  kResume = 7,
  kCheckpointPrepare = 8,  // primary -> secondary: pause; arg0: the new epoch, arg1: CheckpointKind
  kCheckpointApplied = 9,  // secondary -> primary: state loaded; arg0: the epoch, arg1: memory digest (join) or 0
  kJoinPagesApplied = 10,  // joining -> running node: pre-copy batches applied so far (arg0)
};

struct Control {
  ControlOp op = ControlOp::kJoinRequest;
  uint32_t node_id = 0;
  uint64_t arg0 = 0;
  uint64_t arg1 = 0;
};

// A decoded record: `type` says which member is valid; spans point into the frame.
struct Record {
  RecordType type = RecordType::kHeartbeat;
  MirroredInput input;
  OutputDigest digest;
  Heartbeat heartbeat;
  CheckpointBegin checkpoint_begin;
  CheckpointChunk checkpoint_chunk;
  CheckpointEnd checkpoint_end;
  Ack ack;
  Nack nack;
  Control control;
};

enum class WireError : uint8_t {
  kBufferTooSmall = 1,
  kFrameTooShort,
  kNotTwinstep,
  kBadMagic,
  kBadVersion,
  kBadFrameType,
  kPayloadLengthMismatch,
  kPayloadTooLarge,
  kBadCrc,
  kRecordTruncated,
  kRecordBadType,
  kRecordBadLength,
  kRecordBadValue,
  kRecordCountMismatch,
  kTooManyRecords,
};
const char* WireErrorMessage(WireError e);

// Builds one frame in a caller buffer: Begin, Add* as many records as fit, Finish.
class FrameWriter {
 public:
  // `buf` receives the Ethernet header, the twinstep header and the records.
  FrameWriter(std::span<uint8_t> buf, const uint8_t dst_mac[6], const uint8_t src_mac[6]);

  void Begin(const FrameHeader& header);
  // Each Add returns kBufferTooSmall (and writes nothing) when the record does not fit.
  Expected<void, WireError> AddMirroredInput(const MirroredInput& r);
  Expected<void, WireError> AddOutputDigest(const OutputDigest& r);
  Expected<void, WireError> AddHeartbeat(const Heartbeat& r);
  Expected<void, WireError> AddCheckpointBegin(const CheckpointBegin& r);
  Expected<void, WireError> AddCheckpointChunk(const CheckpointChunk& r);
  Expected<void, WireError> AddCheckpointEnd(const CheckpointEnd& r);
  Expected<void, WireError> AddAck(const Ack& r);
  Expected<void, WireError> AddNack(const Nack& r);
  Expected<void, WireError> AddControl(const Control& r);
  Expected<void, WireError> Add(const Record& r);

  // Bytes of payload a record with `body_bytes` of body would take.
  static constexpr size_t RecordBytes(size_t body_bytes) {
    return kRecordHeaderBytes + ((body_bytes + kRecordAlignBytes - 1) & ~(kRecordAlignBytes - 1));
  }
  size_t PayloadRoom() const;  // bytes still free for records
  uint16_t record_count() const { return header_.record_count; }
  // Writes the header with length and CRC; returns the whole frame.
  std::span<const uint8_t> Finish();

 private:
  Expected<void, WireError> AddRecord(RecordType type, std::span<const uint8_t> fixed,
                                      std::span<const uint8_t> tail);
  std::span<uint8_t> buf_;
  FrameHeader header_;
  size_t used_ = 0;  // bytes of payload written
};

// A decoded, CRC-checked frame; Next() walks its records with full bounds checks.
class FrameReader {
 public:
  // Checks the Ethernet type, header, lengths and CRC of `frame`.
  static Expected<FrameReader, WireError> Parse(std::span<const uint8_t> frame);

  const FrameHeader& header() const { return header_; }
  bool Done() const { return offset_ >= payload_.size(); }
  // Decodes the next record into *out, writing only its type and that type's
  // member: the hot path reuses one Record instead of building and zeroing
  // ~250 bytes per record. After an error *out is unspecified.
  Expected<void, WireError> Next(Record* out);
  Expected<Record, WireError> Next() {
    Record r;
    if (auto ok = Next(&r); !ok) return MakeUnexpected(ok.error());
    return r;
  }
  uint16_t records_read() const { return records_read_; }

 private:
  FrameReader(const FrameHeader& h, std::span<const uint8_t> payload) : header_(h), payload_(payload) {}
  FrameHeader header_;
  std::span<const uint8_t> payload_;
  size_t offset_ = 0;
  uint16_t records_read_ = 0;
};

}  // namespace twinstep::wire
