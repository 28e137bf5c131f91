// Test doubles for the supervisor (see fake_nic.h).
#include "firmware/testing/fake_nic.h"

#include <algorithm>

namespace twinstep::firmware::testing {

void FakeLink::Enqueue(uint64_t now, std::span<const uint8_t> frame) {
  uint64_t at = now + faults_.delay_ns;
  if (faults_.jitter_ns > 0) at += rng_() % faults_.jitter_ns;
  in_flight_.emplace(at, std::vector<uint8_t>(frame.begin(), frame.end()));
}

void FakeLink::Send(uint64_t now, std::span<const uint8_t> frame) {
  const uint64_t index = sent_++;
  std::uniform_real_distribution<double> u(0, 1);
  const bool burst_lost = faults_.burst_period > 0 && index % faults_.burst_period < faults_.burst_drop;
  if (faults_.cut || burst_lost || (faults_.drop > 0 && u(rng_) < faults_.drop)) {
    ++dropped_;
    return;
  }
  Enqueue(now, frame);
  if (faults_.duplicate > 0 && u(rng_) < faults_.duplicate) Enqueue(now, frame);
}

size_t FakeLink::Receive(uint64_t now, std::span<uint8_t> buf) {
  auto it = in_flight_.begin();
  if (it == in_flight_.end() || it->first > now) return 0;
  const size_t n = std::min(buf.size(), it->second.size());
  std::copy_n(it->second.begin(), n, buf.begin());
  in_flight_.erase(it);
  return n;
}

uint32_t FakeHal::ReadReg(uint32_t offset) {
  if (offset == kRegHostCmd && regs_[kRegHostCmd / 4] == 0 && !commands_.empty()) {
    const Command c = commands_.front();
    commands_.pop_front();
    regs_[kRegHostArgLo / 4] = static_cast<uint32_t>(c.arg);
    regs_[kRegHostArgHi / 4] = static_cast<uint32_t>(c.arg >> 32);
    regs_[kRegHostArgSeq / 4] = c.seq;
    regs_[kRegHostCmd / 4] = static_cast<uint32_t>(c.cmd);
  }
  return regs_[offset / 4];
}

bool FakeHal::LinkSend(std::span<const uint8_t> frame) {
  tx_.Send(clock_.now_ns(), frame);
  return true;
}

void FakeHal::PostCommand(HostCommand cmd, uint64_t arg, uint32_t seq) {
  commands_.push_back({cmd, arg, seq});
}

MemoryWitness::Reply MemoryWitness::Arbitrate(uint32_t node_id, ArbitrationKind kind, uint64_t epoch,
                                              uint64_t* granted) {
  if (!available) return Reply::kUnavailable;
  const uint64_t target = epoch + 1;
  if (stored_epoch == target && owner == node_id) {  // a retry of a request that already won
    *granted = target;
    owner_live = true;
    return Reply::kGrant;
  }
  if (kind == ArbitrationKind::kColdStart && owner_live && owner != node_id) return Reply::kDeny;
  if (stored_epoch >= target) return Reply::kDeny;
  stored_epoch = target;
  owner = node_id;
  owner_live = true;
  ++grants;
  *granted = target;
  return Reply::kGrant;
}

SupervisorConfig Pair::Config(uint32_t node_id) {
  SupervisorConfig c;
  c.node_id = node_id;
  c.local_mac[5] = static_cast<uint8_t>(node_id);
  c.peer_mac[5] = static_cast<uint8_t>(3 - node_id);
  c.heartbeat_interval_ns = 100'000;
  c.suspect_after_missed = 5;
  c.host_watchdog_ns = 5'000'000;
  c.arbitration_retry_ns = 1'000'000;
  return c;
}

Pair::Pair(uint64_t seed, const SupervisorConfig& a_cfg, const SupervisorConfig& b_cfg)
    : a_to_b(seed * 2 + 1), b_to_a(seed * 2 + 2), a(clock, a_to_b, b_to_a, a_cfg), b(clock, b_to_a, a_to_b, b_cfg) {}

void Pair::CutLink(bool cut) {
  a_to_b.faults().cut = cut;
  b_to_a.faults().cut = cut;
}

void Pair::StepHost(Node& n) {
  const uint64_t now = clock.now_ns();
  if (!n.host_alive) return;  // a dead host neither rings nor talks to the witness
  if (now >= n.next_ring_ns) {
    n.hal.RingDoorbell();
    n.next_ring_ns = now + n.doorbell_every_ns;
  }
  const uint32_t seq = n.hal.reg(kRegArbSeq);
  if (seq != n.seen_arb_seq) {  // a new request (a newer one replaces an unanswered one)
    n.seen_arb_seq = seq;
    n.reply_due = true;
    n.reply_seq = seq;
    n.reply_kind = static_cast<ArbitrationKind>(n.hal.reg(kRegArbKind));
    n.reply_epoch = n.hal.reg(kRegArbEpochLo) | (uint64_t{n.hal.reg(kRegArbEpochHi)} << 32);
    const uint64_t latency = witness.latency_ns + n.witness_latency_ns;
    n.reply_at_ns = now + std::min(latency, witness.timeout_ns);
  }
  if (n.reply_due && now >= n.reply_at_ns) {
    n.reply_due = false;
    uint64_t granted = 0;
    const bool timed_out = witness.latency_ns + n.witness_latency_ns > witness.timeout_ns;
    const MemoryWitness::Reply r = timed_out ? MemoryWitness::Reply::kUnavailable
                                             : witness.Arbitrate(n.node_id, n.reply_kind, n.reply_epoch, &granted);
    switch (r) {
      case MemoryWitness::Reply::kGrant: n.hal.PostCommand(HostCommand::kWitnessGrant, granted, n.reply_seq); break;
      case MemoryWitness::Reply::kDeny: n.hal.PostCommand(HostCommand::kWitnessDeny, 0, n.reply_seq); break;
      case MemoryWitness::Reply::kUnavailable:
        n.hal.PostCommand(HostCommand::kWitnessUnavailable, 0, n.reply_seq);
        break;
    }
  }
}

void Pair::RunFor(uint64_t ns, uint64_t step_ns) {
  const uint64_t end = clock.now_ns() + ns;
  while (clock.now_ns() < end) {
    for (Node* n : {&a, &b}) {
      if (!n->nic_alive) continue;
      StepHost(*n);
      n->sup.Poll();
    }
    for (Node* n : {&a, &b}) {
      if (!n->nic_alive || !n->sup.gate_open()) continue;
      auto [it, fresh] = live_at_epoch.emplace(n->sup.epoch(), n->node_id);
      if (!fresh && it->second != n->node_id) split_brain_seen = true;
    }
    clock.Advance(step_ns);
  }
}

void Pair::FormPair() {
  a.hal.PostCommand(HostCommand::kStartAlone);
  RunFor(2'000'000);
  b.hal.PostCommand(HostCommand::kJoinComplete, a.sup.epoch());
  RunFor(200'000);
  a.hal.PostCommand(HostCommand::kPeerJoined);
  RunFor(2'000'000);
}

}  // namespace twinstep::firmware::testing
