// The sync link's state machine over a lossy, duplicating, reordering wire.
#include "dataplane/core/sync_link.h"

#include <gtest/gtest.h>

#include "dataplane/core/testing/link_pair.h"

namespace twinstep::dataplane {
namespace {

using testing::LinkPair;
using testing::WireFaults;

wire::Record Input(uint64_t seq, std::vector<uint8_t>& storage) {
  storage.assign(40 + seq % 50, static_cast<uint8_t>(seq));
  storage[0] = static_cast<uint8_t>(seq >> 8);
  wire::Record r;
  r.type = wire::RecordType::kMirroredInput;
  r.input = {seq, 0, storage};
  return r;
}

wire::Record Digest(uint64_t seq) {
  wire::Record r;
  r.type = wire::RecordType::kOutputDigest;
  r.digest = {seq % 7, seq, 64, seq * 0x9E3779B97F4A7C15ull};
  return r;
}

// Sends `n` inputs a→b and `n` digests b→a, stepping the wire until all arrive.
void Exchange(LinkPair& p, uint64_t n, size_t budget = SIZE_MAX) {
  std::vector<uint8_t> storage;
  uint64_t next_a = 0, next_b = 0;
  for (int steps = 0; steps < 2000000; ++steps) {
    while (next_a < n && p.a.Add(Input(next_a, storage), p.now)) ++next_a;
    while (next_b < n && p.b.Add(Digest(next_b), p.now)) ++next_b;
    p.Step(10'000, budget);
    if (next_a == n && next_b == n && p.sink_b.records.size() >= n && p.sink_a.records.size() >= n && p.a.Idle() &&
        p.b.Idle()) {
      break;
    }
  }
}

void ExpectExactlyOnceInOrder(const LinkPair& p, uint64_t n) {
  ASSERT_EQ(p.sink_b.records.size(), n);
  ASSERT_EQ(p.sink_a.records.size(), n);
  for (uint64_t i = 0; i < n; ++i) {
    ASSERT_EQ(p.sink_b.records[i].type, wire::RecordType::kMirroredInput);
    ASSERT_EQ(p.sink_b.records[i].input.input_seq, i) << "input " << i;
    std::vector<uint8_t> want;
    Input(i, want);
    ASSERT_EQ(p.sink_b.payloads[i], want) << "input " << i;
    ASSERT_EQ(p.sink_a.records[i].type, wire::RecordType::kOutputDigest);
    ASSERT_EQ(p.sink_a.records[i].digest.out_seq, i) << "digest " << i;
    ASSERT_EQ(p.sink_a.records[i].digest.digest, i * 0x9E3779B97F4A7C15ull);
  }
}

TEST(SyncLinkTest, DeliversEverythingOnceInOrderAndBatches) {
  SyncLinkConfig c;
  LinkPair p(c, {});
  Exchange(p, 5000);
  ExpectExactlyOnceInOrder(p, 5000);
  EXPECT_EQ(p.a.stats().retransmits, 0u);
  EXPECT_EQ(p.b.stats().duplicates, 0u);
  // Batching: many records per frame.
  EXPECT_LT(p.a.stats().frames_sent * 10, p.a.stats().records_sent);
  EXPECT_GT(p.a.stats().rtt_samples, 0u);
  EXPECT_GT(p.a.stats().srtt_ns, 0u);
}

struct FaultCase {
  const char* name;
  WireFaults faults;
};

class SyncLinkFaultTest : public ::testing::TestWithParam<FaultCase> {};

TEST_P(SyncLinkFaultTest, NothingLostDuplicatedOrReordered) {
  SyncLinkConfig c;
  c.window_frames = 64;
  c.max_frame_bytes = 512;  // more frames, so that 1 % loss hits some
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    LinkPair p(c, GetParam().faults, seed);
    p.direct = seed % 2 == 0;  // both delivery paths
    Exchange(p, 20000);
    ExpectExactlyOnceInOrder(p, 20000);
    if (GetParam().faults.drop > 0) {
      EXPECT_GT(p.a.stats().retransmits + p.b.stats().retransmits, 0u);
      EXPECT_GT(p.a_to_b.dropped, 0u);
    }
    if (GetParam().faults.duplicate > 0) {
      EXPECT_GT(p.a.stats().duplicates + p.b.stats().duplicates, 0u);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Faults, SyncLinkFaultTest,
                         ::testing::Values(FaultCase{"drop1pct", {0.01, 0, 0}}, FaultCase{"drop20pct", {0.20, 0, 0}},
                                           FaultCase{"duplicate", {0, 0.05, 0}}, FaultCase{"reorder", {0, 0, 0.1}},
                                           FaultCase{"everything", {0.05, 0.05, 0.05}}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SyncLinkTest, WindowGivesBackPressureWhenReceiverDoesNotDeliver) {
  SyncLinkConfig c;
  c.window_frames = 8;
  c.max_frame_bytes = 256;
  LinkPair p(c, {});
  uint64_t added = 0;
  for (int i = 0; i < 1000 && p.a.Add(Digest(added), p.now); ++i) {
    ++added;
    p.Step(1000, 0);  // the receiver's consumer takes nothing
  }
  EXPECT_EQ(p.a.FreeFrames(), 0u);
  auto r = p.a.Add(Digest(added), p.now);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), SyncError::kWindowFull);
  EXPECT_TRUE(p.sink_b.records.empty());
  // The receiver now has room: everything flows, in order, once.
  for (int i = 0; i < 2000 && p.sink_b.records.size() < added; ++i) p.Step(100'000);
  ASSERT_EQ(p.sink_b.records.size(), added);
  for (uint64_t i = 0; i < added; ++i) EXPECT_EQ(p.sink_b.records[i].digest.out_seq, i);
}

TEST(SyncLinkTest, DeliverHandsOutWholeFramesWithinBudget) {
  SyncLinkConfig c;
  LinkPair p(c, {});
  for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(p.a.Add(Digest(i), p.now).has_value());
  p.a.Flush(p.now);
  for (uint64_t i = 10; i < 13; ++i) ASSERT_TRUE(p.a.Add(Digest(i), p.now).has_value());
  p.a.Flush(p.now);
  p.Step(1000, 0);
  EXPECT_EQ(p.b.NextFrameRecords(), 10u);
  EXPECT_EQ(p.b.Deliver(9, p.now), 0u);
  EXPECT_EQ(p.b.Deliver(12, p.now), 10u);
  EXPECT_EQ(p.b.Deliver(100, p.now), 3u);
  EXPECT_EQ(p.b.NextFrameRecords(), 0u);
}

TEST(SyncLinkTest, HeartbeatsBypassTheDataQueue) {
  SyncLinkConfig c;
  c.window_frames = 2;
  c.max_frame_bytes = 256;
  LinkPair p(c, {});
  while (p.a.Add(Digest(0), p.now)) {
  }
  wire::Heartbeat hb{7, wire::NodeRole::kPrimary, 1, 123, 42};
  ASSERT_TRUE(p.a.SendPriority(hb, p.now).has_value());
  p.Step(1000, 0);  // data is not delivered, the heartbeat is
  ASSERT_EQ(p.sink_b.records.size(), 1u);
  EXPECT_EQ(p.sink_b.records[0].type, wire::RecordType::kHeartbeat);
  EXPECT_EQ(p.sink_b.records[0].heartbeat.node_id, 7u);
  EXPECT_EQ(p.sink_b.records[0].heartbeat.last_input_seq, 42u);
  EXPECT_EQ(p.b.stats().priority_received, 1u);
}

TEST(SyncLinkTest, MalformedAndForeignFramesAreCountedAndDropped) {
  SyncLinkConfig c;
  LinkPair p(c, {});
  ASSERT_TRUE(p.a.Add(Digest(0), p.now).has_value());
  p.a.Flush(p.now);
  ASSERT_EQ(p.a_to_b.queue.size(), 1u);
  std::vector<uint8_t> good = p.a_to_b.queue.front();
  std::vector<uint8_t> bad_crc = good;
  bad_crc[wire::kEthHeaderBytes + 40] ^= 1;  // the CRC field
  std::vector<uint8_t> foreign = good;
  foreign[12] = 0x08;
  foreign[13] = 0x00;
  std::vector<uint8_t> short_frame(good.begin(), good.begin() + 20);
  p.b.OnFrame(bad_crc, p.now);
  p.b.OnFrame(foreign, p.now);
  p.b.OnFrame(short_frame, p.now);
  EXPECT_EQ(p.b.stats().malformed, 2u);
  EXPECT_EQ(p.b.stats().foreign, 1u);
  p.Step();
  ASSERT_EQ(p.sink_b.records.size(), 1u);  // the good frame still arrives, once
}

TEST(SyncLinkTest, RefusedTransmitsAreRetriedByTheTimer) {
  SyncLinkConfig c;
  LinkPair p(c, {});
  p.a_to_b.refuse = true;
  ASSERT_TRUE(p.a.Add(Digest(0), p.now).has_value());
  p.Step();
  EXPECT_GT(p.a.stats().tx_refused, 0u);
  p.a_to_b.refuse = false;
  for (int i = 0; i < 100 && p.sink_b.records.empty(); ++i) p.Step(1'000'000);
  EXPECT_EQ(p.sink_b.records.size(), 1u);
}

TEST(SyncLinkTest, EpochTravelsWithRecords) {
  SyncLinkConfig c;
  LinkPair p(c, {});
  p.a.set_epoch(5);
  ASSERT_TRUE(p.a.Add(Digest(0), p.now).has_value());
  p.Step();  // Poll sends the open frame
  p.Step();
  ASSERT_EQ(p.sink_b.epochs.size(), 1u);
  EXPECT_EQ(p.sink_b.epochs[0], 5u);
}

TEST(SyncLinkTest, RestartedPeerIsDetectedAndBothEndsStartOver) {
  SyncLinkConfig c;
  c.window_frames = 4;
  c.max_frame_bytes = 256;  // so that 300 records are more than a window of frames
  LinkPair p(c, {});
  Exchange(p, 300);
  ExpectExactlyOnceInOrder(p, 300);
  // b's node restarts: a fresh link object with a fresh sink.
  testing::CollectSink fresh_sink;
  SyncLink fresh(LinkPair::Swap(c), &p.b_to_a, &fresh_sink);
  // a still has something in flight for the old b.
  ASSERT_TRUE(p.a.Add(Digest(999), p.now).has_value());
  p.a.Flush(p.now);
  p.a_to_b.queue.clear();  // the old b is gone
  // The rejoining node speaks first.
  ASSERT_TRUE(fresh.Add(Digest(0), p.now).has_value());
  fresh.Flush(p.now);
  auto step = [&] {
    p.now += 10'000;
    while (!p.b_to_a.queue.empty()) {
      p.a.OnFrame(p.b_to_a.queue.front(), p.now);
      p.b_to_a.queue.pop_front();
    }
    while (!p.a_to_b.queue.empty()) {
      fresh.OnFrame(p.a_to_b.queue.front(), p.now);
      p.a_to_b.queue.pop_front();
    }
    p.a.Deliver(SIZE_MAX, p.now);
    fresh.Deliver(SIZE_MAX, p.now);
    p.a.Poll(p.now);
    fresh.Poll(p.now);
  };
  step();
  EXPECT_EQ(p.a.stats().peer_restarts, 1u);
  EXPECT_EQ(p.a.stats().reset_discarded, 1u);
  ASSERT_EQ(p.sink_a.records.size(), 301u);
  EXPECT_EQ(p.sink_a.records.back().digest.out_seq, 0u);
  for (uint64_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(p.a.Add(Digest(i), p.now).has_value());
    step();
  }
  for (int i = 0; i < 5; ++i) step();
  ASSERT_EQ(fresh_sink.records.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(fresh_sink.records[i].digest.out_seq, i);
  EXPECT_TRUE(p.a.Idle());
  EXPECT_TRUE(fresh.Idle());
}

TEST(SyncLinkTest, ValidateRefusesBadConfigs) {
  SyncLinkConfig c;
  EXPECT_TRUE(SyncLink::Validate(c).has_value());
  c.window_frames = 100;
  EXPECT_FALSE(SyncLink::Validate(c).has_value());
  c = {};
  c.max_frame_bytes = 64;
  EXPECT_FALSE(SyncLink::Validate(c).has_value());
  c = {};
  c.rto_min_ns = 0;
  EXPECT_FALSE(SyncLink::Validate(c).has_value());
}

TEST(SyncLinkTest, TooLargeRecordIsRefused) {
  SyncLinkConfig c;
  c.max_frame_bytes = 256;
  LinkPair p(c, {});
  std::vector<uint8_t> big(300);
  wire::Record r;
  r.type = wire::RecordType::kMirroredInput;
  r.input = {0, 0, big};
  auto res = p.a.Add(r, p.now);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error(), SyncError::kRecordTooLarge);
}

}  // namespace
}  // namespace twinstep::dataplane
