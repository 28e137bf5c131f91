// Uart without KVM: output, loopback, line status, interrupts and state.
#include "host/devices/uart.h"

#include <gtest/gtest.h>

#include <vector>

namespace twinstep::host {
namespace {

struct UartRig {
  std::vector<bool> irq;
  Uart uart{-1, [this](bool level) { irq.push_back(level); }};
  UartRig() { uart.set_keep_output(true); }
  void Out(uint8_t reg, uint8_t v) { uart.Write(reg, {&v, 1}); }
  uint8_t In(uint8_t reg) {
    uint8_t v = 0;
    uart.Read(reg, {&v, 1});
    return v;
  }
};

TEST(UartTest, TransmitsAndReportsAnEmptyTransmitter) {
  UartRig r;
  for (char c : std::string("ok\n")) r.Out(0, static_cast<uint8_t>(c));
  EXPECT_EQ(r.uart.output(), "ok\n");
  EXPECT_EQ(r.In(5) & 0x60, 0x60);  // THRE | TEMT
  EXPECT_TRUE(r.irq.empty());       // no interrupt enabled
}

TEST(UartTest, DivisorLatchDoesNotTransmit) {
  UartRig r;
  r.Out(3, 0x80);  // DLAB
  r.Out(0, 0x01);
  r.Out(1, 0x00);
  EXPECT_EQ(r.In(0), 0x01);
  r.Out(3, 0x03);
  EXPECT_EQ(r.uart.output(), "");
}

TEST(UartTest, LoopbackAsLinuxProbesIt) {
  UartRig r;
  r.Out(4, 0x1a);  // LOOP | OUT2 | RTS
  EXPECT_EQ(r.In(6) & 0xf0, 0x90);  // DCD (OUT2) and CTS (RTS)
  r.Out(0, 'x');
  EXPECT_EQ(r.In(5) & 1, 1);  // data ready
  EXPECT_EQ(r.In(0), 'x');
  EXPECT_EQ(r.uart.output(), "");
}

TEST(UartTest, InterruptsFollowIerAndIir) {
  UartRig r;
  r.Out(1, 0x02);  // THRI: the empty transmitter interrupts at once
  ASSERT_FALSE(r.irq.empty());
  EXPECT_TRUE(r.irq.back());
  EXPECT_EQ(r.In(2) & 0x0f, 0x02);  // IIR: THRE, which acknowledges it
  EXPECT_FALSE(r.irq.back());
  EXPECT_EQ(r.In(2) & 0x0f, 0x01);  // nothing pending
  r.Out(1, 0x01);                   // RX only
  r.uart.Input("ab");
  EXPECT_TRUE(r.irq.back());
  EXPECT_EQ(r.In(2) & 0x0f, 0x04);
  EXPECT_EQ(r.In(0), 'a');
  EXPECT_EQ(r.In(0), 'b');
  EXPECT_FALSE(r.irq.back());
}

TEST(UartTest, StateRoundTripsAndTruncationIsRefused) {
  UartRig a;
  a.Out(3, 0x03);
  a.Out(7, 0x5a);
  a.uart.Input("q");
  ByteWriter w;
  a.uart.SaveState(w);
  UartRig b;
  ByteReader r(w.bytes());
  ASSERT_TRUE(b.uart.LoadState(r));
  EXPECT_EQ(b.In(3), 0x03);
  EXPECT_EQ(b.In(7), 0x5a);
  EXPECT_EQ(b.In(0), 'q');
  std::vector<uint8_t> cut(w.bytes().begin(), w.bytes().begin() + 4);
  ByteReader rc(cut);
  UartRig c;
  EXPECT_FALSE(c.uart.LoadState(rc));
}

}  // namespace
}  // namespace twinstep::host
