// The client workload: a UDP client of the test guest's memcached ASCII
// protocol, run from the LAN namespace at a steady rate. It checks every
// reply, retries unanswered requests, and at the end reads every key back to
// prove that no acknowledged write was lost. Rules (docs/simulation.md):
// - a set is acknowledged when STORED arrives; at most one set per key is in
//   flight, so the writes of a key are ordered;
// - a get is correct when it returns a value written to that key no older than
//   the newest value acknowledged or seen before the get was sent, and not
//   newer than the last set issued (a get may see an in-flight set);
// - a request is resent with the same request id, after retry_ms and then at
//   doubling intervals, until give_up_ms: then it is unanswered.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "simulation/sim_error.h"

namespace twinstep::sim {

struct WorkloadConfig {
  std::string netns;                 // where the client socket lives; "" = the caller's
  std::string server = "10.77.0.10";
  uint16_t port = 11211;
  double rate = 2000;                // requests per second
  uint32_t keys = 1000;              // key space k0..k<keys-1>
  double set_ratio = 0.5;            // share of sets
  uint32_t value_bytes = 32;
  uint32_t retry_ms = 100;           // first resend; then doubling, at most 1 s
  uint32_t give_up_ms = 10000;       // a request unanswered this long is unanswered
  uint32_t max_outstanding = 512;    // no new request while this many are open
  uint32_t seed = 1;
};

enum class Op : uint8_t { kGet, kSet, kVerify };
enum class Outcome : uint8_t { kPending, kOk, kWrong, kServerError, kUnanswered };
const char* OutcomeName(Outcome o);

struct RequestRecord {
  int64_t send_ns = 0;   // first send, CLOCK_REALTIME
  int64_t done_ns = -1;  // reply (or give-up), CLOCK_REALTIME
  uint64_t write_id = 0; // a set: its write; a get: the write it returned
  uint64_t floor = 0;    // a get: the oldest write it may return
  uint32_t key = 0;
  Op op = Op::kGet;
  Outcome outcome = Outcome::kPending;
  uint8_t sends = 0;
  uint8_t replies = 0;
};

struct WorkloadTotals {
  uint64_t requests = 0, sets = 0, gets = 0, acked_writes = 0, ok = 0, wrong = 0, server_errors = 0;
  uint64_t unanswered = 0, resends = 0, duplicate_replies = 0, stray_replies = 0, throttled = 0;
  uint64_t verified_keys = 0, lost_acked_writes = 0, verify_unanswered = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
  double rate = 0;            // requests sent per second, over the span of send times
  double longest_gap_ms = 0;  // longest time with no reply while requests were open
  int64_t longest_gap_start_ns = 0;
};

// The longest time between two replies (of requests answered correctly) from
// `from_ns` to `to_ns`, in ms; *start_ns: where it began.
double LongestReplyGapMs(const std::vector<RequestRecord>& records, int64_t from_ns, int64_t to_ns,
                         int64_t* start_ns = nullptr);

class Workload {
 public:
  static SimResult<std::unique_ptr<Workload>> Create(const WorkloadConfig& config);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  void Start();  // the load thread begins sending
  // Stops sending new requests and waits until every open one is answered or
  // given up.
  void Stop();
  // Reads every written key back (after Stop) and counts lost acknowledged writes.
  void Verify();

  // Live counters for the progress line (any thread).
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  uint64_t answered() const { return answered_.load(std::memory_order_relaxed); }
  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  uint64_t open() const { return open_.load(std::memory_order_relaxed); }

  // After Stop()/Verify().
  const std::vector<RequestRecord>& records() const { return records_; }
  WorkloadTotals Totals() const;
  const std::vector<std::string>& problems() const { return problems_; }  // the first 50 wrong replies

 private:
  explicit Workload(const WorkloadConfig& c);
  struct Open;
  struct KeyState {
    uint64_t acked = 0, seen = 0, issued = 0;
    bool set_open = false;
  };
  void Loop(bool verify);
  bool SendNew(int64_t now, bool verify);
  void Send(uint16_t rid, size_t rec);
  void Receive(int64_t now);
  void Complete(size_t rec, int64_t now, const char* data, size_t len);
  void Resend(int64_t now);
  void Problem(std::string what);

  WorkloadConfig config_;
  int fd_ = -1;
  uint32_t server_ip_ = 0;  // network order
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0}, answered_{0}, errors_{0}, open_{0};
  std::vector<RequestRecord> records_;
  std::vector<KeyState> keys_;
  std::vector<std::unique_ptr<Open>> open_by_rid_;  // 65536 slots
  std::vector<int64_t> last_rec_by_rid_;            // for late and duplicate replies
  std::vector<uint16_t> open_rids_;                 // may hold answered ones: Resend drops them
  uint16_t next_rid_ = 1;
  uint64_t next_write_ = 1, open_count_ = 0;
  uint64_t resends_ = 0, duplicates_ = 0, strays_ = 0, throttled_ = 0;
  uint64_t lost_ = 0, verified_ = 0;
  uint32_t verify_next_ = 0;
  uint64_t rng_;
  std::vector<std::string> problems_;
};

}  // namespace twinstep::sim
