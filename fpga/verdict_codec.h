// What the RTL's verdict words and counters mean to the host, shared by the
// Verilator model backend and the XRT backend (layout: fpga/csr_map.h).
#pragma once

#include <cstdint>
#include <unordered_map>

#include "dataplane/comparator/comparator.h"
#include "fpga/csr_map.h"

namespace twinstep::fpga {

// One verdict as the RTL emits it (docs/fpga.md, "Verdict format").
struct RtlVerdict {
  uint8_t kind = 0;
  bool has_event = false;
  uint32_t event_id = 0;
  uint16_t buf = 0;
  uint64_t flow = 0, out_seq = 0;
  uint32_t length = 0;
  uint64_t primary_digest = 0, secondary_digest = 0;
};

inline uint64_t VerdictBitsAt(const uint32_t* words, int lsb, int width) {
  uint64_t v = 0;
  for (int i = 0; i < width; ++i) {
    const int b = lsb + i;
    v |= uint64_t{(words[b / 32] >> (b % 32)) & 1u} << i;
  }
  return v;
}

// `words`: the 12 little-endian 32-bit words of one verdict.
inline RtlVerdict DecodeVerdict(const uint32_t* words) {
  using B = csr::VerdictBits;
  RtlVerdict v;
  v.kind = static_cast<uint8_t>(VerdictBitsAt(words, B::kKind, 3));
  v.has_event = VerdictBitsAt(words, B::kHasEvent, 1);
  v.event_id = static_cast<uint32_t>(VerdictBitsAt(words, B::kId, 32));
  v.buf = static_cast<uint16_t>(VerdictBitsAt(words, B::kBuf, 16));
  v.flow = VerdictBitsAt(words, B::kFlow, 64);
  v.out_seq = VerdictBitsAt(words, B::kSeq, 64);
  v.length = static_cast<uint32_t>(VerdictBitsAt(words, B::kLen, 32));
  v.primary_digest = VerdictBitsAt(words, B::kPdig, 64);
  v.secondary_digest = VerdictBitsAt(words, B::kSdig, 64);
  return v;
}

// The RTL names events by a 32-bit id; the caller by its own 64-bit handle.
class EventHandles {
 public:
  uint32_t Add(uint64_t handle) {
    handles_[next_id_] = handle;
    return next_id_++;
  }
  void Forget(uint32_t id) { handles_.erase(id); }
  // The interface's verdict; an id the RTL will not name again is forgotten.
  compare::Verdict Resolve(const RtlVerdict& r) {
    compare::Verdict v;
    v.kind = static_cast<compare::VerdictKind>(r.kind);
    v.has_event = r.has_event;
    v.flow = r.flow;
    v.out_seq = r.out_seq;
    v.length = r.length;
    v.primary_digest = r.primary_digest;
    v.secondary_digest = r.secondary_digest;
    if (r.has_event) {
      auto it = handles_.find(r.event_id);
      if (it != handles_.end()) {
        v.handle = it->second;
        if (v.kind == compare::VerdictKind::kRelease || v.kind == compare::VerdictKind::kOverflow) handles_.erase(it);
      }
    }
    return v;
  }

 private:
  std::unordered_map<uint32_t, uint64_t> handles_;
  uint32_t next_id_ = 0;
};

// The comparator counters from the CSRs; `read64(addr)` reads one 64-bit pair.
template <typename Read64>
compare::ComparatorCounters ReadComparatorCounters(Read64&& read64) {
  auto c = [&](csr::Counter i) { return read64(csr::CounterAddr(i)); };
  compare::ComparatorCounters out;
  out.events = c(csr::kCounterEvents);
  out.records = c(csr::kCounterRecords);
  out.released_matched = c(csr::kCounterReleasedMatched);
  out.released_checkpoint = c(csr::kCounterReleasedCheckpoint);
  out.mismatches = c(csr::kCounterMismatches);
  out.missing_records = c(csr::kCounterMissingRecords);
  out.missing_events = c(csr::kCounterMissingEvents);
  out.overflows = c(csr::kCounterOverflows);
  out.records_ignored = c(csr::kCounterRecordsIgnored);
  return out;
}

}  // namespace twinstep::fpga
