// DPDK EAL set-up for both worlds: deployed (hugepages, PCI NICs, pinned
// lcores) and simulation (--no-huge --no-pci, virtual devices, a file prefix
// per node). Checks what DPDK would fail on obscurely (lcores, an occupied
// file prefix, a missing port, bad PMD arguments) and says so plainly.
// One EAL per process: InitEal succeeds once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/expected.h"

struct rte_mempool;

namespace twinstep::dataplane {

enum class EalMode : uint8_t { kSimulation, kDeployed };

// One dataplane port. `device` is a PCI address (0000:81:00.0) in deployed
// mode or a virtual device name (net_memif0, net_af_packet0) in simulation;
// `args` are the PMD's device arguments ("role=server,socket=/run/x.sock").
struct PortSpec {
  std::string role;  // "client" or "sync", for messages
  std::string device;
  std::string args;
};

struct EalConfig {
  EalMode mode = EalMode::kSimulation;
  std::string file_prefix = "twinstep";
  int main_lcore = 0;
  std::vector<int> lcores;         // worker lcores (besides main); deployed: one per poll loop
  int required_lcores = 1;         // main + workers the caller needs
  int memory_mib = 256;            // simulation: -m without hugepages
  int hugepages_mib = 0;           // deployed: --socket-mem on `numa_node` (0: DPDK default)
  int numa_node = -1;
  std::string log_level = "error";
  // Simulation: CPUs every lcore may float over (--lcores N@(cpus)); empty:
  // lcores pinned one to one (-l), as deployed.
  std::vector<int> float_cpus;
  std::vector<std::string> extra_args;
};

enum class EalErrc : uint8_t {
  kAlreadyInitialized = 1,
  kTooFewLcores,
  kLcoreUnavailable,
  kFilePrefixInUse,
  kInitFailed,
  kPortMissing,
  kBadPortArgs,
  kPortSetup,
  kNoMemory,
  kBadConfig,
  // DPDK 22.11's af_packet PMD names its fanout group getpid() XOR ifindex;
  // another process holds that id on another interface. A new process (a new
  // pid) gets another id: the node exits with kExitStartAgain.
  kFanoutCollision,
};
// The exit status of a node that failed for a reason a second start avoids
// (kFanoutCollision): EX_TEMPFAIL. `twinstep sim` starts such a node again.
inline constexpr int kExitStartAgain = 75;
// The PACKET_FANOUT argument DPDK 22.11's af_packet PMD gives this process's
// sockets on interface `ifindex`: group id getpid() XOR ifindex (low 16
// bits), hash fan-out with defrag and rollover.
uint32_t AfPacketFanoutArg(unsigned ifindex);
const char* EalErrcMessage(EalErrc e);

struct EalError {
  EalErrc code = EalErrc::kInitFailed;
  std::string detail;
  std::string Message() const;  // "MESSAGE: DETAIL"
};

// The EAL command line for `config` (pure; tests read it).
std::vector<std::string> BuildEalArgs(const EalConfig& config);
// The checks InitEal runs before rte_eal_init (pure but for the OS queries).
Expected<void, EalError> CheckLcores(const EalConfig& config);
Expected<void, EalError> CheckFilePrefix(const std::string& prefix);
// Where DPDK keeps the prefix's runtime files (its lock lives in `config` there).
std::string RuntimeDir(const std::string& prefix);

// Removes the prefix's runtime directory (DPDK leaves it behind) when no live
// process holds the prefix; returns false when one does.
bool RemoveRuntimeDir(const std::string& prefix);

// Checks, then rte_eal_init. Only once per process.
Expected<void, EalError> InitEal(const EalConfig& config);
bool EalInitialized();
// The dataplane's shared mbuf pool (created by InitEal).
::rte_mempool* MbufPool();
// Bytes of frame one MbufPool() mbuf holds (RTE_MBUF_DEFAULT_DATAROOM).
inline constexpr uint32_t kMbufDataBytes = 2048;
// A pool of mbufs that hold a whole jumbo sync frame (kJumboMbufDataBytes) in
// one segment, made on first use (control path): sync ports with frames past
// kMbufDataBytes receive into it, and their SyncPortTx allocates from it.
inline constexpr uint32_t kJumboMbufDataBytes = 9216;
::rte_mempool* JumboMbufPool();
// The pool whose mbufs hold a frame of `frame_bytes` in one segment (null:
// the jumbo pool could not be made).
::rte_mempool* PoolForFrames(uint32_t frame_bytes);

// Probes a port (rte_dev_probe) and returns its ethdev port id.
Expected<uint16_t, EalError> ProbePort(const PortSpec& spec, EalMode mode);

}  // namespace twinstep::dataplane
