// Test helper: two SyncLinks joined by an in-memory wire that can drop,
// duplicate and reorder frames deterministically, driven by a fake clock.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include "dataplane/core/sync_link.h"

namespace twinstep::dataplane::testing {

struct WireFaults {
  double drop = 0;       // probability a frame is lost
  double duplicate = 0;  // probability a frame arrives twice
  double reorder = 0;    // probability a frame is delayed behind the next one
};

// One direction of the wire.
class LossyWire : public FrameTx {
 public:
  LossyWire(WireFaults faults, uint32_t seed) : faults_(faults), rng_(seed) {}
  bool Transmit(std::span<const uint8_t> frame) override {
    ++sent;
    if (refuse) return false;
    if (Chance(faults_.drop)) {
      ++dropped;
      return true;
    }
    std::vector<uint8_t> f(frame.begin(), frame.end());
    if (Chance(faults_.duplicate)) queue.push_back(f);
    if (Chance(faults_.reorder) && !queue.empty()) {
      queue.insert(queue.end() - 1, std::move(f));
    } else {
      queue.push_back(std::move(f));
    }
    return true;
  }
  bool Chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  std::deque<std::vector<uint8_t>> queue;
  uint64_t sent = 0, dropped = 0;
  bool refuse = false;

 private:
  WireFaults faults_;
  std::mt19937 rng_;
};

// Collects delivered records (copying variable parts).
class CollectSink : public RecordSink {
 public:
  void OnRecord(const wire::Record& r, uint64_t epoch, uint64_t) override {
    records.push_back(r);
    epochs.push_back(epoch);
    if (r.type == wire::RecordType::kMirroredInput) {
      payloads.emplace_back(r.input.packet.begin(), r.input.packet.end());
    } else {
      payloads.emplace_back();
    }
  }
  std::vector<wire::Record> records;
  std::vector<uint64_t> epochs;
  std::vector<std::vector<uint8_t>> payloads;
};

struct LinkPair {
  LinkPair(const SyncLinkConfig& c, WireFaults faults, uint32_t seed = 1)
      : a_to_b(faults, seed), b_to_a(faults, seed + 1), a(c, &a_to_b, &sink_a), b(Swap(c), &b_to_a, &sink_b) {}
  static SyncLinkConfig Swap(SyncLinkConfig c) {
    for (int i = 0; i < 6; ++i) std::swap(c.local_mac[i], c.peer_mac[i]);
    return c;
  }
  // Moves every queued frame across, delivers, runs both timers; `step_ns` of time passes.
  void Step(uint64_t step_ns = 10'000, size_t deliver_budget = SIZE_MAX) {
    now += step_ns;
    a.set_direct_budget(direct ? deliver_budget : 0);
    b.set_direct_budget(direct ? deliver_budget : 0);
    while (!a_to_b.queue.empty()) {
      auto f = std::move(a_to_b.queue.front());
      a_to_b.queue.pop_front();
      b.OnFrame(f, now);
    }
    while (!b_to_a.queue.empty()) {
      auto f = std::move(b_to_a.queue.front());
      b_to_a.queue.pop_front();
      a.OnFrame(f, now);
    }
    a.Deliver(deliver_budget, now);
    b.Deliver(deliver_budget, now);
    a.Poll(now);
    b.Poll(now);
  }
  uint64_t now = 1'000'000;
  bool direct = true;  // in-order frames skip the reorder buffer while the budget lasts
  LossyWire a_to_b, b_to_a;
  CollectSink sink_a, sink_b;
  SyncLink a, b;
};

}  // namespace twinstep::dataplane::testing
