// Hardware tests of the FPGA backend on a card with the twinstep xclbin
// (docs/fpga.md, "Hardware tests"). Set TWINSTEP_XCLBIN to the xclbin and,
// if not 0, TWINSTEP_FPGA_DEVICE to the XRT device index; without them, or
// without a card, every test skips and says why.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "fpga/csr_map.h"
#include "fpga/xrt/xrt_comparator.h"

namespace twinstep::fpga {
namespace {

class FpgaXrtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* xclbin = std::getenv("TWINSTEP_XCLBIN");
    if (xclbin == nullptr || *xclbin == '\0') {
      GTEST_SKIP() << "TWINSTEP_XCLBIN is not set: no twinstep xclbin to load (see docs/fpga.md)";
    }
    if (!std::filesystem::exists(xclbin)) GTEST_SKIP() << "TWINSTEP_XCLBIN=" << xclbin << " does not exist";
    XrtTarget t{.xclbin_path = xclbin};
    if (const char* dev = std::getenv("TWINSTEP_FPGA_DEVICE")) t.device_index = static_cast<unsigned>(std::atoi(dev));
    auto regs = OpenXrtIp(t);
    if (!regs.has_value() && regs.error() == XrtError::kNoDevice) {
      GTEST_SKIP() << "no XRT device " << t.device_index << ": " << XrtErrorMessage(regs.error());
    }
    ASSERT_TRUE(regs.has_value()) << XrtErrorMessage(regs.error());
    regs_ = std::move(*regs);
  }
  std::unique_ptr<RegisterWindow> regs_;
};

TEST_F(FpgaXrtTest, IdentifiesTheUserBoxAndItsBounds) {
  EXPECT_EQ(regs_->Read(csr::kId), csr::kIdValue);
  EXPECT_GE(regs_->Read(csr::kCaps0) >> 16, 16u);  // held events
  EXPECT_GE(regs_->Read(csr::kCaps1) >> 16, 8u);   // flows
}

TEST_F(FpgaXrtTest, RegistersHoldWhatIsWritten) {
  regs_->Write(csr::kTimeoutLo, 0x12345678);
  regs_->Write(csr::kTimeoutHi, 0x9);
  EXPECT_EQ(regs_->Read(csr::kTimeoutLo), 0x12345678u);
  EXPECT_EQ(regs_->Read(csr::kTimeoutHi), 0x9u);
  regs_->Write(csr::kCtrl, csr::kCtrlHostTime);
  regs_->Write(csr::kTimeLo, 1000);
  regs_->Write(csr::kTimeHi, 0);
  EXPECT_EQ(regs_->Read(csr::kTimeLo), 1000u);  // host time does not move by itself
}

TEST_F(FpgaXrtTest, IdleCardAnswersSweepAndReleaseAllWithNoVerdicts) {
  struct Count : compare::VerdictSink {
    void OnVerdict(const compare::Verdict&) override { ++n; }
    int n = 0;
  } sink;
  auto cmp = XrtComparator::Create(std::move(regs_), nullptr, {.max_held_events = 16, .max_pending_records = 16,
                                                               .max_flows = 8}, &sink);
  ASSERT_TRUE(cmp.has_value()) << XrtErrorMessage(cmp.error());
  (*cmp)->Advance(10'000'000);
  (*cmp)->ReleaseAll(10'000'001);
  EXPECT_EQ(sink.n, 0);
  EXPECT_EQ((*cmp)->poll_timeouts(), 0u);
  EXPECT_EQ((*cmp)->counters().events, 0u);
}

}  // namespace
}  // namespace twinstep::fpga
