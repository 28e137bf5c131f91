// Failover timing: (1) detection, from the dead peer's last heartbeat to the
// suspicion, at a 100 us interval; (2) suspicion to witness grant through the
// host agent and a local etcd. Prints percentiles (docs/BENCHMARKS.md).
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
std::vector<uint64_t> SuspicionToGrant(int trials, const std::string& endpoint, int skipped[3]) {
  std::vector<uint64_t> out;
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
    if (s != 0 && g > s) out.push_back(g - s);
  }
  return out;
}

// The witness alone: one failover transaction per sample, from this thread.
std::vector<uint64_t> DirectTxn(int trials, const std::string& endpoint) {
  std::vector<uint64_t> out;
  witness::EtcdWitness w({.endpoints = {endpoint}, .pair = "direct", .lease_ttl_s = 10, .timeout_ms = 1000});
  if (!w.Arbitrate(1, ArbitrationKind::kColdStart, 0)) return out;  // also takes the lease
  for (int t = 0; t < trials; ++t) {
    const auto start = Clock::now();
    auto d = w.Arbitrate(1, ArbitrationKind::kFailover, static_cast<uint64_t>(t) + 1);
    const auto end = Clock::now();
    if (d && d->granted) out.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
  }
  return out;
}

}  // namespace
}  // namespace twinstep::firmware

int main(int argc, char** argv) {
  int trials = 200;
  uint64_t interval_ns = 100'000;
  uint32_t k = 5;
  std::string part = "all";
  std::string etcd_parent = "/tmp";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--part=", 7) == 0) {
      part = argv[i] + 7;
    } else if (std::strncmp(argv[i], "--etcd-parent=", 14) == 0) {
      etcd_parent = argv[i] + 14;
    } else if (std::strncmp(argv[i], "--trials=", 9) == 0) {
      trials = std::atoi(argv[i] + 9);
    } else if (std::strncmp(argv[i], "--interval-us=", 14) == 0) {
      interval_ns = std::strtoull(argv[i] + 14, nullptr, 10) * 1000;
    } else if (std::strncmp(argv[i], "--k=", 4) == 0) {
      k = static_cast<uint32_t>(std::atoi(argv[i] + 4));
    } else {
      std::fprintf(stderr, "usage: %s [--trials=N] [--interval-us=US] [--k=K] [--part=all|detection|grant|etcd] [--etcd-parent=DIR]\n  unknown argument: %s\n", argv[0],
                   argv[i]);
      return 2;
    }
  }
  if (part != "all" && part != "detection" && part != "grant" && part != "etcd") {
    std::fprintf(stderr, "failover_bench: --part must be all, detection, grant or etcd, not '%s'\n", part.c_str());
    return 2;
  }
  if (trials <= 0 || interval_ns == 0 || k == 0) {
    std::fprintf(stderr, "failover_bench: --trials, --interval-us and --k must be positive\n");
    return 2;
  }
  using namespace twinstep;
  std::printf("heartbeat interval %llu us, K=%u, %d trials\n", static_cast<unsigned long long>(interval_ns / 1000), k,
              trials);
  if (part == "all" || part == "detection") {
    int stalled = 0;
    firmware::Report("detection (last heartbeat sent -> suspicion)", "us", 1e3,
                     firmware::Detection(trials, interval_ns, k, &stalled));
    std::printf("detection trials skipped (suspected before the peer died: poll loop stalled): %d\n", stalled);
  }
  if (part == "detection") return 0;
  std::string error;
  auto etcd = witness::EtcdProcess::Start(&error, etcd_parent);
  if (!etcd) {
    std::fprintf(stderr, "failover_bench: cannot start etcd: %s\n", error.c_str());
    return 1;
  }
  if (part == "etcd" || part == "all") {
    firmware::Report("witness failover txn alone (EtcdWitness::Arbitrate)", "ms", 1e6,
                     firmware::DirectTxn(trials, etcd->endpoint()));
  }
  if (part == "etcd") return 0;
  int skipped[3] = {};
  firmware::Report("suspicion -> witness grant (local etcd)", "ms", 1e6,
                   firmware::SuspicionToGrant(trials, etcd->endpoint(), skipped));
  std::printf("grant trials skipped: no cold start %d, pair not formed %d, no failover in 5 s %d\n", skipped[0],
              skipped[1], skipped[2]);
  return 0;
}
