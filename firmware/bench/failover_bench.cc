// Failover timing (see failover_bench.h): detection, and suspicion to grant
// through the host agent and a local etcd, as percentiles.
#include "firmware/bench/failover_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "firmware/sim/sim_nic.h"
#include "firmware/sim/sim_node.h"
#include "firmware/supervisor.h"
#include "firmware/witness/etcd_process.h"

namespace twinstep::firmware {
namespace {

using Clock = std::chrono::steady_clock;

SupervisorConfig Config(uint32_t id, uint64_t interval_ns, uint32_t k) {
  SupervisorConfig c;
  c.node_id = id;
  c.local_mac[5] = static_cast<uint8_t>(id);
  c.peer_mac[5] = static_cast<uint8_t>(3 - id);
  c.heartbeat_interval_ns = interval_ns;
  c.suspect_after_missed = k;
  c.host_watchdog_ns = 1'000'000'000;
  return c;
}

// Time of the first logged event `e` at or after `since_ns`, 0 if none.
uint64_t FirstEventTime(const Supervisor& s, Event e, uint64_t since_ns, bool accepted_only) {
  for (size_t i = 0; i < s.log_size(); ++i) {
    const TransitionRecord& r = s.log_entry(i);
    if (r.transition.event == e && r.time_ns >= since_ns && (r.transition.accepted || !accepted_only))
      return r.time_ns;
  }
  return 0;
}

void Report(const char* what, const char* unit, double scale, std::vector<uint64_t> v) {
  if (v.empty()) {
    std::printf("%s: no samples\n", what);
    return;
  }
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))] / scale; };
  std::printf("%s: n=%zu min=%.1f p50=%.1f p99=%.1f max=%.1f %s\n", what, v.size(), v.front() / scale, pct(0.5),
              pct(0.99), v.back() / scale, unit);
}

// Both supervisors polled by this one thread, as the simulation's single
// lcore does; the peer "dies" by no longer being polled.
std::vector<uint64_t> Detection(int trials, uint64_t interval_ns, uint32_t k, int* skipped) {
  std::vector<uint64_t> out;
  for (int t = 0; t < trials; ++t) {
    sim::LoopbackLink link;
    sim::SimNic nic_a(link.a()), nic_b(link.b());
    Supervisor a(nic_a, Config(1, interval_ns, k)), b(nic_b, Config(2, interval_ns, k));
    const auto warm_end = Clock::now() + std::chrono::milliseconds(5);
    while (Clock::now() < warm_end) {
      a.Poll();
      b.Poll();
    }
    if (b.peer_suspected()) {  // the machine stalled us past K intervals: not a clean trial
      ++*skipped;
      continue;
    }
    const uint64_t killed = nic_b.NowNs();
    while (!b.peer_suspected()) b.Poll();  // a is dead from here on
    out.push_back(FirstEventTime(b, Event::kPeerSuspected, killed, false) - b.last_peer_send_time_ns());
  }
  return out;
}

// A formed pair per trial (its own keys in etcd); the primary dies; the
// secondary's log gives suspicion and grant times.
// skipped[0]: no cold start, [1]: pair not formed, [2]: no failover within 5 s.
struct GrantSamples {
  std::vector<uint64_t> total;    // logged peer_suspected -> logged witness_grant
  std::vector<uint64_t> queue;    // request queued in the host agent until its worker took it
  std::vector<uint64_t> witness;  // EtcdWitness::Arbitrate (HTTP + etcd transaction)
};
GrantSamples SuspicionToGrant(int trials, const std::string& endpoint, int skipped[3]) {
  GrantSamples out;
  for (int t = 0; t < trials; ++t) {
    sim::LoopbackLink link;
    sim::SimNodeConfig ca, cb;
    // A 1 ms x 20 detector: a loaded machine must not fail over by itself
    // during the warm-up; detection is measured separately above.
    ca.supervisor = Config(1, 1'000'000, 20);
    cb.supervisor = Config(2, 1'000'000, 20);
    ca.witness = cb.witness = {.endpoints = {endpoint}, .pair = "bench" + std::to_string(t), .lease_ttl_s = 10,
                               .timeout_ms = 100};
    sim::SimNode a(link.a(), ca), b(link.b(), cb);
    auto run_until = [&](auto done, bool poll_a) {
      const auto end = Clock::now() + std::chrono::seconds(5);
      while (!done() && Clock::now() < end) {
        if (poll_a) a.Poll();
        b.Poll();
        // On a card the NIC loop has its own core; here it shares two with
        // the host agent and etcd, so it gives them the CPU between passes.
        std::this_thread::sleep_for(std::chrono::microseconds(20));
      }
      return done();
    };
    a.Command(HostCommand::kStartAlone);
    if (!run_until([&] { return a.supervisor().role() == Role::kSolo; }, true)) {
      ++skipped[0];
      continue;
    }
    b.Command(HostCommand::kJoinComplete, a.supervisor().epoch());
    a.Command(HostCommand::kPeerJoined);
    // Long enough for both agents to hold their leases.
    const auto warm_end = Clock::now() + std::chrono::milliseconds(50);
    run_until([&] { return Clock::now() >= warm_end; }, true);
    if (a.supervisor().role() != Role::kPrimary || b.supervisor().role() != Role::kSecondary) {
      ++skipped[1];
      continue;
    }
    const uint64_t killed = b.nic().NowNs();
    if (!run_until([&] { return b.supervisor().role() == Role::kSolo; }, false)) {
      ++skipped[2];
      continue;
    }
    const uint64_t s = FirstEventTime(b.supervisor(), Event::kPeerSuspected, killed, true);
    const uint64_t g = FirstEventTime(b.supervisor(), Event::kWitnessGrant, killed, true);
    if (s != 0 && g > s) {
      out.total.push_back(g - s);
      out.queue.push_back(b.agent().last_queue_ns());
      out.witness.push_back(b.agent().last_witness_ns());
    }
  }
  return out;
}

// The witness alone: one failover transaction per sample, from this thread,
// back to back or after `idle_ms` of quiet (as a failover finds etcd).
std::vector<uint64_t> DirectTxn(int trials, const std::string& endpoint, int idle_ms) {
  std::vector<uint64_t> out;
  witness::EtcdWitness w({.endpoints = {endpoint}, .pair = "direct" + std::to_string(idle_ms), .lease_ttl_s = 10,
                          .timeout_ms = 1000});
  if (!w.Arbitrate(1, ArbitrationKind::kColdStart, 0)) return out;  // also takes the lease
  for (int t = 0; t < trials; ++t) {
    if (idle_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(idle_ms));
    const auto start = Clock::now();
    auto d = w.Arbitrate(1, ArbitrationKind::kFailover, static_cast<uint64_t>(t) + 1);
    const auto end = Clock::now();
    if (d && d->granted) out.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
  }
  std::printf("TCP connections the witness client opened for %d transactions: %llu\n", trials + 1,
              static_cast<unsigned long long>(w.connections_opened()));
  return out;
}

}  // namespace

int RunFailoverBench(const FailoverBenchOptions& o) {
  const uint64_t interval_ns = o.interval_us * 1000;
  std::printf("heartbeat interval %llu us, K=%u, %d trials, etcd data under %s%s\n",
              static_cast<unsigned long long>(o.interval_us), o.k, o.trials, o.etcd_parent.c_str(),
              o.etcd_no_fsync ? ", --unsafe-no-fsync" : "");
  if (o.part == "all" || o.part == "detection") {
    int stalled = 0;
    Report("detection (last heartbeat sent -> suspicion)", "us", 1e3, Detection(o.trials, interval_ns, o.k, &stalled));
    std::printf("detection trials skipped (suspected before the peer died: poll loop stalled): %d\n", stalled);
  }
  if (o.part == "detection") return 0;
  std::string error;
  auto etcd = witness::EtcdProcess::Start(&error, o.etcd_parent, o.etcd_no_fsync);
  if (!etcd) {
    std::fprintf(stderr, "bench failover: cannot start etcd: %s\n", error.c_str());
    return 1;
  }
  if (o.part == "etcd" || o.part == "all") {
    Report("witness failover txn alone (EtcdWitness::Arbitrate), back to back", "ms", 1e6,
           DirectTxn(o.trials, etcd->endpoint(), 0));
    Report("witness failover txn alone, each after 20 ms idle", "ms", 1e6, DirectTxn(o.trials, etcd->endpoint(), 20));
  }
  if (o.part == "etcd") return 0;
  int skipped[3] = {};
  GrantSamples g = SuspicionToGrant(o.trials, etcd->endpoint(), skipped);
  Report("suspicion -> witness grant (local etcd)", "ms", 1e6, std::move(g.total));
  Report("  of which queued in the host agent", "ms", 1e6, std::move(g.queue));
  Report("  of which in the witness (HTTP + etcd txn)", "ms", 1e6, std::move(g.witness));
  std::printf("grant trials skipped: no cold start %d, pair not formed %d, no failover in 5 s %d\n", skipped[0],
              skipped[1], skipped[2]);
  return 0;
}

}  // namespace twinstep::firmware
