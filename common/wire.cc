// Encoder and decoder of the sync-link wire format (layout: docs/wire.md).
#include "common/wire.h"

#include <cstring>

#include "common/crc.h"

namespace twinstep::wire {
namespace {

// Header field offsets, from the start of the twinstep header.
constexpr size_t kOffMagic = 0, kOffVersion = 4, kOffType = 5, kOffFlags = 6, kOffReserved0 = 7,
                 kOffRecordCount = 8, kOffReserved1 = 10, kOffPayloadBytes = 12, kOffEpoch = 16,
                 kOffSeq = 24, kOffAck = 32, kOffCrc = 40, kOffReserved2 = 44;

// Fixed body sizes of each record type (variable records: the fixed part).
constexpr size_t kMirroredInputFixed = 16, kOutputDigestBody = 32, kHeartbeatBody = 24,
                 kCheckpointBeginBody = 24, kCheckpointChunkFixed = 16, kCheckpointEndBody = 24,
                 kAckBody = 16, kNackBody = 16, kControlBody = 24;

template <typename T>
void Put(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));  // the wire is little-endian, as are x86-64 and aarch64
}
template <typename T>
T Get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <size_t N>
struct Body {
  uint8_t b[N] = {};
  std::span<const uint8_t> span() const { return {b, N}; }
};

Unexpected<WireError> Fail(WireError e) { return MakeUnexpected(e); }

}  // namespace

const char* WireErrorMessage(WireError e) {
  switch (e) {
    case WireError::kBufferTooSmall: return "output buffer too small for the record";
    case WireError::kFrameTooShort: return "frame shorter than the Ethernet and twinstep headers";
    case WireError::kNotTwinstep: return "Ethernet type is not twinstep's 0x88B5";
    case WireError::kBadMagic: return "bad magic in twinstep header";
    case WireError::kBadVersion: return "unsupported wire version";
    case WireError::kBadFrameType: return "unknown frame type or nonzero reserved header field";
    case WireError::kPayloadLengthMismatch: return "payload length in header disagrees with frame length";
    case WireError::kPayloadTooLarge: return "payload length exceeds the maximum";
    case WireError::kBadCrc: return "CRC32C mismatch";
    case WireError::kRecordTruncated: return "record extends past the end of the payload";
    case WireError::kRecordBadType: return "unknown record type";
    case WireError::kRecordBadLength: return "record body length wrong for its type";
    case WireError::kRecordBadValue: return "record field out of range or reserved field nonzero";
    case WireError::kRecordCountMismatch: return "record count in header disagrees with records present";
    case WireError::kTooManyRecords: return "more records than the header can count";
  }
  return "unknown wire error";
}

FrameWriter::FrameWriter(std::span<uint8_t> buf, const uint8_t dst_mac[6], const uint8_t src_mac[6])
    : buf_(buf) {
  if (buf_.size() >= kEthHeaderBytes) {
    std::memcpy(buf_.data(), dst_mac, 6);
    std::memcpy(buf_.data() + 6, src_mac, 6);
    buf_[12] = static_cast<uint8_t>(kEtherType >> 8);
    buf_[13] = static_cast<uint8_t>(kEtherType & 0xFF);
  }
}

void FrameWriter::Begin(const FrameHeader& header) {
  header_ = header;
  header_.record_count = 0;
  used_ = 0;
}

size_t FrameWriter::PayloadRoom() const {
  const size_t cap = buf_.size() < kEthHeaderBytes + kHeaderBytes ? 0 : buf_.size() - kEthHeaderBytes - kHeaderBytes;
  const size_t limit = cap < kMaxPayloadBytes ? cap : kMaxPayloadBytes;
  return used_ >= limit ? 0 : limit - used_;
}

Expected<void, WireError> FrameWriter::AddRecord(RecordType type, std::span<const uint8_t> fixed,
                                                 std::span<const uint8_t> tail) {
  const size_t body = fixed.size() + tail.size();
  const size_t total = RecordBytes(body);
  if (total > PayloadRoom()) return Fail(WireError::kBufferTooSmall);
  if (header_.record_count == UINT16_MAX) return Fail(WireError::kTooManyRecords);
  uint8_t* p = buf_.data() + kEthHeaderBytes + kHeaderBytes + used_;
  p[0] = static_cast<uint8_t>(type);
  p[1] = 0;
  Put<uint16_t>(p + 2, 0);
  Put<uint32_t>(p + 4, static_cast<uint32_t>(body));
  std::memcpy(p + kRecordHeaderBytes, fixed.data(), fixed.size());
  if (!tail.empty()) std::memcpy(p + kRecordHeaderBytes + fixed.size(), tail.data(), tail.size());
  std::memset(p + kRecordHeaderBytes + body, 0, total - kRecordHeaderBytes - body);
  used_ += total;
  ++header_.record_count;
  return {};
}

Expected<void, WireError> FrameWriter::AddMirroredInput(const MirroredInput& r) {
  Body<kMirroredInputFixed> b;
  Put<uint64_t>(b.b, r.input_seq);
  Put<uint16_t>(b.b + 8, r.port);
  Put<uint32_t>(b.b + 12, static_cast<uint32_t>(r.packet.size()));
  return AddRecord(RecordType::kMirroredInput, b.span(), r.packet);
}

Expected<void, WireError> FrameWriter::AddOutputDigest(const OutputDigest& r) {
  Body<kOutputDigestBody> b;
  Put<uint64_t>(b.b, r.flow);
  Put<uint64_t>(b.b + 8, r.out_seq);
  Put<uint32_t>(b.b + 16, r.length);
  Put<uint64_t>(b.b + 24, r.digest);
  return AddRecord(RecordType::kOutputDigest, b.span(), {});
}

Expected<void, WireError> FrameWriter::AddHeartbeat(const Heartbeat& r) {
  Body<kHeartbeatBody> b;
  Put<uint32_t>(b.b, r.node_id);
  b.b[4] = static_cast<uint8_t>(r.role);
  b.b[5] = r.host_alive;
  Put<uint64_t>(b.b + 8, r.send_time_ns);
  Put<uint64_t>(b.b + 16, r.last_input_seq);
  return AddRecord(RecordType::kHeartbeat, b.span(), {});
}

Expected<void, WireError> FrameWriter::AddCheckpointBegin(const CheckpointBegin& r) {
  Body<kCheckpointBeginBody> b;
  Put<uint64_t>(b.b, r.checkpoint_id);
  Put<uint64_t>(b.b + 8, r.total_bytes);
  Put<uint32_t>(b.b + 16, r.chunk_count);
  b.b[20] = static_cast<uint8_t>(r.kind);
  return AddRecord(RecordType::kCheckpointBegin, b.span(), {});
}

Expected<void, WireError> FrameWriter::AddCheckpointChunk(const CheckpointChunk& r) {
  Body<kCheckpointChunkFixed> b;
  Put<uint64_t>(b.b, r.checkpoint_id);
  Put<uint32_t>(b.b + 8, r.chunk_index);
  Put<uint32_t>(b.b + 12, static_cast<uint32_t>(r.data.size()));
  return AddRecord(RecordType::kCheckpointChunk, b.span(), r.data);
}

Expected<void, WireError> FrameWriter::AddCheckpointEnd(const CheckpointEnd& r) {
  Body<kCheckpointEndBody> b;
  Put<uint64_t>(b.b, r.checkpoint_id);
  Put<uint32_t>(b.b + 8, r.chunk_count);
  Put<uint64_t>(b.b + 16, r.digest);
  return AddRecord(RecordType::kCheckpointEnd, b.span(), {});
}

Expected<void, WireError> FrameWriter::AddAck(const Ack& r) {
  Body<kAckBody> b;
  Put<uint64_t>(b.b, r.seq);
  Put<uint64_t>(b.b + 8, r.sack);
  return AddRecord(RecordType::kAck, b.span(), {});
}

Expected<void, WireError> FrameWriter::AddNack(const Nack& r) {
  Body<kNackBody> b;
  Put<uint64_t>(b.b, r.first);
  Put<uint32_t>(b.b + 8, r.count);
  return AddRecord(RecordType::kNack, b.span(), {});
}

Expected<void, WireError> FrameWriter::AddControl(const Control& r) {
  Body<kControlBody> b;
  Put<uint16_t>(b.b, static_cast<uint16_t>(r.op));
  Put<uint32_t>(b.b + 4, r.node_id);
  Put<uint64_t>(b.b + 8, r.arg0);
  Put<uint64_t>(b.b + 16, r.arg1);
  return AddRecord(RecordType::kControl, b.span(), {});
}

Expected<void, WireError> FrameWriter::Add(const Record& r) {
  switch (r.type) {
    case RecordType::kMirroredInput: return AddMirroredInput(r.input);
    case RecordType::kOutputDigest: return AddOutputDigest(r.digest);
    case RecordType::kHeartbeat: return AddHeartbeat(r.heartbeat);
    case RecordType::kCheckpointBegin: return AddCheckpointBegin(r.checkpoint_begin);
    case RecordType::kCheckpointChunk: return AddCheckpointChunk(r.checkpoint_chunk);
    case RecordType::kCheckpointEnd: return AddCheckpointEnd(r.checkpoint_end);
    case RecordType::kAck: return AddAck(r.ack);
    case RecordType::kNack: return AddNack(r.nack);
    case RecordType::kControl: return AddControl(r.control);
  }
  return Fail(WireError::kRecordBadType);
}

std::span<const uint8_t> FrameWriter::Finish() {
  uint8_t* h = buf_.data() + kEthHeaderBytes;
  std::memset(h, 0, kHeaderBytes);
  Put<uint32_t>(h + kOffMagic, kMagic);
  h[kOffVersion] = kVersion;
  h[kOffType] = static_cast<uint8_t>(header_.type);
  h[kOffFlags] = header_.flags;
  Put<uint16_t>(h + kOffRecordCount, header_.record_count);
  Put<uint32_t>(h + kOffPayloadBytes, static_cast<uint32_t>(used_));
  Put<uint64_t>(h + kOffEpoch, header_.epoch);
  Put<uint64_t>(h + kOffSeq, header_.seq);
  Put<uint64_t>(h + kOffAck, header_.ack);
  header_.payload_bytes = static_cast<uint32_t>(used_);
  header_.crc = Crc32c({h, kHeaderBytes + used_});
  Put<uint32_t>(h + kOffCrc, header_.crc);
  return {buf_.data(), kEthHeaderBytes + kHeaderBytes + used_};
}

Expected<FrameReader, WireError> FrameReader::Parse(std::span<const uint8_t> frame) {
  if (frame.size() < kEthHeaderBytes + kHeaderBytes) return Fail(WireError::kFrameTooShort);
  if (frame[12] != (kEtherType >> 8) || frame[13] != (kEtherType & 0xFF)) return Fail(WireError::kNotTwinstep);
  const uint8_t* h = frame.data() + kEthHeaderBytes;
  if (Get<uint32_t>(h + kOffMagic) != kMagic) return Fail(WireError::kBadMagic);
  if (h[kOffVersion] != kVersion) return Fail(WireError::kBadVersion);
  const uint8_t type = h[kOffType];
  if (type < static_cast<uint8_t>(FrameType::kData) || type > static_cast<uint8_t>(FrameType::kPriority) ||
      h[kOffReserved0] != 0 || Get<uint16_t>(h + kOffReserved1) != 0 || Get<uint32_t>(h + kOffReserved2) != 0) {
    return Fail(WireError::kBadFrameType);
  }
  FrameHeader hdr;
  hdr.type = static_cast<FrameType>(type);
  hdr.flags = h[kOffFlags];
  hdr.record_count = Get<uint16_t>(h + kOffRecordCount);
  hdr.payload_bytes = Get<uint32_t>(h + kOffPayloadBytes);
  hdr.epoch = Get<uint64_t>(h + kOffEpoch);
  hdr.seq = Get<uint64_t>(h + kOffSeq);
  hdr.ack = Get<uint64_t>(h + kOffAck);
  hdr.crc = Get<uint32_t>(h + kOffCrc);
  if (hdr.payload_bytes > kMaxPayloadBytes) return Fail(WireError::kPayloadTooLarge);
  // Ethernet may pad short frames, so the frame can be longer than the payload.
  const size_t avail = frame.size() - kEthHeaderBytes - kHeaderBytes;
  if (hdr.payload_bytes > avail) return Fail(WireError::kPayloadLengthMismatch);
  const uint8_t zero_crc[4] = {0, 0, 0, 0};
  uint32_t crc = Crc32cUpdate(0, {h, kOffCrc});
  crc = Crc32cUpdate(crc, {zero_crc, 4});
  crc = Crc32cUpdate(crc, {h + kOffCrc + 4, kHeaderBytes - kOffCrc - 4 + hdr.payload_bytes});
  if (crc != hdr.crc) return Fail(WireError::kBadCrc);
  if (hdr.payload_bytes == 0 && hdr.record_count != 0) return Fail(WireError::kRecordCountMismatch);
  return FrameReader(hdr, {h + kHeaderBytes, hdr.payload_bytes});
}

Expected<void, WireError> FrameReader::Next(Record* out) {
  if (Done()) return Fail(WireError::kRecordCountMismatch);
  const size_t left = payload_.size() - offset_;
  if (left < kRecordHeaderBytes) return Fail(WireError::kRecordTruncated);
  const uint8_t* p = payload_.data() + offset_;
  if (p[1] != 0 || Get<uint16_t>(p + 2) != 0) return Fail(WireError::kRecordBadValue);
  const uint32_t body_len = Get<uint32_t>(p + 4);
  if (body_len > left - kRecordHeaderBytes) return Fail(WireError::kRecordTruncated);
  const size_t total = FrameWriter::RecordBytes(body_len);
  if (total > left) return Fail(WireError::kRecordTruncated);
  const uint8_t* b = p + kRecordHeaderBytes;
  auto fixed_is = [&](size_t n) { return body_len == n; };
  Record& r = *out;
  r.type = static_cast<RecordType>(p[0]);
  switch (r.type) {
    case RecordType::kMirroredInput: {
      if (body_len < kMirroredInputFixed) return Fail(WireError::kRecordBadLength);
      const uint32_t n = Get<uint32_t>(b + 12);
      if (n != body_len - kMirroredInputFixed) return Fail(WireError::kRecordBadLength);
      if (Get<uint16_t>(b + 10) != 0) return Fail(WireError::kRecordBadValue);
      r.input = {Get<uint64_t>(b), Get<uint16_t>(b + 8), {b + kMirroredInputFixed, n}};
      break;
    }
    case RecordType::kOutputDigest:
      if (!fixed_is(kOutputDigestBody)) return Fail(WireError::kRecordBadLength);
      if (Get<uint32_t>(b + 20) != 0) return Fail(WireError::kRecordBadValue);
      r.digest = {Get<uint64_t>(b), Get<uint64_t>(b + 8), Get<uint32_t>(b + 16), Get<uint64_t>(b + 24)};
      break;
    case RecordType::kHeartbeat:
      if (!fixed_is(kHeartbeatBody)) return Fail(WireError::kRecordBadLength);
      if (b[4] < static_cast<uint8_t>(NodeRole::kJoining) || b[4] > static_cast<uint8_t>(NodeRole::kStopped) ||
          b[5] > 1 || Get<uint16_t>(b + 6) != 0) {
        return Fail(WireError::kRecordBadValue);
      }
      r.heartbeat = {Get<uint32_t>(b), static_cast<NodeRole>(b[4]), b[5], Get<uint64_t>(b + 8), Get<uint64_t>(b + 16)};
      break;
    case RecordType::kCheckpointBegin:
      if (!fixed_is(kCheckpointBeginBody)) return Fail(WireError::kRecordBadLength);
      if (b[20] < static_cast<uint8_t>(CheckpointKind::kJoin) || b[20] > static_cast<uint8_t>(CheckpointKind::kDirtyList) ||
          b[21] != 0 || b[22] != 0 || b[23] != 0) {
        return Fail(WireError::kRecordBadValue);
      }
      r.checkpoint_begin = {Get<uint64_t>(b), Get<uint64_t>(b + 8), Get<uint32_t>(b + 16), static_cast<CheckpointKind>(b[20])};
      break;
    case RecordType::kCheckpointChunk: {
      if (body_len < kCheckpointChunkFixed) return Fail(WireError::kRecordBadLength);
      const uint32_t n = Get<uint32_t>(b + 12);
      if (n != body_len - kCheckpointChunkFixed) return Fail(WireError::kRecordBadLength);
      r.checkpoint_chunk = {Get<uint64_t>(b), Get<uint32_t>(b + 8), {b + kCheckpointChunkFixed, n}};
      break;
    }
    case RecordType::kCheckpointEnd:
      if (!fixed_is(kCheckpointEndBody)) return Fail(WireError::kRecordBadLength);
      if (Get<uint32_t>(b + 12) != 0) return Fail(WireError::kRecordBadValue);
      r.checkpoint_end = {Get<uint64_t>(b), Get<uint32_t>(b + 8), Get<uint64_t>(b + 16)};
      break;
    case RecordType::kAck:
      if (!fixed_is(kAckBody)) return Fail(WireError::kRecordBadLength);
      r.ack = {Get<uint64_t>(b), Get<uint64_t>(b + 8)};
      break;
    case RecordType::kNack:
      if (!fixed_is(kNackBody)) return Fail(WireError::kRecordBadLength);
      if (Get<uint32_t>(b + 12) != 0) return Fail(WireError::kRecordBadValue);
      r.nack = {Get<uint64_t>(b), Get<uint32_t>(b + 8)};
      break;
    case RecordType::kControl: {
      if (!fixed_is(kControlBody)) return Fail(WireError::kRecordBadLength);
      const uint16_t op = Get<uint16_t>(b);
      if (op < static_cast<uint16_t>(ControlOp::kJoinRequest) || op > static_cast<uint16_t>(ControlOp::kJoinPagesApplied) ||
          Get<uint16_t>(b + 2) != 0) {
        return Fail(WireError::kRecordBadValue);
      }
      r.control = {static_cast<ControlOp>(op), Get<uint32_t>(b + 4), Get<uint64_t>(b + 8), Get<uint64_t>(b + 16)};
      break;
    }
    default:
      return Fail(WireError::kRecordBadType);
  }
  offset_ += total;
  ++records_read_;
  if (records_read_ > header_.record_count) return Fail(WireError::kRecordCountMismatch);
  if (Done() && records_read_ != header_.record_count) return Fail(WireError::kRecordCountMismatch);
  return {};
}

}  // namespace twinstep::wire
