// Sync-link micro-benchmark over a loopback memif pair in this process: round
// trip of one record each way, and bulk transfer of a checkpoint image. Used
// by `twinstep tune` (cli/tune SyncLinkBench hook) and docs/BENCHMARKS.md.
// Initializes the EAL (simulation mode) when the process has none yet.
#pragma once

#include <cstdint>
#include <string>

#include "common/expected.h"
#include "dataplane/eal.h"

namespace twinstep::dataplane {

struct SyncBenchOptions {
  uint64_t bulk_bytes = 64ull << 20;  // checkpoint image sent once, chunked
  int round_trips = 20000;
  uint32_t frame_bytes = 2048;        // memif's default buffer; above: bsize=9216 and jumbo mbufs
  uint32_t window_frames = 512;
  std::string socket_dir = "/tmp";
};

struct SyncBenchResult {
  double rtt_p50_us = 0, rtt_p99_us = 0, rtt_p999_us = 0;  // record there and a record back
  double bulk_gbytes_per_s = 0;                             // checkpoint payload bytes / s (second transfer)
  double cold_gbytes_per_s = 0;                             // the first, receiver buffer not yet faulted in
  double cold_gbytes_per_cpu_s = 0;
  double bulk_seconds = 0;
  double bulk_cpu_seconds = 0;                              // CPU time the polling thread got
  double bulk_gbytes_per_cpu_s = 0;                         // payload bytes per CPU second
  uint64_t bulk_frames = 0;
  uint64_t retransmits = 0;
  bool digest_ok = false;                                   // the receiver's CRC-64 matched
};

// Sender and receiver are polled by the calling thread, alternately (one core).
Expected<SyncBenchResult, EalError> MeasureSyncLinkLoopback(const SyncBenchOptions& options = {});

}  // namespace twinstep::dataplane
