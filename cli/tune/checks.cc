// Host checks and --apply (see checks.h).
#include "cli/tune/checks.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace twinstep::tune {
namespace {

namespace fs = std::filesystem;

std::string ReadLine(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  if (in) std::getline(in, line);
  return line;
}

int64_t ReadInt(const fs::path& p, int64_t fallback = -1) {
  const std::string s = ReadLine(p);
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  return (s.empty() || end == s.c_str()) ? fallback : v;
}

fs::path NodeHugepages(const HostPaths& paths, int numa, int64_t size_kib) {
  return fs::path(paths.sysfs) / ("devices/system/node/node" + std::to_string(numa)) /
         ("hugepages/hugepages-" + std::to_string(size_kib) + "kB/nr_hugepages");
}

// The value of `name=` on the kernel command line, or "" when absent.
std::string CmdlineValue(const std::string& cmdline, const std::string& name) {
  std::istringstream words(cmdline);
  std::string w;
  while (words >> w) {
    if (w.rfind(name + "=", 0) == 0) return w.substr(name.size() + 1);
  }
  return "";
}

bool Covers(const std::vector<int>& have, const std::vector<int>& want) {
  for (int cpu : want) {
    if (std::find(have.begin(), have.end(), cpu) == have.end()) return false;
  }
  return true;
}

HostCheck CheckHugepages(const Plan& plan, const HostPaths& paths) {
  HostCheck c{"hugepages"};
  std::ostringstream found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(paths.sysfs) / "kernel/mm/hugepages", ec)) {
    const std::string name = entry.path().filename().string();  // hugepages-2048kB
    found << (found.tellp() > 0 ? "; " : "") << name.substr(10) << ": " << ReadInt(entry.path() / "nr_hugepages", 0)
          << " pages, " << ReadInt(entry.path() / "free_hugepages", 0) << " free";
    // The same size on each NUMA node.
    std::error_code node_ec;
    std::vector<std::string> nodes;
    for (const auto& node : fs::directory_iterator(fs::path(paths.sysfs) / "devices/system/node", node_ec)) {
      const std::string node_name = node.path().filename().string();
      if (node_name.rfind("node", 0) != 0 || !std::isdigit(static_cast<unsigned char>(node_name.back()))) continue;
      const int64_t n = ReadInt(node.path() / "hugepages" / name / "nr_hugepages", -1);
      if (n >= 0) nodes.push_back(node_name + " " + std::to_string(n));
    }
    std::sort(nodes.begin(), nodes.end());
    for (size_t i = 0; i < nodes.size(); ++i) found << (i ? ", " : " (") << nodes[i] << (i + 1 == nodes.size() ? ")" : "");
  }
  c.found = found.str().empty() ? "no hugepage support" : found.str();
  if (plan.hugepages.empty()) {
    c.status = CheckStatus::kInfo;
    c.found += " (the simulation plan runs without hugepages)";
    return c;
  }
  c.status = CheckStatus::kOk;
  std::ostringstream fix, params;
  int64_t total_pages = 0;
  for (const auto& need : plan.hugepages) {
    const int64_t have = ReadInt(NodeHugepages(paths, need.numa, need.size_kib), 0);
    total_pages += need.pages;
    c.found += "; node" + std::to_string(need.numa) + " has " + std::to_string(have) + ", needs " +
               std::to_string(need.pages);
    if (have < need.pages) {
      c.status = CheckStatus::kFail;
      fix << (fix.tellp() > 0 ? "; " : "") << "echo " << need.pages << " > "
          << NodeHugepages(paths, need.numa, need.size_kib).string();
    }
  }
  if (c.status == CheckStatus::kFail) {
    c.fix = "twinstep tune --apply, or " + fix.str() + " (at boot, if memory is fragmented: hugepagesz=2M hugepages=" +
            std::to_string(total_pages) + ")";
  }
  return c;
}

HostCheck CheckIsolation(const Plan& plan, const HostPaths& paths) {
  HostCheck c{"cpu isolation"};
  const std::string cmdline = ReadLine(fs::path(paths.procfs) / "cmdline");
  const char* kParams[] = {"isolcpus", "nohz_full", "rcu_nocbs"};
  std::ostringstream found, params;
  bool all = true;
  const std::string want = CpuListString(plan.isolated_cpus);
  for (const char* p : kParams) {
    const std::string v = CmdlineValue(cmdline, p);
    found << (found.tellp() > 0 ? ", " : "") << p << "=" << (v.empty() ? "(none)" : v);
    if (!Covers(ParseCpuList(v), plan.isolated_cpus)) {
      all = false;
      params << (params.tellp() > 0 ? " " : "") << p << "=" << (std::string(p) == "isolcpus" ? "managed_irq,domain," : "")
             << want;
    }
  }
  c.found = found.str();
  if (plan.isolated_cpus.empty()) {
    c.status = CheckStatus::kInfo;
    c.found += " (shared CPUs: nothing to isolate)";
  } else if (all) {
    c.status = CheckStatus::kOk;
  } else {
    c.status = CheckStatus::kFail;
    c.kernel_params = params.str();
    c.fix = "add to the kernel command line and reboot: " + c.kernel_params;
  }
  return c;
}

HostCheck CheckGovernor(const Plan& plan, const HostPaths& paths) {
  HostCheck c{"cpu governor"};
  std::map<std::string, int> governors;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(paths.sysfs) / "devices/system/cpu", ec)) {
    const std::string g = ReadLine(entry.path() / "cpufreq/scaling_governor");
    if (!g.empty()) governors[g]++;
  }
  if (governors.empty()) {
    c.status = CheckStatus::kInfo;
    c.found = "no cpufreq: the hypervisor or the firmware sets the frequency";
    return c;
  }
  for (const auto& [g, n] : governors) c.found += (c.found.empty() ? "" : ", ") + g + " on " + std::to_string(n) + " CPUs";
  const bool all_performance = governors.size() == 1 && governors.count("performance");
  c.status = all_performance ? CheckStatus::kOk : (plan.dedicated ? CheckStatus::kWarn : CheckStatus::kInfo);
  if (!all_performance) c.fix = "cpupower frequency-set -g performance (poll loops and vCPUs want a steady clock)";
  return c;
}

HostCheck CheckIommu(const Plan& plan, const HostPaths& paths) {
  HostCheck c{"iommu + vfio"};
  std::error_code ec;
  int iommus = 0;
  for (auto it = fs::directory_iterator(fs::path(paths.sysfs) / "class/iommu", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    ++iommus;
  }
  const bool vfio_dev = fs::exists(fs::path(paths.dev) / "vfio/vfio", ec);
  const bool vfio_pci = fs::exists(fs::path(paths.sysfs) / "bus/pci/drivers/vfio-pci", ec);
  c.found = std::to_string(iommus) + " IOMMU(s), /dev/vfio/vfio " + (vfio_dev ? "present" : "absent") +
            ", vfio-pci driver " + (vfio_pci ? "loaded" : "not loaded");
  const bool deployed = plan.eal_mode == "deployed";
  if (iommus > 0 && vfio_dev && vfio_pci) {
    c.status = CheckStatus::kOk;
    return c;
  }
  c.status = deployed ? CheckStatus::kFail : CheckStatus::kInfo;
  if (!deployed) c.found += " (simulation needs neither)";
  if (iommus == 0) {
    c.kernel_params = "intel_iommu=on iommu=pt";
    c.fix = "add intel_iommu=on iommu=pt (AMD: amd_iommu=on iommu=pt) to the kernel command line and reboot";
  }
  if (!vfio_dev || !vfio_pci) c.fix += std::string(c.fix.empty() ? "" : "; ") + "modprobe vfio-pci";
  return c;
}

HostCheck CheckNicBinding(const Topology& t, const Plan& plan) {
  HostCheck c{"nic binding"};
  if (plan.client_pci.empty()) {
    c.status = CheckStatus::kInfo;
    c.found = "no NIC ports planned: the ports are DPDK virtual devices";
    return c;
  }
  c.status = CheckStatus::kOk;
  for (const std::string& pci : {plan.client_pci, plan.sync_pci}) {
    const Nic* nic = t.FindNic(pci);
    const std::string driver = nic && !nic->driver.empty() ? nic->driver : "unknown driver";
    c.found += (c.found.empty() ? "" : ", ") + pci + " " + driver;
    if (!nic || !nic->dpdk_bound) {
      c.status = CheckStatus::kFail;
      std::string down = nic && !nic->netdevs.empty() ? "ip link set " + nic->netdevs.front() + " down; " : "";
      c.fix += (c.fix.empty() ? "" : "; ") + down + "dpdk-devbind.py --bind=vfio-pci " + pci;
    }
  }
  return c;
}

HostCheck CheckKvm(const HostPaths& paths) {
  HostCheck c{"kvm"};
  const fs::path mod = fs::path(paths.sysfs) / "module";
  std::error_code ec;
  std::string module;
  for (const char* m : {"kvm_intel", "kvm_amd", "kvm_pvm"}) {
    if (fs::exists(mod / m, ec)) module = m;
  }
  const std::string dev = (fs::path(paths.dev) / "kvm").string();
  int api = -1;
  // KVM_GET_API_VERSION takes no argument and only reads the module's version.
  if (int fd = ::open(dev.c_str(), O_RDWR | O_CLOEXEC); fd >= 0) {
    api = ::ioctl(fd, KVM_GET_API_VERSION, 0);
    ::close(fd);
  }
  c.found = api == KVM_API_VERSION ? dev + " (API " + std::to_string(api) + ")" : dev + " not usable";
  c.found += ", module " + (module.empty() ? std::string("none") : module);
  if (api != KVM_API_VERSION) {
    c.status = CheckStatus::kFail;
    c.fix = "enable VT-x/AMD-V in the firmware and modprobe kvm_intel (or kvm_amd); give this user access to /dev/kvm";
    return c;
  }
  if (module == "kvm_pvm") {
    c.status = CheckStatus::kWarn;
    c.found += ": KVM in software (PVM), ring-0 guest code is emulated";
    c.fix = "the test guest runs here; Linux guests need hardware KVM (bare metal, or nested virtualization on)";
    return c;
  }
  const std::string nested = ReadLine(mod / module / "parameters/nested");
  c.found += ", nested " + (nested.empty() ? std::string("unknown") : nested);
  c.status = CheckStatus::kOk;
  return c;
}

HostCheck CheckMemlock(const Plan& plan, int64_t guest_memory_mib) {
  HostCheck c{"memlock limit"};
  rlimit lim{};
  ::getrlimit(RLIMIT_MEMLOCK, &lim);
  const int64_t need_mib = guest_memory_mib + plan.dataplane_hugepages_mib;
  const bool unlimited = lim.rlim_cur == RLIM_INFINITY;
  c.found = unlimited ? "unlimited" : std::to_string(lim.rlim_cur / 1024) + " KiB";
  c.found += ", needs " + std::to_string(need_mib) + " MiB (guest memory + DMA buffers)";
  const bool enough = unlimited || static_cast<int64_t>(lim.rlim_cur / (1024 * 1024)) >= need_mib;
  const bool deployed = plan.eal_mode == "deployed";
  c.status = enough ? CheckStatus::kOk : (deployed ? CheckStatus::kFail : CheckStatus::kInfo);
  if (!enough && !deployed) c.found += "; only deployed mode (VFIO DMA) locks memory";
  if (!enough) {
    c.fix = "ulimit -l unlimited, or LimitMEMLOCK=infinity in the systemd unit, or '* - memlock unlimited' in "
            "/etc/security/limits.conf";
  }
  return c;
}

HostCheck CheckLinkSpeed(const Topology& t, const Plan& plan) {
  HostCheck c{"nic link speed"};
  if (plan.client_pci.empty()) {
    c.status = CheckStatus::kInfo;
    for (const auto& n : t.nics) {
      for (const auto& ifname : n.netdevs) {
        c.found += (c.found.empty() ? "" : ", ") + ifname + " " +
                   (n.link_speed_mbps > 0 ? std::to_string(n.link_speed_mbps) + " Mb/s" : "speed unknown");
      }
    }
    c.found = (c.found.empty() ? "no NIC" : c.found) + " (no NIC port planned)";
    return c;
  }
  c.status = CheckStatus::kOk;
  for (const std::string& pci : {plan.client_pci, plan.sync_pci}) {
    const Nic* nic = t.FindNic(pci);
    const int64_t mbps = nic ? nic->link_speed_mbps : -1;
    c.found += (c.found.empty() ? "" : ", ") + pci + " " +
               (mbps > 0 ? std::to_string(mbps) + " Mb/s" : "unknown (DPDK reports it at start)");
    if (mbps > 0 && mbps < 10000) {
      c.status = CheckStatus::kWarn;
      c.fix = "use a 10 Gb/s or faster port: the sync link carries every input and checkpoint";
    }
  }
  return c;
}

}  // namespace

const char* CheckStatusName(CheckStatus status) {
  switch (status) {
    case CheckStatus::kOk: return "ok";
    case CheckStatus::kWarn: return "warn";
    case CheckStatus::kFail: return "FAIL";
    case CheckStatus::kInfo: return "info";
  }
  return "?";
}

std::vector<int> ParseCpuList(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty() || !std::isdigit(static_cast<unsigned char>(item[0]))) continue;  // flags
    const auto dash = item.find('-');
    const int lo = std::atoi(item.c_str());
    const int hi = dash == std::string::npos ? lo : std::atoi(item.c_str() + dash + 1);
    for (int cpu = lo; cpu <= hi && cpu - lo < 65536; ++cpu) out.push_back(cpu);
  }
  return out;
}

std::vector<HostCheck> RunHostChecks(const Topology& t, const Plan& plan, const HostPaths& paths,
                                     int64_t guest_memory_mib) {
  return {CheckHugepages(plan, paths), CheckIsolation(plan, paths), CheckGovernor(plan, paths),
          CheckIommu(plan, paths),     CheckNicBinding(t, plan),    CheckKvm(paths),
          CheckMemlock(plan, guest_memory_mib), CheckLinkSpeed(t, plan)};
}

std::string KernelParamsToAdd(const std::vector<HostCheck>& checks) {
  std::string out;
  for (const auto& c : checks) {
    if (c.status == CheckStatus::kFail && !c.kernel_params.empty()) out += (out.empty() ? "" : " ") + c.kernel_params;
  }
  return out;
}

std::vector<ApplyAction> ApplyHugepages(const Plan& plan, const HostPaths& paths) {
  std::vector<ApplyAction> out;
  for (const auto& need : plan.hugepages) {
    const fs::path file = NodeHugepages(paths, need.numa, need.size_kib);
    ApplyAction a{"hugepages on node" + std::to_string(need.numa) + ": " + std::to_string(need.pages) + " x " +
                  std::to_string(need.size_kib) + " KiB"};
    const int64_t have = ReadInt(file, -1);
    if (have < 0) {
      a.detail = "cannot read " + file.string();
    } else if (have >= need.pages) {
      a.ok = true;
      a.detail = "already " + std::to_string(have) + ", left as is";
    } else {
      std::ofstream(file) << need.pages << "\n";
      const int64_t now = ReadInt(file, -1);
      a.ok = now >= need.pages;
      a.detail = "wrote " + std::to_string(need.pages) + " to " + file.string() + ", the kernel now has " +
                 std::to_string(now) +
                 (a.ok ? "" : " (memory too fragmented or not root: reserve them at boot with hugepagesz=2M hugepages=N)");
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace twinstep::tune
