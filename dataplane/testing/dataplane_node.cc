// Test helper: one dataplane node in its own process (one EAL per process),
// with the synthetic guest. Prints "ready" once its ports are up, runs until
// SIGTERM, then writes what it saw (inputs, verdicts, divergences, counters)
// to --log. Also the EAL error cases: --check-only stops after set-up.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "common/crc.h"
#include "dataplane/eal.h"
#include "dataplane/eth_port.h"
#include "dataplane/guest_port.h"
#include "dataplane/node_setup.h"
#include "dataplane/pipeline.h"
#include "dataplane/synthetic_guest.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

using namespace twinstep::dataplane;

struct Log final : public ReplicationEvents, public PipelineObserver {
  void OnDivergence(const DivergenceEvent& e) override {
    lines.push_back("divergence " + std::string(twinstep::compare::VerdictKindName(e.kind)) + " " +
                    std::to_string(e.flow) + " " + std::to_string(e.out_seq) + " " + std::to_string(e.primary_digest) +
                    " " + std::to_string(e.secondary_digest));
  }
  void OnPeerRecord(const twinstep::wire::Record&, uint64_t, uint64_t) override { ++peer_records; }
  void OnInput(uint64_t seq, const rte_mbuf* m) override {
    const uint32_t crc = twinstep::Crc32c({rte_pktmbuf_mtod(m, const uint8_t*), rte_pktmbuf_data_len(m)});
    lines.push_back("input " + std::to_string(seq) + " " + std::to_string(crc));
  }
  void OnVerdict(const twinstep::compare::Verdict& v, const rte_mbuf*) override {
    lines.push_back("verdict " + std::string(twinstep::compare::VerdictKindName(v.kind)) + " " + std::to_string(v.flow) +
                    " " + std::to_string(v.out_seq));
  }
  std::vector<std::string> lines;
  uint64_t peer_records = 0;
};

PortSpec ParsePort(const std::string& role, const std::string& s) {
  const size_t comma = s.find(',');
  return {role, s.substr(0, comma), comma == std::string::npos ? "" : s.substr(comma + 1)};
}

}  // namespace

int main(int argc, char** argv) {
  std::string role = "solo", prefix = "twdp", client, sync, log_path, config_path;
  uint32_t drop_ppm = 0;
  uint64_t diverge_at = UINT64_MAX;
  uint16_t salt = 0;
  int lcore = 0, required_lcores = 1;
  bool check_only = false, busy = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--role") role = next();
    else if (a == "--prefix") prefix = next();
    else if (a == "--client") client = next();
    else if (a == "--sync") sync = next();
    else if (a == "--log") log_path = next();
    else if (a == "--sync-drop-ppm") drop_ppm = static_cast<uint32_t>(std::stoul(next()));
    else if (a == "--diverge-at") diverge_at = std::stoull(next());
    else if (a == "--salt") salt = static_cast<uint16_t>(std::stoul(next()));
    else if (a == "--lcore") lcore = std::stoi(next());
    else if (a == "--required-lcores") required_lcores = std::stoi(next());
    else if (a == "--check-only") check_only = true;
    else if (a == "--busy") busy = true;
    else if (a == "--config") config_path = next();
    else {
      std::fprintf(stderr, "dataplane_node: unknown argument '%s'\n", a.c_str());
      return 2;
    }
  }
  EalConfig ec;
  ec.file_prefix = prefix;
  ec.main_lcore = lcore;
  ec.required_lcores = required_lcores;
  if (!busy) ec.float_cpus = {lcore};  // the same CPU, but through --lcores (exercised by the tests)
  if (!config_path.empty()) {
    // The node's TOML config (cli/config) instead of the flags.
    auto nc = twinstep::config::LoadNodeConfig(config_path);
    if (!nc) {
      std::fprintf(stderr, "error: %s\n", nc.error().Message().c_str());
      return 2;
    }
    auto setup = SetupFromNodeConfig(*nc);
    if (!setup) {
      std::fprintf(stderr, "error: %s\n", setup.error().Message().c_str());
      return 2;
    }
    ec = setup->eal;
    client = setup->client.device + (setup->client.args.empty() ? "" : "," + setup->client.args);
    sync = role == "solo" ? "" : setup->sync.device + (setup->sync.args.empty() ? "" : "," + setup->sync.args);
  }
  if (auto r = InitEal(ec); !r) {
    std::fprintf(stderr, "error: %s\n", r.error().Message().c_str());
    return 3;
  }
  std::unique_ptr<EthPort> client_port, sync_port;
  for (auto [spec, out] : {std::pair{ParsePort("client", client), &client_port}, {ParsePort("sync", sync), &sync_port}}) {
    if (spec.device.empty() && spec.role == "sync" && role == "solo") continue;
    auto p = EthPort::Open(spec, EalMode::kSimulation);
    if (!p) {
      std::fprintf(stderr, "error: %s\n", p.error().Message().c_str());
      return p.error().code == EalErrc::kFanoutCollision ? kExitStartAgain : 4;
    }
    *out = std::move(*p);
  }
  if (check_only) {
    std::printf("ok\n");
    return 0;
  }
  if (sync_port && !sync_port->WaitLinkUp(20000)) {
    std::fprintf(stderr, "error: sync link did not come up in 20 s\n");
    return 5;
  }
  GuestPort guest(MbufPool(), 512);
  SyntheticGuest endpoint(&guest, MbufPool(), salt);
  endpoint.set_diverge_at(diverge_at);
  Log log;
  PipelineConfig pc;
  pc.role = role == "primary" ? Role::kPrimary : role == "secondary" ? Role::kSecondary : Role::kSolo;
  pc.comparator.compare_timeout_ns = 30'000'000'000;  // shared cores: a slow peer is not a divergence here
  pc.idle.busy_poll = busy;
  Pipeline pipe(pc, client_port.get(), sync_port.get(), &guest, &log);
  pipe.set_observer(&log);
  if (pipe.sync_tx()) pipe.sync_tx()->set_drop_ppm(drop_ppm, 0x1234 + salt);
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  std::printf("ready\n");
  std::fflush(stdout);
  IdleBackoff backoff(pc.idle);
  while (!g_stop.load(std::memory_order_relaxed)) {
    size_t work = pipe.PollOnce(NowNs());
    work += endpoint.Poll();
    if (const uint64_t ns = backoff.OnPoll(work)) {
      timespec ts{0, static_cast<long>(ns)};
      nanosleep(&ts, nullptr);
    }
  }
  // Let the link finish what is in flight before reporting.
  for (int i = 0; i < 20000 && !pipe.sync_link().Idle(); ++i) {
    pipe.PollOnce(NowNs());
    endpoint.Poll();
    usleep(50);
  }
  if (!log_path.empty()) {
    std::ofstream out(log_path);
    for (const auto& l : log.lines) out << l << "\n";
    const auto& s = pipe.stats();
    const auto& l = pipe.sync_link().stats();
    auto stat = [&](const char* n, uint64_t v) { out << "stat " << n << " " << v << "\n"; };
    stat("client_rx", s.client_rx);
    stat("inputs_stamped", s.inputs_stamped);
    stat("inputs_to_guest", s.inputs_to_guest);
    stat("mirrored_delivered", s.mirrored_delivered);
    stat("input_seq_gaps", s.input_seq_gaps);
    stat("guest_tx", s.guest_tx);
    stat("released", s.released);
    stat("client_tx", s.client_tx);
    stat("digests_sent", s.digests_sent);
    stat("records_received", s.records_received);
    stat("divergences", s.divergences);
    stat("secondary_client_rx_dropped", s.secondary_client_rx_dropped);
    stat("sync_retransmits", l.retransmits);
    stat("sync_duplicates", l.duplicates);
    stat("sync_gaps", l.gaps);
    stat("sync_malformed", l.malformed);
    stat("sync_dropped_injected", pipe.sync_tx() ? pipe.sync_tx()->dropped() : 0);
    stat("sync_srtt_ns", l.srtt_ns);
    stat("guest_outputs", endpoint.outputs());
  }
  return 0;
}
