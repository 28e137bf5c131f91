// The reliable sync link's state machine (see sync_link.h, docs/sync-link.md).
#include "dataplane/core/sync_link.h"

#include <algorithm>
#include <cstring>

namespace twinstep::dataplane {
namespace {

constexpr size_t kFrameOverheadBytes = wire::kEthHeaderBytes + wire::kHeaderBytes;

size_t RecordBody(const wire::Record& r) {
  switch (r.type) {
    case wire::RecordType::kMirroredInput: return 16 + r.input.packet.size();
    case wire::RecordType::kCheckpointChunk: return 16 + r.checkpoint_chunk.data.size();
    case wire::RecordType::kOutputDigest: return 32;
    default: return 24;
  }
}

}  // namespace

const char* SyncErrorMessage(SyncError e) {
  switch (e) {
    case SyncError::kWindowFull: return "sync link send window full (back-pressure)";
    case SyncError::kRecordTooLarge: return "record larger than one sync-link frame";
    case SyncError::kPortBusy: return "sync port refused the frame";
    case SyncError::kBadConfig: return "bad sync link config (window must be a power of two >= 2, frame 128..9062 bytes)";
  }
  return "unknown sync link error";
}

Expected<void, SyncError> SyncLink::Validate(const SyncLinkConfig& c) {
  const bool pow2 = c.window_frames >= 2 && (c.window_frames & (c.window_frames - 1)) == 0 && c.window_frames <= 64 * 1024;
  const bool size_ok = c.max_frame_bytes >= 128 && c.max_frame_bytes <= kFrameOverheadBytes + wire::kMaxPayloadBytes;
  if (!pow2 || !size_ok || c.rto_min_ns == 0 || c.rto_min_ns > c.rto_max_ns) return MakeUnexpected(SyncError::kBadConfig);
  return {};
}

SyncLink::SyncLink(const SyncLinkConfig& config, FrameTx* tx, RecordSink* sink)
    : config_(config),
      tx_(tx),
      sink_(sink),
      frame_bytes_(config.max_frame_bytes),
      mask_(config.window_frames - 1),
      tx_mem_(static_cast<size_t>(config.window_frames) * config.max_frame_bytes),
      tx_slots_(config.window_frames),
      writer_({}, config.peer_mac, config.local_mac),
      rto_ns_(std::clamp(config.rto_initial_ns, config.rto_min_ns, config.rto_max_ns)),
      rx_mem_(static_cast<size_t>(config.window_frames) * config.max_frame_bytes),
      rx_slots_(config.window_frames),
      scratch_(config.max_frame_bytes) {
  stats_.rto_ns = rto_ns_;
}

size_t SyncLink::MaxRecordBody() const {
  return frame_bytes_ - kFrameOverheadBytes - wire::kRecordHeaderBytes - wire::kRecordAlignBytes;
}

uint32_t SyncLink::FreeFrames() const {
  const uint64_t used = tx_next_ - tx_base_ + (open_ ? 1 : 0);
  return static_cast<uint32_t>(config_.window_frames - used);
}

bool SyncLink::CanAdd(size_t body_bytes) const {
  if (open_ && wire::FrameWriter::RecordBytes(body_bytes) <= writer_.PayloadRoom()) return true;
  return FreeFrames() > 0;
}

void SyncLink::OpenFrame(uint64_t now_ns) {
  writer_ = wire::FrameWriter({TxBuf(tx_next_), frame_bytes_}, config_.peer_mac, config_.local_mac);
  wire::FrameHeader h;
  h.type = wire::FrameType::kData;
  h.flags = wire::kFlagAckValid;
  h.epoch = epoch_;
  h.seq = tx_next_;
  h.ack = rx_delivered_;
  writer_.Begin(h);
  open_ = true;
  open_since_ns_ = now_ns;
}

void SyncLink::CloseFrame() {
  const auto frame = writer_.Finish();
  TxSlot& s = tx_slots_[tx_next_ & mask_];
  s = TxSlot{static_cast<uint32_t>(frame.size()), 0, 0, false};
  stats_.records_sent += writer_.record_count();
  stats_.bytes_sent += frame.size();
  ++stats_.frames_sent;
  open_ = false;
  ++tx_next_;
  ack_pending_ = false;  // the frame carries our cumulative ack
}

Expected<void, SyncError> SyncLink::Add(const wire::Record& record, uint64_t now_ns) {
  const size_t body = RecordBody(record);
  if (body > MaxRecordBody()) return MakeUnexpected(SyncError::kRecordTooLarge);
  if (open_ && writer_.Add(record)) return {};
  if (open_) {
    const uint64_t seq = tx_next_;
    CloseFrame();
    SendSlot(seq, now_ns, false);
  }
  if (FreeFrames() == 0) return MakeUnexpected(SyncError::kWindowFull);
  OpenFrame(now_ns);
  if (!writer_.Add(record)) return MakeUnexpected(SyncError::kRecordTooLarge);  // unreachable: body checked
  return {};
}

void SyncLink::SendSlot(uint64_t seq, uint64_t now_ns, bool retransmit) {
  TxSlot& s = tx_slots_[seq & mask_];
  std::span<const uint8_t> frame{TxBuf(seq), s.bytes};
  if (retransmit) {
    // Re-encode with the retransmit flag and our current ack (the CRC covers both).
    auto reader = wire::FrameReader::Parse(frame);
    if (!reader) return;  // our own frame: cannot fail
    wire::FrameHeader h = reader->header();
    h.flags |= wire::kFlagRetransmit | wire::kFlagAckValid;
    h.ack = rx_delivered_;
    wire::FrameWriter w(scratch_, config_.peer_mac, config_.local_mac);
    w.Begin(h);
    while (!reader->Done()) {
      auto r = reader->Next();
      if (!r || !w.Add(*r)) return;
    }
    frame = w.Finish();
  }
  s.sent_ns = now_ns;
  if (!tx_->Transmit(frame)) {
    ++stats_.tx_refused;  // left for the retransmit timer
    return;
  }
  if (s.sends > 0) ++stats_.retransmits;
  ++s.sends;
}

void SyncLink::Flush(uint64_t now_ns) {
  if (!open_) return;
  const uint64_t seq = tx_next_;
  CloseFrame();
  SendSlot(seq, now_ns, false);
}

Expected<void, SyncError> SyncLink::SendPriority(const wire::Heartbeat& heartbeat, uint64_t now_ns) {
  (void)now_ns;
  wire::Record r;
  r.type = wire::RecordType::kHeartbeat;
  r.heartbeat = heartbeat;
  wire::FrameWriter w(scratch_, config_.peer_mac, config_.local_mac);
  wire::FrameHeader h;
  h.type = wire::FrameType::kPriority;
  h.epoch = epoch_;
  w.Begin(h);
  if (!w.Add(r)) return MakeUnexpected(SyncError::kRecordTooLarge);
  if (!tx_->Transmit(w.Finish())) return MakeUnexpected(SyncError::kPortBusy);
  ++stats_.priority_sent;
  return {};
}

void SyncLink::SendControlFrame(wire::FrameType type, const wire::Record* records, size_t n) {
  wire::FrameWriter w(scratch_, config_.peer_mac, config_.local_mac);
  wire::FrameHeader h;
  h.type = type;
  h.flags = wire::kFlagAckValid;
  h.epoch = epoch_;
  h.ack = rx_delivered_;
  w.Begin(h);
  for (size_t i = 0; i < n; ++i) {
    if (!w.Add(records[i])) break;
  }
  if (!tx_->Transmit(w.Finish())) ++stats_.tx_refused;
}

uint64_t SyncLink::SackBits() const {
  // Bit i: frame rx_delivered_ + 2 + i is buffered.
  uint64_t bits = 0;
  for (uint64_t i = 0; i < 64; ++i) {
    const uint64_t seq = rx_delivered_ + 2 + i;
    if (seq > rx_highest_) break;
    if (seq - rx_delivered_ <= config_.window_frames && rx_slots_[seq & mask_].present) bits |= uint64_t{1} << i;
  }
  return bits;
}

void SyncLink::SendAck(uint64_t now_ns) {
  (void)now_ns;
  wire::Record r;
  r.type = wire::RecordType::kAck;
  r.ack = {rx_delivered_, SackBits()};
  SendControlFrame(wire::FrameType::kAck, &r, 1);
  ++stats_.acks_sent;
  ack_pending_ = false;
}

void SyncLink::SendNack(uint64_t first, uint64_t count) {
  wire::Record r;
  r.type = wire::RecordType::kNack;
  r.nack = {first, static_cast<uint32_t>(std::min<uint64_t>(count, UINT32_MAX))};
  SendControlFrame(wire::FrameType::kAck, &r, 1);
  ++stats_.nacks_sent;
}

void SyncLink::SampleRtt(uint64_t rtt_ns) {
  // RFC 6298.
  ++stats_.rtt_samples;
  stats_.last_rtt_ns = rtt_ns;
  if (stats_.rtt_samples == 1) {
    stats_.srtt_ns = rtt_ns;
    stats_.rttvar_ns = rtt_ns / 2;
  } else {
    const uint64_t diff = rtt_ns > stats_.srtt_ns ? rtt_ns - stats_.srtt_ns : stats_.srtt_ns - rtt_ns;
    stats_.rttvar_ns = (3 * stats_.rttvar_ns + diff) / 4;
    stats_.srtt_ns = (7 * stats_.srtt_ns + rtt_ns) / 8;
  }
  rto_ns_ = std::clamp(stats_.srtt_ns + 4 * stats_.rttvar_ns, config_.rto_min_ns, config_.rto_max_ns);
  stats_.rto_ns = rto_ns_;
}

void SyncLink::OnAck(uint64_t cumulative, uint64_t sack, uint64_t now_ns) {
  if (cumulative >= tx_next_) cumulative = tx_next_ - 1;  // acks for frames never sent are ignored
  if (cumulative >= tx_base_) {
    // Karn: only frames sent once give an RTT sample.
    const TxSlot& last = tx_slots_[cumulative & mask_];
    if (last.sends == 1 && now_ns >= last.sent_ns) SampleRtt(now_ns - last.sent_ns);
    tx_base_ = cumulative + 1;
  }
  for (uint64_t i = 0; i < 64 && sack != 0; ++i, sack >>= 1) {
    const uint64_t seq = cumulative + 2 + i;
    if ((sack & 1) && seq >= tx_base_ && seq < tx_next_) tx_slots_[seq & mask_].sacked = true;
  }
  stats_.in_flight = tx_next_ - tx_base_;
}

void SyncLink::OnNack(const wire::Nack& nack, uint64_t now_ns) {
  ++stats_.nacks_received;
  const uint64_t first = std::max(nack.first, tx_base_);
  const uint64_t end = std::min(nack.first + nack.count, tx_next_);
  // A frame retransmitted less than one smoothed RTT ago is still on its way.
  const uint64_t guard_ns = stats_.srtt_ns / 2;
  for (uint64_t seq = first; seq < end; ++seq) {
    const TxSlot& s = tx_slots_[seq & mask_];
    if (s.sacked) continue;
    if (s.sends > 1 && now_ns - s.sent_ns < guard_ns) continue;
    SendSlot(seq, now_ns, true);
  }
}

void SyncLink::OnData(const wire::FrameReader& reader, std::span<const uint8_t> frame, uint64_t now_ns) {
  ++stats_.frames_received;
  const uint64_t seq = reader.header().seq;
  if (!ack_pending_) ack_pending_since_ns_ = now_ns;
  ack_pending_ = true;  // a duplicate means our ack was lost: ack again
  if (seq <= rx_delivered_) {
    ++stats_.duplicates;
    return;
  }
  if (seq - rx_delivered_ > config_.window_frames) {
    ++stats_.out_of_window;
    return;
  }
  RxSlot& s = rx_slots_[seq & mask_];
  // Fast path: the next frame in order, and the consumer has room: deliver it
  // straight from the port's buffer, without a copy into the reorder buffer.
  if (seq == rx_delivered_ + 1 && !s.present && reader.header().record_count <= direct_budget_) {
    wire::FrameReader r = reader;
    direct_budget_ -= DeliverFrame(r, now_ns);
    rx_highest_ = std::max(rx_highest_, seq);
    rx_nacked_to_ = std::max(rx_nacked_to_, seq);
    return;
  }
  if (s.present) {
    ++stats_.duplicates;
    return;
  }
  const size_t bytes = std::min<size_t>(frame.size(), frame_bytes_);
  std::memcpy(RxBuf(seq), frame.data(), bytes);
  s = RxSlot{static_cast<uint32_t>(bytes), true};
  if (seq > rx_highest_) {
    // Frames between the highest seen and this one are missing: ask for them once.
    const uint64_t gap_from = std::max(std::max(rx_highest_, rx_delivered_), rx_nacked_to_) + 1;
    if (seq > gap_from) {
      stats_.gaps += seq - gap_from;
      SendNack(gap_from, seq - gap_from);
    }
    rx_highest_ = seq;
    rx_nacked_to_ = std::max(rx_nacked_to_, seq);
  }
}

void SyncLink::OnFrame(std::span<const uint8_t> frame, uint64_t now_ns) {
  auto reader = wire::FrameReader::Parse(frame);
  if (!reader) {
    if (reader.error() == wire::WireError::kNotTwinstep) {
      ++stats_.foreign;
    } else {
      ++stats_.malformed;
    }
    return;
  }
  const wire::FrameHeader& h = reader->header();
  if (h.flags & wire::kFlagAckValid) OnAck(h.ack, 0, now_ns);
  switch (h.type) {
    case wire::FrameType::kData:
      if (h.seq == 1 && h.ack == 0 && !(h.flags & wire::kFlagRetransmit) && rx_delivered_ > config_.window_frames) {
        // A fresh peer: its first frame, it has taken nothing of ours, and we
        // are more than a window past our own frame 1 (so this is no late
        // duplicate of the session's first frame).
        Reset();
        ++stats_.peer_restarts;
        sink_->OnPeerRestart(now_ns);
      }
      OnData(*reader, frame, now_ns);
      return;
    case wire::FrameType::kAck:
    case wire::FrameType::kPriority:
      while (!reader->Done()) {
        auto r = reader->Next();
        if (!r) {
          ++stats_.malformed;
          return;
        }
        if (h.type == wire::FrameType::kPriority) {
          ++stats_.priority_received;
          sink_->OnRecord(*r, h.epoch, now_ns);
        } else if (r->type == wire::RecordType::kAck) {
          OnAck(r->ack.seq, r->ack.sack, now_ns);
        } else if (r->type == wire::RecordType::kNack) {
          OnNack(r->nack, now_ns);
        }
      }
      return;
  }
}

uint16_t SyncLink::NextFrameRecords() const {
  const uint64_t seq = rx_delivered_ + 1;
  const RxSlot& s = rx_slots_[seq & mask_];
  if (!s.present) return 0;
  auto reader = wire::FrameReader::Parse({rx_mem_.data() + (seq & mask_) * frame_bytes_, s.bytes});
  return reader ? std::max<uint16_t>(reader->header().record_count, 1) : 1;
}

size_t SyncLink::DeliverFrame(wire::FrameReader& reader, uint64_t now_ns) {
  size_t delivered = 0;
  const uint64_t epoch = reader.header().epoch;
  while (!reader.Done()) {
    if (!reader.Next(&rx_record_)) {
      ++stats_.malformed;  // the rest of this frame is lost; the link keeps going
      break;
    }
    sink_->OnRecord(rx_record_, epoch, now_ns);
    ++delivered;
  }
  rx_delivered_ = reader.header().seq;
  if (!ack_pending_) ack_pending_since_ns_ = now_ns;
  ack_pending_ = true;
  stats_.records_delivered += delivered;
  return delivered;
}

size_t SyncLink::Deliver(size_t max_records, uint64_t now_ns) {
  size_t delivered = 0;
  for (;;) {
    const uint64_t seq = rx_delivered_ + 1;
    RxSlot& s = rx_slots_[seq & mask_];
    if (!s.present) break;
    auto reader = wire::FrameReader::Parse({RxBuf(seq), s.bytes});  // checked once already: cannot fail
    if (reader && delivered + reader->header().record_count > max_records) break;
    s.present = false;
    if (reader) {
      delivered += DeliverFrame(*reader, now_ns);
    } else {
      rx_delivered_ = seq;
    }
  }
  return delivered;
}

void SyncLink::RetransmitExpired(uint64_t now_ns) {
  bool expired = false;
  for (uint64_t seq = tx_base_; seq < tx_next_; ++seq) {
    const TxSlot& s = tx_slots_[seq & mask_];
    if (s.sacked || now_ns - s.sent_ns < rto_ns_) continue;
    expired = true;
    SendSlot(seq, now_ns, true);
  }
  if (expired) {
    ++stats_.timeouts;
    rto_ns_ = std::min(rto_ns_ * 2, config_.rto_max_ns);  // back off until a fresh sample
    stats_.rto_ns = rto_ns_;
  }
}

void SyncLink::Poll(uint64_t now_ns) {
  if (open_ && now_ns - open_since_ns_ >= config_.drain_ns) Flush(now_ns);
  if (tx_base_ < tx_next_ && now_ns >= next_rto_check_ns_) {
    RetransmitExpired(now_ns);
    next_rto_check_ns_ = now_ns + rto_ns_ / 4;
  }
  if (ack_pending_ && now_ns - ack_pending_since_ns_ >= config_.ack_delay_ns) SendAck(now_ns);
}

void SyncLink::Reset() {
  uint64_t discarded = tx_next_ - tx_base_ + (open_ ? 1 : 0);
  for (const RxSlot& s : rx_slots_) discarded += s.present ? 1 : 0;
  stats_.reset_discarded += discarded;
  for (RxSlot& s : rx_slots_) s = RxSlot{};
  for (TxSlot& s : tx_slots_) s = TxSlot{};
  tx_base_ = tx_next_ = 1;
  open_ = false;
  rx_delivered_ = rx_highest_ = rx_nacked_to_ = 0;
  ack_pending_ = false;
  rto_ns_ = std::clamp(config_.rto_initial_ns, config_.rto_min_ns, config_.rto_max_ns);
  stats_.in_flight = 0;
}

bool SyncLink::Idle() const { return !open_ && tx_base_ == tx_next_ && !rx_slots_[(rx_delivered_ + 1) & mask_].present; }

}  // namespace twinstep::dataplane
