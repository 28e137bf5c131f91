// The software comparator backend: docs/comparator.md in plain C++, with fixed
// memory (every pool is sized at construction; nothing allocates afterwards).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/digest.h"
#include "dataplane/comparator/comparator.h"

namespace twinstep::compare {

class SoftwareComparator final : public Comparator {
 public:
  SoftwareComparator(const ComparatorConfig& config, VerdictSink* sink);

  std::string_view name() const override { return "software"; }
  void SubmitOutput(std::span<const uint8_t> frame, uint64_t handle, uint64_t now_ns) override;
  void SubmitRecord(const wire::OutputDigest& record, uint64_t now_ns) override;
  void Advance(uint64_t now_ns) override;
  void ReleaseAll(uint64_t now_ns) override;
  ComparatorCounters counters() const override { return counters_; }

  // An event already digested (the dataplane digests once for both uses).
  void SubmitEvent(const wire::OutputDigest& event, uint64_t handle, uint64_t now_ns);
  digest::Digester& digester() { return digester_; }
  size_t held_events() const { return events_.used; }
  size_t pending_records() const { return records_.used; }
  size_t flows() const { return flows_used_; }

 private:
  static constexpr int32_t kNone = -1;

  // An event or a record, linked in its flow's FIFO and in the global
  // arrival-order list that timeouts and ReleaseAll walk.
  struct Item {
    wire::OutputDigest d;
    uint64_t handle = 0;
    uint64_t time_ns = 0;
    int32_t flow_next = kNone;
    int32_t prev = kNone, next = kNone;
  };
  struct Pool {
    std::vector<Item> items;
    int32_t free_head = kNone;
    int32_t head = kNone, tail = kNone;  // arrival order
    size_t used = 0;
    void Init(size_t n);
    int32_t Take(uint64_t now_ns);  // appended to arrival order; kNone when full
    void Give(int32_t i);
  };
  struct Fifo {
    int32_t head = kNone, tail = kNone;
    bool empty() const { return head == kNone; }
  };
  struct Flow {
    uint64_t id = 0;
    bool used = false;
    bool diverged = false;
    Fifo events, records;
  };

  Flow* FindOrAdd(uint64_t flow);
  void MaybeForget(Flow* f);
  void Erase(size_t slot);
  void Push(Pool& pool, Fifo& q, int32_t item);
  int32_t Pop(Pool& pool, Fifo& q);
  void Emit(VerdictKind kind, const Item* event, const wire::OutputDigest* record);
  void Diverge(Flow* f) { f->diverged = true; }
  // Compares the oldest held event with `record`; releases or diverges.
  void Match(Flow* f, int32_t event, const wire::OutputDigest& record);

  ComparatorConfig config_;
  VerdictSink* sink_;
  std::vector<digest::Digester::Slot> digester_slots_;
  digest::Digester digester_;
  Pool events_, records_;
  std::vector<Flow> flows_;  // open addressing, linear probing
  size_t flows_used_ = 0;
  ComparatorCounters counters_;
};

}  // namespace twinstep::compare
