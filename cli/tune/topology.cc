// Reads a topology through hwloc, with I/O discovery on, into tune::Topology.
#include "cli/tune/topology.h"

#include <hwloc.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace twinstep::tune {
namespace {

namespace fs = std::filesystem;

struct TopologyDeleter {
  void operator()(hwloc_topology* t) const { hwloc_topology_destroy(t); }
};
using TopologyPtr = std::unique_ptr<hwloc_topology, TopologyDeleter>;

std::vector<int> BitmapToList(hwloc_const_bitmap_t set) {
  std::vector<int> out;
  if (!set) return out;
  unsigned i;
  hwloc_bitmap_foreach_begin(i, set) { out.push_back(static_cast<int>(i)); }
  hwloc_bitmap_foreach_end();
  return out;
}

int FirstOf(hwloc_const_bitmap_t set, int fallback) {
  if (!set) return fallback;
  int first = hwloc_bitmap_first(set);
  return first < 0 ? fallback : first;
}

std::string ReadFirstLine(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  if (in) std::getline(in, line);
  return line;
}

std::string PciAddress(const hwloc_obj_t obj) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%01x", obj->attr->pcidev.domain, obj->attr->pcidev.bus,
                obj->attr->pcidev.dev, obj->attr->pcidev.func);
  return buf;
}

// Interfaces with a default route in /proc/net/route format.
std::vector<std::string> DefaultRouteInterfaces(const std::string& route_table) {
  std::vector<std::string> out;
  std::ifstream in(route_table);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string iface, destination;
    if (fields >> iface >> destination && destination == "00000000") out.push_back(iface);
  }
  return out;
}

void FillFromSysfs(Nic& nic, const std::string& sysfs_root) {
  std::error_code ec;
  const fs::path dev = fs::path(sysfs_root) / "bus/pci/devices" / nic.pci;
  const fs::path driver = fs::read_symlink(dev / "driver", ec);
  if (!ec) nic.driver = driver.filename().string();
  nic.dpdk_bound = nic.driver == "vfio-pci" || nic.driver == "uio_pci_generic" || nic.driver == "igb_uio";
  // hwloc lists interfaces only for a live host; sysfs knows them too.
  if (nic.netdevs.empty()) {
    for (const auto& entry : fs::directory_iterator(dev / "net", ec)) {
      nic.netdevs.push_back(entry.path().filename().string());
    }
  }
  for (const auto& ifname : nic.netdevs) {
    const std::string speed = ReadFirstLine(fs::path(sysfs_root) / "class/net" / ifname / "speed");
    char* end = nullptr;
    long long v = std::strtoll(speed.c_str(), &end, 10);
    if (!speed.empty() && end && *end == '\0' && v > 0) nic.link_speed_mbps = v;
  }
}

void ReadCpus(hwloc_topology_t topo, Topology& t) {
  const int npkg = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
  for (int i = 0; i < npkg; ++i) {
    hwloc_obj_t pkg = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, i);
    Package p;
    p.os_index = static_cast<int>(pkg->os_index);
    if (const char* model = hwloc_obj_get_info_by_name(pkg, "CPUModel")) p.model = model;
    p.numa_nodes = BitmapToList(pkg->nodeset);
    p.pus = BitmapToList(pkg->cpuset);
    t.packages.push_back(std::move(p));
  }
  const int nnuma = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
  for (int i = 0; i < nnuma; ++i) {
    hwloc_obj_t node = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, i);
    NumaNode n;
    n.os_index = static_cast<int>(node->os_index);
    n.memory_bytes = node->attr ? node->attr->numanode.local_memory : 0;
    n.pus = BitmapToList(node->cpuset);
    t.numa_nodes.push_back(std::move(n));
  }
  // Cores; a machine that reports no cores gets one per hardware thread.
  const bool has_cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE) > 0;
  const hwloc_obj_type_t core_type = has_cores ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
  const int ncores = hwloc_get_nbobjs_by_type(topo, core_type);
  for (int i = 0; i < ncores; ++i) {
    hwloc_obj_t core = hwloc_get_obj_by_type(topo, core_type, i);
    Core c;
    hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, core);
    c.package = pkg ? static_cast<int>(pkg->os_index) : 0;
    c.numa = FirstOf(core->nodeset, 0);
    c.pus = BitmapToList(core->cpuset);
    t.cores.push_back(std::move(c));
  }
  const struct {
    hwloc_obj_type_t type;
    const char* name;
  } kCaches[] = {{HWLOC_OBJ_L1CACHE, "L1d"}, {HWLOC_OBJ_L2CACHE, "L2"}, {HWLOC_OBJ_L3CACHE, "L3"}};
  for (const auto& kind : kCaches) {
    const int n = hwloc_get_nbobjs_by_type(topo, kind.type);
    if (n <= 0) continue;
    hwloc_obj_t first = hwloc_get_obj_by_type(topo, kind.type, 0);
    t.caches.push_back({kind.name, first->attr->cache.size, n});
  }
}

void ReadNics(hwloc_topology_t topo, const TopologySource& source, Topology& t) {
  const std::vector<std::string> managed =
      source.route_table.empty() ? std::vector<std::string>{} : DefaultRouteInterfaces(source.route_table);
  for (hwloc_obj_t obj = hwloc_get_next_pcidev(topo, nullptr); obj; obj = hwloc_get_next_pcidev(topo, obj)) {
    if ((obj->attr->pcidev.class_id >> 8) != 0x02) continue;  // network controllers only
    Nic nic;
    nic.pci = PciAddress(obj);
    nic.vendor = obj->attr->pcidev.vendor_id;
    nic.device = obj->attr->pcidev.device_id;
    nic.pci_link_gbytes_s = obj->attr->pcidev.linkspeed;
    hwloc_obj_t local = hwloc_get_non_io_ancestor_obj(topo, obj);
    if (local) {
      nic.local_pus = BitmapToList(local->cpuset);
      if (local->nodeset && hwloc_bitmap_weight(local->nodeset) == 1) nic.numa = hwloc_bitmap_first(local->nodeset);
    }
    for (hwloc_obj_t child = obj->io_first_child; child; child = child->next_sibling) {
      if (child->type == HWLOC_OBJ_OS_DEVICE && child->attr->osdev.type == HWLOC_OBJ_OSDEV_NETWORK) {
        nic.netdevs.push_back(child->name ? child->name : "");
      }
    }
    if (!source.sysfs_root.empty()) FillFromSysfs(nic, source.sysfs_root);
    for (const auto& ifname : nic.netdevs) {
      nic.management |= std::find(managed.begin(), managed.end(), ifname) != managed.end();
    }
    t.nics.push_back(std::move(nic));
  }
}

}  // namespace

const char* TopologyErrcMessage(TopologyErrc code) {
  switch (code) {
    case TopologyErrc::kInit: return "hwloc could not be initialised";
    case TopologyErrc::kBadXml: return "cannot read the hwloc XML topology";
    case TopologyErrc::kBadSynthetic: return "bad hwloc synthetic topology description";
    case TopologyErrc::kLoad: return "hwloc could not load the topology";
  }
  return "unknown topology error";
}

std::string TopologyError::Message() const {
  return detail.empty() ? TopologyErrcMessage(code) : std::string(TopologyErrcMessage(code)) + ": " + detail;
}

int Topology::PuCount() const {
  int n = 0;
  for (const auto& c : cores) n += static_cast<int>(c.pus.size());
  return n;
}

const Core* Topology::CoreOf(int pu) const {
  for (const auto& c : cores) {
    if (std::find(c.pus.begin(), c.pus.end(), pu) != c.pus.end()) return &c;
  }
  return nullptr;
}

const Nic* Topology::FindNic(const std::string& pci) const {
  for (const auto& n : nics) {
    if (n.pci == pci) return &n;
  }
  return nullptr;
}

Expected<Topology, TopologyError> LoadTopology(const TopologySource& source) {
  auto fail = [](TopologyErrc code, std::string detail) {
    return MakeUnexpected(TopologyError{code, std::move(detail)});
  };
  hwloc_topology_t raw = nullptr;
  if (hwloc_topology_init(&raw) != 0) return fail(TopologyErrc::kInit, std::strerror(errno));
  TopologyPtr topo(raw);
  // Keep network and storage PCI functions and their OS devices (I/O discovery).
  hwloc_topology_set_io_types_filter(raw, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  Topology t;
  switch (source.kind) {
    case TopologySource::Kind::kHost:
      t.source = "this host";
      t.is_host = true;
      break;
    case TopologySource::Kind::kXml:
      t.source = "XML file " + source.arg;
      if (!fs::is_regular_file(source.arg)) return fail(TopologyErrc::kBadXml, source.arg + ": no such file");
      if (hwloc_topology_set_xml(raw, source.arg.c_str()) != 0) {
        return fail(TopologyErrc::kBadXml, source.arg + ": " + std::strerror(errno));
      }
      break;
    case TopologySource::Kind::kSynthetic:
      t.source = "synthetic '" + source.arg + "'";
      if (hwloc_topology_set_synthetic(raw, source.arg.c_str()) != 0) {
        return fail(TopologyErrc::kBadSynthetic, "'" + source.arg + "' (example: \"pack:2 core:8 pu:2\")");
      }
      break;
  }
  if (hwloc_topology_load(raw) != 0) {
    std::string what = source.kind == TopologySource::Kind::kXml ? source.arg + ": not a valid hwloc XML export: " : "";
    return fail(source.kind == TopologySource::Kind::kXml ? TopologyErrc::kBadXml : TopologyErrc::kLoad,
                what + std::strerror(errno));
  }
  ReadCpus(raw, t);
  ReadNics(raw, source, t);
  return t;
}

std::string CpuListString(std::vector<int> cpus) {
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace twinstep::tune
