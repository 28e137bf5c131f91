// Chunked checkpoint transfer over a lossy link, and the receiver's checks.
#include "dataplane/core/checkpoint_transfer.h"

#include <gtest/gtest.h>

#include <random>

#include "common/crc.h"
#include "dataplane/core/testing/link_pair.h"

namespace twinstep::dataplane {
namespace {

class CheckpointSink : public RecordSink {
 public:
  void OnRecord(const wire::Record& r, uint64_t, uint64_t) override { rx.OnRecord(r); }
  CheckpointReceiver rx;
};

TEST(CheckpointTransferTest, MegabyteArrivesIntactOverALossyLink) {
  std::vector<uint8_t> image(1 << 20);
  std::mt19937 rng(3);
  for (auto& b : image) b = static_cast<uint8_t>(rng());
  SyncLinkConfig c;
  c.max_frame_bytes = 9000;
  c.window_frames = 128;
  testing::LossyWire ab({0.02, 0.01, 0.01}, 5), ba({0.02, 0, 0}, 6);
  CheckpointSink sink_b;
  testing::CollectSink sink_a;
  SyncLink a(c, &ab, &sink_a), b(testing::LinkPair::Swap(c), &ba, &sink_b);
  CheckpointSender tx(9, wire::CheckpointKind::kDivergence, image, a.MaxRecordBody() - 16);
  uint64_t now = 1000;
  for (int i = 0; i < 100000 && sink_b.rx.state() != CheckpointReceiver::State::kComplete; ++i) {
    tx.Pump(a, now);
    now += 20'000;
    while (!ab.queue.empty()) {
      b.OnFrame(ab.queue.front(), now);
      ab.queue.pop_front();
    }
    while (!ba.queue.empty()) {
      a.OnFrame(ba.queue.front(), now);
      ba.queue.pop_front();
    }
    b.Deliver(SIZE_MAX, now);
    a.Poll(now);
    b.Poll(now);
  }
  ASSERT_EQ(sink_b.rx.state(), CheckpointReceiver::State::kComplete);
  EXPECT_EQ(sink_b.rx.checkpoint_id(), 9u);
  EXPECT_EQ(sink_b.rx.kind(), wire::CheckpointKind::kDivergence);
  EXPECT_EQ(sink_b.rx.data(), image);
  EXPECT_GT(tx.chunk_count(), 100u);
  EXPECT_GT(a.stats().retransmits, 0u);
}

wire::Record Begin(uint64_t id, uint64_t bytes, uint32_t chunks) {
  wire::Record r;
  r.type = wire::RecordType::kCheckpointBegin;
  r.checkpoint_begin = {id, bytes, chunks, wire::CheckpointKind::kPeriodic};
  return r;
}
wire::Record Chunk(uint64_t id, uint32_t index, std::span<const uint8_t> data) {
  wire::Record r;
  r.type = wire::RecordType::kCheckpointChunk;
  r.checkpoint_chunk = {id, index, data};
  return r;
}
wire::Record End(uint64_t id, uint32_t chunks, uint64_t digest) {
  wire::Record r;
  r.type = wire::RecordType::kCheckpointEnd;
  r.checkpoint_end = {id, chunks, digest};
  return r;
}

TEST(CheckpointTransferTest, ReceiverRefusesInconsistentStreams) {
  const uint8_t data[4] = {1, 2, 3, 4};
  const uint64_t crc = Crc64(data);
  struct Case {
    const char* name;
    std::vector<wire::Record> records;
    CheckpointRxError want;
  } cases[] = {
      {"no begin", {Chunk(1, 0, data)}, CheckpointRxError::kNoBegin},
      {"wrong id", {Begin(1, 4, 1), Chunk(2, 0, data)}, CheckpointRxError::kWrongId},
      {"out of order", {Begin(1, 8, 2), Chunk(1, 1, data)}, CheckpointRxError::kChunkOutOfOrder},
      {"too large", {Begin(1, 2, 1), Chunk(1, 0, data)}, CheckpointRxError::kTooLarge},
      {"count", {Begin(1, 4, 1), Chunk(1, 0, data), End(1, 2, crc)}, CheckpointRxError::kCountMismatch},
      {"digest", {Begin(1, 4, 1), Chunk(1, 0, data), End(1, 1, crc ^ 1)}, CheckpointRxError::kBadDigest},
  };
  for (const auto& c : cases) {
    CheckpointReceiver rx;
    for (const auto& r : c.records) rx.OnRecord(r);
    EXPECT_EQ(rx.state(), CheckpointReceiver::State::kFailed) << c.name;
    EXPECT_EQ(rx.error(), c.want) << c.name << ": " << CheckpointRxErrorMessage(rx.error());
  }
  CheckpointReceiver ok;
  for (const auto& r : {Begin(1, 4, 1), Chunk(1, 0, data), End(1, 1, crc)}) ok.OnRecord(r);
  EXPECT_EQ(ok.state(), CheckpointReceiver::State::kComplete);
}

TEST(CheckpointTransferTest, EmptyImageIsBeginAndEnd) {
  SyncLinkConfig c;
  testing::LinkPair p(c, {});
  CheckpointSender tx(1, wire::CheckpointKind::kJoin, {}, 100);
  EXPECT_TRUE(tx.Pump(p.a, p.now));
  p.Step();  // Poll sends the open frame
  p.Step();
  ASSERT_EQ(p.sink_b.records.size(), 2u);
  CheckpointReceiver rx;
  for (const auto& r : p.sink_b.records) rx.OnRecord(r);
  EXPECT_EQ(rx.state(), CheckpointReceiver::State::kComplete);
}

}  // namespace
}  // namespace twinstep::dataplane
