// The node's poll-mode pipeline (see pipeline.h).
#include "dataplane/pipeline.h"

#include <rte_prefetch.h>
#include <poll.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "dataplane/comparator/software_comparator.h"

namespace twinstep::dataplane {
namespace {

// Frames for a pipeline without a sync port go nowhere.
class NullTx final : public FrameTx {
 public:
  bool Transmit(std::span<const uint8_t>) override { return true; }
};
NullTx g_null_tx;

std::span<const uint8_t> Bytes(const rte_mbuf* m) {
  return {rte_pktmbuf_mtod(m, const uint8_t*), rte_pktmbuf_data_len(m)};
}

// Multi-segment packets are made contiguous; false when that is impossible.
bool Contiguous(rte_mbuf* m) { return m->nb_segs == 1 || rte_pktmbuf_linearize(m) == 0; }

// A twinstep priority frame (EtherType and frame type only: the receiver parses it).
bool IsPriorityFrame(std::span<const uint8_t> f) {
  constexpr size_t kTypeOffset = wire::kEthHeaderBytes + 5;
  return f.size() > kTypeOffset && f[12] == (wire::kEtherType >> 8) && f[13] == (wire::kEtherType & 0xff) &&
         f[kTypeOffset] == static_cast<uint8_t>(wire::FrameType::kPriority);
}

}  // namespace

const char* RoleName(Role r) {
  switch (r) {
    case Role::kSolo: return "solo";
    case Role::kPrimary: return "primary";
    case Role::kSecondary: return "secondary";
  }
  return "?";
}

Pipeline::Pipeline(const PipelineConfig& config, EthPort* client, EthPort* sync, GuestPort* guest,
                   ReplicationEvents* events, const compare::ComparatorFactory& comparator)
    : config_(config),
      role_(config.role),
      client_(client),
      sync_(sync),
      guest_(guest),
      events_(events),
      digester_slots_(std::bit_ceil(static_cast<size_t>(config.comparator.digester_flows) * 2)),
      digester_(digester_slots_),
      tcp_(config.tcp_connections),
      backoff_(config.idle),
      held_(config.comparator.max_held_events + config.burst, nullptr),
      tx_ring_(config.comparator.max_held_events + 2u * config.burst, nullptr),
      pending_digests_(config.burst),
      scratch_(kMaxFrameBytes) {
  SyncLinkConfig sc = config.sync;
  std::copy(config.sync_peer_mac, config.sync_peer_mac + 6, sc.peer_mac);
  if (sync_) {
    std::copy(sync_->mac().addr_bytes, sync_->mac().addr_bytes + 6, sc.local_mac);
    // Jumbo sync frames are sent from mbufs that hold one whole (a null pool
    // makes every Transmit fail: counted as tx_refused by the link).
    sync_tx_ = std::make_unique<SyncPortTx>(sync_, PoolForFrames(sc.max_frame_bytes));
  }
  link_ = std::make_unique<SyncLink>(sc, sync_tx_ ? static_cast<FrameTx*>(sync_tx_.get()) : &g_null_tx, this);
  make_comparator_ = comparator ? comparator : [](const compare::ComparatorConfig& c, compare::VerdictSink* sink) {
    return std::unique_ptr<compare::Comparator>(std::make_unique<compare::SoftwareComparator>(c, sink));
  };
  comparator_ = make_comparator_(config.comparator, this);
  for (uint32_t i = static_cast<uint32_t>(held_.size()); i > 0; --i) held_free_.push_back(i - 1);
  pending_digests_.clear();
  pending_digests_.reserve(config.burst);
}

Pipeline::~Pipeline() {
  if (sync_tx_) sync_tx_->Flush();
  if (stash_count_ > 0) rte_pktmbuf_free_bulk(stash_ + (kStash - stash_count_), stash_count_);
  for (rte_mbuf* m : held_) {
    if (m) rte_pktmbuf_free(m);
  }
  for (size_t i = 0; i < tx_count_; ++i) rte_pktmbuf_free(tx_ring_[(tx_head_ + i) % tx_ring_.size()]);
}

void Pipeline::SetRole(Role role, uint64_t now_ns) {
  if (role == role_) return;
  timeouts_suspended_ = false;
  if (role_ == Role::kPrimary && role == Role::kSolo) comparator_->ReleaseAll(now_ns);  // secondary lost
  if (role_ == Role::kSecondary && role == Role::kSolo) tcp_.set_translate_outputs(true);  // failover
  // Input numbers go on from the last mirrored input: the backend skips
  // numbers it has already seen.
  if (role_ == Role::kSecondary && expect_known_) next_input_seq_ = std::max(next_input_seq_, expect_input_seq_);
  if (role == Role::kSecondary) expect_known_ = false;
  role_ = role;
}

void Pipeline::CheckpointDone(uint64_t epoch, uint64_t now_ns, std::unique_ptr<compare::Comparator>* fresh) {
  timeouts_suspended_ = false;
  if (role_ == Role::kPrimary) {
    // Both replicas number each flow's outputs from 0 again: the secondary
    // clears its digester, the primary takes a fresh comparator (whose
    // digester ReleaseAll keeps, docs/comparator.md).
    comparator_->ReleaseAll(now_ns);
    if (fresh && *fresh) {
      std::swap(comparator_, *fresh);
    } else {
      comparator_ = MakeComparator();
    }
  }
  if (role_ == Role::kSecondary) {
    link_->Flush(now_ns);  // frames carry the epoch they were opened in
    pending_digests_.clear();
    pending_head_ = 0;
    digester_.Clear();
    tcp_.Clear();
  }
  link_->set_epoch(epoch);
}

bool Pipeline::SendClientFrame(std::span<const uint8_t> frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(MbufPool());
  char* dst = m ? rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())) : nullptr;
  if (!dst || frame.size() > UINT16_MAX) {
    if (m) rte_pktmbuf_free(m);
    ++stats_.mbuf_alloc_failures;
    return false;
  }
  std::memcpy(dst, frame.data(), frame.size());
  QueueClientTx(m);
  return true;
}

void Pipeline::QueueClientTx(rte_mbuf* m) {
  if (tx_count_ == tx_ring_.size()) {
    rte_pktmbuf_free(m);
    ++stats_.client_tx_dropped;
    return;
  }
  tx_ring_[(tx_head_ + tx_count_) % tx_ring_.size()] = m;
  ++tx_count_;
}

size_t Pipeline::FlushClientTx() {
  if (!gate_open_) {
    ++stats_.gate_closed_polls;
    return 0;
  }
  size_t sent_total = 0;
  while (tx_count_ > 0) {
    const size_t contiguous = std::min(tx_count_, tx_ring_.size() - tx_head_);
    const uint16_t n = static_cast<uint16_t>(std::min<size_t>(contiguous, config_.burst));
    const uint16_t sent = client_->TxBurst(&tx_ring_[tx_head_], n);
    tx_head_ = (tx_head_ + sent) % tx_ring_.size();
    tx_count_ -= sent;
    sent_total += sent;
    if (sent < n) break;  // the port is full: the rest waits, in order
  }
  stats_.client_tx += sent_total;
  return sent_total;
}

void Pipeline::OnVerdict(const compare::Verdict& v) {
  rte_mbuf* m = v.has_event && v.handle < held_.size() ? held_[v.handle] : nullptr;
  if (observer_) observer_->OnVerdict(v, m);
  const bool frees_event = v.kind == compare::VerdictKind::kRelease ||
                           (v.kind == compare::VerdictKind::kOverflow && v.has_event);
  if (m && frees_event) {
    held_[v.handle] = nullptr;
    held_free_.push_back(static_cast<uint32_t>(v.handle));
    if (v.kind == compare::VerdictKind::kRelease) {
      ++stats_.released;
      QueueClientTx(m);
    } else {
      ++stats_.overflow_drops;  // not held: the guest's retransmission covers it
      rte_pktmbuf_free(m);
    }
  }
  if (v.kind != compare::VerdictKind::kRelease) {
    ++stats_.divergences;
    if (events_) {
      events_->OnDivergence({v.kind, v.flow, v.out_seq, v.length, v.primary_digest, v.secondary_digest, link_->epoch(),
                             now_ns_});
    }
  }
}

rte_mbuf* Pipeline::AllocInputMbuf() {
  // Refilled a burst at a time: one pool access per burst instead of per packet.
  if (stash_count_ == 0) {
    if (rte_pktmbuf_alloc_bulk(MbufPool(), stash_, kStash) != 0) return rte_pktmbuf_alloc(MbufPool());
    stash_count_ = kStash;
  }
  return stash_[kStash - stash_count_--];
}

void Pipeline::DeliverToGuest(const wire::MirroredInput& in, uint64_t now_ns) {
  (void)now_ns;
  if (expect_known_ && in.input_seq != expect_input_seq_) ++stats_.input_seq_gaps;
  expect_input_seq_ = in.input_seq + 1;
  expect_known_ = true;
  rte_mbuf* m = AllocInputMbuf();
  char* dst = m ? rte_pktmbuf_append(m, static_cast<uint16_t>(in.packet.size())) : nullptr;
  if (!dst) {
    // Cannot happen while the pool is sized for every queue; counted if it does.
    if (m) rte_pktmbuf_free(m);
    ++stats_.mbuf_alloc_failures;
    return;
  }
  std::memcpy(dst, in.packet.data(), in.packet.size());
  SetInputSeq(m, in.input_seq);
  tcp_.OnClientInput({rte_pktmbuf_mtod(m, uint8_t*), in.packet.size()});
  if (observer_) observer_->OnInput(in.input_seq, m);
  // Deliver() was given no more records than the guest queue had room for.
  if (guest_->PushToGuest(&m, 1) != 1) {
    rte_pktmbuf_free(m);
    ++stats_.mbuf_alloc_failures;
    return;
  }
  ++stats_.mirrored_delivered;
  ++stats_.inputs_to_guest;
}

void Pipeline::OnRecord(const wire::Record& r, uint64_t epoch, uint64_t now_ns) {
  switch (r.type) {
    case wire::RecordType::kOutputDigest:
      ++stats_.records_received;
      if (role_ != Role::kPrimary) return;
      // A digest of another epoch belongs to a state one of us has left.
      if (epoch != link_->epoch()) {
        ++stats_.stale_records;
        return;
      }
      comparator_->SubmitRecord(r.digest, now_ns);
      return;
    case wire::RecordType::kMirroredInput:
      // A secondary, or a secondary that just failed over, takes every input the primary mirrored.
      if (role_ != Role::kPrimary) DeliverToGuest(r.input, now_ns);
      return;
    default:
      if (events_) events_->OnPeerRecord(r, epoch, now_ns);
      return;
  }
}

void Pipeline::OnPeerRestart(uint64_t now_ns) {
  expect_known_ = false;  // a new primary numbers its inputs from where it is
  if (events_) events_->OnPeerRestart(now_ns);
}

size_t Pipeline::PollClient(uint64_t now_ns) {
  rte_mbuf* pkts[64];
  const uint16_t burst = std::min<uint16_t>(config_.burst, 64);
  if (role_ == Role::kSecondary) {
    // The secondary's guest sees only mirrored inputs.
    const uint16_t n = client_->RxBurst(pkts, burst);
    if (n) rte_pktmbuf_free_bulk(pkts, n);
    stats_.secondary_client_rx_dropped += n;
    return n;
  }
  size_t room = std::min<size_t>(burst, guest_->ToGuestRoom());
  if (role_ == Role::kPrimary) room = std::min<size_t>(room, link_->FreeFrames());
  if (room == 0) {
    ++stats_.guest_backpressure;  // packets wait in the port's ring
    return 0;
  }
  const uint16_t n = client_->RxBurst(pkts, static_cast<uint16_t>(room));
  if (n == 0) return 0;
  stats_.client_rx += n;
  uint16_t keep = 0;
  // One record for the burst: a wire::Record is ~250 bytes, and building one
  // per packet (zeroing it) cost more than encoding the packet.
  wire::Record& r = scratch_record_;
  r.type = wire::RecordType::kMirroredInput;
  for (uint16_t i = 0; i < n; ++i) {
    if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], const void*));
    rte_mbuf* m = pkts[i];
    const bool too_large = role_ == Role::kPrimary && rte_pktmbuf_pkt_len(m) + 16 > link_->MaxRecordBody();
    if (too_large || !Contiguous(m)) {
      ++stats_.inputs_too_large;
      rte_pktmbuf_free(m);
      continue;
    }
    if (role_ == Role::kPrimary) {
      r.input = {next_input_seq_, config_.guest_nic, Bytes(m)};
      if (!link_->Add(r, now_ns)) {
        // Room was bounded by free frames, so this cannot happen; if it did,
        // neither guest gets the packet (a drop, which TCP recovers from).
        ++stats_.mirror_failures;
        rte_pktmbuf_free(m);
        continue;
      }
      if (observer_) observer_->OnInput(next_input_seq_, m);
      ++stats_.inputs_stamped;
    }
    SetInputSeq(m, next_input_seq_++);
    pkts[keep++] = m;
  }
  const size_t pushed = guest_->PushToGuest(pkts, keep);  // room was checked
  stats_.inputs_to_guest += pushed;
  return n;
}

bool Pipeline::SendDigest(const wire::OutputDigest& d, uint64_t now_ns) {
  wire::Record& r = scratch_record_;  // reused: see PollClient
  r.type = wire::RecordType::kOutputDigest;
  r.digest = d;
  if (!link_->Add(r, now_ns)) return false;
  ++stats_.digests_sent;
  return true;
}

std::span<const uint8_t> Pipeline::View(const rte_mbuf* m) {
  if (m->nb_segs == 1) return Bytes(m);
  // A chained (jumbo) frame is digested from one contiguous copy.
  const uint32_t n = std::min<uint32_t>(rte_pktmbuf_pkt_len(m), static_cast<uint32_t>(scratch_.size()));
  const void* p = rte_pktmbuf_read(m, 0, n, scratch_.data());
  return {static_cast<const uint8_t*>(p), n};
}

size_t Pipeline::PollGuestTx(uint64_t now_ns) {
  rte_mbuf* pkts[64];
  const uint16_t burst = std::min<uint16_t>(config_.burst, 64);
  if (role_ == Role::kSecondary) {
    // Digests the window could not take go first, in order.
    while (pending_head_ < pending_digests_.size() && SendDigest(pending_digests_[pending_head_], now_ns)) ++pending_head_;
    if (pending_head_ < pending_digests_.size()) return 0;
    pending_digests_.clear();
    pending_head_ = 0;
  }
  const size_t n = guest_->PopFromGuest(pkts, burst);
  if (n == 0) return 0;
  stats_.guest_tx += n;
  for (size_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], const void*));
    switch (role_) {
      case Role::kSolo:
        tcp_.OnGuestOutput({rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_data_len(m)});
        QueueClientTx(m);
        break;
      case Role::kSecondary: {
        tcp_.OnGuestOutput({rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_data_len(m)});
        const wire::OutputDigest d = digester_.Digest(View(m));
        if (!SendDigest(d, now_ns)) pending_digests_.push_back(d);  // at most one burst
        rte_pktmbuf_free(m);  // never to the client
        break;
      }
      case Role::kPrimary: {
        if (held_free_.empty()) {
          // The comparator holds at most max_held_events and frees an overflow at
          // once, so a slot is always free; a drop keeps this path safe anyway.
          ++stats_.overflow_drops;
          rte_pktmbuf_free(m);
          break;
        }
        const uint32_t handle = held_free_.back();  // held_ has max_held + burst slots
        held_free_.pop_back();
        held_[handle] = m;
        comparator_->SubmitOutput(View(m), handle, now_ns);
        break;
      }
    }
  }
  return n;
}

size_t Pipeline::PollSync(uint64_t now_ns) {
  size_t work = 0;
  // Mirrored inputs wait in the link (unacknowledged) while the guest is slow.
  const size_t budget = role_ == Role::kPrimary ? SIZE_MAX : guest_->ToGuestRoom();
  if (sync_) {
    link_->set_direct_budget(budget);
    rte_mbuf* pkts[64];
    const uint16_t n = sync_->RxBurst(pkts, 64);
    for (uint16_t i = 0; i < n; ++i) {
      // A frame chained over several mbufs (a port not given jumbo RX
      // buffers) is read into one contiguous copy.
      const auto frame = View(pkts[i]);
      if (priority_tap_ && IsPriorityFrame(frame)) {
        priority_tap_->OnPriorityFrame(frame);
      } else {
        link_->OnFrame(frame, now_ns);
      }
    }
    if (n) rte_pktmbuf_free_bulk(pkts, n);
    work += n;
  }
  const size_t delivered = link_->Deliver(role_ == Role::kPrimary ? SIZE_MAX : guest_->ToGuestRoom(), now_ns);
  if (delivered == 0 && link_->NextFrameRecords() > 0) ++stats_.guest_backpressure;
  return work + delivered;
}

void Pipeline::Timers(uint64_t now_ns) {
  if (role_ == Role::kPrimary && !timeouts_suspended_ && now_ns - last_advance_ns_ >= config_.advance_interval_ns) {
    last_advance_ns_ = now_ns;
    comparator_->Advance(now_ns);
  }
  if (config_.heartbeat_interval_ns && sync_ && now_ns - last_heartbeat_ns_ >= config_.heartbeat_interval_ns) {
    last_heartbeat_ns_ = now_ns;
    const auto role = role_ == Role::kPrimary ? wire::NodeRole::kPrimary
                      : role_ == Role::kSecondary ? wire::NodeRole::kSecondary
                                                  : wire::NodeRole::kSolo;
    (void)link_->SendPriority({config_.node_id, role, 1, now_ns, next_input_seq_}, now_ns);
  }
  link_->Poll(now_ns);
  if (sync_tx_) sync_tx_->Flush();
}

size_t Pipeline::PollOnce(uint64_t now_ns) {
  Command c;
  while (commands_.pop(c)) {
    if (c.kind == Command::kRole) SetRole(c.role, now_ns);
    if (c.kind == Command::kEpoch) SetEpoch(c.epoch);
  }
  now_ns_ = now_ns;
  size_t work = PollSync(now_ns);
  work += PollClient(now_ns);
  work += PollGuestTx(now_ns);
  if (events_) work += events_->OnPoll(*link_, now_ns);
  Timers(now_ns);
  if (tx_count_) work += FlushClientTx();
  return work;
}

void Pipeline::Flush(uint64_t now_ns) {
  link_->Flush(now_ns);
  if (sync_tx_) sync_tx_->Flush();
  FlushClientTx();
}

void Pipeline::Run(const std::atomic<bool>& stop) {
  prctl(PR_SET_TIMERSLACK, 1UL);  // short sleeps stay short
  while (!stop.load(std::memory_order_relaxed)) {
    size_t work = PollOnce(NowNs());
    const uint64_t sleep_ns = backoff_.OnPoll(work);
    if (sleep_ns == 0) continue;
    if (guest_ == nullptr) {
      ++stats_.idle_sleeps;
      timespec ts{0, static_cast<long>(sleep_ns)};
      nanosleep(&ts, nullptr);
      continue;
    }
    // Armed first, then one more look: what the guest, the controller or the
    // peer handed over before the bells were armed is seen here, what comes
    // after rings them.
    Doorbell& bell = guest_->dataplane_bell();
    bell.Arm();
    if (sync_bell_) sync_bell_->Arm();
    work = PollOnce(NowNs());
    if (work == 0) {
      ++stats_.idle_sleeps;
      pollfd fds[2] = {{bell.fd(), POLLIN, 0}, {sync_bell_ ? sync_bell_->fd() : -1, POLLIN, 0}};
      const timespec ts{0, static_cast<long>(sleep_ns)};
      if (ppoll(fds, sync_bell_ ? 2 : 1, &ts, nullptr) > 0) ++stats_.idle_wakeups;
    }
    bell.Disarm();
    if (sync_bell_) sync_bell_->Disarm();
    if (work > 0) backoff_.OnPoll(work);
  }
  Flush(NowNs());
}

}  // namespace twinstep::dataplane
