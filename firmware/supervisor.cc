// The NIC supervisor's main loop (see supervisor.h and docs/failover.md).
#include "firmware/supervisor.h"

#include "firmware/regs.h"

namespace twinstep::firmware {

const char* SupervisorErrorMessage(SupervisorError e) {
  switch (e) {
    case SupervisorError::kZeroHeartbeatInterval: return "heartbeat_interval_ns must be > 0";
    case SupervisorError::kZeroSuspectAfter: return "suspect_after_missed (K) must be >= 1";
    case SupervisorError::kWatchdogShorterThanHeartbeat:
      return "host_watchdog_ns must be at least one heartbeat interval";
    case SupervisorError::kZeroArbitrationRetry: return "arbitration_retry_ns must be > 0";
    case SupervisorError::kZeroNodeId: return "node_id must be nonzero";
  }
  return "unknown supervisor error";
}

Expected<void, SupervisorError> ValidateConfig(const SupervisorConfig& c) {
  if (c.node_id == 0) return MakeUnexpected(SupervisorError::kZeroNodeId);
  if (c.heartbeat_interval_ns == 0) return MakeUnexpected(SupervisorError::kZeroHeartbeatInterval);
  if (c.suspect_after_missed == 0) return MakeUnexpected(SupervisorError::kZeroSuspectAfter);
  if (c.host_watchdog_ns < c.heartbeat_interval_ns)
    return MakeUnexpected(SupervisorError::kWatchdogShorterThanHeartbeat);
  if (c.arbitration_retry_ns == 0) return MakeUnexpected(SupervisorError::kZeroArbitrationRetry);
  return {};
}

Supervisor::Supervisor(Hal& hal, const SupervisorConfig& config)
    : hal_(hal), config_(config), machine_(config.initial_epoch) {
  const uint64_t now = hal_.NowNs();
  next_heartbeat_ns_ = now;
  last_doorbell_ = hal_.Doorbell();
  last_doorbell_ns_ = now;
  arb_seq_ = hal_.ReadReg(kRegArbSeq);
  PublishState();
}

const TransitionRecord& Supervisor::log_entry(size_t i) const {
  const size_t first = log_count_ < kLogEntries ? 0 : log_count_ - kLogEntries;
  return log_[(first + i) % kLogEntries];
}

void Supervisor::Poll() {
  const uint64_t now = hal_.NowNs();
  ReceiveFrames(now);
  CheckDoorbell(now);
  CheckMailbox();
  CheckPeer(now);
  MaybeRetryArbitration(now);
  MaybeSendHeartbeat(now);
}

void Supervisor::ReceiveFrames(uint64_t now) {
  for (size_t i = 0; i < kMaxFramesPerPoll; ++i) {
    const size_t n = hal_.LinkReceive(rx_buf_);
    if (n == 0) return;
    auto frame = wire::FrameReader::Parse({rx_buf_, n > sizeof(rx_buf_) ? sizeof(rx_buf_) : n});
    if (!frame) {
      ++counters_.frames_bad;
      continue;
    }
    while (!frame->Done()) {
      auto rec = frame->Next();
      if (!rec) {
        ++counters_.frames_bad;  // records before the bad one were already used
        break;
      }
      OnRecord(now, frame->header(), *rec);
    }
  }
}

void Supervisor::OnRecord(uint64_t now, const wire::FrameHeader& h, const wire::Record& r) {
  if (r.type == wire::RecordType::kHeartbeat) {
    const wire::Heartbeat& hb = r.heartbeat;
    if (hb.node_id == config_.node_id) {
      ++counters_.records_ignored;  // our own frame looped back
      return;
    }
    // Heartbeats are unsequenced: a duplicate or a late one proves nothing
    // new. One far older than any reordering could make it means the peer's
    // NIC restarted with a fresh clock: it is news.
    if (peer_seen_ && hb.send_time_ns <= peer_last_send_time_ns_) {
      const uint64_t reorder_window = config_.heartbeat_interval_ns * config_.suspect_after_missed * 4;
      if (peer_last_send_time_ns_ - hb.send_time_ns <= reorder_window) {
        ++counters_.heartbeats_stale;
        return;
      }
      ++counters_.peer_clock_resets;
    }
    ++counters_.heartbeats_received;
    peer_seen_ = true;
    peer_last_send_time_ns_ = hb.send_time_ns;
    peer_last_seen_ns_ = now;
    suspected_ = false;
    if (h.epoch > machine_.epoch()) Apply(now, Event::kNewerEpochSeen, h.epoch);
    if (hb.host_alive == 0) {
      if (!peer_host_dead_reported_) {
        peer_host_dead_reported_ = true;
        Apply(now, Event::kPeerHostDead, 0);
      }
    } else {
      peer_host_dead_reported_ = false;
    }
    return;
  }
  if (r.type == wire::RecordType::kControl && r.control.op == wire::ControlOp::kWitnessFence &&
      r.control.node_id != config_.node_id) {
    // arg0: the fenced epoch, arg1: the winner's new epoch.
    if (machine_.epoch() <= r.control.arg0) Apply(now, Event::kNewerEpochSeen, r.control.arg1);
    return;
  }
  ++counters_.records_ignored;
}

void Supervisor::CheckDoorbell(uint64_t now) {
  const uint32_t bell = hal_.Doorbell();
  if (bell != last_doorbell_) {
    last_doorbell_ = bell;
    last_doorbell_ns_ = now;
    host_alive_ = true;
    return;
  }
  if (host_alive_ && now - last_doorbell_ns_ > config_.host_watchdog_ns) {
    host_alive_ = false;  // the next heartbeat tells the peer at once
    next_heartbeat_ns_ = now;
    Apply(now, Event::kHostDead, 0);
  }
}

void Supervisor::CheckMailbox() {
  const uint32_t cmd = hal_.ReadReg(kRegHostCmd);
  if (cmd == 0) return;
  const uint64_t arg = hal_.ReadReg(kRegHostArgLo) | (uint64_t{hal_.ReadReg(kRegHostArgHi)} << 32);
  const uint32_t seq = hal_.ReadReg(kRegHostArgSeq);
  hal_.WriteReg(kRegHostCmd, 0);  // slot free for the next command
  const uint64_t now = hal_.NowNs();
  switch (static_cast<HostCommand>(cmd)) {
    case HostCommand::kStartAlone: Apply(now, Event::kStartAlone, 0); return;
    case HostCommand::kJoinComplete: Apply(now, Event::kJoinComplete, arg); return;
    case HostCommand::kPeerJoined: Apply(now, Event::kPeerJoined, 0); return;
    case HostCommand::kStop: Apply(now, Event::kStop, 0); return;
    case HostCommand::kRestart: Apply(now, Event::kRestart, 0); return;
    case HostCommand::kLeaseExpired: Apply(now, Event::kLeaseExpired, 0); return;
    // The peer's NIC beats but its host does not do its part (a checkpoint
    // unanswered): the same as its NIC reporting the host dead.
    case HostCommand::kPeerHostUnresponsive: Apply(now, Event::kPeerHostDead, 0); return;
    case HostCommand::kWitnessGrant:
    case HostCommand::kWitnessDeny:
    case HostCommand::kWitnessUnavailable:
      // Only the answer to our latest request counts; a late answer to an
      // older one could grant an epoch we no longer ask for.
      if (seq != arb_seq_) {
        ++counters_.witness_replies_stale;
        return;
      }
      if (cmd == static_cast<uint32_t>(HostCommand::kWitnessGrant)) {
        Apply(now, Event::kWitnessGrant, arg);
      } else if (cmd == static_cast<uint32_t>(HostCommand::kWitnessDeny)) {
        Apply(now, Event::kWitnessDeny, 0);
      } else {
        Apply(now, Event::kWitnessUnavailable, 0);
      }
      return;
    case HostCommand::kNone: return;
  }
  ++counters_.host_commands_bad;
}

void Supervisor::CheckPeer(uint64_t now) {
  if (!peer_seen_ || suspected_) return;
  const uint64_t silence_limit = config_.heartbeat_interval_ns * config_.suspect_after_missed;
  if (now - peer_last_seen_ns_ > silence_limit) {
    suspected_ = true;
    ++counters_.suspicions;
    Apply(now, Event::kPeerSuspected, 0);
  }
}

void Supervisor::MaybeRetryArbitration(uint64_t now) {
  if (!retry_armed_ || now < retry_at_ns_) return;
  retry_armed_ = false;
  if (machine_.state().pending == retry_kind_) PostArbitration(retry_kind_);
}

void Supervisor::MaybeSendHeartbeat(uint64_t now) {
  if (now < next_heartbeat_ns_) return;
  next_heartbeat_ns_ += config_.heartbeat_interval_ns;
  if (next_heartbeat_ns_ <= now) next_heartbeat_ns_ = now + config_.heartbeat_interval_ns;
  wire::Record r;
  r.type = wire::RecordType::kHeartbeat;
  r.heartbeat.node_id = config_.node_id;
  r.heartbeat.role = static_cast<wire::NodeRole>(machine_.role());
  r.heartbeat.host_alive = host_alive_ ? 1 : 0;
  r.heartbeat.send_time_ns = now;
  SendFrame(wire::FrameType::kPriority, r);
  ++counters_.heartbeats_sent;
}

void Supervisor::Apply(uint64_t now, Event e, uint64_t arg) {
  const Transition t = machine_.Step(e, arg);
  TransitionRecord& rec = log_[log_count_ % kLogEntries];
  rec.time_ns = now;
  rec.transition = t;
  ++log_count_;
  hal_.OnTransition(rec);
  if (!t.accepted) return;
  if (t.request != ArbitrationKind::kNone) {
    if (e == Event::kWitnessUnavailable) {
      retry_armed_ = true;
      retry_at_ns_ = now + config_.arbitration_retry_ns;
      retry_kind_ = t.request;
    } else {
      PostArbitration(t.request);
    }
  }
  if (e == Event::kWitnessGrant) {
    // Tell a peer that may still be alive that its epoch is over.
    SendControl(wire::ControlOp::kWitnessFence, t.before.epoch, t.after.epoch);
  }
  if (t.after.role != t.before.role || t.after.epoch != t.before.epoch) {
    next_heartbeat_ns_ = now;  // the peer learns our new role/epoch without waiting
  }
  PublishState();
}

void Supervisor::PostArbitration(ArbitrationKind kind) {
  ++arb_seq_;
  ++counters_.arbitration_requests;
  const uint64_t epoch = machine_.epoch();
  hal_.WriteReg(kRegArbKind, static_cast<uint32_t>(kind));
  hal_.WriteReg(kRegArbEpochLo, static_cast<uint32_t>(epoch));
  hal_.WriteReg(kRegArbEpochHi, static_cast<uint32_t>(epoch >> 32));
  hal_.WriteReg(kRegArbSeq, arb_seq_);  // last: the host acts on a new sequence number
}

void Supervisor::SendControl(wire::ControlOp op, uint64_t arg0, uint64_t arg1) {
  wire::Record r;
  r.type = wire::RecordType::kControl;
  r.control.op = op;
  r.control.node_id = config_.node_id;
  r.control.arg0 = arg0;
  r.control.arg1 = arg1;
  SendFrame(wire::FrameType::kPriority, r);
  ++counters_.fences_sent;
}

void Supervisor::SendFrame(wire::FrameType type, const wire::Record& r) {
  wire::FrameWriter w(tx_buf_, config_.peer_mac, config_.local_mac);
  wire::FrameHeader h;
  h.type = type;
  h.epoch = machine_.epoch();
  h.seq = ++tx_seq_;
  w.Begin(h);
  if (!w.Add(r)) {
    ++counters_.send_failures;  // cannot happen: tx_buf_ holds any one control record
    return;
  }
  if (!hal_.LinkSend(w.Finish())) ++counters_.send_failures;
}

void Supervisor::PublishState() {
  const Role role = machine_.role();
  const uint64_t epoch = machine_.epoch();
  // kRegReleaseGate is the single switch for this node's outputs.
  hal_.WriteReg(kRegReleaseGate, ReleasesOutputs(machine_.state()) ? 1 : 0);
  hal_.WriteReg(kRegGuestControl, StopsGuest(role) ? kGuestStop : kGuestRun);
  hal_.WriteReg(kRegRole, static_cast<uint32_t>(role));
  hal_.WriteReg(kRegEpochLo, static_cast<uint32_t>(epoch));
  hal_.WriteReg(kRegEpochHi, static_cast<uint32_t>(epoch >> 32));
}

}  // namespace twinstep::firmware
