// Table and JSON renderings of a TuneReport.
#include "cli/tune/report.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

namespace twinstep::tune {
namespace {

std::string Bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(b) / (1ull << 30));
  } else if (b >= (1ull << 20)) {
    std::snprintf(buf, sizeof buf, "%.0f MiB", static_cast<double>(b) / (1ull << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%.0f KiB", static_cast<double>(b) / 1024);
  }
  return buf;
}

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string Hex4(uint16_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04x", v);
  return buf;
}

std::string NicDriver(const Nic& n) {
  std::string d = n.driver.empty() ? "driver unknown" : n.driver;
  if (n.dpdk_bound) d += " (DPDK)";
  return d;
}

void Topo(std::ostringstream& out, const Topology& t) {
  int smt = 1;
  for (const auto& c : t.cores) smt = std::max(smt, static_cast<int>(c.pus.size()));
  out << "Topology (" << t.source << ")\n";
  out << "  " << t.packages.size() << " package(s), " << t.numa_nodes.size() << " NUMA node(s), " << t.cores.size()
      << " cores, " << t.PuCount() << " CPUs (" << smt << " thread(s) per core)\n";
  for (const auto& p : t.packages) {
    out << "  package " << p.os_index << ": CPUs " << CpuListString(p.pus);
    if (!p.model.empty()) out << ", " << p.model;
    out << "\n";
  }
  for (const auto& n : t.numa_nodes) {
    out << "  NUMA node " << n.os_index << ": CPUs " << CpuListString(n.pus) << ", " << Bytes(n.memory_bytes) << "\n";
  }
  if (!t.caches.empty()) {
    out << "  caches:";
    for (const auto& c : t.caches) out << " " << c.name << " " << Bytes(c.size_bytes) << " x" << c.count;
    out << "\n";
  }
  if (t.nics.empty()) out << "  network PCI functions: none\n";
  for (const auto& n : t.nics) {
    out << "  NIC " << n.pci << " [" << Hex4(n.vendor) << ":" << Hex4(n.device) << "] "
        << (n.numa >= 0 ? "NUMA node " + std::to_string(n.numa) : "NUMA node unknown") << ", local CPUs "
        << CpuListString(n.local_pus) << ", " << NicDriver(n);
    for (const auto& ifname : n.netdevs) out << ", " << ifname;
    if (n.link_speed_mbps > 0) out << " " << n.link_speed_mbps << " Mb/s";
    if (n.management) out << " (default route)";
    out << "\n";
  }
}

void PlanTable(std::ostringstream& out, const Plan& p) {
  out << "\nCore plan: " << p.eal_mode << (p.dedicated ? ", dedicated cores" : ", shared CPUs") << "\n";
  if (!p.client_pci.empty()) {
    out << "  ports: client " << p.client_pci << ", sync " << p.sync_pci << " (NUMA node " << p.nic_numa << ")\n";
  }
  for (const auto& n : p.notes) out << "  note: " << n << "\n";
  out << "  " << Pad("CPUs", 8) << Pad("role", 16) << "reason\n";
  // Consecutive CPUs with the same role and reason share one row.
  for (size_t i = 0; i < p.cpus.size();) {
    const CpuAssignment& a = p.cpus[i];
    size_t j = i;
    while (j + 1 < p.cpus.size() && p.cpus[j + 1].cpu == p.cpus[j].cpu + 1 && p.cpus[j + 1].role == a.role &&
           p.cpus[j + 1].reason == a.reason) {
      ++j;
    }
    std::string cpus = std::to_string(a.cpu) + (j > i ? "-" + std::to_string(p.cpus[j].cpu) : "");
    std::string role = CpuRoleName(a.role);
    if (a.role == CpuRole::kVcpu) role += " " + std::to_string(a.vcpu);
    out << "  " << Pad(cpus, 8) << Pad(role, 16) << a.reason << "\n";
    i = j + 1;
  }
  for (const auto& h : p.hugepages) {
    out << "  hugepages: node " << h.numa << " needs " << h.pages << " x " << h.size_kib << " KiB\n";
  }
}

}  // namespace

std::string RenderTable(const TuneReport& r) {
  std::ostringstream out;
  Topo(out, r.topology);
  PlanTable(out, r.plan);
  out << "\nHost checks\n";
  if (!r.checks_run) out << "  skipped: " << r.checks_skipped << "\n";
  for (const auto& c : r.checks) {
    out << "  " << Pad(CheckStatusName(c.status), 6) << Pad(c.name, 16) << c.found << "\n";
    if (!c.fix.empty()) out << "  " << Pad("", 6) << Pad("", 16) << "fix: " << c.fix << "\n";
  }
  out << "\nMicro-benchmarks\n";
  if (!r.benches_skipped.empty()) out << "  skipped: " << r.benches_skipped << "\n";
  for (const auto& b : r.benches) {
    out << "  " << Pad(b.name, 52);
    if (b.available) {
      char v[32];
      std::snprintf(v, sizeof v, "%.2f %s", b.value, b.unit.c_str());
      out << v << "  (" << b.detail << ")\n";
    } else {
      out << b.detail << "\n";
    }
  }
  if (r.applied) {
    out << "\nApplied\n";
    if (r.apply_actions.empty()) out << "  nothing to apply: the plan needs no hugepages\n";
    for (const auto& a : r.apply_actions) out << "  " << (a.ok ? "ok    " : "FAIL  ") << a.what << ": " << a.detail << "\n";
    out << (r.kernel_params.empty() ? "  no kernel parameter needs a reboot\n"
                                    : "  needs a reboot: add to the kernel command line (GRUB_CMDLINE_LINUX in "
                                      "/etc/default/grub, then update-grub):\n    " + r.kernel_params + "\n");
  } else if (!r.kernel_params.empty()) {
    out << "\nKernel command line to add (reboot): " << r.kernel_params << "\n";
  }
  if (!r.config_path.empty()) out << "\nWrote node config " << r.config_path << "\n";
  return out.str();
}

std::string RenderJson(const TuneReport& r) {
  using nlohmann::json;
  json j;
  const Topology& t = r.topology;
  json topo{{"source", t.source}, {"cpus", t.PuCount()}};
  for (const auto& p : t.packages) topo["packages"].push_back({{"os_index", p.os_index}, {"cpus", p.pus}, {"model", p.model}});
  for (const auto& n : t.numa_nodes) {
    topo["numa_nodes"].push_back({{"os_index", n.os_index}, {"cpus", n.pus}, {"memory_bytes", n.memory_bytes}});
  }
  for (const auto& c : t.cores) topo["cores"].push_back({{"package", c.package}, {"numa", c.numa}, {"cpus", c.pus}});
  for (const auto& c : t.caches) topo["caches"].push_back({{"name", c.name}, {"size_bytes", c.size_bytes}, {"count", c.count}});
  topo["nics"] = json::array();
  for (const auto& n : t.nics) {
    topo["nics"].push_back({{"pci", n.pci}, {"vendor", Hex4(n.vendor)}, {"device", Hex4(n.device)}, {"numa", n.numa},
                            {"local_cpus", n.local_pus}, {"netdevs", n.netdevs}, {"driver", n.driver},
                            {"dpdk_bound", n.dpdk_bound}, {"management", n.management},
                            {"link_speed_mbps", n.link_speed_mbps}});
  }
  j["topology"] = topo;
  const Plan& p = r.plan;
  json plan{{"eal_mode", p.eal_mode}, {"dedicated", p.dedicated}, {"notes", p.notes}, {"client_pci", p.client_pci},
            {"sync_pci", p.sync_pci}, {"nic_numa", p.nic_numa}, {"main_lcore", p.main_lcore},
            {"poll_lcores", p.poll_lcores}, {"vcpu_cpus", p.vcpu_cpus}, {"io_cpus", p.io_cpus},
            {"housekeeping_cpus", p.housekeeping_cpus}, {"isolated_cpus", p.isolated_cpus}};
  plan["cpus"] = json::array();
  for (const auto& a : p.cpus) {
    json e{{"cpu", a.cpu}, {"role", CpuRoleName(a.role)}, {"reason", a.reason}};
    if (a.role == CpuRole::kVcpu) e["vcpu"] = a.vcpu;
    plan["cpus"].push_back(e);
  }
  plan["hugepages"] = json::array();
  for (const auto& h : p.hugepages) plan["hugepages"].push_back({{"numa", h.numa}, {"size_kib", h.size_kib}, {"pages", h.pages}});
  j["plan"] = plan;
  j["checks"] = json::array();
  for (const auto& c : r.checks) {
    j["checks"].push_back({{"name", c.name}, {"status", CheckStatusName(c.status)}, {"found", c.found}, {"fix", c.fix},
                           {"kernel_params", c.kernel_params}});
  }
  if (!r.checks_run) j["checks_skipped"] = r.checks_skipped;
  j["benchmarks"] = json::array();
  for (const auto& b : r.benches) {
    json e{{"name", b.name}, {"available", b.available}, {"detail", b.detail}};
    if (b.available) e["value"] = b.value, e["unit"] = b.unit;
    j["benchmarks"].push_back(e);
  }
  if (!r.benches_skipped.empty()) j["benchmarks_skipped"] = r.benches_skipped;
  if (r.applied) {
    j["applied"] = json::array();
    for (const auto& a : r.apply_actions) j["applied"].push_back({{"what", a.what}, {"ok", a.ok}, {"detail", a.detail}});
  }
  j["kernel_params"] = r.kernel_params;
  if (!r.config_path.empty()) j["config_written"] = r.config_path;
  return j.dump(2) + "\n";
}

}  // namespace twinstep::tune
