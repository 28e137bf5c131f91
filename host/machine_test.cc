// The project's test guest on this VMM: PVH boot, PCI, virtio-net through the
// loopback backend (UDP echo, memcached), virtio-blk persistence.
#include "host/machine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "host/devices/loopback_backend.h"
#include "host/testing/frames.h"
#include "host/testing/kvm_guest.h"
#include "host/testing/test_guest.h"

namespace twinstep::host {
namespace {

using testing::Guest;
using testing::Memcached;
using testing::TempDisk;

TEST(MachineTest, TestGuestBootsAndEchoesUdp) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  TempDisk disk(8 << 20);
  Guest g;
  ASSERT_TRUE(g.Boot(disk.path));
  ASSERT_TRUE(g.WaitReady());
  const std::string out = g.m->uart().output();
  EXPECT_NE(out.find("cmdline 'ip=10.0.2.15'"), std::string::npos) << out;
  EXPECT_NE(out.find("virtio-net at pci 00:02.0"), std::string::npos) << out;
  EXPECT_NE(out.find("virtio-blk at pci 00:03.0"), std::string::npos) << out;
  EXPECT_EQ(g.Ask(7, "hello twinstep"), "hello twinstep");
  const uint64_t exits_before = g.m->vm().vcpu(0).counters().exits.load();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(g.Ask(7, "ping " + std::to_string(i)), "ping " + std::to_string(i));
  // Polling backend + event-index suppression: echo requests cost (almost) no exit.
  EXPECT_LT(g.m->vm().vcpu(0).counters().exits.load() - exits_before, 20u);
  g.m->Pause();
}

TEST(MachineTest, MemcachedStorePersistsOnVirtioBlkAcrossRestart) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  TempDisk disk(8 << 20);
  {
    Guest g;
    ASSERT_TRUE(g.Boot(disk.path));
    ASSERT_TRUE(g.WaitReady());
    const uint64_t requests0 = g.m->blk()->requests();
    const uint64_t mmio0 = g.m->vm().vcpu(0).counters().mmio_exits.load();
    const std::string r = g.Ask(11211, Memcached("set color 0 0 4\r\nblue\r\n"));
    EXPECT_NE(r.find("STORED"), std::string::npos) << r;
    EXPECT_GT(g.m->blk()->requests(), requests0);
    // The disk's notify goes to an ioeventfd: no MMIO exit reaches the VMM.
    EXPECT_EQ(g.m->vm().vcpu(0).counters().mmio_exits.load(), mmio0);
    g.m->Pause();
  }
  Guest g2;
  ASSERT_TRUE(g2.Boot(disk.path));
  ASSERT_TRUE(g2.WaitReady());
  const std::string r = g2.Ask(11211, Memcached("get color\r\n"));
  EXPECT_NE(r.find("VALUE color 0 4\r\nblue\r\nEND"), std::string::npos) << r;
  g2.m->Pause();
}

}  // namespace
}  // namespace twinstep::host
