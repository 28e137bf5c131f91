// The simulated network (see topology.h), built with iproute2, tc and ethtool.
#include "simulation/topology.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "simulation/command.h"

namespace twinstep::sim {
namespace {

std::string Netns(const std::string& id) { return "tws" + id + "-lan"; }
std::string ClientPort(const std::string& id, size_t i) { return "tws" + id + "c" + std::to_string(i); }
std::string LanPort(const std::string& id, size_t i) { return "tws" + id + "l" + std::to_string(i); }
std::string SyncPort(const std::string& id, size_t i) { return "tws" + id + "s" + std::to_string(i); }

std::vector<std::string> InNs(const std::string& ns, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"ip", "netns", "exec", ns});
  return argv;
}

// af_packet sees frames as the sender's stack left them: with checksum and
// segmentation offloads on, a UDP checksum is only partial. Offloads off, so
// every frame on the wire is complete. Some features are fixed on some
// kernels: ethtool's exit status is ignored, the link works either way.
void OffloadsOff(const std::string& ifname, const std::string& ns = "") {
  std::vector<std::string> argv = {"ethtool", "-K", ifname, "tx", "off", "rx", "off", "tso", "off",
                                   "gso",     "off", "gro", "off"};
  (void)RunCommand(ns.empty() ? argv : InNs(ns, argv));
}

// IPv6 would add router and neighbour solicitations to the guest's input.
SimResult<void> Ipv6Off(const std::string& ifname, const std::string& ns = "") {
  std::vector<std::string> argv = {"sysctl", "-qw", "net.ipv6.conf." + ifname + ".disable_ipv6=1"};
  if (auto r = Check(ns.empty() ? argv : InNs(ns, argv), SimErrc::kTopology); !r) return MakeUnexpected(r.error());
  return {};
}

#define TRY(expr)                                        \
  do {                                                   \
    if (auto r_ = (expr); !r_) return MakeUnexpected(r_.error()); \
  } while (0)

bool PidAlive(long pid) { return pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

}  // namespace

std::string RunId() { return std::to_string(getpid()); }

std::vector<std::string> TopologyLinkNames(const std::string& id) {
  return {Netns(id), ClientPort(id, 0), ClientPort(id, 1), SyncPort(id, 0), SyncPort(id, 1)};
}

bool NetnsExists(const std::string& name) { return access(("/var/run/netns/" + name).c_str(), F_OK) == 0; }

bool LinkExists(const std::string& name, const std::string& netns) {
  std::vector<std::string> argv = {"ip", "link", "show", "dev", name};
  if (!netns.empty()) argv = {"ip", "-n", netns, "link", "show", "dev", name};
  return RunCommand(argv).exit_code == 0;
}

std::vector<std::string> CleanStale() {
  std::vector<std::string> removed;
  const std::regex ns_re("^tws([0-9]+)-lan$"), link_re("^tws([0-9]+)[cs][0-9]+$");
  std::set<long> dead;
  std::istringstream ns_list(RunCommand({"ip", "netns", "list"}).output);
  for (std::string line; std::getline(ns_list, line);) {
    const std::string name = line.substr(0, line.find(' '));
    std::smatch m;
    if (!std::regex_match(name, m, ns_re) || PidAlive(std::stol(m[1]))) continue;
    (void)RunCommand({"ip", "netns", "del", name});
    removed.push_back("removed network namespace " + name + " left by an earlier run (pid " + m[1].str() +
                      " is gone)");
  }
  std::istringstream links(RunCommand({"ip", "-o", "link", "show"}).output);
  for (std::string line; std::getline(links, line);) {
    // "7: tws123s0@tws123s1: <...": the name sits between ": " and "@" or ":".
    const size_t a = line.find(": ");
    if (a == std::string::npos) continue;
    const size_t b = line.find_first_of("@:", a + 2);
    const std::string name = line.substr(a + 2, b - a - 2);
    std::smatch m;
    if (!std::regex_match(name, m, link_re) || PidAlive(std::stol(m[1]))) continue;
    if (RunCommand({"ip", "link", "del", name}).exit_code == 0)
      removed.push_back("removed link " + name + " left by an earlier run (pid " + m[1].str() + " is gone)");
  }
  return removed;
}

SimResult<std::unique_ptr<Topology>> Topology::Create(const TopologyConfig& config) {
  if (geteuid() != 0) return SimFail(SimErrc::kNotRoot, "the topology needs root (run as root or with sudo)");
  if (config.nodes.size() != 2) return SimFail(SimErrc::kTopology, "a pair has two nodes");
  std::unique_ptr<Topology> t(new Topology());
  t->id_ = config.id;
  t->config_ = config;
  t->lan_netns_ = Netns(config.id);
  if (ClientPort(config.id, 1).size() > 15)
    return SimFail(SimErrc::kTopology, "run id '" + config.id + "' makes interface names longer than 15 chars");
  if (NetnsExists(t->lan_netns_)) return SimFail(SimErrc::kTopology, "namespace " + t->lan_netns_ + " exists already");
  if (auto r = t->Build(); !r) {
    t->Destroy();
    return MakeUnexpected(r.error());
  }
  return t;
}

SimResult<void> Topology::Build() {
  const std::string& ns = lan_netns_;
  built_ = true;  // from here on Destroy() has something to remove
  TRY(Check({"ip", "netns", "add", ns}, SimErrc::kTopology));
  TRY(Check({"ip", "-n", ns, "link", "set", "lo", "up"}, SimErrc::kTopology));
  TRY(Check(InNs(ns, {"sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"}), SimErrc::kTopology));
  TRY(Check(InNs(ns, {"sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"}), SimErrc::kTopology));
  TRY(Check({"ip", "-n", ns, "link", "add", "br0", "type", "bridge"}, SimErrc::kTopology));
  OffloadsOff("br0", ns);
  TRY(Check({"ip", "-n", ns, "addr", "add", config_.client_cidr, "dev", "br0"}, SimErrc::kTopology));
  TRY(Check({"ip", "-n", ns, "link", "set", "br0", "up"}, SimErrc::kTopology));
  for (size_t i = 0; i < config_.nodes.size(); ++i) {
    const std::string c = ClientPort(id_, i), l = LanPort(id_, i);
    TRY(Check({"ip", "link", "add", c, "type", "veth", "peer", "name", l, "netns", ns}, SimErrc::kTopology));
    client_ports_.push_back(c);
    lan_ports_.push_back(l);
    TRY(Ipv6Off(c));
    OffloadsOff(c);
    OffloadsOff(l, ns);
    TRY(Check({"ip", "-n", ns, "link", "set", l, "master", "br0"}, SimErrc::kTopology));
    TRY(Check({"ip", "-n", ns, "link", "set", l, "up"}, SimErrc::kTopology));
    TRY(Check({"ip", "link", "set", c, "up"}, SimErrc::kTopology));
  }
  for (const auto& tap : config_.solo_taps) {
    TRY(Check({"ip", "-n", ns, "tuntap", "add", "dev", tap, "mode", "tap"}, SimErrc::kTopology));
    OffloadsOff(tap, ns);
    TRY(Check({"ip", "-n", ns, "link", "set", tap, "master", "br0"}, SimErrc::kTopology));
    TRY(Check({"ip", "-n", ns, "link", "set", tap, "up"}, SimErrc::kTopology));
  }
  const std::string s0 = SyncPort(id_, 0), s1 = SyncPort(id_, 1);
  TRY(Check({"ip", "link", "add", s0, "type", "veth", "peer", "name", s1}, SimErrc::kTopology));
  sync_ports_ = {s0, s1};
  for (const auto& s : sync_ports_) {
    TRY(Ipv6Off(s));
    OffloadsOff(s);
    TRY(Check({"ip", "link", "set", s, "up"}, SimErrc::kTopology));
  }
  return {};
}

std::string Topology::client_address() const { return config_.client_cidr.substr(0, config_.client_cidr.find('/')); }

SimResult<void> Topology::CutSync() {
  for (const auto& s : sync_ports_) TRY(Check({"ip", "link", "set", s, "down"}, SimErrc::kTopology));
  return {};
}

SimResult<void> Topology::RestoreSync() {
  for (const auto& s : sync_ports_) TRY(Check({"ip", "link", "set", s, "up"}, SimErrc::kTopology));
  return {};
}

SimResult<void> Topology::SetSyncLoss(double percent) {
  for (const auto& s : sync_ports_) {
    if (percent <= 0) {
      (void)RunCommand({"tc", "qdisc", "del", "dev", s, "root"});
      continue;
    }
    char loss[32];
    std::snprintf(loss, sizeof loss, "%g%%", percent);
    TRY(Check({"tc", "qdisc", "replace", "dev", s, "root", "netem", "loss", loss}, SimErrc::kTopology));
  }
  return {};
}

void Topology::Destroy() {
  if (!built_) return;
  built_ = false;
  // Deleting a veth end deletes its peer; the namespace takes the bridge, the
  // TAPs and the LAN ends with it.
  for (const auto& s : sync_ports_) (void)RunCommand({"ip", "link", "del", s});
  for (const auto& c : client_ports_) (void)RunCommand({"ip", "link", "del", c});
  (void)RunCommand({"ip", "netns", "del", lan_netns_});
}

Topology::~Topology() { Destroy(); }

bool InNetns(const std::string& netns, const std::function<void()>& fn) {
  bool ok = false;
  std::thread t([&] {
    const int fd = open(("/var/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    // setns changes only this thread's namespace; the thread ends right after.
    ok = setns(fd, CLONE_NEWNET) == 0;
    close(fd);
    if (ok) fn();
  });
  t.join();
  return ok;
}

}  // namespace twinstep::sim
