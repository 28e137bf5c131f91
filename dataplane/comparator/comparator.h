// The comparator: per-flow, in-order matching of the primary's held output
// events against the secondary's digest records (docs/comparator.md). One
// interface, three backends (software, Verilator RTL model, FPGA via XRT), one
// conformance suite over the same golden vectors.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/wire.h"

namespace twinstep::compare {

enum class VerdictKind : uint8_t {
  kRelease = 1,   // the event matched (or a checkpoint made it safe): send it to the client
  kMismatch = 2,  // event and record differ (digest, length or output sequence): divergence
  kMissing = 3,   // no counterpart within the compare timeout: divergence
  kOverflow = 4,  // a memory bound was hit: divergence; an event named here is NOT held
};
const char* VerdictKindName(VerdictKind k);

struct Verdict {
  VerdictKind kind = VerdictKind::kRelease;
  bool has_event = false;  // false: the verdict is about a secondary record alone
  uint64_t handle = 0;     // the primary event's handle, when has_event
  uint64_t flow = 0;
  uint64_t out_seq = 0;
  uint32_t length = 0;
  uint64_t primary_digest = 0;    // 0 without an event
  uint64_t secondary_digest = 0;  // 0 without a record
};

// Receives verdicts synchronously from inside the comparator's calls.
class VerdictSink {
 public:
  virtual ~VerdictSink() = default;
  virtual void OnVerdict(const Verdict& v) = 0;
};

struct ComparatorConfig {
  uint64_t compare_timeout_ns = 1'000'000;  // an event or record unmatched this long diverges
  uint32_t max_held_events = 8192;          // primary events held at once
  uint32_t max_pending_records = 8192;      // secondary records waiting for their event
  uint32_t max_flows = 8192;                // flows with anything held or pending
  uint32_t digester_flows = 1u << 16;       // flows whose output sequence the digester tracks
};

struct ComparatorCounters {
  uint64_t events = 0;             // primary events submitted
  uint64_t records = 0;            // secondary records submitted
  uint64_t released_matched = 0;   // released because a record matched
  uint64_t released_checkpoint = 0;// released by ReleaseAll after a checkpoint
  uint64_t mismatches = 0;
  uint64_t missing_records = 0;    // primary events that timed out
  uint64_t missing_events = 0;     // secondary records that timed out
  uint64_t overflows = 0;
  uint64_t records_ignored = 0;    // records for a flow already diverged
};

class Comparator {
 public:
  virtual ~Comparator() = default;
  virtual std::string_view name() const = 0;

  // A primary output event. The backend normalizes and digests `frame`;
  // `handle` names the event in verdicts (the caller keeps the packet).
  virtual void SubmitOutput(std::span<const uint8_t> frame, uint64_t handle, uint64_t now_ns) = 0;
  // A secondary digest record from the sync link.
  virtual void SubmitRecord(const wire::OutputDigest& record, uint64_t now_ns) = 0;
  // Reports every event and record unmatched for the compare timeout.
  virtual void Advance(uint64_t now_ns) = 0;
  // After a checkpoint both replicas are identical: every held event is
  // released in arrival order, pending records and divergence are forgotten.
  virtual void ReleaseAll(uint64_t now_ns) = 0;
  virtual ComparatorCounters counters() const = 0;
};

}  // namespace twinstep::compare
