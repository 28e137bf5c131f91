// Software comparator: directed cases, counters, and a randomized differential
// test against the plain oracle of docs/comparator.md.
#include "dataplane/comparator/software_comparator.h"

#include <gtest/gtest.h>

#include <random>

#include "common/testing/packet_builder.h"
#include "dataplane/comparator/golden.h"
#include "dataplane/comparator/golden_oracle.h"

namespace twinstep::compare {
namespace {

using twinstep::testing::PacketBuilder;

struct Sink : VerdictSink {
  void OnVerdict(const Verdict& v) override { got.push_back(v); }
  std::vector<Verdict> Take() { return std::exchange(got, {}); }
  std::vector<Verdict> got;
};

wire::OutputDigest Ev(uint64_t flow, uint64_t seq, uint64_t digest) { return {flow, seq, 64, digest}; }

TEST(SoftwareComparatorTest, ReleasesInPerFlowOrder) {
  Sink sink;
  SoftwareComparator c({}, &sink);
  c.SubmitEvent(Ev(1, 0, 10), 100, 0);
  c.SubmitEvent(Ev(1, 1, 11), 101, 0);
  c.SubmitEvent(Ev(2, 0, 20), 200, 0);
  EXPECT_TRUE(sink.Take().empty());
  c.SubmitRecord(Ev(2, 0, 20), 1);
  auto v = sink.Take();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, VerdictKind::kRelease);
  EXPECT_EQ(v[0].handle, 200u);
  c.SubmitRecord(Ev(1, 0, 10), 2);
  c.SubmitRecord(Ev(1, 1, 11), 3);
  v = sink.Take();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].handle, 100u);
  EXPECT_EQ(v[1].handle, 101u);
  EXPECT_EQ(c.held_events(), 0u);
  EXPECT_EQ(c.flows(), 0u);
  EXPECT_EQ(c.counters().released_matched, 3u);
}

TEST(SoftwareComparatorTest, MismatchCarriesBothDigestsAndHoldsTheFlow) {
  Sink sink;
  SoftwareComparator c({}, &sink);
  c.SubmitEvent(Ev(1, 0, 10), 100, 0);
  c.SubmitRecord(Ev(1, 0, 99), 1);
  auto v = sink.Take();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, VerdictKind::kMismatch);
  EXPECT_EQ(v[0].primary_digest, 10u);
  EXPECT_EQ(v[0].secondary_digest, 99u);
  c.SubmitEvent(Ev(1, 1, 11), 101, 2);
  c.SubmitRecord(Ev(1, 1, 11), 3);  // ignored: the flow waits for a checkpoint
  EXPECT_TRUE(sink.Take().empty());
  EXPECT_EQ(c.counters().records_ignored, 1u);
  c.ReleaseAll(4);
  v = sink.Take();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].handle, 100u);
  EXPECT_EQ(v[1].handle, 101u);
  EXPECT_EQ(c.counters().released_checkpoint, 2u);
  EXPECT_EQ(c.flows(), 0u);
}

TEST(SoftwareComparatorTest, TimeoutsOnBothSides) {
  Sink sink;
  SoftwareComparator c({.compare_timeout_ns = 1000}, &sink);
  c.SubmitEvent(Ev(1, 0, 10), 100, 0);
  c.SubmitRecord(Ev(2, 0, 20), 500);
  c.Advance(999);
  EXPECT_TRUE(sink.Take().empty());
  c.Advance(1000);
  auto v = sink.Take();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, VerdictKind::kMissing);
  EXPECT_TRUE(v[0].has_event);
  c.Advance(1500);
  v = sink.Take();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, VerdictKind::kMissing);
  EXPECT_FALSE(v[0].has_event);
  EXPECT_EQ(v[0].secondary_digest, 20u);
  EXPECT_EQ(c.counters().missing_records, 1u);
  EXPECT_EQ(c.counters().missing_events, 1u);
}

TEST(SoftwareComparatorTest, FullPoolIsOverflowNotADrop) {
  Sink sink;
  SoftwareComparator c({.max_held_events = 2}, &sink);
  c.SubmitEvent(Ev(1, 0, 1), 1, 0);
  c.SubmitEvent(Ev(2, 0, 2), 2, 0);
  c.SubmitEvent(Ev(3, 0, 3), 3, 0);
  auto v = sink.Take();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, VerdictKind::kOverflow);
  EXPECT_EQ(v[0].handle, 3u);
  EXPECT_EQ(c.counters().overflows, 1u);
}

TEST(SoftwareComparatorTest, DigestsFramesItself) {
  Sink sink;
  SoftwareComparator c({}, &sink);
  const auto a = PacketBuilder().Ipv4(0x0A000002, 0x0A000001, 1).Udp(7, 9, "same");
  const auto b = PacketBuilder().Ipv4(0x0A000002, 0x0A000001, 2).Udp(7, 9, "same");
  c.SubmitOutput(a, 7, 0);
  std::vector<digest::Digester::Slot> slots(64);
  digest::Digester secondary(slots);
  c.SubmitRecord(secondary.Digest(b), 1);
  auto v = sink.Take();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, VerdictKind::kRelease);
  EXPECT_EQ(v[0].handle, 7u);
}

// Random operations with tight bounds, step by step against the oracle.
TEST(SoftwareComparatorTest, AgreesWithOracleOnRandomOperations) {
  std::mt19937_64 rng(99);
  for (int round = 0; round < 200; ++round) {
    ComparatorConfig cfg{.compare_timeout_ns = 5000, .max_held_events = 1 + static_cast<uint32_t>(rng() % 8),
                         .max_pending_records = 1 + static_cast<uint32_t>(rng() % 8),
                         .max_flows = 1 + static_cast<uint32_t>(rng() % 6)};
    Sink sink;
    SoftwareComparator c(cfg, &sink);
    golden::Oracle oracle(cfg);
    uint64_t now = 0, handle = 0;
    std::vector<uint64_t> ev_seq(8), rec_seq(8);
    for (int step = 0; step < 300; ++step) {
      now += rng() % 2000;
      std::vector<Verdict> want;
      const uint64_t flow = rng() % 8;
      switch (rng() % 9) {
        case 0: case 1: case 2: {
          auto e = Ev(flow, ev_seq[flow]++, (flow << 8) | (ev_seq[flow] - 1));
          want = oracle.Event(e, ++handle, now);
          c.SubmitEvent(e, handle, now);
          break;
        }
        case 3: case 4: case 5: {
          auto r = Ev(flow, rec_seq[flow]++, (flow << 8) | (rec_seq[flow] - 1));
          if (rng() % 10 == 0) r.digest ^= 1;
          want = oracle.Record(r, now);
          c.SubmitRecord(r, now);
          break;
        }
        case 6: case 7:
          want = oracle.Advance(now);
          c.Advance(now);
          break;
        default:
          if (rng() % 4 == 0) {
            want = oracle.ReleaseAll();
            c.ReleaseAll(now);
            std::fill(rec_seq.begin(), rec_seq.end(), 0);
            std::fill(ev_seq.begin(), ev_seq.end(), 0);
          }
      }
      auto got = sink.Take();
      golden::SortVerdicts(want);
      golden::SortVerdicts(got);
      ASSERT_EQ(got.size(), want.size()) << "round " << round << " step " << step;
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_TRUE(golden::SameVerdict(got[i], want[i]))
            << "round " << round << " step " << step << "\n got  " << golden::ToString(got[i]) << "\n want "
            << golden::ToString(want[i]);
      }
    }
  }
}

}  // namespace
}  // namespace twinstep::compare
