// dataplane_bench: the dataplane's figures for docs/BENCHMARKS.md, in one
// process (one EAL, lcores 0 and 1), all ports memif pairs:
//   latency     64-byte UDP request/response round trip through a solo node
//               (passthrough, no replication) and through primary + secondary;
//   throughput  requests per second through the same two set-ups;
//   sync        sync-link round trip and bulk checkpoint transfer;
//   wake        a sleeping thread woken by a Doorbell: what each hand-off
//               between a node's threads costs on this machine.
// The load generator and the node under test (primary or solo, with its
// synthetic guest) share the main lcore's thread; the secondary polls on lcore 1.
#include <rte_launch.h>
#include <rte_lcore.h>

#include <algorithm>
#include <filesystem>
#include <atomic>
#include <thread>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/core/doorbell.h"
#include "dataplane/eal.h"
#include "dataplane/pipeline.h"
#include "dataplane/sync_bench.h"
#include "dataplane/synthetic_guest.h"

using namespace twinstep::dataplane;

namespace {

std::unique_ptr<EthPort> Open(const char* role, const std::string& dev, const std::string& args) {
  auto p = EthPort::Open({role, dev, args}, EalMode::kSimulation);
  if (!p) {
    std::fprintf(stderr, "error: %s\n", p.error().Message().c_str());
    std::exit(1);  // main-only helper binary: this is its main's error path
  }
  return std::move(*p);
}

rte_mbuf* Request(uint32_t index) {
  static const uint8_t tmpl[64] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0, 0, 50, 0, 0, 0, 0, 64, 17,
                                   0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x10, 0, 0, 7, 0, 30};
  rte_mbuf* m = rte_pktmbuf_alloc(MbufPool());
  if (!m) return nullptr;
  uint8_t* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 64));
  std::memcpy(p, tmpl, 64);
  p[35] = static_cast<uint8_t>(index & 7);  // eight flows
  std::memcpy(p + 42, &index, 4);
  return m;
}

struct Secondary {
  Pipeline* pipe;
  SyntheticGuest* guest;
  std::atomic<bool> stop{false};
  uint64_t cpu_ns = 0, wall_ns = 0;  // what the secondary's thread got
};

int SecondaryLoop(void* arg) {
  auto* s = static_cast<Secondary*>(arg);
  const uint64_t cpu0 = ThreadCpuNs(), t0 = NowNs();
  while (!s->stop.load(std::memory_order_relaxed)) {
    s->pipe->PollOnce(NowNs());
    s->guest->Poll();
  }
  s->cpu_ns = ThreadCpuNs() - cpu0;
  s->wall_ns = NowNs() - t0;
  return 0;
}

struct Rig {
  std::unique_ptr<EthPort> lan_node, lan_gen, sync_p, sync_s, null_s;
};

enum class Setup { kSolo, kPair, kPairOneCore };
const char* SetupName(Setup s) {
  return s == Setup::kSolo ? "passthrough (solo)" : s == Setup::kPair ? "primary+secondary" : "primary+secondary 1 core";
}

// Runs `body(node_poll)` with a solo node, or a primary + secondary pair with
// the secondary on lcore 1 or polled by this thread too (one core).
template <typename Body>
void WithNode(Rig& rig, Setup setup, Body body) {
  const bool pair = setup != Setup::kSolo, remote = setup == Setup::kPair;
  PipelineConfig pc;
  pc.idle.busy_poll = true;
  pc.comparator.compare_timeout_ns = 1'000'000'000;
  GuestPort gp(MbufPool(), 1024), gs(MbufPool(), 1024);
  SyntheticGuest guest_p(&gp, MbufPool()), guest_s(&gs, MbufPool(), 77);
  pc.role = pair ? Role::kPrimary : Role::kSolo;
  Pipeline node(pc, rig.lan_node.get(), pair ? rig.sync_p.get() : nullptr, &gp, nullptr);
  pc.role = Role::kSecondary;
  Pipeline secondary(pc, rig.null_s.get(), rig.sync_s.get(), &gs, nullptr);
  Secondary sec{&secondary, &guest_s};
  if (remote) rte_eal_remote_launch(SecondaryLoop, &sec, rte_get_next_lcore(-1, 1, 0));
  const uint64_t cpu0 = ThreadCpuNs(), t0 = NowNs();
  // On one core, the time of each part: TSC deltas around each call (a few
  // ns each; the thread CPU clock is a system call here, ~1 us in this VM).
  // A call that took longer than kDescheduledNs (one burst takes < 20 us)
  // had the thread descheduled: it is left out and counted, and its packets
  // stay in the count (at most one burst each, well under 1 %).
  constexpr uint64_t kDescheduledNs = 50'000;
  uint64_t node_ns = 0, guest_p_ns = 0, secondary_ns = 0, guest_s_ns = 0, skipped = 0;
  auto charge = [&](uint64_t& part, uint64_t dt) {
    if (dt > kDescheduledNs) {
      ++skipped;
    } else {
      part += dt;
    }
  };
  body([&] {
    if (pair && !remote) {
      const uint64_t t_a = NowNs();
      node.PollOnce(t_a);
      const uint64_t t_b = NowNs();
      guest_p.Poll();
      const uint64_t t_c = NowNs();
      secondary.PollOnce(t_c);
      const uint64_t t_d = NowNs();
      guest_s.Poll();
      const uint64_t t_e = NowNs();
      charge(node_ns, t_b - t_a);
      charge(guest_p_ns, t_c - t_b);
      charge(secondary_ns, t_d - t_c);
      charge(guest_s_ns, t_e - t_d);
    } else {
      node.PollOnce(NowNs());
      guest_p.Poll();
    }
  });
  const double main_cpu = static_cast<double>(ThreadCpuNs() - cpu0) / 1e9, main_wall = static_cast<double>(NowNs() - t0) / 1e9;
  if (pair && !remote && node.stats().released > 0) {
    const double n = static_cast<double>(node.stats().released);
    auto per = [&](uint64_t ns) { return static_cast<double>(ns) / n; };
    const double pipe = per(node_ns);
    std::printf("  time per request (%lu descheduled calls left out): primary pipeline %.0f ns (%.2f Mpps per core), its synthetic guest %.0f ns;"
                " secondary pipeline %.0f ns, its guest %.0f ns; primary pipeline + guest %.0f ns (%.2f Mpps per core)\n",
                (unsigned long)skipped, pipe, 1e3 / pipe, per(guest_p_ns), per(secondary_ns), per(guest_s_ns),
                pipe + per(guest_p_ns), 1e3 / (pipe + per(guest_p_ns)));
  }
  if (remote) {
    sec.stop = true;
    rte_eal_mp_wait_lcore();
  }
  std::printf("  CPU share: main thread %.0f%% of %.2f s", 100 * main_cpu / main_wall, main_wall);
  if (remote) std::printf(", secondary thread %.0f%%", 100.0 * static_cast<double>(sec.cpu_ns) / static_cast<double>(sec.wall_ns));
  std::printf("\n");
  const auto& s = node.stats();
  std::printf("  node: client_rx %lu released %lu client_tx %lu divergences %lu\n", (unsigned long)s.client_rx,
              (unsigned long)s.released, (unsigned long)s.client_tx, (unsigned long)s.divergences);
}

void Latency(Rig& rig, Setup setup, int n) {
  std::vector<uint64_t> rtt;
  rtt.reserve(static_cast<size_t>(n));
  WithNode(rig, setup, [&](auto poll) {
    for (int i = 0; i < n + 2000; ++i) {
      rte_mbuf* m = Request(static_cast<uint32_t>(i));
      const uint64_t t0 = NowNs();
      if (rig.lan_gen->TxBurst(&m, 1) != 1) {
        rte_pktmbuf_free(m);
        continue;
      }
      rte_mbuf* rx[8];
      uint16_t got = 0;
      for (uint64_t k = 0; got == 0 && k < 100'000'000; ++k) {
        poll();
        got = rig.lan_gen->RxBurst(rx, 8);
      }
      const uint64_t t1 = NowNs();
      if (got) rte_pktmbuf_free_bulk(rx, got);
      if (i >= 2000) rtt.push_back(t1 - t0);  // after warm-up
    }
  });
  std::sort(rtt.begin(), rtt.end());
  auto pct = [&](double p) { return rtt.empty() ? 0.0 : rtt[std::min(rtt.size() - 1, size_t(p * rtt.size()))] / 1000.0; };
  std::printf("latency %-26s n=%zu p50 %.2f us  p99 %.2f us  p99.9 %.2f us\n", SetupName(setup), rtt.size(), pct(0.5),
              pct(0.99), pct(0.999));
}

void Throughput(Rig& rig, Setup setup, double seconds) {
  uint64_t sent = 0, got = 0, counted = 0;
  double rate = 0, cpu_s = 0;
  WithNode(rig, setup, [&](auto poll) {
    const uint64_t cpu0 = ThreadCpuNs();
    const uint64_t start = NowNs(), warm = start + 500'000'000ull, end = warm + static_cast<uint64_t>(seconds * 1e9);
    uint64_t at_warm = 0;
    bool warmed = false;
    for (uint64_t now = start; now < end; now = NowNs()) {
      if (!warmed && now >= warm) {
        at_warm = got;
        warmed = true;
      }
      if (sent - got < 512) {
        rte_mbuf* b[32];
        uint16_t k = 0;
        for (; k < 32; ++k) {
          b[k] = Request(static_cast<uint32_t>(sent + k));
          if (!b[k]) break;
        }
        const uint16_t s = rig.lan_gen->TxBurst(b, k);
        if (s < k) rte_pktmbuf_free_bulk(b + s, k - s);
        sent += s;
      }
      poll();
      rte_mbuf* rx[64];
      const uint16_t r = rig.lan_gen->RxBurst(rx, 64);
      if (r) rte_pktmbuf_free_bulk(rx, r);
      got += r;
    }
    counted = got - at_warm;
    rate = static_cast<double>(counted) / seconds;
    cpu_s = static_cast<double>(ThreadCpuNs() - cpu0) / 1e9;
    // Drain what is in flight before the pipelines go.
    for (int i = 0; i < 200000 && got < sent; ++i) {
      poll();
      rte_mbuf* rx[64];
      const uint16_t r = rig.lan_gen->RxBurst(rx, 64);
      if (r) rte_pktmbuf_free_bulk(rx, r);
      got += r;
    }
  });
  // Per CPU second of the main thread (load generator and node, and on one
  // core the secondary too), over the whole run including warm-up.
  std::printf("throughput %-26s %.3f Mpps wall, %.3f Mpps per CPU second of the main thread (64-byte requests, %lu replies in %.1f s)\n",
              SetupName(setup), rate / 1e6, static_cast<double>(got) / cpu_s / 1e6, (unsigned long)counted, seconds);
}

// Ping-pong between two threads that sleep on Doorbells between rounds, as a
// node's poll loop, guest and control threads do when idle: each round, after
// a pause long enough for both to be asleep, A rings B and B rings A back. The
// figure is the time from a Ring to the woken thread running (one hand-off).
void WakeLatency(int rounds, uint64_t pause_ns) {
  Doorbell to_b, to_a;
  std::atomic<uint64_t> rung_at{0};
  std::atomic<int> asked{0}, answered{0};
  std::vector<uint64_t> wake_b, wake_a;
  wake_b.reserve(rounds);
  wake_a.reserve(rounds);
  // Sleeps on bell until flag reaches want (Arm, look, Wait).
  auto await = [](Doorbell& bell, const std::atomic<int>& flag, int want) {
    for (;;) {
      bell.Arm();
      if (flag.load(std::memory_order_acquire) >= want) {
        bell.Disarm();
        return;
      }
      bell.Wait(1'000'000'000);
    }
  };
  std::thread b([&] {
    for (int i = 1; i <= rounds; ++i) {
      await(to_b, asked, i);
      wake_b.push_back(NowNs() - rung_at.load(std::memory_order_relaxed));
      rung_at.store(NowNs(), std::memory_order_relaxed);
      answered.store(i, std::memory_order_release);
      to_a.Ring();
    }
  });
  for (int i = 1; i <= rounds; ++i) {
    const timespec pause{0, static_cast<long>(pause_ns)};
    nanosleep(&pause, nullptr);
    rung_at.store(NowNs(), std::memory_order_relaxed);
    asked.store(i, std::memory_order_release);
    to_b.Ring();
    await(to_a, answered, i);
    wake_a.push_back(NowNs() - rung_at.load(std::memory_order_relaxed));
  }
  b.join();
  for (auto* v : {&wake_b, &wake_a}) {
    std::sort(v->begin(), v->end());
    auto pct = [&](double p) { return (*v)[std::min(v->size() - 1, size_t(p * v->size()))] / 1000.0; };
    std::printf("wake %s n=%zu p50 %.2f us  p99 %.2f us  p99.9 %.2f us  max %.2f us (pause %lu us, %lu wake-ups rung)\n",
                v == &wake_b ? "after a pause  " : "right after one", v->size(), pct(0.5), pct(0.99), pct(0.999),
                v->back() / 1000.0, (unsigned long)(pause_ns / 1000), (unsigned long)(to_a.wakes() + to_b.wakes()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "all";
  const int n = argc > 2 ? std::atoi(argv[2]) : 20000;
  if (mode == "wake") {  // no EAL: threads and eventfds only
    WakeLatency(n, argc > 3 ? std::strtoull(argv[3], nullptr, 10) * 1000 : 300'000);
    return 0;
  }
  EalConfig c;
  c.file_prefix = "twinstep-bench-" + std::to_string(getpid());
  c.lcores = {1};
  c.required_lcores = 2;
  if (auto r = InitEal(c); !r) {
    std::fprintf(stderr, "error: %s\n", r.error().Message().c_str());
    return 1;
  }
  if (mode == "sync" || mode == "all") {
    SyncBenchOptions o;
    if (mode == "sync" && argc > 3) o.bulk_bytes = std::strtoull(argv[3], nullptr, 10) << 20;
    if (mode == "sync" && argc > 4) o.frame_bytes = static_cast<uint32_t>(std::atoi(argv[4]));
    if (mode == "sync") o.round_trips = n;
    auto r = MeasureSyncLinkLoopback(o);
    if (!r) {
      std::fprintf(stderr, "error: %s\n", r.error().Message().c_str());
      return 1;
    }
    std::printf("sync round trip (record there + record back) p50 %.2f us  p99 %.2f us  p99.9 %.2f us\n", r->rtt_p50_us,
                r->rtt_p99_us, r->rtt_p999_us);
    std::printf("sync bulk %lu MiB in %.3f s wall (%.3f s CPU): %.3f GB/s wall, %.3f GB/s per CPU second; first transfer (fresh receiver buffer) %.3f GB/s wall, %.3f per CPU second (%lu frames of %u bytes, %lu retransmits, digest %s)\n",
                (unsigned long)(o.bulk_bytes >> 20), r->bulk_seconds, r->bulk_cpu_seconds, r->bulk_gbytes_per_s,
                r->bulk_gbytes_per_cpu_s, r->cold_gbytes_per_s, r->cold_gbytes_per_cpu_s, (unsigned long)r->bulk_frames,
                o.frame_bytes, (unsigned long)r->retransmits, r->digest_ok ? "ok" : "BAD");
  }
  if (mode == "sync") {
    std::error_code ec;
    std::filesystem::remove_all(RuntimeDir(c.file_prefix), ec);
    return 0;
  }
  const std::string dir = "/tmp/twinstep-bench-" + std::to_string(getpid());
  Rig rig;
  rig.lan_node = Open("client", "net_memif0", "role=server,id=0,socket=" + dir + "-lan.sock");
  rig.lan_gen = Open("client", "net_memif1", "role=client,id=0,socket=" + dir + "-lan.sock");
  rig.sync_p = Open("sync", "net_memif2", "role=server,id=0,socket=" + dir + "-sync.sock");
  rig.sync_s = Open("sync", "net_memif3", "role=client,id=0,socket=" + dir + "-sync.sock");
  rig.null_s = Open("client", "net_null0", "no-rx=1");
  for (auto* p : {&rig.lan_node, &rig.lan_gen, &rig.sync_p, &rig.sync_s}) (*p)->WaitLinkUp(10000);
  if (mode == "latency" || mode == "all") {
    for (Setup s : {Setup::kSolo, Setup::kPair, Setup::kPairOneCore}) Latency(rig, s, n);
  }
  if (mode == "throughput" || mode == "all") {
    for (Setup s : {Setup::kSolo, Setup::kPair, Setup::kPairOneCore}) Throughput(rig, s, 3.0);
  }
  if (mode == "throughput1") {
    Throughput(rig, Setup::kPairOneCore, 3.0);
  }
  if (mode == "throughput2") {
    Throughput(rig, Setup::kPair, 3.0);
  }
  rig = Rig{};
  std::error_code ec;
  std::filesystem::remove_all(RuntimeDir(c.file_prefix), ec);  // DPDK leaves it behind
  std::remove((dir + "-lan.sock").c_str());
  std::remove((dir + "-sync.sock").c_str());
  return 0;
}
