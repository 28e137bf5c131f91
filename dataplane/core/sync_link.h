// The reliable sync link (docs/sync-link.md): sequence numbers and cumulative
// acks with a SACK bitmap, retransmission on timeout and on NACK, duplicate
// suppression, a reorder buffer with in-order delivery, a send window for flow
// control, batching of records with a drain timer, and an unsequenced priority
// class for heartbeats. Pure: frames go out through FrameTx and come in through
// OnFrame, time is passed in, memory is sized at construction. No DPDK here.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/expected.h"
#include "common/wire.h"

namespace twinstep::dataplane {

struct SyncLinkConfig {
  uint8_t local_mac[6] = {0x02, 0, 0, 0, 0, 1};
  uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 2};
  uint32_t window_frames = 256;          // data frames in flight, and reorder slots (power of two)
  uint32_t max_frame_bytes = 2048;       // whole Ethernet frame, as the port can carry it
  uint64_t drain_ns = 0;                 // a part-filled frame waits at most this long (0: each Poll)
  uint64_t ack_delay_ns = 0;             // a standalone ack waits at most this long (0: each Poll)
  uint64_t rto_initial_ns = 2'000'000;   // retransmit timeout before the first RTT sample
  uint64_t rto_min_ns = 500'000;
  uint64_t rto_max_ns = 100'000'000;
};

// Sends one whole frame on the sync port; false: the port took nothing.
class FrameTx {
 public:
  virtual ~FrameTx() = default;
  virtual bool Transmit(std::span<const uint8_t> frame) = 0;
};

// Receives the peer's records: sequenced ones in order, exactly once;
// priority ones (heartbeats) as they come. Spans point into link memory valid
// only during the call.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void OnRecord(const wire::Record& record, uint64_t epoch, uint64_t now_ns) = 0;
  // The peer restarted its link (a fresh first frame): everything in flight
  // either way belonged to the old session and is gone; both ends start over.
  virtual void OnPeerRestart(uint64_t now_ns) { (void)now_ns; }
};

enum class SyncError : uint8_t {
  kWindowFull = 1,   // every frame slot is in flight: back-pressure, retry later
  kRecordTooLarge,   // the record cannot fit in one frame of max_frame_bytes
  kPortBusy,         // the port refused a priority frame
  kBadConfig,
};
const char* SyncErrorMessage(SyncError e);

// Counters: totals since construction, read by the pipeline's stats.
struct SyncLinkStats {
  uint64_t frames_sent = 0;         // data frames, first transmissions
  uint64_t records_sent = 0;
  uint64_t bytes_sent = 0;          // data frame bytes, first transmissions
  uint64_t retransmits = 0;         // data frames sent again
  uint64_t timeouts = 0;            // retransmit timer expiries
  uint64_t nacks_sent = 0, nacks_received = 0;
  uint64_t acks_sent = 0;           // standalone ack frames
  uint64_t priority_sent = 0, priority_received = 0;
  uint64_t frames_received = 0;     // valid data frames, duplicates included
  uint64_t records_delivered = 0;
  uint64_t duplicates = 0;          // data frames already delivered or buffered
  uint64_t out_of_window = 0;       // data frames too far ahead to buffer
  uint64_t gaps = 0;                // frames found missing at the receiver (loss seen)
  uint64_t malformed = 0;           // failed parse: bad CRC, length, record...
  uint64_t foreign = 0;             // not a twinstep frame (another EtherType)
  uint64_t tx_refused = 0;          // port refused a frame (it will be retried)
  uint64_t rtt_samples = 0;
  uint64_t srtt_ns = 0, rttvar_ns = 0, rto_ns = 0, last_rtt_ns = 0;
  uint64_t in_flight = 0;           // data frames sent, not yet acked
  uint64_t peer_restarts = 0;       // resets caused by a restarted peer
  uint64_t reset_discarded = 0;     // frames in flight or buffered dropped by a reset
};

class SyncLink {
 public:
  SyncLink(const SyncLinkConfig& config, FrameTx* tx, RecordSink* sink);
  static Expected<void, SyncError> Validate(const SyncLinkConfig& config);

  void set_epoch(uint64_t epoch) { epoch_ = epoch; }
  uint64_t epoch() const { return epoch_; }

  // Adds a record to the open data frame (a new frame starts when it is full).
  // kWindowFull: no frame slot is free; nothing was added.
  Expected<void, SyncError> Add(const wire::Record& record, uint64_t now_ns);
  // Bytes a record of this body would add; RoomFor says whether Add can take
  // it without waiting.
  bool CanAdd(size_t body_bytes) const;
  // Free frame slots, the open frame's slot not counted.
  uint32_t FreeFrames() const;
  // Largest record body one frame can carry.
  size_t MaxRecordBody() const;

  // Sends a heartbeat at once in an unsequenced priority frame.
  Expected<void, SyncError> SendPriority(const wire::Heartbeat& heartbeat, uint64_t now_ns);

  // A frame from the sync port. Acks, nacks and priority records act at once;
  // the next in-order data frame goes straight to the sink while the direct
  // budget lasts; other data frames wait in the reorder buffer for Deliver.
  void OnFrame(std::span<const uint8_t> frame, uint64_t now_ns);
  // Records the sink can take during the following OnFrame calls (default 0:
  // every data frame waits for Deliver).
  void set_direct_budget(size_t records) { direct_budget_ = records; }
  // Hands in-order frames' records to the sink, whole frames only, while the
  // next frame holds at most `max_records` more. Returns records delivered.
  size_t Deliver(size_t max_records, uint64_t now_ns);
  // Records waiting in the next in-order frame (0: none ready).
  uint16_t NextFrameRecords() const;

  // Timers: closes a frame older than the drain time, retransmits frames
  // unacked for the retransmit timeout, sends a pending ack.
  void Poll(uint64_t now_ns);
  // Closes and sends the open frame now.
  void Flush(uint64_t now_ns);

  bool Idle() const;  // nothing open, in flight or waiting to be delivered
  // Forgets both directions (a new peer session). A (re)joining node's first
  // data frame (sequence 1, ack 0, not a retransmission) makes the other end
  // do this by itself once it is more than a window into its session; so a
  // rejoining node speaks first, and a controller that knows calls Reset.
  void Reset();
  const SyncLinkStats& stats() const { return stats_; }

 private:
  struct TxSlot {
    uint32_t bytes = 0;
    uint64_t sent_ns = 0;
    uint32_t sends = 0;
    bool sacked = false;
  };
  struct RxSlot {
    uint32_t bytes = 0;
    bool present = false;
  };
  uint8_t* TxBuf(uint64_t seq) { return tx_mem_.data() + (seq & mask_) * frame_bytes_; }
  uint8_t* RxBuf(uint64_t seq) { return rx_mem_.data() + (seq & mask_) * frame_bytes_; }
  void OpenFrame(uint64_t now_ns);
  void CloseFrame();
  void SendSlot(uint64_t seq, uint64_t now_ns, bool retransmit);
  void OnAck(uint64_t cumulative, uint64_t sack, uint64_t now_ns);
  void OnNack(const wire::Nack& nack, uint64_t now_ns);
  void OnData(const wire::FrameReader& reader, std::span<const uint8_t> frame, uint64_t now_ns);
  size_t DeliverFrame(wire::FrameReader& reader, uint64_t now_ns);  // sets rx_delivered_ to its seq
  void SendAck(uint64_t now_ns);
  void SendNack(uint64_t first, uint64_t count);
  void SendControlFrame(wire::FrameType type, const wire::Record* records, size_t n);
  void RetransmitExpired(uint64_t now_ns);
  void SampleRtt(uint64_t rtt_ns);
  uint64_t SackBits() const;

  SyncLinkConfig config_;
  FrameTx* tx_;
  RecordSink* sink_;
  uint64_t epoch_ = 0;
  uint32_t frame_bytes_;
  uint64_t mask_;

  // Sender: frames [tx_base_, tx_next_) are in flight; the open frame, when
  // there is one, is tx_next_'s slot.
  std::vector<uint8_t> tx_mem_;
  std::vector<TxSlot> tx_slots_;
  uint64_t tx_base_ = 1, tx_next_ = 1;
  bool open_ = false;
  uint64_t open_since_ns_ = 0;
  wire::FrameWriter writer_;
  uint64_t rto_ns_;
  uint64_t next_rto_check_ns_ = 0;

  // Receiver: frames up to rx_delivered_ went to the sink; slots hold
  // (rx_delivered_, rx_delivered_ + window].
  std::vector<uint8_t> rx_mem_;
  std::vector<RxSlot> rx_slots_;
  wire::Record rx_record_;  // decoded into, record after record (FrameReader::Next)
  uint64_t rx_delivered_ = 0;
  uint64_t rx_highest_ = 0;   // highest sequence buffered
  uint64_t rx_nacked_to_ = 0; // gaps up to here were nacked already
  size_t direct_budget_ = 0;
  bool ack_pending_ = false;
  uint64_t ack_pending_since_ns_ = 0;
  std::vector<uint8_t> scratch_;  // ack, nack, priority and retransmit frames

  SyncLinkStats stats_;
};

}  // namespace twinstep::dataplane
