// The RTL comparator backend: the same conformance suite and golden vectors
// as the software backend (verdict for verdict), with and without random
// idle cycles and back-pressure, plus directed tests of what only hardware
// has: the packet buffer, per-flow release order, reset in mid-traffic.
#include "fpga/sim/rtl_comparator.h"

#include <gtest/gtest.h>

#include "common/digest.h"
#include "dataplane/comparator/conformance.h"
#include "dataplane/comparator/software_comparator.h"
#include "fpga/csr_map.h"
#include "fpga/sim/frame_gen.h"

namespace twinstep::fpga {
namespace {

using compare::ComparatorConfig;
using compare::Verdict;
using compare::VerdictKind;
using compare::VerdictSink;

class Collect : public VerdictSink {
 public:
  void OnVerdict(const Verdict& v) override { got.push_back(v); }
  std::vector<Verdict> got;
};

// Both lists sorted, then verdict for verdict; the first difference is the message.
::testing::AssertionResult SameVerdicts(std::vector<Verdict>& sw, std::vector<Verdict>& rtl) {
  compare::golden::SortVerdicts(sw);
  compare::golden::SortVerdicts(rtl);
  if (sw.size() != rtl.size())
    return ::testing::AssertionFailure() << sw.size() << " software verdicts, " << rtl.size() << " rtl";
  for (size_t i = 0; i < sw.size(); ++i) {
    if (!compare::golden::SameVerdict(sw[i], rtl[i]))
      return ::testing::AssertionFailure() << "\n  software " << compare::golden::ToString(sw[i]) << "\n  rtl      "
                                           << compare::golden::ToString(rtl[i]);
  }
  return ::testing::AssertionSuccess();
}

void RunAllVectors(const RtlModelOptions& options) {
  const auto paths = compare::GoldenVectorPaths();
  ASSERT_FALSE(paths.empty());
  for (const auto& p : paths) {
    auto v = compare::golden::Load(p);
    ASSERT_TRUE(v.has_value()) << v.error().ToString();
    bool healthy = true;
    auto report = compare::RunVector(*v, [&](const ComparatorConfig& c, VerdictSink* s) {
      return std::make_unique<RtlComparator>(c, s, options, &healthy);
    });
    EXPECT_TRUE(healthy) << p << ": the model did not settle";
    EXPECT_EQ(report.steps, v->steps.size()) << p;
    EXPECT_GT(report.verdicts, 0u) << p;
    for (const auto& f : report.failures) ADD_FAILURE() << f;
  }
}

TEST(RtlConformanceTest, EveryGoldenVector) { RunAllVectors({}); }

TEST(RtlConformanceTest, EveryGoldenVectorUnderIdleAndBackPressure) {
  RunAllVectors({.seed = 7, .idle = 0.3, .backpressure = 0.5});
}

// Random traffic through both backends: same verdicts step by step, same counters.
TEST(RtlComparatorTest, SameVerdictsAndCountersAsSoftwareOnRandomTraffic) {
  ComparatorConfig cfg{.compare_timeout_ns = 50'000, .max_held_events = 24, .max_pending_records = 24,
                       .max_flows = 10, .digester_flows = 64};
  Collect sw_sink, rtl_sink;
  compare::SoftwareComparator sw(cfg, &sw_sink);
  RtlComparator rtl(cfg, &rtl_sink, {.seed = 3, .idle = 0.2, .backpressure = 0.2});
  std::vector<digest::Digester::Slot> slots(128);
  digest::Digester secondary(slots);
  testing::FrameGen gen(11, 12);
  std::mt19937 rng(5);
  std::vector<std::vector<uint8_t>> sec_backlog;
  uint64_t now = 1000;
  for (int step = 0; step < 500; ++step) {
    now += rng() % 8000;
    const uint32_t op = rng() % 10;
    if (op < 4) {
      auto f = gen.Next();
      sw.SubmitOutput(f, step, now);
      rtl.SubmitOutput(f, step, now);
      if (rng() % 8 == 0 && !f.empty()) f[f.size() / 2] ^= 1;  // the secondary differs
      sec_backlog.push_back(f);
    } else if (op < 8 && !sec_backlog.empty()) {
      const auto rec = secondary.Digest(sec_backlog.front());
      sec_backlog.erase(sec_backlog.begin());
      sw.SubmitRecord(rec, now);
      rtl.SubmitRecord(rec, now);
    } else if (op < 9) {
      sw.Advance(now);
      rtl.Advance(now);
    } else if (rng() % 4 == 0) {
      sw.ReleaseAll(now);
      rtl.ReleaseAll(now);
    }
    ASSERT_TRUE(SameVerdicts(sw_sink.got, rtl_sink.got)) << "step " << step;
    sw_sink.got.clear();
    rtl_sink.got.clear();
  }
  ASSERT_TRUE(rtl.healthy());
  const auto a = sw.counters(), b = rtl.counters();
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.records, b.records);
  EXPECT_EQ(a.released_matched, b.released_matched);
  EXPECT_EQ(a.released_checkpoint, b.released_checkpoint);
  EXPECT_EQ(a.mismatches, b.mismatches);
  EXPECT_EQ(a.missing_records, b.missing_records);
  EXPECT_EQ(a.missing_events, b.missing_events);
  EXPECT_EQ(a.overflows, b.overflows);
  EXPECT_EQ(a.records_ignored, b.records_ignored);
}

// Line-rate traffic on one or two flows: events and records meet in the
// engine on consecutive clocks, so the flow one operation adds or forgets is
// often the next one's, and with the verdict stream held back entries wait in
// the input stage while other operations change the table (its lookup, done
// when the entry arrived, must follow). Each flow gets records for a prefix
// of its frames (no mismatch, so the outcome does not depend on the order):
// released, the rest reported missing by the sweep, as the software backend
// says. 64 runs, each mutation of the input stage's lookup tracking tried
// made some of them fail.
TEST(RtlComparatorTest, BackToBackOperationsOnFewFlowsAgreeWithSoftware) {
  for (uint32_t seed = 1; seed <= 64; ++seed) {
    SCOPED_TRACE(seed);
    const uint32_t flows = 1 + seed % 2;
    const RtlModelOptions options{.seed = seed, .idle = (seed % 4) * 0.1, .backpressure = 0.6 + (seed % 4) * 0.1};
    ComparatorConfig cfg{.compare_timeout_ns = 1'000'000};
    Collect sw_sink, rtl_sink;
    compare::SoftwareComparator sw(cfg, &sw_sink);
    RtlComparator rtl(cfg, &rtl_sink, options);
    rtl.set_batched(true);
    std::mt19937 rng(seed);
    std::vector<digest::Digester::Slot> slots(64);
    digest::Digester secondary(slots);
    constexpr int kFrames = 300;
    std::vector<std::vector<uint8_t>> frames;
    int per_flow[2] = {};
    for (int i = 0; i < kFrames; ++i) {
      const auto flow = static_cast<uint8_t>(rng() % flows);
      ++per_flow[flow];
      // Mostly one-beat frames (an event a clock); sometimes two beats, a gap.
      frames.push_back(testing::UdpFrame(rng() % 6 ? 64 : 100, flow, static_cast<uint8_t>(i)));
    }
    // Records for each flow's first frames, each submitted 0-2 frames after
    // its frame while the model runs 0-5 clocks per frame: records meet
    // events already held, flows empty and fill again all the time.
    int recorded[2];
    for (int f = 0; f < 2; ++f) recorded[f] = per_flow[f] - static_cast<int>(rng() % 4);
    int seen[2] = {};
    const uint64_t now = 1000;
    const int lag = static_cast<int>(rng() % 3);
    auto submit_record = [&](int i) {
      const uint8_t flow = frames[i][35];
      const auto rec = secondary.Digest(frames[i]);
      if (seen[flow]++ < recorded[flow]) {
        sw.SubmitRecord(rec, now);
        rtl.SubmitRecord(rec, now);
      }
    };
    for (int i = 0; i < kFrames; ++i) {
      sw.SubmitOutput(frames[i], i, now);
      rtl.SubmitOutput(frames[i], i, now);
      if (i >= lag) submit_record(i - lag);
      rtl.model().Step(rng() % 6);
    }
    for (int i = kFrames - lag; i < kFrames; ++i) submit_record(i);
    sw.Advance(now + cfg.compare_timeout_ns + 1);
    rtl.Advance(now + cfg.compare_timeout_ns + 1);
    ASSERT_TRUE(rtl.healthy());
    ASSERT_TRUE(SameVerdicts(sw_sink.got, rtl_sink.got));
    const auto a = sw.counters(), b = rtl.counters();
    EXPECT_EQ(a.released_matched, b.released_matched);
    EXPECT_EQ(a.missing_records, b.missing_records);
    EXPECT_GT(a.released_matched, kFrames / 2u);
    EXPECT_EQ(a.mismatches, 0u);
    EXPECT_EQ(b.mismatches, 0u);
  }
}

// The hardware's flow table full (256 flows, an event held for each), a
// record releases one flow's event (its slot is forgotten) and on the next
// clock a record of a new flow needs a slot: the only free one is the slot
// just freed, which the free-slot search, a clock behind, has not seen.
TEST(RtlComparatorTest, AFullFlowTableGivesANewFlowTheSlotFreedTheClockBefore) {
  ComparatorConfig cfg{.compare_timeout_ns = 1'000'000, .max_flows = 256};
  Collect sw_sink, rtl_sink;
  compare::SoftwareComparator sw(cfg, &sw_sink);
  RtlComparator rtl(cfg, &rtl_sink);
  std::vector<digest::Digester::Slot> slots(1024);
  digest::Digester secondary(slots);
  auto frame = [](int flow) {  // flows told apart by both port bytes
    auto f = testing::UdpFrame(64, static_cast<uint8_t>(flow), 0);
    f[36] = static_cast<uint8_t>(flow >> 8);
    return f;
  };
  const uint64_t now = 1000;
  std::vector<wire::OutputDigest> records;
  for (int k = 0; k < 256; ++k) {
    const auto f = frame(k);
    sw.SubmitOutput(f, k, now);
    rtl.SubmitOutput(f, k, now);
    records.push_back(secondary.Digest(f));
  }
  const auto late = frame(300);
  rtl.set_batched(true);  // the two records on consecutive clocks
  for (const auto& r : {records[100], secondary.Digest(late)}) {
    sw.SubmitRecord(r, now);
    rtl.SubmitRecord(r, now);
  }
  rtl.set_batched(false);
  sw.SubmitOutput(late, 300, now);
  rtl.SubmitOutput(late, 300, now);
  sw.Advance(now + cfg.compare_timeout_ns + 1);
  rtl.Advance(now + cfg.compare_timeout_ns + 1);
  ASSERT_TRUE(rtl.healthy());
  EXPECT_EQ(sw.counters().released_matched, 2u);
  ASSERT_TRUE(SameVerdicts(sw_sink.got, rtl_sink.got));
}

// Released frames leave in per-flow output order with their bytes intact.
TEST(RtlComparatorTest, ReleasesInPerFlowOrderWithIntactBytes) {
  Collect sink;
  RtlComparator rtl({}, &sink, {.seed = 9, .idle = 0.2, .backpressure = 0.3});
  std::vector<digest::Digester::Slot> slots(1u << 17);
  digest::Digester secondary(slots);
  testing::FrameGen gen(21, 3);
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 60; ++i) {
    frames.push_back(gen.Next());
    rtl.SubmitOutput(frames.back(), i, 1000 + i);
  }
  EXPECT_TRUE(sink.got.empty());
  std::vector<std::vector<uint8_t>> released;
  for (size_t i = 0; i < frames.size(); ++i) {
    rtl.SubmitRecord(secondary.Digest(frames[i]), 2000);
    ASSERT_EQ(sink.got.size(), i + 1);
    EXPECT_EQ(sink.got[i].kind, VerdictKind::kRelease);
    EXPECT_EQ(sink.got[i].handle, i);  // records in order release events in order
  }
  ASSERT_TRUE(rtl.healthy());
}

// The packet buffer's bound is a divergence (overflow verdict), never a silent drop;
// whatever it held comes out intact at ReleaseAll.
TEST(RtlComparatorTest, FullPacketBufferIsAnOverflowNeverASilentDrop) {
  Collect sink;
  RtlComparator rtl({}, &sink);
  std::vector<uint8_t> jumbo(9018);
  for (size_t i = 0; i < jumbo.size(); ++i) jumbo[i] = static_cast<uint8_t>(i);
  const int kFrames = 40;  // 40 x 141 cells > 2048 cells
  int overflows = 0;
  for (int i = 0; i < kFrames; ++i) {
    jumbo[0] = static_cast<uint8_t>(i);  // distinct flows (destination MAC)
    const size_t before = sink.got.size();
    rtl.SubmitOutput(jumbo, i, 1000);
    if (sink.got.size() > before) {
      ASSERT_EQ(sink.got.size(), before + 1u);
      EXPECT_EQ(sink.got.back().kind, VerdictKind::kOverflow);
      EXPECT_EQ(sink.got.back().handle, static_cast<uint64_t>(i));
      ++overflows;
    }
  }
  EXPECT_GT(overflows, 0);
  EXPECT_EQ(rtl.model().ReadCsr64(csr::CounterAddr(csr::kCounterNoBuffer)), static_cast<uint64_t>(overflows));
  sink.got.clear();
  rtl.ReleaseAll(2000);
  EXPECT_EQ(sink.got.size(), static_cast<size_t>(kFrames - overflows));
  ASSERT_TRUE(rtl.healthy());
  // After the checkpoint the buffer is empty again: a new jumbo frame is held.
  sink.got.clear();
  rtl.SubmitOutput(jumbo, 99, 3000);
  EXPECT_TRUE(sink.got.empty());
}

// A reset in the middle of traffic leaves a design that works from scratch.
TEST(RtlComparatorTest, ResetInMidTrafficThenGoldenVectorPasses) {
  RtlModel m({.seed = 4});
  m.WriteCsr(csr::kCtrl, csr::kCtrlEnable | csr::kModePrimary | csr::kCtrlHostTime);
  testing::FrameGen gen(5, 8);
  for (int i = 0; i < 50; ++i) m.QueueFrame(gen.Next(), i);
  m.QueueRecord(1, 2, 3, 4);
  m.Step(300);  // part of the traffic is inside the pipeline
  m.Reset();
  EXPECT_EQ(m.ReadCsr(csr::kCtrl) & csr::kCtrlEnable, 0u);
  EXPECT_EQ(m.ReadCsr64(csr::CounterAddr(csr::kCounterEvents)), 0u);
  m.WriteCsr(csr::kCtrl, csr::kCtrlEnable | csr::kModeSolo | csr::kCtrlHostTime);
  std::vector<digest::Digester::Slot> slots(1u << 17);
  digest::Digester sw(slots);
  m.verdicts().clear();
  m.tx_frames().clear();
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 20; ++i) {
    frames.push_back(gen.Next());
    m.QueueFrame(frames.back(), i);
  }
  ASSERT_TRUE(m.Run());
  ASSERT_EQ(m.verdicts().size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(m.verdicts()[i].primary_digest, sw.Digest(frames[i]).digest);
    EXPECT_EQ(m.tx_frames()[i], frames[i]);
  }
}

}  // namespace
}  // namespace twinstep::fpga
