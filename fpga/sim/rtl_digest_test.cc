// The RTL digest against the software reference (common/digest.h): flow id,
// output sequence, length and digest of random frames, 14 B to 9018 B, with
// and without idle cycles and back-pressure, and with a tiny digester.
#include <gtest/gtest.h>

#include <bit>
#include <random>

#include "common/digest.h"
#include "fpga/csr_map.h"
#include "fpga/sim/frame_gen.h"
#include "fpga/sim/rtl_model.h"

namespace twinstep::fpga {
namespace {

struct Case {
  const char* name;
  uint32_t seed;
  int frames;
  int flows;
  uint32_t digester_flows;  // the RTL tracks at most 256 (SEQ_FLOWS); the software is given the same
  double idle, backpressure;
  bool one_beat = false;  // 64-byte UDP frames only: a frame a clock, so the
                          // sequence table looks up flows on consecutive clocks
};

class RtlDigestTest : public ::testing::TestWithParam<Case> {};

TEST_P(RtlDigestTest, MatchesSoftwareDigester) {
  const Case& c = GetParam();
  RtlModel m({.seed = c.seed, .idle = c.idle, .backpressure = c.backpressure});
  ASSERT_EQ(m.ReadCsr(csr::kId), csr::kIdValue);
  m.WriteCsr(csr::kSeqFlows, c.digester_flows);
  m.WriteCsr(csr::kCtrl, csr::kCtrlEnable | csr::kModeSolo | csr::kCtrlHostTime);

  std::vector<digest::Digester::Slot> slots(std::bit_ceil(size_t{c.digester_flows} * 2));
  digest::Digester sw(slots);
  testing::FrameGen gen(c.seed, c.flows);
  std::mt19937 rng(c.seed);
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < c.frames; ++i) {
    frames.push_back(c.one_beat ? testing::UdpFrame(64, static_cast<uint8_t>(rng() % c.flows), static_cast<uint8_t>(i))
                                : gen.Next());
    m.QueueFrame(frames.back(), static_cast<uint32_t>(i));
  }
  ASSERT_TRUE(m.Run());
  ASSERT_EQ(m.verdicts().size(), frames.size());
  ASSERT_EQ(m.tx_frames().size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    const wire::OutputDigest want = sw.Digest(frames[i]);
    const RtlVerdict& got = m.verdicts()[i];
    SCOPED_TRACE("frame " + std::to_string(i) + " of " + std::to_string(frames[i].size()) + " bytes");
    EXPECT_EQ(got.kind, 1);
    EXPECT_EQ(got.event_id, i);
    EXPECT_EQ(got.flow, want.flow);
    EXPECT_EQ(got.out_seq, want.out_seq);
    EXPECT_EQ(got.length, want.length);
    EXPECT_EQ(got.primary_digest, want.digest);
    EXPECT_EQ(m.tx_frames()[i], frames[i]) << "released bytes differ";
  }
  EXPECT_EQ(m.ReadCsr64(csr::CounterAddr(csr::kCounterBeyondWindow)), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Frames, RtlDigestTest,
    ::testing::Values(Case{"steady", 1, 1000, 16, 256, 0.0, 0.0},
                      Case{"idle_and_backpressure", 2, 600, 16, 256, 0.3, 0.4},
                      Case{"tiny_digester", 3, 600, 40, 4, 0.1, 0.1},
                      Case{"many_flows", 4, 600, 250, 256, 0.0, 0.2},
                      Case{"one_beat_tiny_digester", 5, 2000, 6, 4, 0.0, 0.0, true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RtlDigestTest, MinimumAndJumboFrames) {
  RtlModel m;
  m.WriteCsr(csr::kCtrl, csr::kCtrlEnable | csr::kModeSolo | csr::kCtrlHostTime);
  std::vector<digest::Digester::Slot> slots(1u << 17);
  digest::Digester sw(slots);
  std::vector<std::vector<uint8_t>> frames;
  for (size_t size : {size_t{64}, size_t{9018}, size_t{60}, size_t{65}, size_t{128}, size_t{127}, size_t{14},
                      size_t{13}, size_t{1}, size_t{9017}}) {
    std::vector<uint8_t> f(size);
    for (size_t i = 0; i < size; ++i) f[i] = static_cast<uint8_t>(i * 7 + size);
    frames.push_back(f);
    m.QueueFrame(f, static_cast<uint32_t>(frames.size() - 1));
  }
  ASSERT_TRUE(m.Run());
  ASSERT_EQ(m.verdicts().size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto want = sw.Digest(frames[i]);
    EXPECT_EQ(m.verdicts()[i].primary_digest, want.digest) << frames[i].size();
    EXPECT_EQ(m.verdicts()[i].flow, want.flow) << frames[i].size();
    EXPECT_EQ(m.tx_frames()[i], frames[i]);
  }
}

}  // namespace
}  // namespace twinstep::fpga
