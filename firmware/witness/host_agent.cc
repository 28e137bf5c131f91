// The host's half of the supervisor (see host_agent.h).
#include "firmware/witness/host_agent.h"

#include <algorithm>
#include <chrono>

#include "firmware/role.h"

namespace twinstep::witness {
namespace {

uint64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

using firmware::HostCommand;

HostAgent::HostAgent(RegisterPort& regs, Witness& witness, const HostAgentConfig& config)
    : regs_(regs), witness_(witness), config_(config), seen_seq_(regs.Read(firmware::kRegArbSeq)) {
  worker_ = std::thread([this] { Worker(); });
}

HostAgent::~HostAgent() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void HostAgent::Post(HostCommand cmd, uint64_t arg, uint32_t seq) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    outbox_.push_back({cmd, arg, seq});
  }
  if (config_.on_post) config_.on_post();
}

bool HostAgent::Pending() {
  std::lock_guard<std::mutex> lock(mu_);
  return !outbox_.empty() || arbitrating_ || std::any_of(jobs_.begin(), jobs_.end(), [](const Job& j) {
    return !j.keepalive && !j.release;
  });
}

void HostAgent::Submit(const Job& job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(job);
    jobs_.back().submitted_ns = SteadyNs();
  }
  cv_.notify_one();
}

void HostAgent::Poll(uint64_t now_ns) {
  now_ns_.store(now_ns);
  const uint32_t seq = regs_.Read(firmware::kRegArbSeq);
  if (seq != seen_seq_) {
    seen_seq_ = seq;
    Job job;
    job.seq = seq;
    job.kind = static_cast<firmware::ArbitrationKind>(regs_.Read(firmware::kRegArbKind));
    job.epoch = regs_.Read(firmware::kRegArbEpochLo) | (uint64_t{regs_.Read(firmware::kRegArbEpochHi)} << 32);
    Submit(job);
  }
  const auto role = static_cast<firmware::Role>(regs_.Read(firmware::kRegRole));
  // A stopped or fenced node gives its lease up at once: renewing it would
  // keep the owner key alive and refuse every cold start, its own restart's
  // included, for as long as this host runs.
  const bool live = role != firmware::Role::kStopped && role != firmware::Role::kFenced;
  if (live_ && !live) {
    Job job;
    job.release = true;
    Submit(job);
  }
  if (live && !live_) next_keepalive_ns_ = 0;  // restarted: take a lease again now
  live_ = live;
  // While live the lease is held from the start, so that a failover costs one
  // etcd transaction, not a lease grant first.
  if (live && now_ns >= next_keepalive_ns_ && !keepalive_inflight_.exchange(true)) {
    next_keepalive_ns_ = now_ns + config_.keepalive_interval_ns;
    Job job;
    job.keepalive = true;
    Submit(job);
  }
  const uint64_t renewed = last_renewal_ns_.load();
  if (role == firmware::Role::kSolo && renewed != 0 && now_ns > renewed + config_.lease_deadline_ns &&
      !lease_lost_reported_) {
    lease_lost_reported_ = true;
    Post(HostCommand::kLeaseExpired);
  }
  Deliver();
}

void HostAgent::Deliver() {
  if (regs_.Read(firmware::kRegHostCmd) != 0) return;  // the NIC has not taken the last one yet
  Command c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (outbox_.empty()) return;
    c = outbox_.front();
    outbox_.pop_front();
  }
  regs_.Write(firmware::kRegHostArgLo, static_cast<uint32_t>(c.arg));
  regs_.Write(firmware::kRegHostArgHi, static_cast<uint32_t>(c.arg >> 32));
  regs_.Write(firmware::kRegHostArgSeq, c.seq);
  regs_.Write(firmware::kRegHostCmd, static_cast<uint32_t>(c.cmd));  // last: publishes the command
}

void HostAgent::Worker() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = jobs_.front();
      jobs_.pop_front();
      arbitrating_ = !job.keepalive && !job.release;
    }
    const uint64_t started = now_ns_.load();  // a renewal counts from when it was asked
    if (job.release) {
      if (!witness_.Release()) ++keepalive_failures_;  // then the lease lapses at its TTL
      last_renewal_ns_.store(0);
      lease_lost_reported_ = false;
      continue;
    }
    if (job.keepalive) {
      if (witness_.KeepAlive()) {
        last_renewal_ns_.store(started);
        lease_lost_reported_ = false;
      } else {
        ++keepalive_failures_;
      }
      keepalive_inflight_.store(false);
      continue;
    }
    const uint64_t picked = SteadyNs();
    auto d = witness_.Arbitrate(config_.node_id, job.kind, job.epoch);
    last_queue_ns_.store(picked - job.submitted_ns);
    last_witness_ns_.store(SteadyNs() - picked);
    ++answers_;
    if (!d) {
      ++unavailable_;
      Post(HostCommand::kWitnessUnavailable, 0, job.seq);
    } else if (d->granted) {
      last_renewal_ns_.store(started);
      Post(HostCommand::kWitnessGrant, d->epoch, job.seq);
    } else {
      Post(HostCommand::kWitnessDeny, d->epoch, job.seq);
    }
    std::lock_guard<std::mutex> lock(mu_);
    arbitrating_ = false;  // after the answer is queued: Pending never misses it
  }
}

}  // namespace twinstep::witness
