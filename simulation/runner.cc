// One scenario end to end (see runner.h).
#include "simulation/runner.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <thread>

#include "cli/config/node_config.h"
#include "firmware/witness/etcd_process.h"
#include "simulation/command.h"
#include "simulation/node_process.h"
#include "simulation/report.h"
#include "simulation/scenario.h"
#include "simulation/topology.h"
#include "simulation/workload.h"

namespace twinstep::sim {
namespace {

constexpr int kTickMs = 20;

// The address of `symbol` in the guest image (nm), for `corrupt NODE table+OFF LEN`.
SimResult<uint64_t> SymbolAddress(const std::string& image, const std::string& symbol) {
  auto out = Check({"nm", image});
  if (!out) return MakeUnexpected(out.error());
  std::istringstream in(*out);
  for (std::string line; std::getline(in, line);) {
    std::istringstream l(line);
    std::string addr, type, name;
    if (l >> addr >> type >> name && name == symbol) return std::stoull(addr, nullptr, 16);
  }
  return SimFail(SimErrc::kScenario, "symbol '" + symbol + "' is not in " + image);
}

// What the clients see after a fault is measured over this long.
constexpr int64_t kFaultPauseWindowNs = 5'000'000'000;

bool IsFault(Action a) {
  switch (a) {
    case Action::kStop: case Action::kKill9: case Action::kSigstop: case Action::kSlow: case Action::kCutSync:
    case Action::kSyncLoss: case Action::kCorrupt: case Action::kStall:
      return true;
    default:
      return false;
  }
}

class Run {
 public:
  Run(const RunOptions& o, Scenario sc) : o_(o), sc_(std::move(sc)) {}
  int Execute();

 private:
  SimResult<void> SetUp();
  SimResult<void> WriteConfigs();
  void Tick();
  bool Interrupted() const { return o_.interrupted && o_.interrupted->load(); }
  double Elapsed() const { return NowSeconds() - t0_; }
  // Runs ticks until `done` or the time; false on timeout or interrupt.
  template <typename F>
  bool TickUntil(double deadline_abs, F done);
  bool DoStep(const Step& s, StepLog* log);
  bool Holds(const Step& s, std::string* now);
  void LinkEvent(const std::string& what, nlohmann::json fields = nlohmann::json::object());
  void Progress(bool final);
  void Finish();

  RunOptions o_;
  Scenario sc_;
  std::string id_, out_dir_, image_;
  std::string guest_kind_ = "test";  // what the nodes run: test (KVM) or soft
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<witness::EtcdProcess> etcd_;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
  std::unique_ptr<Workload> workload_;
  bool load_running_ = false, load_ran_ = false;
  struct Client {  // a `client` step's command
    std::string command, log;
    pid_t pid = -1;
    int status = 0;
    bool done = false;
  };
  std::vector<Client> clients_;
  void ReapClients();
  double t0_ = 0, last_progress_ = 0;
  uint64_t last_answered_ = 0;
  RunReport report_;
};

template <typename F>
bool Run::TickUntil(double deadline_abs, F done) {
  for (;;) {
    Tick();
    if (done()) return true;
    if (NowSeconds() >= deadline_abs || Interrupted() || Elapsed() > sc_.timeout_s) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(kTickMs));
  }
}

void Run::ReapClients() {
  for (auto& c : clients_) {
    if (!c.done) c.done = Reap(c.pid, &c.status);
  }
}

void Run::Tick() {
  for (auto& n : nodes_) {
    for (auto& e : n->Poll()) report_.events.push_back(std::move(e));
  }
  ReapClients();
  if (o_.progress && NowSeconds() - last_progress_ >= 0.5) Progress(false);
}

void Run::LinkEvent(const std::string& what, nlohmann::json fields) {
  fields["source"] = "sim";
  report_.events.push_back(NodeEvent{NowSeconds(), "link", what, std::move(fields)});
}

void Run::Progress(bool final) {
  const double now = NowSeconds();
  const uint64_t answered = workload_ ? workload_->answered() : 0;
  const double rate = last_progress_ > 0 ? (answered - last_answered_) / (now - last_progress_) : 0;
  last_progress_ = now, last_answered_ = answered;
  std::string roles;
  for (auto& n : nodes_) roles += " " + n->name() + "=" + (n->running() ? n->role() : "dead");
  std::fprintf(stderr, "%s[%6.1f/%.0f s] %6.0f req/s  sent %" PRIu64 "  ok %" PRIu64 "  errors %" PRIu64
               "  open %" PRIu64 " %s%s",
               isatty(2) ? "\r" : "", now - t0_, sc_.duration_s, rate, workload_ ? workload_->sent() : 0, answered,
               workload_ ? workload_->errors() : 0, workload_ ? workload_->open() : 0, roles.c_str(),
               isatty(2) && !final ? "   " : "\n");
}

SimResult<void> Run::WriteConfigs() {
  for (size_t i = 0; i < 2; ++i) {
    config::NodeConfig c = sc_.node.config;
    const std::string letter(1, static_cast<char>('a' + i));
    c.node.name = kNodeNames[i];
    c.node.id = static_cast<int64_t>(i + 1);
    c.node.role = "auto";
    c.node.events = out_dir_ + "/" + kNodeNames[i] + ".events.jsonl";  // each start passes its own --events
    c.node.control_socket = "/tmp/tws" + id_ + letter + ".ctl";        // sun_path holds 108 bytes
    c.dataplane.eal_mode = "simulation";
    c.dataplane.file_prefix = "tws" + id_ + letter;
    c.dataplane.lcores = i == 0 ? sc_.node.lcores_a : sc_.node.lcores_b;
    c.dataplane.client = {"net_af_packet0", "iface=" + topology_->client_port(i)};
    if (sc_.sync_link == "memif") {
      c.dataplane.sync = {"net_memif1", std::string(i == 0 ? "role=server" : "role=client") + ",bsize=9216,socket=/tmp/tws" + id_ + ".sync"};
    } else {
      c.dataplane.sync = {"net_af_packet1", "iface=" + topology_->sync_port(i)};
    }
    c.guest.kind = guest_kind_;
    c.guest.test_guest = image_;
    if (guest_kind_ == "linux") {
      c.guest.kernel = o_.kernel;
      c.guest.initrd = o_.initrd;
      // The image's /init reads the test guest's keys (scripts/linux-guest/init).
      const std::string prefix = sc_.client_cidr.substr(sc_.client_cidr.find('/') + 1);
      const uint32_t bits = static_cast<uint32_t>(std::stoul(prefix));
      const uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
      char m[16];
      std::snprintf(m, sizeof m, "%u.%u.%u.%u", mask >> 24, (mask >> 16) & 255, (mask >> 8) & 255, mask & 255);
      c.guest.cmdline = "console=ttyS0 ip=" + sc_.guest_ip + " mask=" + m + " gw=" + topology_->client_address() +
                        " mac=" + sc_.guest_mac;
    }
    c.guest.ip = sc_.guest_ip;
    c.guest.mac = sc_.guest_mac;
    c.witness.endpoints = {etcd_->endpoint()};
    c.witness.pair = "tws" + id_;
    const std::string path = out_dir_ + "/" + kNodeNames[i] + ".toml";
    if (auto w = config::WriteNodeConfig(path, c, {"Written by twinstep sim for scenario " + sc_.name}); !w)
      return SimFail(SimErrc::kNode, "node config " + path + ": " + w.error().Message());
    NodeLaunch l;
    l.name = kNodeNames[i];
    l.twinstep = o_.twinstep;
    l.config = path;
    l.control_socket = c.node.control_socket;
    l.out_dir = out_dir_;
    nodes_.push_back(std::make_unique<NodeProcess>(l));
  }
  return {};
}

SimResult<void> Run::SetUp() {
  if (geteuid() != 0) return SimFail(SimErrc::kNotRoot, "run twinstep sim as root (or with sudo)");
  image_ = !sc_.test_guest.empty() ? sc_.test_guest : o_.test_guest;
  // Where KVM is missing (a build machine that is itself a KVM guest), the
  // soft guest stands in: the same protocols, no VM (docs/replication.md).
  const bool kvm = access("/dev/kvm", R_OK | W_OK) == 0;
  guest_kind_ = sc_.guest == "auto" ? (kvm ? "test" : "soft") : sc_.guest;
  if (sc_.guest == "auto" && !kvm) {
    std::fprintf(stderr, "twinstep sim: no usable /dev/kvm here: the nodes run the soft guest (no VM) instead of the test guest\n");
  }
  if (guest_kind_ == "test" && access(image_.c_str(), R_OK) != 0) {
    return SimFail(SimErrc::kScenario, "test guest image '" + image_ + "' not found");
  }
  if (guest_kind_ == "linux") {
    if (!kvm) return SimFail(SimErrc::kScenario, "guest = \"linux\" needs a usable /dev/kvm");
    for (const auto* f : {&o_.kernel, &o_.initrd}) {
      if (f->empty() || access(f->c_str(), R_OK) != 0)
        return SimFail(SimErrc::kScenario, "guest = \"linux\" needs --kernel and --initrd (scripts/linux-guest/build-image.sh); '" +
                                               *f + "' is not readable");
    }
  }
  for (const auto& m : CleanStale()) std::fprintf(stderr, "twinstep sim: %s\n", m.c_str());
  id_ = RunId();
  out_dir_ = o_.out_dir.empty() ? "sim-out/" + sc_.name : o_.out_dir;
  std::error_code ec;
  std::filesystem::create_directories(out_dir_, ec);
  if (ec) return SimFail(SimErrc::kIo, "cannot create " + out_dir_ + ": " + ec.message());
  out_dir_ = std::filesystem::absolute(out_dir_).string();
  // Files of an earlier run in the same directory would mix into this report.
  for (const auto& e : std::filesystem::directory_iterator(out_dir_, ec)) {
    const std::string f = e.path().filename().string();
    if (f.rfind("node-", 0) == 0 || f.rfind("client-", 0) == 0 || f == "report.json" || f == "summary.txt" || f == "timeline.svg" ||
        f == "requests.csv")
      std::filesystem::remove(e.path(), ec);
  }
  TopologyConfig tc;
  tc.id = id_;
  tc.client_cidr = sc_.client_cidr;
  const bool solo = sc_.mode != "pair";
  if (solo) tc.solo_taps = {"tws" + id_ + "t0"};
  auto t = Topology::Create(tc);
  if (!t) return MakeUnexpected(t.error());
  topology_ = std::move(*t);
  if (solo) {
    for (size_t i = 0; i < 2; ++i) {  // node-b exists for the grammar's sake; only node-a has a TAP
      NodeLaunch l;
      l.name = kNodeNames[i];
      l.mode = sc_.mode;
      l.twinstep = o_.twinstep;
      l.out_dir = out_dir_;
      l.kernel = image_;
      l.tap = "tws" + id_ + "t" + std::to_string(i);
      l.netns = topology_->lan_netns();
      l.append = "ip=" + sc_.guest_ip + " mac=" + sc_.guest_mac;
      l.memory_mib = sc_.node.config.guest.memory_mib;
      nodes_.push_back(std::make_unique<NodeProcess>(l));
    }
  } else {
    std::string error;
    etcd_ = witness::EtcdProcess::Start(&error, out_dir_);
    if (!etcd_) return SimFail(SimErrc::kEtcd, error);
    if (auto w = WriteConfigs(); !w) return w;
  }
  WorkloadConfig wc = sc_.workload;
  wc.netns = topology_->lan_netns();
  wc.server = sc_.guest_ip;
  auto w = Workload::Create(wc);
  if (!w) return MakeUnexpected(w.error());
  workload_ = std::move(*w);
  return {};
}

bool Run::Holds(const Step& s, std::string* now) {
  NodeProcess& n = *nodes_[static_cast<size_t>(s.node)];
  *now = n.running() ? "running, " + std::string(n.ready() ? "ready" : "not ready") + ", role " + n.role() : "exited";
  switch (s.condition) {
    case Condition::kReady: return n.running() && n.ready();
    case Condition::kRunning: return n.running();
    case Condition::kExited: return !n.running();
    case Condition::kRole: return std::find(s.roles.begin(), s.roles.end(), n.role()) != s.roles.end();
  }
  return false;
}

bool Run::DoStep(const Step& s, StepLog* log) {
  NodeProcess* n = s.node >= 0 ? nodes_[static_cast<size_t>(s.node)].get() : nullptr;
  auto fail = [&](std::string why) {
    log->ok = false;
    log->detail = std::move(why);
    return false;
  };
  // A request on the node's control socket that must answer ok.
  auto control = [&](const std::string& request) {
    auto r = n->Control(request);
    if (!r) return fail(r.error().Message());
    log->detail = *r;
    return r->find("\"ok\"") != std::string::npos || fail("the node refused: " + *r);
  };
  switch (s.action) {
    case Action::kRestart:
      if (n->running()) {
        n->Kill9();
        TickUntil(NowSeconds() + 10, [&] { return !n->running(); });
      }
      [[fallthrough]];
    case Action::kStart:
      if (auto r = n->Start(); !r) return fail(r.error().Message());
      return true;
    case Action::kStop: n->Stop(); return true;
    case Action::kKill9: n->Kill9(); return true;
    case Action::kSigstop: n->Sigstop(); return true;
    case Action::kSigcont: n->Sigcont(); return true;
    case Action::kSlow: n->Slow(s.run_ms, s.stop_ms); return true;
    case Action::kWait: {
      std::string now;
      // A node that exited while it was awaited running, ready or in a role
      // will not get there: fail at once, with the node's reason.
      const bool awaits_life = s.condition != Condition::kExited;
      bool died = false;
      const bool ended = TickUntil(NowSeconds() + s.timeout_s, [&] {
        if (Holds(s, &now)) return true;
        died = awaits_life && !n->running();
        return died;
      });
      if (!ended) return fail("not reached within " + std::to_string(static_cast<int>(s.timeout_s)) + " s: " + now);
      if (died) return fail("the node exited" + (n->last_exit().empty() ? "" : " (" + n->last_exit() + ")"));
      return true;
    }
    case Action::kExpect: {
      std::string now;
      Tick();
      if (Holds(s, &now)) return true;
      return fail("found " + now);
    }
    case Action::kCutSync:
      LinkEvent("cut-sync");
      if (auto r = topology_->CutSync(); !r) return fail(r.error().Message());
      return true;
    case Action::kRestoreSync:
      LinkEvent("restore-sync");
      if (auto r = topology_->RestoreSync(); !r) return fail(r.error().Message());
      return true;
    case Action::kSyncLoss:
      LinkEvent("sync-loss", {{"percent", s.percent}});
      if (auto r = sc_.sync_link == "memif" ? SimResult<void>(SimFail(SimErrc::kTopology, "a memif link has no qdisc"))
                                            : topology_->SetSyncLoss(s.percent);
          !r) {
        // No netem in this kernel, or memif: each running node drops that share
        // of its own sync frames (`drop-sync PPM` on its control socket).
        const auto ppm = static_cast<uint64_t>(s.percent * 10'000);
        std::fprintf(stderr, "twinstep sim: %s; the nodes drop %.2f%% of their sync frames themselves\n",
                     r.error().Message().c_str(), s.percent);
        for (auto& n : nodes_) {
          if (!n->running()) continue;
          if (auto c = n->Control("drop-sync " + std::to_string(ppm)); !c) return fail(c.error().Message());
        }
      }
      return true;
    case Action::kCorrupt: {
      uint64_t gpa = s.gpa;
      if (!s.gpa_symbol.empty()) {
        auto a = SymbolAddress(image_, s.gpa_symbol);
        if (!a) return fail(a.error().Message());
        gpa += *a;
      }
      char req[96];
      std::snprintf(req, sizeof req, "corrupt 0x%" PRIx64 " %" PRIu64, gpa, s.len);
      return control(req);
    }
    case Action::kCheckpoint:
      return control("checkpoint");
    case Action::kLoadStart:
      if (!load_running_) workload_->Start();
      load_running_ = load_ran_ = true;
      return true;
    case Action::kLoadStop:
      if (load_running_) workload_->Stop();
      load_running_ = false;
      return true;
    case Action::kSleep:
      TickUntil(NowSeconds() + s.seconds, [] { return false; });
      return !Interrupted() || fail("interrupted");
    case Action::kStall:
      return control("stall " + std::to_string(s.stall_ms));
    case Action::kClient: {
      Client c;
      c.command = s.command;
      c.log = out_dir_ + "/client-" + std::to_string(clients_.size() + 1) + ".log";
      setenv("GUEST_IP", sc_.guest_ip.c_str(), 1);
      setenv("OUT", out_dir_.c_str(), 1);
      auto pid = SpawnLogged({"sh", "-c", s.command}, c.log, topology_->lan_netns());
      if (!pid) return fail(pid.error().Message());
      c.pid = *pid;
      log->detail = "log " + c.log;
      clients_.push_back(std::move(c));
      return true;
    }
  }
  return true;
}

void Run::Finish() {
  const Expectations& x = sc_.expect;
  const WorkloadTotals& t = report_.totals;
  const EventCounts c = CountEvents(report_.events);
  auto check = [&](const std::string& name, bool ok, uint64_t got, const char* rel, uint64_t limit) {
    report_.checks.push_back({name, ok, std::to_string(got) + " (expected " + rel + " " + std::to_string(limit) + ")"});
  };
  check("no acknowledged write lost", t.lost_acked_writes <= x.max_lost_acked_writes, t.lost_acked_writes, "<=",
        x.max_lost_acked_writes);
  check("every reply correct", t.wrong + t.server_errors <= x.max_wrong_replies, t.wrong + t.server_errors, "<=",
        x.max_wrong_replies);
  check("unanswered requests", t.unanswered <= x.max_unanswered, t.unanswered, "<=", x.max_unanswered);
  check("no output released twice (replies beyond sends)", t.duplicate_replies <= x.max_duplicate_replies,
        t.duplicate_replies, "<=", x.max_duplicate_replies);
  check("acknowledged writes", t.acked_writes >= x.min_acked_writes, t.acked_writes, ">=", x.min_acked_writes);
  if (load_ran_) check("every written key read back", t.verify_unanswered == 0, t.verify_unanswered, "==", 0);
  for (size_t i = 0; i < clients_.size(); ++i) {
    const Client& c = clients_[i];
    const bool exited = c.status >= 0 && WIFEXITED(c.status);
    const int code = exited ? WEXITSTATUS(c.status) : -1;
    report_.checks.push_back({"client " + std::to_string(i + 1) + " `" + c.command + "`", exited && code == 0,
                              (exited ? "exit code " + std::to_string(code) : std::string("killed or timed out")) +
                                  " (expected 0); its output: " + c.log});
  }
  if (x.min_failovers) check("failovers", c.failovers >= x.min_failovers, c.failovers, ">=", x.min_failovers);
  if (x.min_divergences)
    check("divergences", c.divergences >= x.min_divergences, c.divergences, ">=", x.min_divergences);
  if (x.min_checkpoints)
    check("checkpoints", c.checkpoints >= x.min_checkpoints, c.checkpoints, ">=", x.min_checkpoints);
  if (x.min_joins) check("joins", c.joins >= x.min_joins, c.joins, ">=", x.min_joins);
  if (x.fenced >= 0) {
    const auto want = static_cast<uint64_t>(x.fenced);
    check("nodes fenced by their supervisor", c.fenced == want, c.fenced, "==", want);
  }
}

int Run::Execute() {
  t0_ = NowSeconds();
  report_.scenario = &sc_;
  report_.t0 = t0_;
  if (auto r = SetUp(); !r) {
    std::fprintf(stderr, "twinstep sim: %s\n", r.error().Message().c_str());
    return 2;
  }
  report_.out_dir = out_dir_;
  std::fprintf(stderr, "twinstep sim: scenario %s, run id %s, output %s\n", sc_.name.c_str(), id_.c_str(),
               out_dir_.c_str());
  t0_ = report_.t0 = NowSeconds();
  for (const Step& s : sc_.steps) {
    if (s.at_s >= 0) TickUntil(t0_ + s.at_s, [] { return false; });
    if (Interrupted()) break;
    StepLog log{NowSeconds(), s.text, s.line, true, ""};
    const bool ok = DoStep(s, &log);
    if (!ok) {
      report_.checks.push_back({"step at line " + std::to_string(s.line) + ": " + s.text, false, log.detail});
      if (o_.progress) std::fprintf(stderr, "\ntwinstep sim: step '%s' failed: %s\n", s.text.c_str(), log.detail.c_str());
    } else if (s.action == Action::kExpect) {
      report_.checks.push_back({"step at line " + std::to_string(s.line) + ": " + s.text, true, "held"});
    }
    report_.steps.push_back(log);
    if (ok && load_running_ && IsFault(s.action)) report_.fault_pauses.push_back({s.text, log.t, 0});
    if (!ok && s.action != Action::kExpect) {
      report_.aborted = "step '" + s.text + "' (line " + std::to_string(s.line) + ") failed: " + log.detail;
      break;
    }
    if (Elapsed() > sc_.timeout_s) {
      report_.aborted = "timeout_s passed";
      break;
    }
  }
  if (report_.aborted.empty()) TickUntil(t0_ + sc_.duration_s, [] { return false; });
  // Client commands finish on their own, within the scenario's timeout.
  TickUntil(t0_ + sc_.timeout_s, [&] {
    return std::all_of(clients_.begin(), clients_.end(), [](const Client& c) { return c.done; });
  });
  for (auto& c : clients_) {
    if (!c.done) {
      Terminate(c.pid, 1000);
      c.done = true;
      c.status = -1;
    }
  }
  if (Interrupted()) report_.aborted = "interrupted";
  if (load_running_) workload_->Stop();
  if (load_ran_ && !Interrupted()) {
    if (o_.progress) std::fprintf(stderr, "\ntwinstep sim: reading every written key back\n");
    workload_->Verify();
  }
  Tick();
  report_.totals = workload_->Totals();
  for (auto& f : report_.fault_pauses) {
    const auto from = static_cast<int64_t>(f.t * 1e9);
    f.pause_ms = LongestReplyGapMs(workload_->records(), from, from + kFaultPauseWindowNs);
  }
  // What the nodes do while the sim stops them (a secondary taking over from
  // a stopped primary) is not the scenario's: counts end here.
  report_.events.push_back(NodeEvent{NowSeconds(), "sim", "teardown", {{"source", "sim"}}});
  for (auto& n : nodes_) n->Stop();
  Tick();
  for (auto& n : nodes_) {
    for (auto& e : n->Poll()) report_.events.push_back(std::move(e));
  }
  if (o_.progress) Progress(true);
  std::stable_sort(report_.events.begin(), report_.events.end(),
                   [](const NodeEvent& a, const NodeEvent& b) { return a.t < b.t; });
  report_.t_end = NowSeconds();
  report_.records = &workload_->records();
  report_.problems = workload_->problems();
  Finish();
  nodes_.clear();
  // The nodes' sockets and the sync link's bell files (/tmp/tws<id>*): a node
  // killed with -9 leaves them behind.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/tmp", ec)) {
    if (e.path().filename().string().rfind("tws" + id_, 0) == 0) std::filesystem::remove(e.path(), ec);
  }
  etcd_.reset();
  topology_.reset();
  if (auto w = WriteReport(report_); !w) {
    std::fprintf(stderr, "twinstep sim: %s\n", w.error().Message().c_str());
    return 2;
  }
  std::fprintf(stderr, "%s\ntwinstep sim: report in %s (report.json, summary.txt, timeline.svg, requests.csv)\n",
               SummaryText(report_).c_str(), out_dir_.c_str());
  return report_.Passed() ? 0 : 1;
}

}  // namespace

int RunScenario(const RunOptions& options) {
  auto sc = LoadScenario(options.scenario);
  if (!sc) {
    std::fprintf(stderr, "twinstep sim: %s\n", sc.error().Message().c_str());
    return 2;
  }
  Run run(options, std::move(*sc));
  return run.Execute();
}

}  // namespace twinstep::sim
