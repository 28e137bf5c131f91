// The node config's option table (see node_config_options.h) and the rules
// that tie options together.
#include "cli/config/node_config_options.h"

#include <cctype>
#include <cstdio>
#include <sstream>

#include <toml++/toml.h>

namespace twinstep::config {
namespace {

// A captureless lambda returning a reference to one field; it converts to the
// matching *Ref function pointer.
#define TS_FIELD(member) [](NodeConfig& c) -> auto& { return c.member; }

constexpr int64_t kMaxCpu = 4095;

const char* CheckName(const std::string& v) {
  if (v.empty() || v.size() > 32) return "must be 1 to 32 characters";
  for (char ch : v) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') {
      return "may hold only letters, digits, '-', '_' and '.'";
    }
  }
  return nullptr;
}

const char* CheckPrefix(const std::string& v) {
  if (v.empty()) return "must not be empty";
  if (v.find('/') != std::string::npos) return "must not contain '/'";
  return nullptr;
}

const char* CheckEndpoint(const std::string& v) {
  if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
    return "must start with http:// or https://";
  }
  return nullptr;
}

const char* CheckIpv4(const std::string& v) {
  unsigned a, b, c, d;
  char tail;
  if (std::sscanf(v.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 || c > 255 ||
      d > 255) {
    return "must be a dotted IPv4 address (A.B.C.D)";
  }
  return nullptr;
}

const char* CheckMac(const std::string& v) {
  unsigned x[6];
  char tail;
  if (std::sscanf(v.c_str(), "%x:%x:%x:%x:%x:%x%c", &x[0], &x[1], &x[2], &x[3], &x[4], &x[5], &tail) != 6 ||
      v.size() != 17) {
    return "must be a MAC address (xx:xx:xx:xx:xx:xx)";
  }
  return nullptr;
}

const char* CheckDevice(const std::string& v) {
  if (v.empty()) return "must not be empty";
  if (v.find(',') != std::string::npos) return "must not contain ','; put PMD arguments in 'args'";
  return nullptr;
}

const OptionSpec kOptions[] = {
    {"node", "name", "Name of this node, unique within the pair; used in logs, the witness and file names",
     TS_FIELD(node.name), 0, 0, nullptr, CheckName},
    {"node", "id", "Number of this node within the pair (1 or 2): the witness owner and heartbeat sender id",
     TS_FIELD(node.id), 1, 2},
    {"node", "role", "auto: join the peer if it answers on the sync link, else cold-start through the witness; primary: cold-start only; secondary: join only",
     TS_FIELD(node.role), 0, 0, "auto|primary|secondary"},
    {"node", "housekeeping_cpus", "Host CPUs left to the OS, interrupts and twinstep's control threads (informational)",
     TS_FIELD(node.housekeeping_cpus), 0, kMaxCpu},
    {"node", "events", "JSON-lines event log (roles, joins, checkpoints, divergences); empty = none",
     TS_FIELD(node.events)},
    {"node", "control_socket", "Unix socket for `status`, `checkpoint` and fault injection; empty = none",
     TS_FIELD(node.control_socket)},

    {"dataplane", "eal_mode", "deployed: hugepages, PCI NICs, pinned lcores; simulation: --no-huge --no-pci with virtual devices",
     TS_FIELD(dataplane.eal_mode), 0, 0, "deployed|simulation"},
    {"dataplane", "main_lcore", "Host CPU of the DPDK main lcore (control; polls too when 'lcores' is empty)",
     TS_FIELD(dataplane.main_lcore), 0, kMaxCpu},
    {"dataplane", "lcores", "Host CPUs of the poll-loop lcores, one per port role; empty = the main lcore runs every loop",
     TS_FIELD(dataplane.lcores), 0, kMaxCpu},
    {"dataplane", "poll_mode", "busy: spin on dedicated cores; adaptive: back off when idle (shared cores, simulation)",
     TS_FIELD(dataplane.poll_mode), 0, 0, "busy|adaptive"},
    {"dataplane", "idle_spin_polls", "adaptive: empty polls after the last work before the first sleep (each spins a few hundred ns: catches what comes right after, at the cost of CPU the guests want on shared cores)",
     TS_FIELD(dataplane.idle_spin_polls), 0, 1000000},
    {"dataplane", "idle_min_sleep_us", "adaptive: the first sleep of an idle poll loop, in us, doubling up to idle_max_sleep_us (each sleep is a context switch; doorbells end it early for guest output and the peer's frames, not for the client port)",
     TS_FIELD(dataplane.idle_min_sleep_us), 1, 100000},
    {"dataplane", "idle_max_sleep_us", "adaptive: the longest sleep of an idle poll loop, in us (the latency an idle node adds to a packet vs its CPU use)",
     TS_FIELD(dataplane.idle_max_sleep_us), 1, 100000},
    {"dataplane", "file_prefix", "EAL --file-prefix, unique per node on one host",
     TS_FIELD(dataplane.file_prefix), 0, 0, nullptr, CheckPrefix},
    {"dataplane", "hugepage_size_kib", "Hugepage size for the dataplane's memory, in KiB (2048 or 1048576)",
     TS_FIELD(dataplane.hugepage_size_kib), 2048, 1048576, nullptr},
    {"dataplane", "hugepages_mib", "Hugepage memory the EAL reserves, in MiB; 0 in simulation (--no-huge)",
     TS_FIELD(dataplane.hugepages_mib), 0, 1048576},
    {"dataplane", "numa_node", "NUMA node of the NICs, where the dataplane's memory is taken; -1 = any",
     TS_FIELD(dataplane.numa_node), -1, 1023},
    {"dataplane.client", "device", "Client (LAN) port: PCI address when deployed, DPDK virtual device name in simulation",
     TS_FIELD(dataplane.client.device), 0, 0, nullptr, CheckDevice},
    {"dataplane.client", "args", "PMD device arguments of the client port (key=value,...)",
     TS_FIELD(dataplane.client.args)},
    {"dataplane.sync", "device", "Sync (peer) port: PCI address when deployed, DPDK virtual device name in simulation",
     TS_FIELD(dataplane.sync.device), 0, 0, nullptr, CheckDevice},
    {"dataplane.sync", "args", "PMD device arguments of the sync port (key=value,...)",
     TS_FIELD(dataplane.sync.args)},

    {"guest", "kind", "test: the project's freestanding test guest; linux: a bzImage + initrd (both on KVM); soft: the soft guest, no VM (machines without KVM)",
     TS_FIELD(guest.kind), 0, 0, "test|linux|soft"},
    {"guest", "memory_mib", "Guest memory, in MiB", TS_FIELD(guest.memory_mib), 16, 1048576},
    {"guest", "vcpus", "Number of guest vCPUs", TS_FIELD(guest.vcpus), 1, 256},
    {"guest", "kernel", "Linux bzImage (kind = linux)", TS_FIELD(guest.kernel)},
    {"guest", "initrd", "Linux initramfs (kind = linux); empty = none", TS_FIELD(guest.initrd)},
    {"guest", "cmdline", "Linux kernel command line (kind = linux)", TS_FIELD(guest.cmdline)},
    {"guest", "test_guest", "Test guest image (kind = test); empty = the one built with twinstep",
     TS_FIELD(guest.test_guest)},
    {"guest", "ip", "The guest's IPv4 address (the test guest's ip=; announced by gratuitous ARP at failover)",
     TS_FIELD(guest.ip), 0, 0, nullptr, CheckIpv4},
    {"guest", "mac", "The guest's MAC address, the same on both nodes (one guest)",
     TS_FIELD(guest.mac), 0, 0, nullptr, CheckMac},
    {"guest", "disk", "Raw disk image for virtio-blk; empty = no disk", TS_FIELD(guest.disk)},
    {"guest", "disk_readonly", "Attach the disk read-only", TS_FIELD(guest.disk_readonly)},
    {"guest", "hugepages", "Back guest memory with hugepages", TS_FIELD(guest.hugepages)},
    {"guest", "vcpu_cpus", "Host CPU for each vCPU thread, in vCPU order; empty = not pinned",
     TS_FIELD(guest.vcpu_cpus), 0, kMaxCpu},
    {"guest", "io_cpus", "Host CPUs for the VMM's device and I/O threads; empty = not pinned",
     TS_FIELD(guest.io_cpus), 0, kMaxCpu},

    {"replication", "comparator", "Output comparator backend: software, rtl (Verilator model) or xrt (FPGA card)",
     TS_FIELD(replication.comparator), 0, 0, "software|rtl|xrt"},
    {"replication", "checkpoint_period_ms", "Take a checkpoint at least this often, in ms (each pauses both guests for a few ms); 0 = only on divergence and the dirty bound",
     TS_FIELD(replication.checkpoint_period_ms), 0, 3600000},
    {"replication", "checkpoint_timeout_ms", "A peer that leaves a checkpoint step unanswered this long, in ms, while its heartbeats go on is reported dead to the supervisor (the witness decides)",
     TS_FIELD(replication.checkpoint_timeout_ms), 10, 600000},
    {"replication", "dirty_page_bound", "Take a checkpoint when this many 4 KiB guest pages are dirty; 0 = no bound",
     TS_FIELD(replication.dirty_page_bound), 0, 67108864},
    {"replication", "compare_timeout_us", "A held output whose peer record has not come within this many us is a divergence",
     TS_FIELD(replication.compare_timeout_us), 10, 10000000},
    {"replication", "heartbeat_interval_ms", "Heartbeat period on the sync link, both ways, in ms",
     TS_FIELD(replication.heartbeat_interval_ms), 1, 10000},
    {"replication", "heartbeat_miss_k", "A peer silent for this many heartbeat intervals is suspected (K)",
     TS_FIELD(replication.heartbeat_miss_k), 2, 1000},
    {"replication", "join_probe_ms", "At start, how long to look for a running peer to join before a cold start, in ms",
     TS_FIELD(replication.join_probe_ms), 10, 600000},

    {"witness", "endpoints", "etcd v3 endpoints (HTTP/JSON gateway) of the witness",
     TS_FIELD(witness.endpoints), 0, 0, nullptr, CheckEndpoint},
    {"witness", "lease_ttl_s", "TTL of the witness lease, in seconds", TS_FIELD(witness.lease_ttl_s), 1, 3600},
    {"witness", "pair", "Name of the pair at the witness: its owner and epoch keys live under /twinstep/<pair>/",
     TS_FIELD(witness.pair), 0, 0, nullptr, CheckName},
};

#undef TS_FIELD

const SectionSpec kSections[] = {
    {"node", "This node: its name, its role hint and the CPUs left to the OS."},
    {"dataplane", "The DPDK poll-mode dataplane: EAL mode, lcores, hugepages."},
    {"dataplane.client", "The client (LAN) port."},
    {"dataplane.sync", "The sync port, the direct link to the peer."},
    {"guest", "The protected guest VM."},
    {"replication", "Checkpoints, output comparison and failure detection."},
    {"witness", "The etcd witness that settles split brain."},
};

bool IsPciAddress(const std::string& v) {
  // DDDD:BB:DD.F, hexadecimal.
  if (v.size() != 12 || v[4] != ':' || v[7] != ':' || v[10] != '.') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11}) {
    if (!std::isxdigit(static_cast<unsigned char>(v[i]))) return false;
  }
  return true;
}

std::string Quote(const std::string& s) {
  std::ostringstream out;
  out << toml::value<std::string>(s);
  return out.str();
}

}  // namespace

std::span<const OptionSpec> Options() { return kOptions; }
std::span<const SectionSpec> Sections() { return kSections; }

std::string DottedKey(const OptionSpec& option) {
  return std::string(option.section) + "." + option.key;
}

const char* TypeName(const OptionSpec& option) {
  switch (option.ref.index()) {
    case 0: return "string";
    case 1: return "integer";
    case 2: return "boolean";
    case 3: return "list of integers";
    default: return "list of strings";
  }
}

std::string ValueAsToml(const OptionSpec& option, const NodeConfig& config) {
  NodeConfig c = config;  // the accessors take a mutable config
  std::ostringstream out;
  if (auto* r = std::get_if<StrRef>(&option.ref)) {
    out << Quote((*r)(c));
  } else if (auto* r = std::get_if<IntRef>(&option.ref)) {
    out << (*r)(c);
  } else if (auto* r = std::get_if<BoolRef>(&option.ref)) {
    out << ((*r)(c) ? "true" : "false");
  } else if (auto* r = std::get_if<IntListRef>(&option.ref)) {
    out << "[";
    const auto& list = (*r)(c);
    for (size_t i = 0; i < list.size(); ++i) out << (i ? ", " : "") << list[i];
    out << "]";
  } else if (auto* r = std::get_if<StrListRef>(&option.ref)) {
    out << "[";
    const auto& list = (*r)(c);
    for (size_t i = 0; i < list.size(); ++i) out << (i ? ", " : "") << Quote(list[i]);
    out << "]";
  }
  return out.str();
}

std::string RangeText(const OptionSpec& option) {
  if (option.choices) return option.choices;
  if (option.min != 0 || option.max != 0) {
    return std::to_string(option.min) + ".." + std::to_string(option.max);
  }
  return "";
}

namespace {

using Violations = std::vector<RuleViolation>;

// Each rule between options: its line in docs/config.md and its check.
struct RuleSpec {
  const char* doc;
  void (*check)(const NodeConfig& c, Violations& out);
};

const RuleSpec kRules[] = {
    {"`eal_mode = \"deployed\"`: both port devices are PCI addresses (DDDD:BB:DD.F); "
     "`eal_mode = \"simulation\"`: both are DPDK virtual devices (`net_...`).",
     [](const NodeConfig& c, Violations& out) {
       const bool deployed = c.dataplane.eal_mode == "deployed";
       for (const auto& [key, port] : {std::pair{"dataplane.client.device", &c.dataplane.client},
                                       std::pair{"dataplane.sync.device", &c.dataplane.sync}}) {
         if (deployed && !IsPciAddress(port->device)) {
           out.push_back({key, "'" + port->device + "' is not a PCI address (DDDD:BB:DD.F), which eal_mode = \"deployed\" needs"});
         } else if (!deployed && port->device.rfind("net_", 0) != 0) {
           out.push_back({key, "'" + port->device + "' is not a DPDK virtual device (net_...), which eal_mode = \"simulation\" needs"});
         }
       }
     }},
    {"The client and sync ports are different devices.",
     [](const NodeConfig& c, Violations& out) {
       if (c.dataplane.client.device == c.dataplane.sync.device) {
         out.push_back({"dataplane.sync.device", "the client and sync ports are the same device '" + c.dataplane.sync.device + "'"});
       }
     }},
    {"`hugepage_size_kib` is 2048 or 1048576; `eal_mode = \"deployed\"` needs `hugepages_mib` > 0.",
     [](const NodeConfig& c, Violations& out) {
       if (c.dataplane.hugepage_size_kib != 2048 && c.dataplane.hugepage_size_kib != 1048576) {
         out.push_back({"dataplane.hugepage_size_kib", std::to_string(c.dataplane.hugepage_size_kib) + " is neither 2048 nor 1048576"});
       }
       if (c.dataplane.eal_mode == "deployed" && c.dataplane.hugepages_mib == 0) {
         out.push_back({"dataplane.hugepages_mib", "0, but eal_mode = \"deployed\" needs hugepage memory"});
       }
     }},
    {"`main_lcore` is not one of `lcores`.",
     [](const NodeConfig& c, Violations& out) {
       for (int64_t lcore : c.dataplane.lcores) {
         if (lcore == c.dataplane.main_lcore) {
           out.push_back({"dataplane.lcores", "CPU " + std::to_string(lcore) + " is also the main lcore"});
           return;
         }
       }
     }},
    {"`guest.kind = \"linux\"` needs `guest.kernel`.",
     [](const NodeConfig& c, Violations& out) {
       if (c.guest.kind == "linux" && c.guest.kernel.empty()) {
         out.push_back({"guest.kernel", "empty, but kind = \"linux\" needs a bzImage"});
       }
     }},
    {"`guest.vcpu_cpus` is empty or names one CPU per vCPU.",
     [](const NodeConfig& c, Violations& out) {
       if (!c.guest.vcpu_cpus.empty() && static_cast<int64_t>(c.guest.vcpu_cpus.size()) != c.guest.vcpus) {
         out.push_back({"guest.vcpu_cpus", std::to_string(c.guest.vcpu_cpus.size()) + " CPUs for " +
                                               std::to_string(c.guest.vcpus) + " vCPUs; give one per vCPU or none"});
       }
     }},
    {"`witness.endpoints` is not empty.",
     [](const NodeConfig& c, Violations& out) {
       if (c.witness.endpoints.empty()) {
         out.push_back({"witness.endpoints", "empty; the witness needs at least one etcd endpoint"});
       }
     }},
};

}  // namespace

std::vector<RuleViolation> CheckRules(const NodeConfig& c) {
  Violations out;
  for (const auto& rule : kRules) rule.check(c, out);
  return out;
}

std::vector<const char*> RuleDocs() {
  std::vector<const char*> out;
  for (const auto& rule : kRules) out.push_back(rule.doc);
  return out;
}

}  // namespace twinstep::config
