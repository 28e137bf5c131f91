// The core planner (see plan.h). Pure: reads only the Topology it is given.
#include "cli/tune/plan.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace twinstep::tune {
namespace {

std::string NodeText(int numa) { return numa < 0 ? "an unknown NUMA node" : "NUMA node " + std::to_string(numa); }

std::string NicList(const Topology& t) {
  if (t.nics.empty()) return "none";
  std::string out;
  for (const auto& n : t.nics) {
    out += (out.empty() ? "" : ", ") + n.pci + (n.management ? " (" + n.netdevs.front() + ", the default route)" : "");
  }
  return out;
}

Expected<const Nic*, PlanError> FindRequested(const Topology& t, const std::string& pci, const char* which) {
  if (pci.empty()) return static_cast<const Nic*>(nullptr);
  const Nic* nic = t.FindNic(pci);
  if (!nic) {
    return MakeUnexpected(PlanError{PlanErrc::kUnknownPci, std::string(which) + " port " + pci +
                                                             " is not a network PCI function of " + t.source +
                                                             " (network functions: " + NicList(t) + ")"});
  }
  return nic;
}

// The best partner for `taken` (or the best pair when it is null): not the
// management port, DPDK-bound first, on the same NUMA node.
const Nic* PickPort(const Topology& t, const Nic* taken, int want_numa) {
  const Nic* best = nullptr;
  auto score = [&](const Nic& n) {
    return (n.dpdk_bound ? 4 : 0) + (n.netdevs.empty() ? 2 : 0) + (want_numa < 0 || n.numa == want_numa ? 8 : 0);
  };
  for (const auto& n : t.nics) {
    if (&n == taken || n.management) continue;
    if (!best || score(n) > score(*best)) best = &n;
  }
  return best;
}

struct Ports {
  const Nic* client = nullptr;
  const Nic* sync = nullptr;
};

Expected<Ports, PlanError> ChoosePorts(const Topology& t, const PlanRequest& req, std::vector<std::string>& notes) {
  auto client = FindRequested(t, req.client_pci, "client");
  if (!client) return MakeUnexpected(client.error());
  auto sync = FindRequested(t, req.sync_pci, "sync");
  if (!sync) return MakeUnexpected(sync.error());
  Ports p{*client, *sync};
  if (p.client && p.client == p.sync) {
    return MakeUnexpected(PlanError{PlanErrc::kSamePort, "client and sync are both " + p.client->pci});
  }
  if (!p.client && !p.sync) {
    // The NUMA node with the most free ports (DPDK-bound ones counting double).
    std::map<int, int> weight;
    for (const auto& n : t.nics) {
      if (!n.management) weight[n.numa] += n.dpdk_bound ? 3 : 2;
    }
    int numa = -1, best = 0;
    for (const auto& [node, w] : weight) {
      if (w > best) numa = node, best = w;
    }
    p.sync = PickPort(t, nullptr, numa);  // the sync link matters most: DPDK-bound first
    if (p.sync) p.client = PickPort(t, p.sync, p.sync->numa);
  } else if (!p.client) {
    p.client = PickPort(t, p.sync, p.sync->numa);
  } else if (!p.sync) {
    p.sync = PickPort(t, p.client, p.client->numa);
  }
  for (const Nic* n : {p.client, p.sync}) {
    if (n && n->management) {
      notes.push_back(n->pci + " carries the default route: binding it to DPDK cuts this host off the network");
    }
  }
  if (!p.client || !p.sync) {
    notes.push_back("no two network ports free for DPDK (network functions: " + NicList(t) +
                    "): ports become DPDK virtual devices, eal_mode = simulation");
    return Ports{};
  }
  if (p.client->numa != p.sync->numa) {
    notes.push_back("client and sync ports sit on different NUMA nodes; each poll loop follows its own port");
  }
  return p;
}

// Hands out CPUs of a topology, whole cores or single hardware threads.
class CpuPool {
 public:
  explicit CpuPool(const Topology& t) : t_(t), used_(t.cores.size(), false) {}
  // The first free core on `numa` (any node when -1).
  std::optional<size_t> TakeCore(int numa) {
    for (size_t i = 0; i < t_.cores.size(); ++i) {
      if (!used_[i] && (numa < 0 || t_.cores[i].numa == numa)) {
        used_[i] = true;
        return i;
      }
    }
    return std::nullopt;
  }
  // Free hardware threads, those on `numa` first.
  std::vector<int> FreePus(int numa) const {
    std::vector<int> near, far;
    for (size_t i = 0; i < t_.cores.size(); ++i) {
      if (used_[i]) continue;
      auto& dst = (numa < 0 || t_.cores[i].numa == numa) ? near : far;
      dst.insert(dst.end(), t_.cores[i].pus.begin(), t_.cores[i].pus.end());
    }
    near.insert(near.end(), far.begin(), far.end());
    return near;
  }

 private:
  const Topology& t_;
  std::vector<bool> used_;
};

int NumaOfPu(const Topology& t, int pu) {
  const Core* c = t.CoreOf(pu);
  return c ? c->numa : -1;
}

// Every role on dedicated CPUs; nullopt when the machine is too small.
std::optional<Plan> DedicatedPlan(const Topology& t, const PlanRequest& req, const Ports& ports) {
  Plan plan;
  CpuPool pool(t);
  auto hk = pool.TakeCore(-1);
  if (!hk) return std::nullopt;
  const Core& hk_core = t.cores[*hk];
  for (int pu : hk_core.pus) {
    plan.cpus.push_back({pu, CpuRole::kHousekeeping, -1,
                         pu == hk_core.pus.front() ? "first core: the OS's timers and unmovable interrupts land here"
                                                   : "SMT sibling of the housekeeping core"});
    plan.housekeeping_cpus.push_back(pu);
  }
  plan.main_lcore = hk_core.pus.back();
  plan.cpus.push_back({plan.main_lcore, CpuRole::kDataplaneMain, -1,
                       "EAL main lcore does control only, so it shares the housekeeping core"});

  const int client_numa = ports.client ? ports.client->numa : -1;
  const int sync_numa = ports.sync ? ports.sync->numa : -1;
  const struct {
    CpuRole role;
    int numa;
    const char* what;
  } loops[] = {{CpuRole::kPollClient, client_numa, "client"}, {CpuRole::kPollSync, sync_numa, "sync"}};
  for (const auto& loop : loops) {
    auto core = pool.TakeCore(loop.numa);
    if (!core) return std::nullopt;
    const Core& c = t.cores[*core];
    const std::string where = loop.numa >= 0 ? "on " + NodeText(loop.numa) + ", local to the " + loop.what + " NIC"
                                             : "no NIC to be local to";
    plan.cpus.push_back({c.pus.front(), loop.role, -1,
                         std::string(loop.what) + " poll loop, alone on its physical core, " + where});
    plan.poll_lcores.push_back(c.pus.front());
    for (size_t i = 1; i < c.pus.size(); ++i) {
      plan.cpus.push_back({c.pus[i], CpuRole::kIdleSibling, -1,
                           std::string("SMT sibling of the ") + loop.what + " poll loop: left idle"});
      plan.isolated_cpus.push_back(c.pus[i]);
    }
    plan.isolated_cpus.push_back(c.pus.front());
  }

  const int guest_numa = sync_numa >= 0 ? sync_numa : NumaOfPu(t, plan.poll_lcores.back());
  std::vector<int> free = pool.FreePus(guest_numa);
  if (static_cast<int>(free.size()) < req.vcpus + 1) return std::nullopt;
  for (int v = 0; v <= req.vcpus; ++v) {
    const int pu = free[v];
    const int numa = NumaOfPu(t, pu);
    const std::string place = numa == guest_numa ? "on " + NodeText(numa) + " with the dataplane's buffers"
                                                 : "on " + NodeText(numa) + ": " + NodeText(guest_numa) + " is full";
    if (v < req.vcpus) {
      plan.cpus.push_back({pu, CpuRole::kVcpu, v, "vCPU " + std::to_string(v) + " " + place});
      plan.vcpu_cpus.push_back(pu);
    } else {
      plan.cpus.push_back({pu, CpuRole::kVmmIo, -1, "VMM device and I/O threads " + place});
      plan.io_cpus.push_back(pu);
    }
    plan.isolated_cpus.push_back(pu);
  }
  for (size_t i = req.vcpus + 1; i < free.size(); ++i) {
    plan.cpus.push_back({free[i], CpuRole::kHousekeeping, -1, "not needed by the node: left to the OS"});
    plan.housekeeping_cpus.push_back(free[i]);
  }
  plan.dedicated = true;
  return plan;
}

// Everything on few CPUs: one lcore runs every loop with adaptive back-off.
Plan SharedPlan(const Topology& t, const PlanRequest& req) {
  Plan plan;
  std::vector<int> pus;
  for (const auto& c : t.cores) pus.insert(pus.end(), c.pus.begin(), c.pus.end());
  std::sort(pus.begin(), pus.end());
  if (pus.empty()) pus.push_back(0);
  const int hk = pus.front();
  plan.main_lcore = pus.back();
  plan.housekeeping_cpus.push_back(hk);
  plan.cpus.push_back({hk, CpuRole::kHousekeeping, -1, "the OS and twinstep's control threads"});
  plan.cpus.push_back({hk, CpuRole::kVmmIo, -1, "VMM device and I/O threads share the housekeeping CPU"});
  plan.io_cpus.push_back(hk);
  plan.cpus.push_back({plan.main_lcore, CpuRole::kDataplaneMain, -1,
                       "one lcore runs the client, sync and guest loops with adaptive back-off"});
  const size_t first = pus.size() > 1 ? 1 : 0;
  for (int v = 0; v < req.vcpus; ++v) {
    const int pu = pus[first + v % (pus.size() - first)];
    plan.cpus.push_back({pu, CpuRole::kVcpu, v, "vCPU " + std::to_string(v) + " shares its CPU (no CPU to spare)"});
    plan.vcpu_cpus.push_back(pu);
  }
  return plan;
}

void AddHugepages(Plan& plan, int numa, int64_t mib) {
  constexpr int64_t kPageKib = 2048;
  for (auto& h : plan.hugepages) {
    if (h.numa == numa) {
      h.pages += mib * 1024 / kPageKib;
      return;
    }
  }
  plan.hugepages.push_back({numa, kPageKib, mib * 1024 / kPageKib});
}

}  // namespace

const char* CpuRoleName(CpuRole role) {
  switch (role) {
    case CpuRole::kHousekeeping: return "housekeeping";
    case CpuRole::kDataplaneMain: return "dataplane main";
    case CpuRole::kPollClient: return "poll client";
    case CpuRole::kPollSync: return "poll sync";
    case CpuRole::kIdleSibling: return "idle sibling";
    case CpuRole::kVcpu: return "vcpu";
    case CpuRole::kVmmIo: return "vmm/io";
  }
  return "?";
}

const char* PlanErrcMessage(PlanErrc code) {
  switch (code) {
    case PlanErrc::kUnknownPci: return "unknown PCI address";
    case PlanErrc::kSamePort: return "the client and sync ports must differ";
    case PlanErrc::kBadRequest: return "bad plan request";
  }
  return "unknown plan error";
}

std::string PlanError::Message() const {
  return detail.empty() ? PlanErrcMessage(code) : std::string(PlanErrcMessage(code)) + ": " + detail;
}

Expected<Plan, PlanError> MakePlan(const Topology& t, const PlanRequest& req) {
  if (req.vcpus < 1 || req.vcpus > 256) {
    return MakeUnexpected(PlanError{PlanErrc::kBadRequest, "vcpus must be 1..256, not " + std::to_string(req.vcpus)});
  }
  std::vector<std::string> notes;
  auto ports = ChoosePorts(t, req, notes);
  if (!ports) return MakeUnexpected(ports.error());
  const bool have_nics = ports->client && ports->sync;

  std::optional<Plan> dedicated = DedicatedPlan(t, req, *ports);
  Plan plan;
  if (dedicated) {
    plan = std::move(*dedicated);
  } else {
    plan = SharedPlan(t, req);
    const int need = 3 + (req.vcpus + 1);
    notes.push_back("only " + std::to_string(t.PuCount()) + " CPUs in " + std::to_string(t.cores.size()) +
                    " cores: a dedicated plan needs 1 housekeeping core, 2 poll-loop cores and " +
                    std::to_string(req.vcpus + 1) + " CPUs for vCPUs and the VMM (at least " + std::to_string(need) +
                    " cores), so every loop shares CPUs: a simulation plan");
  }
  plan.notes = std::move(notes);
  if (have_nics && plan.dedicated) {
    plan.eal_mode = "deployed";
    plan.client_pci = ports->client->pci;
    plan.sync_pci = ports->sync->pci;
    plan.nic_numa = ports->sync->numa;
    plan.dataplane_hugepages_mib = kDataplaneHugepagesMib;
    AddHugepages(plan, std::max(0, plan.nic_numa), kDataplaneHugepagesMib);
    AddHugepages(plan, std::max(0, NumaOfPu(t, plan.vcpu_cpus.front())), req.guest_memory_mib);
  } else {
    plan.eal_mode = "simulation";
    if (have_nics) plan.notes.push_back("NICs " + ports->client->pci + " and " + ports->sync->pci + " are left unused");
  }
  std::sort(plan.cpus.begin(), plan.cpus.end(),
            [](const CpuAssignment& a, const CpuAssignment& b) { return a.cpu < b.cpu; });
  std::sort(plan.housekeeping_cpus.begin(), plan.housekeeping_cpus.end());
  std::sort(plan.isolated_cpus.begin(), plan.isolated_cpus.end());
  return plan;
}

config::NodeConfig ConfigFromPlan(const Plan& plan, const PlanRequest& req, config::NodeConfig c) {
  auto to64 = [](const std::vector<int>& v) { return std::vector<int64_t>(v.begin(), v.end()); };
  c.node.name = req.node_name;
  c.node.housekeeping_cpus = to64(plan.housekeeping_cpus);
  c.dataplane.eal_mode = plan.eal_mode;
  c.dataplane.main_lcore = plan.main_lcore;
  c.dataplane.lcores = to64(plan.poll_lcores);
  c.dataplane.poll_mode = plan.dedicated ? "busy" : "adaptive";
  c.dataplane.file_prefix = "twinstep-" + req.node_name;
  c.dataplane.hugepage_size_kib = 2048;
  c.dataplane.hugepages_mib = plan.dataplane_hugepages_mib;
  c.dataplane.numa_node = plan.nic_numa;
  if (plan.eal_mode == "deployed") {
    c.dataplane.client = {plan.client_pci, ""};
    c.dataplane.sync = {plan.sync_pci, ""};
  } else {
    c.dataplane.sync.args = "role=server,id=0,socket=/run/twinstep/" + req.node_name + "-sync.sock";
  }
  c.guest.vcpus = req.vcpus;
  c.guest.memory_mib = req.guest_memory_mib;
  c.guest.hugepages = plan.eal_mode == "deployed";
  c.guest.vcpu_cpus = to64(plan.vcpu_cpus);
  c.guest.io_cpus = to64(plan.io_cpus);
  return c;
}

}  // namespace twinstep::tune
