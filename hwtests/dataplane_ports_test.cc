// Physical NIC ports under DPDK (deployed EAL: hugepages, PCI): link up,
// loopback traffic between two ports joined by a cable, and a line-rate burst.
// Set TWINSTEP_HW_PORT_A and TWINSTEP_HW_PORT_B to the PCI addresses of two
// DPDK-bound ports (vfio-pci) cabled to each other; skips with the reason
// otherwise. Label: hw.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "dataplane/eal.h"
#include "dataplane/eth_port.h"

namespace twinstep::dataplane {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

uint64_t FreeHugepagesMib() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t free_pages = 0, size_kib = 0, v = 0;
  while (in >> key >> v) {
    if (key == "HugePages_Free:") free_pages = v;
    if (key == "Hugepagesize:") size_kib = v;
    in.ignore(64, '\n');
  }
  return free_pages * size_kib / 1024;
}

std::string DriverOf(const std::string& pci) {
  char buf[256] = {};
  const std::string link = "/sys/bus/pci/devices/" + pci + "/driver";
  const ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string s(buf, static_cast<size_t>(n));
  return s.substr(s.rfind('/') + 1);
}

class HwPortsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    a_pci_ = Env("TWINSTEP_HW_PORT_A");
    b_pci_ = Env("TWINSTEP_HW_PORT_B");
    if (a_pci_.empty() || b_pci_.empty()) {
      skip_ = "set TWINSTEP_HW_PORT_A and TWINSTEP_HW_PORT_B to two cabled DPDK-bound NIC ports (no physical ports here)";
      return;
    }
    for (const auto& p : {a_pci_, b_pci_}) {
      const std::string d = DriverOf(p);
      if (d != "vfio-pci" && d != "uio_pci_generic" && d != "igb_uio") {
        skip_ = p + " is bound to '" + (d.empty() ? "no driver" : d) + "', not to a DPDK driver (dpdk-devbind.py -b vfio-pci)";
        return;
      }
    }
    if (FreeHugepagesMib() < 512) {
      skip_ = "needs 512 MiB of free hugepages (found " + std::to_string(FreeHugepagesMib()) + " MiB)";
      return;
    }
    EalConfig c;
    c.mode = EalMode::kDeployed;
    c.file_prefix = "twinstep-hw-" + std::to_string(getpid());
    c.hugepages_mib = 512;
    auto r = InitEal(c);
    if (!r) {
      skip_ = "EAL: " + r.error().Message();
      return;
    }
    auto a = EthPort::Open({"client", a_pci_, ""}, EalMode::kDeployed);
    auto b = EthPort::Open({"sync", b_pci_, ""}, EalMode::kDeployed);
    if (!a || !b) {
      skip_ = "ports: " + (!a ? a.error().Message() : b.error().Message());
      return;
    }
    a_ = std::move(*a);
    b_ = std::move(*b);
  }
  static void TearDownTestSuite() {
    a_.reset();
    b_.reset();
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  // Sends `n` 64-byte frames from `tx` and counts those `rx` receives.
  static uint64_t Blast(EthPort& tx, EthPort& rx, uint64_t n) {
    uint64_t sent = 0, got = 0;
    const uint64_t give_up = NowNs() + 10'000'000'000ull;
    while ((sent < n || got < sent) && NowNs() < give_up) {
      rte_mbuf* b[32];
      uint16_t k = 0;
      while (k < 32 && sent + k < n) {
        rte_mbuf* m = rte_pktmbuf_alloc(MbufPool());
        if (!m) break;
        uint8_t* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 64));
        if (!p) {
          rte_pktmbuf_free(m);
          break;
        }
        std::memset(p, 0, 64);
        std::memset(p, 0xff, 6);
        std::memcpy(p + 6, tx.mac().addr_bytes, 6);
        p[12] = 0x88, p[13] = 0xB5;
        std::memcpy(p + 14, &sent, 8);
        b[k++] = m;
      }
      const uint16_t s = tx.TxBurst(b, k);
      if (s < k) rte_pktmbuf_free_bulk(b + s, k - s);
      sent += s;
      rte_mbuf* r[64];
      const uint16_t g = rx.RxBurst(r, 64);
      if (g) rte_pktmbuf_free_bulk(r, g);
      got += g;
    }
    return got;
  }

  static inline std::string a_pci_, b_pci_, skip_;
  static inline std::unique_ptr<EthPort> a_, b_;
};

TEST_F(HwPortsTest, LinksComeUp) {
  EXPECT_TRUE(a_->WaitLinkUp(10000)) << a_pci_;
  EXPECT_TRUE(b_->WaitLinkUp(10000)) << b_pci_;
}

TEST_F(HwPortsTest, LoopbackTrafficBothWays) {
  ASSERT_TRUE(a_->WaitLinkUp(10000) && b_->WaitLinkUp(10000));
  EXPECT_EQ(Blast(*a_, *b_, 10000), 10000u);
  EXPECT_EQ(Blast(*b_, *a_, 10000), 10000u);
}

TEST_F(HwPortsTest, LineRateBurstOfSmallFrames) {
  ASSERT_TRUE(a_->WaitLinkUp(10000) && b_->WaitLinkUp(10000));
  const uint64_t n = 10'000'000;
  const uint64_t t0 = NowNs();
  const uint64_t got = Blast(*a_, *b_, n);
  const double s = static_cast<double>(NowNs() - t0) / 1e9;
  std::printf("line-rate burst: %lu of %lu 64-byte frames in %.3f s (%.2f Mpps)\n", (unsigned long)got,
              (unsigned long)n, s, static_cast<double>(got) / s / 1e6);
  EXPECT_GE(got, n * 999 / 1000) << "more than 0.1 % lost in a burst between two cabled ports";
}

}  // namespace
}  // namespace twinstep::dataplane
