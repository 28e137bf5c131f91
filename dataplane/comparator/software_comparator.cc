// Software comparator backend (rules: docs/comparator.md).
#include "dataplane/comparator/software_comparator.h"

#include <bit>

namespace twinstep::compare {
namespace {

// An event and a record match when the secondary produced the same output at
// the same place in the flow.
bool SameOutput(const wire::OutputDigest& event, const wire::OutputDigest& record) {
  return event.out_seq == record.out_seq && event.length == record.length && event.digest == record.digest;
}

}  // namespace

const char* VerdictKindName(VerdictKind k) {
  switch (k) {
    case VerdictKind::kRelease: return "release";
    case VerdictKind::kMismatch: return "mismatch";
    case VerdictKind::kMissing: return "missing";
    case VerdictKind::kOverflow: return "overflow";
  }
  return "unknown";
}

void SoftwareComparator::Pool::Init(size_t n) {
  items.assign(n, Item{});
  for (size_t i = 0; i < n; ++i) items[i].next = i + 1 < n ? static_cast<int32_t>(i + 1) : kNone;
  free_head = n ? 0 : kNone;
  head = tail = kNone;
  used = 0;
}

int32_t SoftwareComparator::Pool::Take(uint64_t now_ns) {
  const int32_t i = free_head;
  if (i == kNone) return kNone;
  Item& it = items[i];
  free_head = it.next;
  it.time_ns = now_ns;
  it.flow_next = kNone;
  it.prev = tail;
  it.next = kNone;
  (tail == kNone ? head : items[tail].next) = i;
  tail = i;
  ++used;
  return i;
}

void SoftwareComparator::Pool::Give(int32_t i) {
  Item& it = items[i];
  (it.prev == kNone ? head : items[it.prev].next) = it.next;
  (it.next == kNone ? tail : items[it.next].prev) = it.prev;
  it.next = free_head;
  free_head = i;
  --used;
}

SoftwareComparator::SoftwareComparator(const ComparatorConfig& config, VerdictSink* sink)
    : config_(config),
      sink_(sink),
      digester_slots_(std::bit_ceil(static_cast<size_t>(config.digester_flows) * 2)),
      digester_(digester_slots_),
      flows_(std::bit_ceil(static_cast<size_t>(config.max_flows) * 2)) {
  events_.Init(config.max_held_events);
  records_.Init(config.max_pending_records);
}

SoftwareComparator::Flow* SoftwareComparator::FindOrAdd(uint64_t flow) {
  const size_t mask = flows_.size() - 1;
  for (size_t i = flow & mask;; i = (i + 1) & mask) {
    Flow& f = flows_[i];
    if (f.used && f.id == flow) return &f;
    if (!f.used) {
      if (flows_used_ >= config_.max_flows) return nullptr;
      f = Flow{.id = flow, .used = true};
      ++flows_used_;
      return &f;
    }
  }
}

void SoftwareComparator::MaybeForget(Flow* f) {
  if (f->diverged || !f->events.empty() || !f->records.empty()) return;
  Erase(static_cast<size_t>(f - flows_.data()));
}

// Linear-probing deletion by backward shift, so lookups need no tombstones.
void SoftwareComparator::Erase(size_t slot) {
  const size_t mask = flows_.size() - 1;
  size_t i = slot;
  for (size_t j = (i + 1) & mask; flows_[j].used; j = (j + 1) & mask) {
    const size_t home = flows_[j].id & mask;
    const bool movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
    if (movable) {
      flows_[i] = flows_[j];
      i = j;
    }
  }
  flows_[i] = Flow{};
  --flows_used_;
}

void SoftwareComparator::Push(Pool& pool, Fifo& q, int32_t item) {
  (q.tail == kNone ? q.head : pool.items[q.tail].flow_next) = item;
  q.tail = item;
}

int32_t SoftwareComparator::Pop(Pool& pool, Fifo& q) {
  const int32_t i = q.head;
  q.head = pool.items[i].flow_next;
  if (q.head == kNone) q.tail = kNone;
  return i;
}

void SoftwareComparator::Emit(VerdictKind kind, const Item* event, const wire::OutputDigest* record) {
  Verdict v{.kind = kind};
  const wire::OutputDigest& d = event ? event->d : *record;
  v.flow = d.flow;
  v.out_seq = d.out_seq;
  v.length = d.length;
  if (event) {
    v.has_event = true;
    v.handle = event->handle;
    v.primary_digest = event->d.digest;
  }
  if (record) v.secondary_digest = record->digest;
  sink_->OnVerdict(v);
}

void SoftwareComparator::Match(Flow* f, int32_t event, const wire::OutputDigest& record) {
  Item& ev = events_.items[event];
  if (SameOutput(ev.d, record)) {
    ++counters_.released_matched;
    Emit(VerdictKind::kRelease, &ev, &record);
    Pop(events_, f->events);
    events_.Give(event);
    MaybeForget(f);
    return;
  }
  ++counters_.mismatches;
  Emit(VerdictKind::kMismatch, &ev, &record);
  Diverge(f);
}

void SoftwareComparator::SubmitOutput(std::span<const uint8_t> frame, uint64_t handle, uint64_t now_ns) {
  SubmitEvent(digester_.Digest(frame), handle, now_ns);
}

void SoftwareComparator::SubmitEvent(const wire::OutputDigest& event, uint64_t handle, uint64_t now_ns) {
  ++counters_.events;
  Item probe{.d = event, .handle = handle};
  Flow* f = FindOrAdd(event.flow);
  if (f == nullptr) {
    ++counters_.overflows;
    Emit(VerdictKind::kOverflow, &probe, nullptr);
    return;
  }
  if (!f->diverged && !f->records.empty()) {
    const int32_t r = Pop(records_, f->records);
    const wire::OutputDigest record = records_.items[r].d;
    records_.Give(r);
    if (SameOutput(event, record)) {
      ++counters_.released_matched;
      Emit(VerdictKind::kRelease, &probe, &record);
      MaybeForget(f);
      return;
    }
    const int32_t e = events_.Take(now_ns);
    if (e == kNone) {
      ++counters_.overflows;
      Emit(VerdictKind::kOverflow, &probe, &record);
      Diverge(f);
      return;
    }
    events_.items[e].d = event;
    events_.items[e].handle = handle;
    Push(events_, f->events, e);
    ++counters_.mismatches;
    Emit(VerdictKind::kMismatch, &events_.items[e], &record);
    Diverge(f);
    return;
  }
  const int32_t e = events_.Take(now_ns);
  if (e == kNone) {
    ++counters_.overflows;
    Emit(VerdictKind::kOverflow, &probe, nullptr);
    Diverge(f);
    return;
  }
  events_.items[e].d = event;
  events_.items[e].handle = handle;
  Push(events_, f->events, e);
}

void SoftwareComparator::SubmitRecord(const wire::OutputDigest& record, uint64_t now_ns) {
  ++counters_.records;
  Flow* f = FindOrAdd(record.flow);
  if (f == nullptr) {
    ++counters_.overflows;
    Emit(VerdictKind::kOverflow, nullptr, &record);
    return;
  }
  if (f->diverged) {
    ++counters_.records_ignored;
    return;
  }
  if (!f->events.empty()) {
    Match(f, f->events.head, record);
    return;
  }
  const int32_t r = records_.Take(now_ns);
  if (r == kNone) {
    ++counters_.overflows;
    Emit(VerdictKind::kOverflow, nullptr, &record);
    Diverge(f);
    return;
  }
  records_.items[r].d = record;
  Push(records_, f->records, r);
}

void SoftwareComparator::Advance(uint64_t now_ns) {
  if (now_ns < config_.compare_timeout_ns) return;
  const uint64_t deadline = now_ns - config_.compare_timeout_ns;
  // Events stay held after a timeout, so walk the arrival list past them.
  for (int32_t i = events_.head; i != kNone && events_.items[i].time_ns <= deadline; i = events_.items[i].next) {
    Flow* f = FindOrAdd(events_.items[i].d.flow);
    if (f->diverged) continue;
    ++counters_.missing_records;
    Emit(VerdictKind::kMissing, &events_.items[i], nullptr);
    Diverge(f);
  }
  while (records_.head != kNone && records_.items[records_.head].time_ns <= deadline) {
    const int32_t r = records_.head;
    const wire::OutputDigest record = records_.items[r].d;
    Flow* f = FindOrAdd(record.flow);
    Pop(records_, f->records);  // the oldest record overall is its flow's oldest
    records_.Give(r);
    if (f->diverged) {
      ++counters_.records_ignored;
      continue;
    }
    ++counters_.missing_events;
    Emit(VerdictKind::kMissing, nullptr, &record);
    Diverge(f);
  }
}

void SoftwareComparator::ReleaseAll(uint64_t /*now_ns*/) {
  while (events_.head != kNone) {
    const int32_t e = events_.head;
    ++counters_.released_checkpoint;
    Emit(VerdictKind::kRelease, &events_.items[e], nullptr);
    events_.Give(e);
  }
  records_.Init(config_.max_pending_records);
  for (auto& f : flows_) f = Flow{};
  flows_used_ = 0;
}

}  // namespace twinstep::compare
