// EAL set-up with plain errors (see eal.h).
#include "dataplane/eal.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "dataplane/guest_port.h"

namespace twinstep::dataplane {
namespace {

std::atomic<bool> g_eal_done{false};
::rte_mempool* g_pool = nullptr;
constexpr unsigned kPoolMbufs = 16383;
constexpr unsigned kPoolCache = 256;

Unexpected<EalError> Fail(EalErrc code, std::string detail) { return MakeUnexpected(EalError{code, std::move(detail)}); }

std::vector<int> AllLcores(const EalConfig& c) {
  std::vector<int> all = c.lcores;
  all.insert(all.begin(), c.main_lcore);
  return all;
}

std::string JoinLcores(const EalConfig& c) {
  std::string s = std::to_string(c.main_lcore);
  for (int l : c.lcores) s += "," + std::to_string(l);
  return s;
}

// Creating a pool writes each mbuf's header only; touch the data rooms now
// (control path) so that the first frames through them do not pay a page
// fault each: without hugepages every 4 KiB page is faulted in on first use,
// and the pool hands its mbufs out in ring order, so the first pass through a
// 16k-mbuf pool cost a fresh pair ~0.7 s of faults in its first second of load.
void TouchDataRooms(::rte_mempool* pool) {
  rte_mempool_obj_iter(
      pool,
      [](rte_mempool*, void*, void* obj, unsigned) {
        auto* m = static_cast<rte_mbuf*>(obj);
        std::memset(m->buf_addr, 0, m->buf_len);
      },
      nullptr);
}

}  // namespace

const char* EalErrcMessage(EalErrc e) {
  switch (e) {
    case EalErrc::kAlreadyInitialized: return "the DPDK EAL is already initialized in this process (one per process)";
    case EalErrc::kTooFewLcores: return "too few lcores for the dataplane's poll loops";
    case EalErrc::kLcoreUnavailable: return "an lcore is not a CPU this process may run on";
    case EalErrc::kFilePrefixInUse: return "the DPDK file prefix is in use by another running process";
    case EalErrc::kInitFailed: return "rte_eal_init failed";
    case EalErrc::kPortMissing: return "dataplane port not found";
    case EalErrc::kBadPortArgs: return "the poll-mode driver refused the port (bad driver name or argument)";
    case EalErrc::kPortSetup: return "port configuration failed";
    case EalErrc::kNoMemory: return "cannot allocate DPDK memory";
    case EalErrc::kBadConfig: return "bad dataplane configuration";
    case EalErrc::kFanoutCollision:
      return "the af_packet port's fanout group id is taken by another process (start the node again)";
  }
  return "unknown EAL error";
}

std::string EalError::Message() const {
  return detail.empty() ? EalErrcMessage(code) : std::string(EalErrcMessage(code)) + ": " + detail;
}

std::string RuntimeDir(const std::string& prefix) {
  // DPDK: /var/run/dpdk/<prefix> for root, $XDG_RUNTIME_DIR/dpdk/<prefix> (or /tmp) otherwise.
  if (getuid() == 0) return "/var/run/dpdk/" + prefix;
  const char* xdg = getenv("XDG_RUNTIME_DIR");
  return std::string(xdg ? xdg : "/tmp") + "/dpdk/" + prefix;
}

std::vector<std::string> BuildEalArgs(const EalConfig& c) {
  std::vector<std::string> a = {"twinstep"};
  if (c.mode == EalMode::kSimulation && !c.float_cpus.empty()) {
    // Shared cores: every lcore may run on any of these CPUs, so the threads
    // the process starts after rte_eal_init (which inherit the caller's
    // affinity) are not all pinned to the main lcore's CPU.
    std::string cpus;
    for (int cpu : c.float_cpus) cpus += (cpus.empty() ? "" : ",") + std::to_string(cpu);
    std::string map;
    for (int l : AllLcores(c)) map += (map.empty() ? "" : ",") + std::to_string(l) + "@(" + cpus + ")";
    a.insert(a.end(), {"--lcores", map});
  } else {
    a.insert(a.end(), {"-l", JoinLcores(c)});
  }
  a.insert(a.end(), {"--main-lcore", std::to_string(c.main_lcore), "--file-prefix", c.file_prefix, "--log-level",
                     c.log_level, "--no-telemetry"});
  if (c.mode == EalMode::kSimulation) {
    a.insert(a.end(), {"--no-huge", "-m", std::to_string(c.memory_mib), "--no-pci"});
  } else if (c.hugepages_mib > 0) {
    // --socket-mem lists every NUMA node up to ours.
    std::string mem;
    for (int n = 0; n <= std::max(c.numa_node, 0); ++n) {
      mem += (n ? "," : "") + std::to_string(n == std::max(c.numa_node, 0) ? c.hugepages_mib : 0);
    }
    a.insert(a.end(), {"--socket-mem", mem});
  }
  a.insert(a.end(), c.extra_args.begin(), c.extra_args.end());
  return a;
}

Expected<void, EalError> CheckLcores(const EalConfig& c) {
  const int have = 1 + static_cast<int>(c.lcores.size());
  if (have < c.required_lcores) {
    return Fail(EalErrc::kTooFewLcores, "need " + std::to_string(c.required_lcores) + ", configured " +
                                            std::to_string(have) + " (" + JoinLcores(c) +
                                            "); add lcores to dataplane.lcores or use poll_mode = \"adaptive\"");
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return {};
  std::set<int> seen;
  for (int l : AllLcores(c)) {
    if (l < 0 || l >= CPU_SETSIZE || !CPU_ISSET(l, &set)) {
      return Fail(EalErrc::kLcoreUnavailable,
                  "lcore " + std::to_string(l) + " (this process may use " + std::to_string(CPU_COUNT(&set)) + " CPUs)");
    }
    if (!seen.insert(l).second) return Fail(EalErrc::kBadConfig, "lcore " + std::to_string(l) + " listed twice");
  }
  return {};
}

Expected<void, EalError> CheckFilePrefix(const std::string& prefix) {
  if (prefix.empty() || prefix.find('/') != std::string::npos) {
    return Fail(EalErrc::kBadConfig, "file prefix '" + prefix + "' must be a non-empty name without '/'");
  }
  const std::string path = RuntimeDir(prefix) + "/config";
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return {};  // never used, or cleaned up
  // DPDK's primary process holds a write lock on its config file while it runs.
  struct flock lk = {};
  lk.l_type = F_WRLCK;
  lk.l_whence = SEEK_SET;
  const int rc = fcntl(fd, F_GETLK, &lk);
  close(fd);
  if (rc == 0 && lk.l_type != F_UNLCK) {
    return Fail(EalErrc::kFilePrefixInUse, "'" + prefix + "' is held by process " + std::to_string(lk.l_pid) +
                                               " (" + path + "); give each node its own dataplane.file_prefix");
  }
  return {};
}

bool RemoveRuntimeDir(const std::string& prefix) {
  if (!CheckFilePrefix(prefix)) return false;
  std::error_code ec;
  std::filesystem::remove_all(RuntimeDir(prefix), ec);
  return true;
}

bool EalInitialized() { return g_eal_done.load(); }
::rte_mempool* MbufPool() { return g_pool; }

::rte_mempool* JumboMbufPool() {
  // Sized for a sync port's RX ring plus a send window of frames in transit.
  constexpr unsigned kJumboMbufs = 4095;
  static std::mutex mu;
  static ::rte_mempool* pool = nullptr;
  std::lock_guard<std::mutex> lock(mu);
  if (!pool && g_pool) {
    pool = rte_pktmbuf_pool_create("twinstep_jumbo", kJumboMbufs, kPoolCache, 0,
                                   static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + kJumboMbufDataBytes),
                                   static_cast<int>(rte_socket_id()));
    if (pool) TouchDataRooms(pool);
  }
  return pool;
}

::rte_mempool* PoolForFrames(uint32_t frame_bytes) { return frame_bytes <= kMbufDataBytes ? g_pool : JumboMbufPool(); }

int g_input_seq_offset = -1;

Expected<void, EalError> InitEal(const EalConfig& c) {
  if (g_eal_done.exchange(true)) return Fail(EalErrc::kAlreadyInitialized, "");
  auto fail = [](Unexpected<EalError> e) {
    g_eal_done = false;
    return e;
  };
  if (auto r = CheckLcores(c); !r) return fail(MakeUnexpected(r.error()));
  if (auto r = CheckFilePrefix(c.file_prefix); !r) return fail(MakeUnexpected(r.error()));
  std::vector<std::string> args = BuildEalArgs(c);
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    // A failed rte_eal_init cannot be retried in this process.
    return Fail(EalErrc::kInitFailed, std::string(rte_strerror(rte_errno)) + " (EAL arguments were: " + [&] {
                                        std::string s;
                                        for (size_t i = 1; i < args.size(); ++i) s += (i > 1 ? " " : "") + args[i];
                                        return s;
                                      }() + ")");
  }
  g_pool = rte_pktmbuf_pool_create("twinstep_mbufs", kPoolMbufs, kPoolCache, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                   static_cast<int>(rte_socket_id()));
  if (!g_pool) return Fail(EalErrc::kNoMemory, "mbuf pool of " + std::to_string(kPoolMbufs) + " buffers: " + rte_strerror(rte_errno));
  TouchDataRooms(g_pool);
  rte_mbuf_dynfield field{};
  std::snprintf(field.name, sizeof field.name, "%s", kInputSeqFieldName);
  field.size = sizeof(uint64_t);
  field.align = alignof(uint64_t);
  g_input_seq_offset = rte_mbuf_dynfield_register(&field);
  if (g_input_seq_offset < 0) {
    return Fail(EalErrc::kNoMemory, std::string("mbuf dynamic field for input sequence numbers: ") + rte_strerror(rte_errno));
  }
  return {};
}

uint32_t AfPacketFanoutArg(unsigned ifindex) {
  const uint32_t id = (static_cast<unsigned>(getpid()) ^ ifindex) & 0xffff;
  return id | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG | PACKET_FANOUT_FLAG_ROLLOVER) << 16);
}

namespace {

// After a failed af_packet probe: the fanout group id DPDK 22.11 gives this
// process's socket on the port's interface, if another socket of this
// network namespace already holds it (the kernel refuses a second device in
// one group with EINVAL, and the PMD fails the probe). Our own socket closed
// when the probe failed, so a group left with that id is someone else's.
std::optional<uint16_t> TakenFanoutId(const std::string& args) {
  const size_t at = args.find("iface=");
  if (at == std::string::npos) return std::nullopt;
  const std::string iface = args.substr(at + 6, args.find(',', at) - (at + 6));
  const unsigned index = if_nametoindex(iface.c_str());
  if (index == 0) return std::nullopt;
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) return std::nullopt;
  sockaddr_ll a{};
  a.sll_family = AF_PACKET;
  a.sll_protocol = htons(ETH_P_ALL);
  a.sll_ifindex = static_cast<int>(index);
  // The PMD's own flags too, so that only the id can make the kernel refuse.
  const uint32_t arg = AfPacketFanoutArg(index);
  const uint16_t id = static_cast<uint16_t>(arg & 0xffff);
  // sockaddr_ll is the sockaddr an AF_PACKET socket binds to.
  const bool taken = bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0 &&
                     setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) != 0 && errno == EINVAL;
  close(fd);
  if (!taken) return std::nullopt;
  return id;
}

}  // namespace

Expected<uint16_t, EalError> ProbePort(const PortSpec& spec, EalMode mode) {
  const std::string what = spec.role + " port '" + spec.device + (spec.args.empty() ? "" : "," + spec.args) + "'";
  if (spec.device.empty()) return Fail(EalErrc::kPortMissing, spec.role + " port: no device configured");
  const bool pci = spec.device.find(':') != std::string::npos;
  if (pci) {
    if (mode == EalMode::kSimulation) {
      return Fail(EalErrc::kBadConfig, what + ": a PCI address in simulation mode (EAL runs with --no-pci)");
    }
    if (!std::filesystem::exists("/sys/bus/pci/devices/" + spec.device)) {
      return Fail(EalErrc::kPortMissing, what + ": no such PCI device in /sys/bus/pci/devices");
    }
  } else if (spec.device.rfind("net_", 0) != 0) {
    return Fail(EalErrc::kPortMissing, what + ": a virtual device name starts with net_ (net_memif0, net_af_packet0)");
  }
  uint16_t port = 0;
  if (rte_eth_dev_get_port_by_name(spec.device.c_str(), &port) != 0) {
    const std::string devargs = spec.args.empty() ? spec.device : spec.device + "," + spec.args;
    const int rc = rte_dev_probe(devargs.c_str());
    if (rc < 0) {
      if (spec.device.rfind("net_af_packet", 0) == 0) {
        if (auto id = TakenFanoutId(spec.args)) {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%04x", *id);
          return Fail(EalErrc::kFanoutCollision,
                      what + ": the PMD names its PACKET_FANOUT group getpid() XOR ifindex = " + hex +
                          ", and another process already has a group of that id on another interface");
        }
      }
      return Fail(EalErrc::kBadPortArgs, what + ": " + rte_strerror(-rc));
    }
    if (rte_eth_dev_get_port_by_name(spec.device.c_str(), &port) != 0) {
      // PCI devices are named by DPDK in its own form; fall back to the first match.
      bool found = false;
      uint16_t p = 0;
      RTE_ETH_FOREACH_DEV(p) {
        char name[RTE_ETH_NAME_MAX_LEN];
        if (rte_eth_dev_get_name_by_port(p, name) == 0 && spec.device == name) {
          port = p;
          found = true;
        }
      }
      if (!found) return Fail(EalErrc::kPortMissing, what + ": probed, but no ethdev port appeared (not bound to DPDK?)");
    }
  }
  return port;
}

}  // namespace twinstep::dataplane
