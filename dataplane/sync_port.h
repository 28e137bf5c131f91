// The sync link's frames on a DPDK port: FrameTx copies each frame into an
// mbuf and sends in bursts. A deterministic drop rate can be injected (tests,
// `twinstep sim` link degradation).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

#include "dataplane/core/sync_link.h"
#include "dataplane/core/peer_bell.h"
#include "dataplane/eth_port.h"

namespace twinstep::dataplane {

class SyncPortTx final : public FrameTx {
 public:
  static constexpr uint16_t kBurst = 32;
  SyncPortTx(EthPort* port, rte_mempool* pool) : port_(port), pool_(pool) {}
  ~SyncPortTx() override { Flush(); }

  // Drops `parts_per_million` of frames (0: none), from a fixed seed.
  void set_drop_ppm(uint32_t parts_per_million, uint64_t seed = 0x9E3779B97F4A7C15ull) {
    drop_ppm_ = parts_per_million;
    rng_ = seed | 1;
  }

  bool Transmit(std::span<const uint8_t> frame) override {
    if (drop_ppm_ != 0 && Next() % 1'000'000 < drop_ppm_) {
      ++dropped_;
      return true;  // lost on the wire
    }
    if (n_ == kBurst) Flush();
    rte_mbuf* m = pool_ ? rte_pktmbuf_alloc(pool_) : nullptr;
    if (m == nullptr) return false;
    char* dst = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
    if (dst == nullptr) {
      rte_pktmbuf_free(m);
      return false;
    }
    std::memcpy(dst, frame.data(), frame.size());
    pending_[n_++] = m;
    return true;
  }
  void Flush() {
    if (n_ == 0) return;
    const uint16_t sent = port_->TxBurstOrFree(pending_, n_);  // what the port refused the link retransmits
    n_ = 0;
    if (sent && bell_) bell_->RingPeer();
  }
  // Wakes the peer's poll loop when frames went out and it sleeps (same host).
  void set_bell(PeerBell* bell) { bell_ = bell; }
  uint64_t dropped() const { return dropped_; }

 private:
  uint64_t Next() {  // xorshift64
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return rng_;
  }
  EthPort* port_;
  rte_mempool* pool_;
  rte_mbuf* pending_[kBurst];
  uint16_t n_ = 0;
  uint32_t drop_ppm_ = 0;
  uint64_t rng_ = 1;
  uint64_t dropped_ = 0;
  PeerBell* bell_ = nullptr;
};

}  // namespace twinstep::dataplane
