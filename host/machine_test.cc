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

namespace twinstep::host {
namespace {

using testing::UdpDatagram;

constexpr testing::Mac kGuestMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr testing::Mac kClientMac = {0x02, 0, 0, 0, 0, 1};
constexpr testing::Ip4 kGuestIp = {10, 0, 2, 15};
constexpr testing::Ip4 kClientIp = {10, 0, 2, 2};

bool WaitFor(const std::function<bool()>& cond, int timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return cond();
}

// A temporary raw disk image, removed at the end.
struct TempDisk {
  std::string path;
  explicit TempDisk(uint64_t bytes) {
    char tmpl[] = "/tmp/twinstep-disk-XXXXXX";
    const int fd = mkstemp(tmpl);
    path = tmpl;
    if (fd >= 0) {
      (void)!ftruncate(fd, static_cast<off_t>(bytes));
      close(fd);
    }
  }
  ~TempDisk() { std::remove(path.c_str()); }
};

struct Guest {
  LoopbackBackend net;
  std::unique_ptr<Machine> m;

  bool Boot(const std::string& disk) {
    MachineConfig c;
    c.mem_bytes = 64ull << 20;
    c.console_fd = -1;
    c.keep_console = true;
    c.disk = disk;
    c.net = &net;
    auto mm = Machine::Create(c);
    if (!mm) {
      ADD_FAILURE() << mm.error().ToString();
      return false;
    }
    m = std::move(*mm);
    auto s = m->Boot(TWINSTEP_TESTGUEST_ELF, "", "ip=10.0.2.15");
    if (!s) {
      ADD_FAILURE() << s.error().ToString();
      return false;
    }
    return static_cast<bool>(m->Start());
  }
  bool WaitReady() {
    const bool ok = WaitFor([this] { return m->uart().output().find("twinstep-testguest: ready") != std::string::npos; }, 60000);
    if (!ok) ADD_FAILURE() << "no ready marker; console:\n" << m->uart().output() << "\nstop: " << m->vm().WaitForStop(0).ToString();
    return ok;
  }
  // Sends one UDP datagram to the guest and returns the payload of its reply.
  std::string Ask(uint16_t port, const std::string& payload) {
    UdpDatagram d{kClientMac, kGuestMac, kClientIp, kGuestIp, 40000, port, payload};
    EXPECT_TRUE(net.Inject(testing::BuildUdpFrame(d)));
    std::string reply;
    WaitFor(
        [&] {
          while (auto f = net.TakeSent()) {
            auto u = testing::ParseUdpFrame(*f);
            if (u && u->src_port == port && u->dst_port == 40000) {
              reply = u->payload;
              return true;
            }
          }
          return false;
        },
        20000);
    return reply;
  }
};

std::string Memcached(const std::string& cmd) {
  std::string hdr = {0, 1, 0, 0, 0, 1, 0, 0};  // request id 1, seq 0, 1 datagram
  return hdr + cmd;
}

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
    const std::string r = g.Ask(11211, Memcached("set color 0 0 4\r\nblue\r\n"));
    EXPECT_NE(r.find("STORED"), std::string::npos) << r;
    EXPECT_GT(g.m->blk()->requests(), 0u);
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
