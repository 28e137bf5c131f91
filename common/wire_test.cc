// Round trips of every record type, batching, and table-driven malformed frames.
#include "common/wire.h"

#include "common/crc.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <algorithm>
#include <string>
#include <vector>

namespace twinstep::wire {
namespace {

constexpr uint8_t kDst[6] = {2, 0, 0, 0, 0, 2};
constexpr uint8_t kSrc[6] = {2, 0, 0, 0, 0, 1};

std::vector<uint8_t> OneRecordFrame(const Record& r, FrameType type = FrameType::kData) {
  std::vector<uint8_t> buf(kEthHeaderBytes + kHeaderBytes + 256);
  FrameWriter w(buf, kDst, kSrc);
  w.Begin({.type = type, .flags = kFlagAckValid, .epoch = 7, .seq = 42, .ack = 41});
  EXPECT_TRUE(w.Add(r).has_value());
  auto f = w.Finish();
  return {f.begin(), f.end()};
}

// The decoded record's spans point into the frame, so the frame must outlive it.
Record RoundTrip(const Record& in) {
  static std::vector<uint8_t> frame;
  frame = OneRecordFrame(in);
  auto reader = FrameReader::Parse(frame);
  EXPECT_TRUE(reader.has_value()) << WireErrorMessage(reader.error());
  EXPECT_EQ(reader->header().epoch, 7u);
  EXPECT_EQ(reader->header().seq, 42u);
  EXPECT_EQ(reader->header().ack, 41u);
  EXPECT_EQ(reader->header().record_count, 1u);
  auto rec = reader->Next();
  EXPECT_TRUE(rec.has_value()) << WireErrorMessage(rec.error());
  EXPECT_TRUE(reader->Done());
  return rec.has_value() ? *rec : Record{};
}

TEST(WireTest, EveryRecordTypeRoundTrips) {
  const uint8_t pkt[5] = {1, 2, 3, 4, 5};
  Record r;
  r.type = RecordType::kMirroredInput;
  r.input = {123, 1, pkt};
  auto o = RoundTrip(r);
  EXPECT_EQ(o.input.input_seq, 123u);
  EXPECT_EQ(o.input.port, 1u);
  ASSERT_EQ(o.input.packet.size(), 5u);
  EXPECT_EQ(std::memcmp(o.input.packet.data(), pkt, 5), 0);

  r = {};
  r.type = RecordType::kOutputDigest;
  r.digest = {0xF1F2F3F4F5F6F7F8ull, 9, 1514, 0xDEADBEEFCAFEF00Dull};
  o = RoundTrip(r);
  EXPECT_EQ(o.digest.flow, r.digest.flow);
  EXPECT_EQ(o.digest.out_seq, 9u);
  EXPECT_EQ(o.digest.length, 1514u);
  EXPECT_EQ(o.digest.digest, r.digest.digest);

  r = {};
  r.type = RecordType::kHeartbeat;
  r.heartbeat = {3, NodeRole::kSecondary, 0, 1000, 77};
  o = RoundTrip(r);
  EXPECT_EQ(o.heartbeat.node_id, 3u);
  EXPECT_EQ(o.heartbeat.role, NodeRole::kSecondary);
  EXPECT_EQ(o.heartbeat.host_alive, 0u);
  EXPECT_EQ(o.heartbeat.send_time_ns, 1000u);
  EXPECT_EQ(o.heartbeat.last_input_seq, 77u);

  r = {};
  r.type = RecordType::kCheckpointBegin;
  r.checkpoint_begin = {5, 1 << 20, 200, CheckpointKind::kDivergence};
  o = RoundTrip(r);
  EXPECT_EQ(o.checkpoint_begin.checkpoint_id, 5u);
  EXPECT_EQ(o.checkpoint_begin.total_bytes, 1u << 20);
  EXPECT_EQ(o.checkpoint_begin.chunk_count, 200u);
  EXPECT_EQ(o.checkpoint_begin.kind, CheckpointKind::kDivergence);

  r = {};
  r.type = RecordType::kCheckpointChunk;
  r.checkpoint_chunk = {5, 17, pkt};
  o = RoundTrip(r);
  EXPECT_EQ(o.checkpoint_chunk.chunk_index, 17u);
  EXPECT_EQ(o.checkpoint_chunk.data.size(), 5u);

  r = {};
  r.type = RecordType::kCheckpointEnd;
  r.checkpoint_end = {5, 200, 0x1234};
  o = RoundTrip(r);
  EXPECT_EQ(o.checkpoint_end.chunk_count, 200u);
  EXPECT_EQ(o.checkpoint_end.digest, 0x1234u);

  r = {};
  r.type = RecordType::kAck;
  r.ack = {99, 0b101};
  o = RoundTrip(r);
  EXPECT_EQ(o.ack.seq, 99u);
  EXPECT_EQ(o.ack.sack, 0b101u);

  r = {};
  r.type = RecordType::kNack;
  r.nack = {100, 3};
  o = RoundTrip(r);
  EXPECT_EQ(o.nack.first, 100u);
  EXPECT_EQ(o.nack.count, 3u);

  r = {};
  r.type = RecordType::kControl;
  r.control = {ControlOp::kWitnessFence, 2, 8, 9};
  o = RoundTrip(r);
  EXPECT_EQ(o.control.op, ControlOp::kWitnessFence);
  EXPECT_EQ(o.control.node_id, 2u);
  EXPECT_EQ(o.control.arg0, 8u);
  EXPECT_EQ(o.control.arg1, 9u);
}

TEST(WireTest, BatchesUntilFullThenRefuses) {
  std::vector<uint8_t> buf(1500);
  FrameWriter w(buf, kDst, kSrc);
  w.Begin({.type = FrameType::kData, .epoch = 1, .seq = 1});
  Record r;
  r.type = RecordType::kOutputDigest;
  int added = 0;
  for (;; ++added) {
    r.digest = {static_cast<uint64_t>(added), static_cast<uint64_t>(added), 64, static_cast<uint64_t>(added) * 3};
    if (!w.Add(r).has_value()) break;
  }
  EXPECT_EQ(added, static_cast<int>((1500 - kEthHeaderBytes - kHeaderBytes) / FrameWriter::RecordBytes(32)));
  auto frame = w.Finish();
  auto reader = FrameReader::Parse(frame);
  ASSERT_TRUE(reader.has_value());
  int n = 0;
  while (!reader->Done()) {
    auto rec = reader->Next();
    ASSERT_TRUE(rec.has_value()) << WireErrorMessage(rec.error());
    EXPECT_EQ(rec->digest.digest, static_cast<uint64_t>(n) * 3);
    ++n;
  }
  EXPECT_EQ(n, added);
}

TEST(WireTest, EmptyFrameAndEthernetPaddingParse) {
  std::vector<uint8_t> buf(128);
  FrameWriter w(buf, kDst, kSrc);
  w.Begin({.type = FrameType::kAck, .ack = 5});
  auto f = w.Finish();
  std::vector<uint8_t> padded(f.begin(), f.end());
  padded.resize(padded.size() + 10, 0);
  auto reader = FrameReader::Parse(padded);
  ASSERT_TRUE(reader.has_value());
  EXPECT_TRUE(reader->Done());
}

struct MalformedCase {
  const char* name;
  size_t offset;  // from the start of the frame
  uint8_t value;
  bool fix_crc;  // recompute the CRC after the change, so deeper checks are reached
  WireError want;
};

class WireMalformedTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(WireMalformedTest, IsRefusedWithTypedError) {
  const auto& c = GetParam();
  Record r;
  r.type = RecordType::kOutputDigest;
  r.digest = {1, 2, 3, 4};
  auto frame = OneRecordFrame(r);
  frame[c.offset] = c.value;
  if (c.fix_crc) {
    uint8_t* h = frame.data() + kEthHeaderBytes;
    std::memset(h + 40, 0, 4);
    uint32_t payload;
    std::memcpy(&payload, h + 12, 4);
    const uint32_t crc = Crc32c({h, kHeaderBytes + std::min<size_t>(payload, frame.size() - kEthHeaderBytes - kHeaderBytes)});
    std::memcpy(h + 40, &crc, 4);
  }
  auto reader = FrameReader::Parse(frame);
  WireError got;
  if (!reader.has_value()) {
    got = reader.error();
  } else {
    auto rec = reader->Next();
    ASSERT_FALSE(rec.has_value()) << c.name << ": decoded a malformed frame";
    got = rec.error();
  }
  EXPECT_EQ(got, c.want) << c.name << ": got " << WireErrorMessage(got);
}

constexpr size_t H = kEthHeaderBytes;
constexpr size_t P = kEthHeaderBytes + kHeaderBytes;
INSTANTIATE_TEST_SUITE_P(
    Cases, WireMalformedTest,
    ::testing::Values(MalformedCase{"ethertype", 12, 0x08, false, WireError::kNotTwinstep},
                      MalformedCase{"magic", H + 0, 0x00, false, WireError::kBadMagic},
                      MalformedCase{"version", H + 4, 9, false, WireError::kBadVersion},
                      MalformedCase{"frame type", H + 5, 77, false, WireError::kBadFrameType},
                      MalformedCase{"reserved header byte", H + 7, 1, false, WireError::kBadFrameType},
                      MalformedCase{"payload length past frame", H + 13, 0x10, false, WireError::kPayloadLengthMismatch},
                      MalformedCase{"bit flip in payload", P + 20, 0xAA, false, WireError::kBadCrc},
                      MalformedCase{"record type", P + 0, 0xEE, true, WireError::kRecordBadType},
                      MalformedCase{"record reserved", P + 1, 1, true, WireError::kRecordBadValue},
                      MalformedCase{"record body too long", P + 4, 0xF0, true, WireError::kRecordTruncated},
                      MalformedCase{"record body wrong size", P + 4, 24, true, WireError::kRecordBadLength},
                      MalformedCase{"record count", H + 8, 2, true, WireError::kRecordCountMismatch}),
    [](const auto& info) {
      std::string s = info.param.name;
      for (auto& ch : s) if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return s;
    });

}  // namespace
}  // namespace twinstep::wire
