// One DPDK ethdev port with one RX and one TX queue, as the poll loops use it.
// TxBurstOrFree frees what the port did not take (counted), never leaks.
#pragma once

#include <cstdint>
#include <memory>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "common/expected.h"
#include "dataplane/eal.h"

namespace twinstep::dataplane {

struct EthPortOptions {
  uint16_t rx_desc = 1024;
  uint16_t tx_desc = 1024;
  bool promiscuous = true;
  int start_retry_ms = 10000;  // a memif client waits this long for its server
  // Largest frame the port receives; past kMbufDataBytes the RX queue fills
  // jumbo mbufs so each frame stays one segment (a memif with bsize=9216).
  uint32_t max_rx_frame_bytes = kMbufDataBytes;
};

struct EthPortStats {
  uint64_t rx_packets = 0, tx_packets = 0, tx_dropped = 0;
};

class EthPort {
 public:
  // Probes, configures and starts the port.
  static Expected<std::unique_ptr<EthPort>, EalError> Open(const PortSpec& spec, EalMode mode,
                                                          const EthPortOptions& options = {});
  ~EthPort();
  EthPort(const EthPort&) = delete;
  EthPort& operator=(const EthPort&) = delete;

  uint16_t RxBurst(rte_mbuf** pkts, uint16_t n) {
    const uint16_t got = rte_eth_rx_burst(port_, 0, pkts, n);
    stats_.rx_packets += got;
    return got;
  }
  // Returns how many the port took; the rest stay with the caller.
  uint16_t TxBurst(rte_mbuf** pkts, uint16_t n) {
    const uint16_t sent = rte_eth_tx_burst(port_, 0, pkts, n);
    stats_.tx_packets += sent;
    return sent;
  }
  // Sends, and frees (counting) what the port refused.
  uint16_t TxBurstOrFree(rte_mbuf** pkts, uint16_t n) {
    const uint16_t sent = TxBurst(pkts, n);
    if (sent < n) {
      rte_pktmbuf_free_bulk(pkts + sent, n - sent);
      stats_.tx_dropped += n - sent;
    }
    return sent;
  }
  bool LinkUp() const;
  // Polls the link state until up or `timeout_ms` passes.
  bool WaitLinkUp(int timeout_ms) const;
  uint16_t id() const { return port_; }
  const rte_ether_addr& mac() const { return mac_; }
  const PortSpec& spec() const { return spec_; }
  const EthPortStats& stats() const { return stats_; }

 private:
  EthPort(uint16_t port, const PortSpec& spec) : port_(port), spec_(spec) {}
  uint16_t port_;
  PortSpec spec_;
  rte_ether_addr mac_{};
  EthPortStats stats_;
};

// Maps in, writable, every page of this process's memif shared-memory regions
// (MADV_POPULATE_WRITE, contents untouched); returns the bytes populated. Call
// once a memif link is up: otherwise each ring buffer's first use takes a
// page fault on the poll thread (~1900 in a pair's first seconds, ~80 µs each
// in a VM). Regions connected later are not covered.
uint64_t PrefaultMemifRegions();

// Monotonic nanoseconds for timers: the TSC once the EAL has calibrated it,
// CLOCK_MONOTONIC before. Only differences are meaningful.
uint64_t NowNs();
// CPU time of the calling thread (benchmarks on shared cores report both).
uint64_t ThreadCpuNs();

}  // namespace twinstep::dataplane
