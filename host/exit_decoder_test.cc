// DecodeExit over hand-built kvm_run pages: every exit kind and the bounds checks.
#include "host/exit_decoder.h"

#include <gtest/gtest.h>

#include <vector>

namespace twinstep::host {
namespace {

constexpr size_t kRunSize = 4096 * 3;

struct RunPage {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(kRunSize);
  kvm_run& run() { return *reinterpret_cast<kvm_run*>(bytes.data()); }
};

TEST(ExitDecoderTest, PortWrite) {
  RunPage p;
  p.run().exit_reason = KVM_EXIT_IO;
  p.run().io = {KVM_EXIT_IO_OUT, 1, 0x3f8, 1, 4096};
  const VcpuExit e = DecodeExit(p.run(), kRunSize);
  EXPECT_EQ(e.kind, ExitKind::kIo);
  EXPECT_TRUE(e.is_write);
  EXPECT_EQ(e.port, 0x3f8);
  EXPECT_EQ(e.size, 1);
  EXPECT_EQ(e.count, 1u);
  EXPECT_EQ(e.data_offset, 4096u);
}

struct IoCase {
  uint8_t size;
  uint32_t count;
  uint64_t offset;
  ExitKind want;
};

class IoBoundsTest : public ::testing::TestWithParam<IoCase> {};

TEST_P(IoBoundsTest, Checks) {
  const IoCase c = GetParam();
  RunPage p;
  p.run().exit_reason = KVM_EXIT_IO;
  p.run().io = {KVM_EXIT_IO_IN, c.size, 0x60, c.count, c.offset};
  EXPECT_EQ(DecodeExit(p.run(), kRunSize).kind, c.want);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, IoBoundsTest,
    ::testing::Values(IoCase{1, 1, 4096, ExitKind::kIo}, IoCase{2, 1, 4096, ExitKind::kIo},
                      IoCase{4, 1024, 4096, ExitKind::kIo},            // ends exactly at the end
                      IoCase{4, 2048, 4096, ExitKind::kIo},            // 8 KiB from 4 KiB: fits
                      IoCase{4, 2049, 4096, ExitKind::kMalformed},     // one past the end
                      IoCase{3, 1, 4096, ExitKind::kMalformed},        // no 3-byte port access
                      IoCase{1, 0, 4096, ExitKind::kMalformed},        // nothing to do
                      IoCase{1, 1, kRunSize, ExitKind::kMalformed},    // offset at the end
                      IoCase{4, 0x40000000, 4096, ExitKind::kMalformed}));  // overflowing count

TEST(ExitDecoderTest, Mmio) {
  RunPage p;
  p.run().exit_reason = KVM_EXIT_MMIO;
  p.run().mmio.phys_addr = 0xe0000010;
  p.run().mmio.len = 4;
  p.run().mmio.is_write = 1;
  const VcpuExit e = DecodeExit(p.run(), kRunSize);
  EXPECT_EQ(e.kind, ExitKind::kMmio);
  EXPECT_TRUE(e.is_write);
  EXPECT_EQ(e.address, 0xe0000010u);
  EXPECT_EQ(e.len, 4u);
  p.run().mmio.len = 9;
  EXPECT_EQ(DecodeExit(p.run(), kRunSize).kind, ExitKind::kMalformed);
  p.run().mmio.len = 0;
  EXPECT_EQ(DecodeExit(p.run(), kRunSize).kind, ExitKind::kMalformed);
}

TEST(ExitDecoderTest, TerminalExits) {
  struct Case {
    uint32_t reason;
    ExitKind kind;
  };
  for (const Case c : {Case{KVM_EXIT_HLT, ExitKind::kHlt}, Case{KVM_EXIT_SHUTDOWN, ExitKind::kShutdown},
                       Case{KVM_EXIT_INTR, ExitKind::kInterrupted}, Case{KVM_EXIT_DEBUG, ExitKind::kDebug},
                       Case{12345, ExitKind::kUnknown}}) {
    RunPage p;
    p.run().exit_reason = c.reason;
    EXPECT_EQ(DecodeExit(p.run(), kRunSize).kind, c.kind) << c.reason;
  }
  RunPage p;
  p.run().exit_reason = KVM_EXIT_INTERNAL_ERROR;
  p.run().internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
  EXPECT_EQ(DecodeExit(p.run(), kRunSize).kind, ExitKind::kInternalError);
  EXPECT_EQ(DecodeExit(p.run(), kRunSize).detail, uint64_t{KVM_INTERNAL_ERROR_EMULATION});
  p.run().exit_reason = KVM_EXIT_FAIL_ENTRY;
  p.run().fail_entry.hardware_entry_failure_reason = 33;
  EXPECT_EQ(DecodeExit(p.run(), kRunSize).detail, 33u);
  p.run().exit_reason = KVM_EXIT_SYSTEM_EVENT;
  p.run().system_event.type = KVM_SYSTEM_EVENT_RESET;
  EXPECT_EQ(DecodeExit(p.run(), kRunSize).kind, ExitKind::kSystemEvent);
  EXPECT_EQ(DecodeExit(p.run(), kRunSize).detail, uint64_t{KVM_SYSTEM_EVENT_RESET});
  EXPECT_STREQ(ExitKindName(ExitKind::kMmio), "mmio");
}

}  // namespace
}  // namespace twinstep::host
