// Sync-link loopback benchmark (see sync_bench.h).
#include "dataplane/sync_bench.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <atomic>
#include <memory>
#include <vector>

#include "dataplane/core/checkpoint_transfer.h"
#include "dataplane/eth_port.h"
#include "dataplane/sync_port.h"

namespace twinstep::dataplane {
namespace {

std::atomic<int> g_bench_runs{0};

class CountingSink final : public RecordSink {
 public:
  void OnRecord(const wire::Record& r, uint64_t, uint64_t) override {
    ++records;
    checkpoint.OnRecord(r);
  }
  uint64_t records = 0;
  CheckpointReceiver checkpoint;
};

// Both ends of the link: port, frame TX and link state.
struct End {
  std::unique_ptr<EthPort> port;
  std::unique_ptr<SyncPortTx> tx;
  std::unique_ptr<SyncLink> link;
  CountingSink sink;
  void Poll(uint64_t now) {
    rte_mbuf* pkts[64];
    link->set_direct_budget(SIZE_MAX);
    for (int round = 0; round < 8; ++round) {
      const uint16_t n = port->RxBurst(pkts, 64);
      for (uint16_t i = 0; i < n; ++i) {
        link->OnFrame({rte_pktmbuf_mtod(pkts[i], const uint8_t*), rte_pktmbuf_data_len(pkts[i])}, now);
      }
      if (n) rte_pktmbuf_free_bulk(pkts, n);
      if (n == 0) break;
    }
    link->Deliver(SIZE_MAX, now);
    link->Poll(now);
    tx->Flush();
  }
};

double Percentile(std::vector<uint64_t>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return static_cast<double>(v[i]) / 1000.0;
}

}  // namespace

Expected<SyncBenchResult, EalError> MeasureSyncLinkLoopback(const SyncBenchOptions& o) {
  std::string own_prefix;  // set when this call started the EAL
  if (!EalInitialized()) {
    EalConfig c;
    c.file_prefix = own_prefix = "twinstep-syncbench-" + std::to_string(getpid());
    c.log_level = "error";
    // The first CPU this process may use (tune may run under a restricted affinity).
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
      for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &set)) {
          c.main_lcore = cpu;
          break;
        }
      }
    }
    if (auto r = InitEal(c); !r) return MakeUnexpected(r.error());
  }
  const int run = g_bench_runs++;
  const std::string sock = o.socket_dir + "/twinstep-syncbench-" + std::to_string(getpid()) + "-" +
                           std::to_string(run) + ".sock";
  End a, b;
  const std::string base = std::to_string(900 + 2 * run);
  // Frames past one standard mbuf: memif buffers and RX mbufs that hold a
  // whole frame, so no frame is chained or split.
  const bool jumbo = o.frame_bytes > kMbufDataBytes;
  const std::string bsize = jumbo ? ",bsize=" + std::to_string(kJumboMbufDataBytes) : "";
  EthPortOptions po;
  po.max_rx_frame_bytes = o.frame_bytes;
  auto pa = EthPort::Open({"sync", "net_memif" + base, "role=server,id=0,socket=" + sock + bsize}, EalMode::kSimulation, po);
  if (!pa) return MakeUnexpected(pa.error());
  auto pb = EthPort::Open({"sync", "net_memif" + std::to_string(901 + 2 * run), "role=client,id=0,socket=" + sock + bsize},
                          EalMode::kSimulation, po);
  if (!pb) return MakeUnexpected(pb.error());
  a.port = std::move(*pa);
  b.port = std::move(*pb);
  if (!a.port->WaitLinkUp(10000) || !b.port->WaitLinkUp(10000)) {
    unlink(sock.c_str());
    return MakeUnexpected(EalError{EalErrc::kPortSetup, "loopback memif link did not come up (" + sock + ")"});
  }
  SyncLinkConfig sc;
  sc.max_frame_bytes = o.frame_bytes;
  sc.window_frames = o.window_frames;
  if (!SyncLink::Validate(sc)) return MakeUnexpected(EalError{EalErrc::kBadConfig, "sync bench frame or window size"});
  for (End* e : {&a, &b}) {
    rte_mempool* pool = PoolForFrames(o.frame_bytes);
    if (!pool) return MakeUnexpected(EalError{EalErrc::kNoMemory, "sync bench: jumbo mbuf pool"});
    e->tx = std::make_unique<SyncPortTx>(e->port.get(), pool);
    e->link = std::make_unique<SyncLink>(sc, e->tx.get(), &e->sink);
  }
  SyncBenchResult res;

  // Round trip: one output-digest record there, one back.
  std::vector<uint64_t> rtts;
  rtts.reserve(static_cast<size_t>(o.round_trips));
  wire::Record r;
  r.type = wire::RecordType::kOutputDigest;
  for (int i = 0; i < o.round_trips; ++i) {
    const uint64_t t0 = NowNs();
    r.digest = {1, static_cast<uint64_t>(i), 64, 0};
    const uint64_t want_b = b.sink.records + 1, want_a = a.sink.records + 1;
    if (!a.link->Add(r, t0)) break;
    a.link->Flush(t0);
    a.tx->Flush();
    uint64_t now = t0;
    for (int k = 0; k < 10'000'000 && b.sink.records < want_b; ++k) b.Poll(now = NowNs());
    if (!b.link->Add(r, now)) break;
    b.link->Flush(now);
    b.tx->Flush();
    for (int k = 0; k < 10'000'000 && a.sink.records < want_a; ++k) a.Poll(now = NowNs());
    if (a.sink.records < want_a) break;
    rtts.push_back(NowNs() - t0);
  }
  res.rtt_p50_us = Percentile(rtts, 0.50);
  res.rtt_p99_us = Percentile(rtts, 0.99);
  res.rtt_p999_us = Percentile(rtts, 0.999);

  // Bulk: one checkpoint image, chunked into whole frames, sent twice. The
  // first transfer also faults in the receiver's fresh buffer (as every
  // checkpoint does whose data the controller takes away, TakeData); the
  // second reuses it (the link alone). The sender's CRC-64 over the image is
  // inside the timed part.
  std::vector<uint8_t> image(o.bulk_bytes);
  for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<uint8_t>(i * 131 + (i >> 12));
  for (int pass = 0; pass < 2; ++pass) {
    const uint64_t frames0 = a.link->stats().frames_sent;
    const uint64_t t0 = NowNs(), cpu0 = ThreadCpuNs();
    CheckpointSender sender(1 + static_cast<uint64_t>(pass), wire::CheckpointKind::kPeriodic, image,
                            a.link->MaxRecordBody() - 16);
    uint64_t now = t0;
    const uint64_t give_up = t0 + 120'000'000'000ull;
    bool started = false;
    for (;;) {
      const auto st = b.sink.checkpoint.state();
      if (st == CheckpointReceiver::State::kReceiving) started = true;
      if (started && st != CheckpointReceiver::State::kReceiving) break;
      if (now >= give_up) break;
      now = NowNs();
      sender.Pump(*a.link, now);
      a.Poll(now);
      b.Poll(now);
    }
    const double secs = static_cast<double>(NowNs() - t0) / 1e9, cpu = static_cast<double>(ThreadCpuNs() - cpu0) / 1e9;
    const bool ok = b.sink.checkpoint.state() == CheckpointReceiver::State::kComplete &&
                    b.sink.checkpoint.checkpoint_id() == 1 + static_cast<uint64_t>(pass);
    const double gbs = ok ? static_cast<double>(image.size()) / secs / 1e9 : 0;
    const double gbs_cpu = ok ? static_cast<double>(image.size()) / cpu / 1e9 : 0;
    if (pass == 0) {
      res.cold_gbytes_per_s = gbs;
      res.cold_gbytes_per_cpu_s = gbs_cpu;
      continue;
    }
    res.bulk_seconds = secs;
    res.bulk_cpu_seconds = cpu;
    res.digest_ok = ok && res.cold_gbytes_per_s > 0;
    res.bulk_gbytes_per_s = gbs;
    res.bulk_gbytes_per_cpu_s = gbs_cpu;
    res.bulk_frames = a.link->stats().frames_sent - frames0;
  }
  res.retransmits = a.link->stats().retransmits + b.link->stats().retransmits;
  for (End* e : {&a, &b}) {
    e->link.reset();
    e->tx.reset();
    e->port.reset();
  }
  unlink(sock.c_str());
  if (!own_prefix.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(RuntimeDir(own_prefix), ec);  // DPDK would leave it behind
  }
  return res;
}

}  // namespace twinstep::dataplane
