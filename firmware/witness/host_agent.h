// The host's half of the supervisor: answers the NIC's witness requests on a
// worker thread (a slow etcd never stalls the NIC loop), renews the lease
// while the node is live, gives it up when the node stops or is fenced, and
// tells the NIC when the lease lapsed.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "firmware/regs.h"
#include "firmware/witness/witness.h"

namespace twinstep::witness {

// The supervisor's registers as the host sees them (a PCIe BAR on a card).
class RegisterPort {
 public:
  virtual ~RegisterPort() = default;
  virtual uint32_t Read(uint32_t offset) = 0;
  virtual void Write(uint32_t offset, uint32_t value) = 0;
};

struct HostAgentConfig {
  uint32_t node_id = 1;
  uint64_t keepalive_interval_ns = 1'000'000'000;
  // A lease not renewed for this long is treated as lost (below etcd's TTL,
  // so that we stop before etcd could hand the pair to someone else).
  uint64_t lease_deadline_ns = 8'000'000'000;
  // Called (from any thread) when a command was queued for the NIC, an
  // answer among them: a host loop that sleeps between Polls is woken by it.
  std::function<void()> on_post;
};

class HostAgent {
 public:
  // `witness` is used only from the agent's worker thread.
  HostAgent(RegisterPort& regs, Witness& witness, const HostAgentConfig& config);
  ~HostAgent();
  HostAgent(const HostAgent&) = delete;
  HostAgent& operator=(const HostAgent&) = delete;

  // Called from the host's loop: picks up requests, delivers answers,
  // schedules lease renewals. `now_ns` is the host's monotonic clock.
  void Poll(uint64_t now_ns);
  // Queues a host command for the NIC's one-slot mailbox.
  void Post(firmware::HostCommand cmd, uint64_t arg = 0, uint32_t seq = 0);
  // A witness request or a command is on its way: Poll soon (the mailbox
  // takes one command at a time, the next when the NIC has taken the last).
  bool Pending();

  uint64_t answers() const { return answers_.load(); }
  uint64_t unavailable() const { return unavailable_.load(); }
  uint64_t keepalive_failures() const { return keepalive_failures_.load(); }
  // The last witness request's path through the agent (steady clock): queued
  // until the worker picked it up, then in the witness (etcd) until answered.
  uint64_t last_queue_ns() const { return last_queue_ns_.load(); }
  uint64_t last_witness_ns() const { return last_witness_ns_.load(); }

 private:
  struct Job {
    bool keepalive = false;
    bool release = false;  // give the lease up: the node stopped or fenced
    uint32_t seq = 0;
    firmware::ArbitrationKind kind = firmware::ArbitrationKind::kNone;
    uint64_t epoch = 0;
    uint64_t submitted_ns = 0;  // steady clock
  };
  struct Command {
    firmware::HostCommand cmd;
    uint64_t arg;
    uint32_t seq;
  };
  void Worker();
  void Submit(const Job& job);
  void Deliver();

  RegisterPort& regs_;
  Witness& witness_;
  HostAgentConfig config_;
  uint32_t seen_seq_ = 0;
  uint64_t next_keepalive_ns_ = 0;
  bool live_ = true;  // the NIC's role is neither stopped nor fenced
  std::atomic<bool> lease_lost_reported_{false};
  std::atomic<uint64_t> last_renewal_ns_{0};
  std::atomic<bool> keepalive_inflight_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool arbitrating_ = false;  // the worker is asking the witness (under mu_)
  std::deque<Command> outbox_;  // waiting for the mailbox slot
  bool stop_ = false;
  std::atomic<uint64_t> answers_{0};
  std::atomic<uint64_t> unavailable_{0};
  std::atomic<uint64_t> keepalive_failures_{0};
  std::atomic<uint64_t> last_queue_ns_{0};
  std::atomic<uint64_t> last_witness_ns_{0};
  std::atomic<uint64_t> now_ns_{0};
  std::thread worker_;
};

}  // namespace twinstep::witness
