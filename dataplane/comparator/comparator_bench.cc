// Comparator throughput measurement (see comparator_bench.h).
#include "dataplane/comparator/comparator_bench.h"

#include <algorithm>
#include <bit>
#include <ctime>
#include <random>
#include <stdexcept>
#include <vector>

#include "common/digest.h"
#include "common/testing/packet_builder.h"
#include "dataplane/comparator/software_comparator.h"

namespace twinstep::compare {
namespace {

struct CountingSink : VerdictSink {
  void OnVerdict(const Verdict& v) override {
    if (v.kind == VerdictKind::kRelease) ++released;
    else ++diverged;
  }
  uint64_t released = 0, diverged = 0;
};

}  // namespace

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

ComparatorBenchResult BenchComparator(const ComparatorFactory& make, std::string backend, bool with_digest,
                                      size_t flows, size_t frame_bytes, double seconds) {
  // One batch: `kPerFlow` events per flow, interleaved, with their records.
  constexpr size_t kPerFlow = 16;
  const size_t payload = frame_bytes > 42 ? frame_bytes - 42 : 0;
  std::vector<std::vector<uint8_t>> frames;
  std::mt19937_64 rng(1);
  for (size_t f = 0; f < flows; ++f) {
    frames.push_back(testing::PacketBuilder()
                         .Ipv4(0x0A000002, 0x0A010000 + static_cast<uint32_t>(f))
                         .Udp(11211, static_cast<uint16_t>(20000 + f), std::string(payload, 'x')));
  }
  std::vector<uint32_t> order(flows * kPerFlow);
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i % flows);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<uint8_t> record_first(order.size());
  for (auto& b : record_first) b = rng() & 1;

  ComparatorConfig cfg{.compare_timeout_ns = UINT64_MAX / 2, .max_held_events = static_cast<uint32_t>(flows * 2 + 64),
                       .max_pending_records = static_cast<uint32_t>(flows * 2 + 64),
                       .max_flows = static_cast<uint32_t>(flows + 64)};
  CountingSink sink;
  auto cmp = make(cfg, &sink);
  auto* software = dynamic_cast<SoftwareComparator*>(cmp.get());
  if (!with_digest && software == nullptr) throw std::invalid_argument("pre-digested events need the software backend");
  std::vector<digest::Digester::Slot> pslots(std::bit_ceil(flows * 4)), sslots(std::bit_ceil(flows * 4));
  digest::Digester primary(pslots), secondary(sslots);
  // Pre-digest the records (and, for the engine-only figure, the events) of one batch;
  // the output sequence keeps counting across batches, so it is rewritten per batch.
  std::vector<wire::OutputDigest> recs(order.size()), evs(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    recs[i] = secondary.Digest(frames[order[i]]);
    evs[i] = primary.Digest(frames[order[i]]);
  }
  const uint64_t batch_seq = kPerFlow;
  uint64_t handle = 0, now = 0;
  const double start = ThreadCpuSeconds();
  double elapsed = 0;
  uint64_t batches = 0;
  do {
    for (size_t i = 0; i < order.size(); ++i) {
      wire::OutputDigest r = recs[i];
      r.out_seq += batches * batch_seq;
      auto submit_event = [&] {
        if (with_digest) {
          cmp->SubmitOutput(frames[order[i]], ++handle, now);
        } else {
          wire::OutputDigest e = evs[i];
          e.out_seq += batches * batch_seq;
          software->SubmitEvent(e, ++handle, now);
        }
      };
      if (record_first[i]) {
        cmp->SubmitRecord(r, now);
        submit_event();
      } else {
        submit_event();
        cmp->SubmitRecord(r, now);
      }
    }
    ++batches;
    now += 1000;
    elapsed = ThreadCpuSeconds() - start;
  } while (elapsed < seconds);
  if (sink.diverged != 0 || sink.released != batches * order.size()) {
    throw std::runtime_error("benchmark workload diverged: " + std::to_string(sink.diverged) + " divergences");
  }
  return {std::move(backend), with_digest, flows, frames[0].size(), sink.released, elapsed};
}

}  // namespace twinstep::compare
