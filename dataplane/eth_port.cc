// DPDK port set-up (see eth_port.h).
#include "dataplane/eth_port.h"

#include <sys/mman.h>
#include <time.h>

#include <rte_alarm.h>
#include <rte_cycles.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>

namespace twinstep::dataplane {

uint64_t NowNs() {
  // The TSC (DPDK calibrates its rate at EAL init) costs a few cycles; a
  // clock_gettime through the vDSO can cost far more in a VM.
  static const double ns_per_cycle = rte_get_tsc_hz() ? 1e9 / static_cast<double>(rte_get_tsc_hz()) : 0.0;
  if (ns_per_cycle > 0) return static_cast<uint64_t>(static_cast<double>(rte_get_tsc_cycles()) * ns_per_cycle);
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t PrefaultMemifRegions() {
  // DPDK 22.11's memif names its memfds memif_region_<n>: both the server,
  // which creates them, and the client, which maps the received fds.
  std::ifstream maps("/proc/self/maps");
  uint64_t bytes = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.find("/memfd:memif_region_") == std::string::npos) continue;
    unsigned long start = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &start, &end) != 2 || end <= start) continue;
    // The address range /proc/self/maps names is a mapping of this process.
    if (madvise(reinterpret_cast<void*>(start), end - start, MADV_POPULATE_WRITE) == 0) bytes += end - start;
  }
  return bytes;
}

uint64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Expected<std::unique_ptr<EthPort>, EalError> EthPort::Open(const PortSpec& spec, EalMode mode,
                                                          const EthPortOptions& options) {
  if (!MbufPool()) return MakeUnexpected(EalError{EalErrc::kBadConfig, "InitEal must run before ports open"});
  auto id = ProbePort(spec, mode);
  if (!id) return MakeUnexpected(id.error());
  std::unique_ptr<EthPort> p(new EthPort(*id, spec));
  auto fail = [&](const char* step, int rc) {
    return MakeUnexpected(EalError{EalErrc::kPortSetup, spec.role + " port '" + spec.device + "': " + step + ": " +
                                                            rte_strerror(rc < 0 ? -rc : rc)});
  };
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(*id, &info); rc != 0) return fail("device info", rc);
  rte_eth_conf conf{};
  if (int rc = rte_eth_dev_configure(*id, 1, 1, &conf); rc != 0) return fail("configure", rc);
  uint16_t rx_desc = options.rx_desc, tx_desc = options.tx_desc;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(*id, &rx_desc, &tx_desc); rc != 0) return fail("descriptors", rc);
  const int socket = rte_eth_dev_socket_id(*id);
  const unsigned sock = socket < 0 ? 0 : static_cast<unsigned>(socket);
  rte_mempool* rx_pool = PoolForFrames(options.max_rx_frame_bytes);
  if (!rx_pool) return MakeUnexpected(EalError{EalErrc::kNoMemory, spec.role + " port '" + spec.device + "': jumbo mbuf pool: " + rte_strerror(rte_errno)});
  if (int rc = rte_eth_rx_queue_setup(*id, 0, rx_desc, sock, nullptr, rx_pool); rc != 0) return fail("RX queue", rc);
  if (int rc = rte_eth_tx_queue_setup(*id, 0, tx_desc, sock, nullptr); rc != 0) return fail("TX queue", rc);
  // A memif client cannot start before its server's socket exists: retry a while.
  const uint64_t give_up_ns = NowNs() + static_cast<uint64_t>(options.start_retry_ms) * 1'000'000ull;
  for (;;) {
    const int rc = rte_eth_dev_start(*id);
    if (rc == 0) break;
    if (NowNs() > give_up_ns) return fail("start", rc);
    timespec ts{0, 20'000'000};
    nanosleep(&ts, nullptr);
  }
  if (options.promiscuous) (void)rte_eth_promiscuous_enable(*id);  // not every PMD has it
  (void)rte_eth_macaddr_get(*id, &p->mac_);
  return p;
}

namespace {

struct CloseJob {
  uint16_t port;
  std::atomic<bool> done{false};
};

void StopAndClose(uint16_t port) {
  rte_eth_dev_stop(port);
  rte_eth_dev_close(port);
}

void CloseOnInterruptThread(void* arg) {
  auto* job = static_cast<CloseJob*>(arg);
  StopAndClose(job->port);
  job->done.store(true, std::memory_order_release);
}

}  // namespace

EthPort::~EthPort() {
  // On the EAL's interrupt thread, by an alarm: DPDK 22.11's memif handles a
  // peer's disconnect there and frees what a close from another thread frees
  // too (segfaults in eal-intr-thread when both ends of a memif pair closed
  // at about the same time). There the close and those handlers take turns.
  // Should that thread not get to it within seconds, the alarm is cancelled
  // (cancelling waits for a running one) and the port closed here.
  CloseJob job{port_};
  if (rte_eal_alarm_set(1, CloseOnInterruptThread, &job) == 0) {
    for (int i = 0; i < 25'000 && !job.done.load(std::memory_order_acquire); ++i) {
      timespec ts{0, 200'000};
      nanosleep(&ts, nullptr);
    }
    if (job.done.load(std::memory_order_acquire) || rte_eal_alarm_cancel(CloseOnInterruptThread, &job) == 0) return;
  }
  StopAndClose(port_);
}

bool EthPort::LinkUp() const {
  rte_eth_link link{};
  return rte_eth_link_get_nowait(port_, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

bool EthPort::WaitLinkUp(int timeout_ms) const {
  const uint64_t end = NowNs() + static_cast<uint64_t>(timeout_ms) * 1'000'000ull;
  while (!LinkUp()) {
    if (NowNs() > end) return false;
    timespec ts{0, 1'000'000};
    nanosleep(&ts, nullptr);
  }
  return true;
}

}  // namespace twinstep::dataplane
