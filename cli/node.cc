// `twinstep node`: one node of a protected pair in one process — the VMM, the
// DPDK dataplane, the supervisor (in-process, as in simulation) and the
// replication controller — driven by the node's TOML config (docs/config.md,
// docs/replication.md).
#include <arpa/inet.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/config/node_config.h"
#include "dataplane/core/doorbell.h"
#include "dataplane/eal.h"
#include "dataplane/eth_port.h"
#include "dataplane/guest_backend.h"
#include "dataplane/node_setup.h"
#include "dataplane/pipeline.h"
#include "firmware/sim/sim_node.h"
#include "fpga/sim/rtl_comparator.h"
#include "host/machine.h"
#include "host/replication/control_socket.h"
#include "host/replication/controller.h"
#include "host/replication/event_log.h"
#include "host/replication/kvm_guest.h"
#include "host/softguest/soft_guest.h"
#include "host/replication/supervisor_link.h"

namespace twinstep::cli {
namespace {

std::atomic<bool> g_stop{false};
void OnStopSignal(int) { g_stop = true; }

struct NodeOptions {
  std::string config;
  std::string events;
};

int Fail(const std::string& what) {
  std::fprintf(stderr, "twinstep node: %s\n", what.c_str());
  return 1;
}

bool ParseMac(const std::string& text, uint8_t out[6]) {
  unsigned x[6];
  if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x", &x[0], &x[1], &x[2], &x[3], &x[4], &x[5]) != 6) return false;
  for (int i = 0; i < 6; ++i) out[i] = static_cast<uint8_t>(x[i]);
  return true;
}

std::string MacText(const uint8_t mac[6]) {
  char s[18];
  std::snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return s;
}

// The supervisor's settings from [node], [replication] and [witness].
firmware::sim::SimNodeConfig FirmwareConfig(const config::NodeConfig& c, const uint8_t sync_mac[6]) {
  firmware::sim::SimNodeConfig f;
  auto& s = f.supervisor;
  s.node_id = static_cast<uint32_t>(c.node.id);
  std::copy(sync_mac, sync_mac + 6, s.local_mac);
  std::fill(s.peer_mac, s.peer_mac + 6, 0xff);
  s.heartbeat_interval_ns = static_cast<uint64_t>(c.replication.heartbeat_interval_ms) * 1'000'000;
  s.suspect_after_missed = static_cast<uint32_t>(c.replication.heartbeat_miss_k);
  // The host rings every 10 ms from its own thread. In one process
  // with the NIC, a silent host is a starved one (shared cores), not a dead
  // one — that is the peer's heartbeat timeout's to judge — so the watchdog
  // only catches a host thread stuck for a whole second.
  s.host_watchdog_ns = std::max<uint64_t>(1'000'000'000, 2 * s.heartbeat_interval_ns);
  f.witness.endpoints = c.witness.endpoints;
  f.witness.pair = c.witness.pair;
  f.witness.lease_ttl_s = c.witness.lease_ttl_s;
  const uint64_t ttl_ns = static_cast<uint64_t>(c.witness.lease_ttl_s) * 1'000'000'000;
  f.agent.keepalive_interval_ns = ttl_ns / 4;
  f.agent.lease_deadline_ns = ttl_ns * 3 / 4;  // stop before etcd could give the pair away
  return f;
}

// The guest and what it runs on: a KVM machine (test guest or Linux) or the
// soft guest.
struct Guest {
  std::unique_ptr<host::Machine> machine;
  std::unique_ptr<replication::ReplicatedGuest> guest;
};

host::Result<Guest> MakeGuest(const config::NodeConfig& c, const replication::ControllerConfig& cc,
                              host::NetBackend* net) {
  Guest g;
  const uint64_t mem_bytes = static_cast<uint64_t>(c.guest.memory_mib) << 20;
  if (c.guest.kind == "soft") {
    softguest::SoftGuestConfig sc;
    sc.mem_bytes = mem_bytes;
    std::copy(cc.guest_mac, cc.guest_mac + 6, sc.mac);
    sc.ip = cc.guest_ip;
    auto s = softguest::SoftGuest::Create(sc, net);
    if (!s) return MakeUnexpected(s.error());
    g.guest = std::move(*s);
    return g;
  }
  host::MachineConfig mc;
  mc.mem_bytes = mem_bytes;
  mc.vcpus = static_cast<uint32_t>(c.guest.vcpus);
  mc.hugepages = c.guest.hugepages;
  mc.console_fd = 1;
  mc.net = net;
  std::copy(cc.guest_mac, cc.guest_mac + 6, mc.net_config.mac.begin());
  auto machine = host::Machine::Create(mc);
  if (!machine) {
    host::Error e = machine.error();
    e.detail = "the guest VM (guest.kind = \"" + c.guest.kind + "\"; without KVM use guest.kind = \"soft\"): " + e.detail;
    return MakeUnexpected(e);
  }
  g.machine = std::move(*machine);
  if (c.guest.kind == "linux") {
    g.guest = std::make_unique<replication::KvmGuest>(*g.machine, c.guest.kernel, c.guest.initrd, c.guest.cmdline);
  } else {
    const std::string kernel = c.guest.test_guest.empty() ? TWINSTEP_TESTGUEST_ELF : c.guest.test_guest;
    g.guest = std::make_unique<replication::KvmGuest>(*g.machine, kernel, "",
                                                      "ip=" + c.guest.ip + " mac=" + c.guest.mac);
  }
  return g;
}

int RunNode(const NodeOptions& o) {
  // Checkpoint images and comparator tables are megabytes, allocated and
  // freed at every checkpoint: keep them in the heap rather than fresh mmaps,
  // whose page faults cost tens of ms per checkpoint (more inside a VM).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  auto loaded = config::LoadNodeConfig(o.config);
  if (!loaded) return Fail(loaded.error().Message());
  config::NodeConfig c = *loaded;
  if (!o.events.empty()) c.node.events = o.events;
  replication::ControllerConfig cc;
  cc.name = c.node.name;
  cc.node_id = static_cast<uint32_t>(c.node.id);
  cc.start = c.node.role == "primary"     ? replication::StartMode::kColdStart
             : c.node.role == "secondary" ? replication::StartMode::kJoinOnly
                                          : replication::StartMode::kAuto;
  cc.join_probe_ns = static_cast<uint64_t>(c.replication.join_probe_ms) * 1'000'000;
  cc.checkpoint_period_ns = static_cast<uint64_t>(c.replication.checkpoint_period_ms) * 1'000'000;
  cc.dirty_page_bound = static_cast<uint64_t>(c.replication.dirty_page_bound);
  cc.checkpoint_timeout_ns = static_cast<uint64_t>(c.replication.checkpoint_timeout_ms) * 1'000'000;
  in_addr ip{};
  if (!ParseMac(c.guest.mac, cc.guest_mac) || inet_pton(AF_INET, c.guest.ip.c_str(), &ip) != 1) {
    return Fail(o.config + ": guest.mac / guest.ip: not a MAC and an IPv4 address");
  }
  cc.guest_ip = ntohl(ip.s_addr);

  replication::EventLog log;
  std::string error;
  if (!replication::EventLog::Open(c.node.name, c.node.events, &log, &error)) return Fail(error);

  auto setup = dataplane::SetupFromNodeConfig(c);
  if (!setup) return Fail(setup.error().Message());
  if (auto r = dataplane::InitEal(setup->eal); !r) return Fail(r.error().Message());
  // A port that a second start would open (a fanout id collision) exits
  // with kExitStartAgain: whoever started the node may simply start it again.
  auto port_failed = [](const dataplane::EalError& e) {
    Fail(e.Message());
    return e.code == dataplane::EalErrc::kFanoutCollision ? dataplane::kExitStartAgain : 1;
  };
  auto client = dataplane::EthPort::Open(setup->client, setup->eal.mode);
  if (!client) return port_failed(client.error());
  dataplane::EthPortOptions sync_options;
  sync_options.max_rx_frame_bytes = setup->sync_frame_bytes;
  auto sync = dataplane::EthPort::Open(setup->sync, setup->eal.mode, sync_options);
  if (!sync) return port_failed(sync.error());
  // A down link is a peer not (yet) there as much as a cut cable: the
  // witness decides whether this node may run alone.
  log.Say("sync port up, waiting for its link");
  if (!(*sync)->WaitLinkUp(static_cast<int>(c.replication.join_probe_ms))) {
    log.Say("the sync link is down after " + std::to_string(c.replication.join_probe_ms) + " ms: going on without a peer");
  }

  dataplane::GuestPort guest_port(dataplane::MbufPool(), 1024);
  dataplane::GuestNetBackend backend(&guest_port);
  auto guest = MakeGuest(c, cc, &backend);
  if (!guest) return Fail(guest.error().ToString());

  auto pc = dataplane::PipelineConfigFromNode(c, dataplane::Role::kSecondary);
  if (!pc) return Fail(pc.error().Message());
  pc->heartbeat_interval_ns = 0;  // the supervisor sends them
  compare::ComparatorFactory comparator;
  if (c.replication.comparator == "rtl") {
    comparator = [](const compare::ComparatorConfig& cfg, compare::VerdictSink* sink) {
      return std::make_unique<fpga::RtlComparator>(cfg, sink);
    };
  } else if (c.replication.comparator == "xrt") {
    return Fail(o.config + ": replication.comparator = \"xrt\" needs the FPGA card (hwtests/); use software or rtl");
  }
  dataplane::Pipeline pipeline(*pc, client->get(), sync->get(), &guest_port, nullptr, comparator);
  replication::SupervisorLink supervisor_link;
  supervisor_link.set_pipeline(&pipeline);
  pipeline.set_priority_tap(&supervisor_link);
  std::unique_ptr<dataplane::PeerBell> sync_bell;
  if (auto spec = dataplane::SyncBell(c)) {
    auto bell = dataplane::PeerBell::Open(spec->base, spec->side);
    if (!bell) return Fail(o.config + ": dataplane.sync (memif): " + bell.error());
    sync_bell = std::move(*bell);
    pipeline.set_sync_bell(sync_bell.get());
  }
  // The host loop sleeps on this bell between its rounds: rung when the
  // agent has an answer or a command for the NIC, or the NIC a request.
  dataplane::Doorbell host_bell;
  auto fw_config = FirmwareConfig(c, (*sync)->mac().addr_bytes);
  fw_config.agent.on_post = [&host_bell] { host_bell.Ring(); };
  firmware::sim::SimNode firmware(supervisor_link, fw_config);
  replication::Controller controller(cc, *guest->guest, pipeline, backend, firmware, log);
  controller.set_host_bell(&host_bell);
  pipeline.set_events(&controller);
  log.Say("guest " + c.guest.ip + " " + MacText(cc.guest_mac) + ", sync port " + MacText((*sync)->mac().addr_bytes) +
          ", witness " + c.witness.endpoints.front() + " pair " + c.witness.pair);

  replication::ControlSocket control;
  if (!c.node.control_socket.empty() &&
      !control.Start(c.node.control_socket, [&](const std::string& r) { return controller.HandleRequest(r); }, &error)) {
    return Fail(error);
  }
  signal(SIGTERM, OnStopSignal);
  signal(SIGINT, OnStopSignal);

  // The host's own heartbeat to its NIC and the witness agent, on a thread
  // of their own: the control thread may be busy encoding state for a while.
  // A round each kHostIdleNs (the NIC's host watchdog is a second; lease
  // renewals are due every TTL/4), each ms while a witness request or a
  // command is on its way, at once when the bell rings.
  constexpr uint64_t kHostIdleNs = 10'000'000, kHostBusyNs = 1'000'000;
  std::atomic<bool> host_stop{false};
  std::thread host_thread([&] {
    prctl(PR_SET_NAME, "ts-host");
    while (!host_stop.load()) {
      host_bell.Arm();
      firmware.nic().RingDoorbell();
      firmware.agent().Poll(firmware.nic().NowNs());
      host_bell.Wait(firmware.agent().Pending() ? kHostBusyNs : kHostIdleNs);
    }
  });
  std::atomic<bool> poll_stop{false};
  std::thread control_thread;
  replication::StopReason reason = replication::StopReason::kRequested;
  control_thread = std::thread([&] {
    prctl(PR_SET_NAME, "ts-control");
    reason = controller.Run(g_stop, &error);
    poll_stop = true;
  });
  pipeline.Run(poll_stop);  // the EAL's main lcore polls
  control_thread.join();
  host_stop = true;
  host_bell.Ring();
  host_thread.join();
  switch (reason) {
    case replication::StopReason::kRequested: return 0;
    case replication::StopReason::kFenced: std::fprintf(stderr, "twinstep node: %s\n", error.c_str()); return 3;
    case replication::StopReason::kFatal: return Fail(error);
  }
  return 1;
}

}  // namespace

void AddNodeCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<NodeOptions>();
  auto* node = app.add_subcommand("node", "Run one node of a protected pair (docs/replication.md)");
  node->add_option("--config", o->config, "The node's TOML config (docs/config.md)")->required()->check(CLI::ExistingFile);
  node->add_option("--events", o->events, "JSON-lines event log (overrides node.events)");
  node->callback([o, exit_code] { *exit_code = RunNode(*o); });
}

}  // namespace twinstep::cli
