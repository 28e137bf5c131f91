// Boots the test guest under Debian's QEMU (KVM, else TCG) and drives it with
// real clients: UDP echo, memcached ASCII over UDP (our client and memccp from
// libmemcached-tools), persistence across a restart, and determinism.
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "host/testguest/qemu_runner.h"

namespace twinstep::testguest {
namespace {

namespace fs = std::filesystem;

class TestGuestQemu : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string reason;
    if (!QemuAvailable(&reason)) GTEST_SKIP() << "cannot run QEMU: " << reason;
    char tmpl[] = "/tmp/twinstep-testguest-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto c = UdpClient::Open();
    ASSERT_TRUE(c) << c.error().ToString();
    client_ = std::move(*c);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::unique_ptr<QemuGuest> Boot(const std::string& disk = "", const std::string& append = "") {
    QemuConfig c;
    c.work_dir = dir_;
    c.disk = disk;
    c.append = append;
    auto g = QemuGuest::Start(c);
    EXPECT_TRUE(g) << g.error().ToString();
    if (!g) return nullptr;
    std::cout << "guest ready under " << (*g)->accel() << "\n";
    return std::move(*g);
  }

  std::string NewDisk(const std::string& name, size_t bytes = 8 << 20) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path).close();
    fs::resize_file(path, bytes);
    return path;
  }

  // Flips the first key byte of the record in a 512-byte sector (after its 48-byte header).
  static void CorruptSector(const std::string& disk, long sector) {
    std::fstream f(disk, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(sector * 512 + 48);
    char c = 0;
    f.get(c);
    f.seekp(sector * 512 + 48);
    f.put(static_cast<char>(c ^ 0x5A));
  }

  std::string Mc(const QemuGuest& g, const std::string& text) {
    auto r = client_->Memcache(g.memcache_port(), text);
    EXPECT_TRUE(r) << r.error().ToString() << " for " << text;
    return r ? *r : "";
  }

  std::string dir_;
  std::unique_ptr<UdpClient> client_;
};

TEST_F(TestGuestQemu, BootsAndReportsItsConfiguration) {
  auto g = Boot("", "ip=10.0.2.15 mask=255.255.255.0 gw=10.0.2.2 mac=52:54:00:ab:cd:ef bogus=1 ip=300.1.1.1");
  ASSERT_TRUE(g);
  std::string con = g->Console();
  EXPECT_NE(con.find("twinstep-testguest: twinstep test guest"), std::string::npos) << con;
  EXPECT_NE(con.find("config ip=10.0.2.15 mask=255.255.255.0 gw=10.0.2.2 mac=52:54:00:ab:cd:ef"),
            std::string::npos)
      << con;
  EXPECT_NE(con.find("ignoring unknown option 'bogus=1'"), std::string::npos) << con;
  EXPECT_NE(con.find("bad value, default kept: 'ip=300.1.1.1'"), std::string::npos) << con;
  EXPECT_NE(con.find("no virtio-blk disk"), std::string::npos) << con;
  EXPECT_NE(con.find(kReadyMarker), std::string::npos) << con;
  auto r = client_->Exchange(g->echo_port(), "still alive", 2000, 3);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(*r, "still alive");
}

TEST_F(TestGuestQemu, ExceptionHandlerReportsVectorAndRip) {
  QemuConfig c;
  c.work_dir = dir_;
  c.append = "fault=ud";
  c.ready_marker = " halted\n";
  auto g = QemuGuest::Start(c);
  ASSERT_TRUE(g) << g.error().ToString();
  std::string con = (*g)->Console();
  // #UD (vector 6) raised in ring 3 (cs 0x23), at an address inside the image.
  EXPECT_NE(con.find("exception vector=6 error=0x0000 rip=0x00000000001"), std::string::npos) << con;
  EXPECT_NE(con.find(" cs=0x23 "), std::string::npos) << con;
  EXPECT_EQ(con.find(kReadyMarker), std::string::npos) << con;
}

TEST_F(TestGuestQemu, TooLittleRamIsReportedNotCrashedOn) {
  QemuConfig c;
  c.work_dir = dir_;
  c.mem_mib = 8;
  c.ready_marker = "16 MiB\n";
  auto g = QemuGuest::Start(c);
  ASSERT_TRUE(g) << g.error().ToString();
  std::string con = (*g)->Console();
  EXPECT_NE(con.find("memory: 7 MiB of RAM"), std::string::npos) << con;
  EXPECT_NE(con.find("panic: the image does not lie in RAM: give the guest at least 16 MiB"), std::string::npos)
      << con;
}

TEST_F(TestGuestQemu, UdpEchoReturnsEveryPayload) {
  auto g = Boot();
  ASSERT_TRUE(g);
  for (size_t len : {1u, 18u, 100u, 1000u, 1472u}) {
    std::string payload;
    for (size_t i = 0; i < len; i++) payload.push_back(static_cast<char>((i * 7 + len) & 0xFF));
    auto r = client_->Exchange(g->echo_port(), payload, 2000, 3);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(*r, payload) << "payload of " << len << " bytes";
  }
}

struct McCase {
  const char* request;
  const char* reply;
};

TEST_F(TestGuestQemu, MemcachedAsciiCommands) {
  auto g = Boot();
  ASSERT_TRUE(g);
  const McCase cases[] = {
      {"get nothing\r\n", "END\r\n"},
      {"set k 7 0 5\r\nhello\r\n", "STORED\r\n"},
      {"get k\r\n", "VALUE k 7 5\r\nhello\r\nEND\r\n"},
      {"add k 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
      {"replace absent 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
      {"append k 0 0 3\r\n!!!\r\n", "STORED\r\n"},
      {"prepend k 0 0 2\r\n>>\r\n", "STORED\r\n"},
      {"get k\r\n", "VALUE k 7 10\r\n>>hello!!!\r\nEND\r\n"},
      {"set n 0 0 2\r\n41\r\nincr n 1\r\n", "STORED\r\n42\r\n"},
      {"decr n 50\r\n", "0\r\n"},
      {"incr k 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
      {"incr absent 1\r\n", "NOT_FOUND\r\n"},
      {"gets n\r\n", "VALUE n 0 1 6\r\n0\r\nEND\r\n"},
      {"cas n 0 0 1 5\r\n9\r\n", "EXISTS\r\n"},
      {"cas n 0 0 1 6\r\n9\r\n", "STORED\r\n"},
      {"get n k\r\n", "VALUE n 0 1\r\n9\r\nVALUE k 7 10\r\n>>hello!!!\r\nEND\r\n"},
      {"set quiet 0 0 1 noreply\r\nq\r\nget quiet\r\n", "VALUE quiet 0 1\r\nq\r\nEND\r\n"},
      {"touch k 100\r\n", "TOUCHED\r\n"},
      {"delete k\r\n", "DELETED\r\n"},
      {"delete k\r\n", "NOT_FOUND\r\n"},
      {"bogus\r\n", "ERROR\r\n"},
      {"set k 0 0 100\r\nshort\r\n", "CLIENT_ERROR bad data chunk\r\n"},
      {"version\r\n", "VERSION 1.6.0-twinstep-testguest\r\n"},
  };
  for (const auto& c : cases) EXPECT_EQ(Mc(*g, c.request), c.reply) << "request: " << c.request;

  std::string too_big(1401, 'v');
  EXPECT_EQ(Mc(*g, "set big 0 0 1401\r\n" + too_big + "\r\n"), "SERVER_ERROR object too large for cache\r\n");
  std::string long_key(251, 'k');
  EXPECT_EQ(Mc(*g, "set " + long_key + " 0 0 1\r\nx\r\n"), "CLIENT_ERROR bad command line format\r\n");
  // A multi-datagram request is refused, as memcached does.
  std::string frame = {0, 9, 0, 0, 0, 2, 0, 0};
  auto r = client_->Exchange(g->memcache_port(), frame + "get k\r\n", 2000, 2);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->substr(8), "SERVER_ERROR multi-packet request not supported\r\n");

  // A reply longer than one datagram comes back in sequenced parts.
  std::string v(1300, 'a');
  std::string multi = "get";
  for (int i = 0; i < 8; i++) {
    EXPECT_EQ(Mc(*g, "set m" + std::to_string(i) + " 0 0 1300\r\n" + v + "\r\n"), "STORED\r\n");
    multi += " m" + std::to_string(i);
  }
  std::string all = Mc(*g, multi + "\r\n");
  EXPECT_EQ(all.size(), 8 * (std::string("VALUE m0 0 1300\r\n").size() + 1302) + 5);
  EXPECT_EQ(all.substr(all.size() - 5), "END\r\n");
}

TEST_F(TestGuestQemu, GarbageRequestsNeverStopTheGuest) {
  auto g = Boot();
  ASSERT_TRUE(g);
  const std::vector<std::string> seeds = {"set k 0 0 5\r\nhello\r\n", "get k a b c\r\n", "incr k 18446744073709551615\r\n",
                                          "cas k 0 0 1 1\r\nx\r\n", "delete k noreply\r\n", "append k 0 0 0\r\n\r\n"};
  uint32_t x = 12345;  // a fixed xorshift sequence: the same garbage every run
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  };
  for (int i = 0; i < 1500; i++) {
    std::string s = seeds[next() % seeds.size()];
    for (int m = next() % 6; m > 0 && !s.empty(); m--) {
      size_t at = next() % s.size();
      switch (next() % 4) {
        case 0: s[at] = static_cast<char>(next()); break;
        case 1: s.erase(at, 1 + next() % 8); break;
        case 2: s.insert(at, std::string(1 + next() % 300, static_cast<char>(next()))); break;
        default: s = s.substr(0, at); break;
      }
    }
    // Fire and forget: a frame header of random counts, then the mutated text.
    std::string frame = {static_cast<char>(next()), 0, 0, 0, 0, static_cast<char>(next() % 3), 0, 0};
    (void)client_->Exchange(g->memcache_port(), frame.substr(0, next() % 9) + s, 0, 1);
  }
  EXPECT_EQ(Mc(*g, "version\r\n"), "VERSION 1.6.0-twinstep-testguest\r\n");
  auto fresh = UdpClient::Open();  // no late replies to the garbage queued on it
  ASSERT_TRUE(fresh);
  auto e = (*fresh)->Exchange(g->echo_port(), "alive", 2000, 3);
  ASSERT_TRUE(e) << e.error().ToString();
  EXPECT_EQ(*e, "alive");
  EXPECT_EQ(g->Console().find("exception"), std::string::npos) << g->Console();
}

TEST_F(TestGuestQemu, MemccpStoresOverUdp) {
  if (system("command -v memccp >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "memccp not installed (package libmemcached-tools)";
  auto g = Boot();
  ASSERT_TRUE(g);
  std::string file = dir_ + "/greeting";
  std::ofstream(file) << "value written by memccp --udp";
  std::string cmd = "memccp --udp --servers=127.0.0.1:" + std::to_string(g->memcache_port()) + " " + file;
  int rc = system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << cmd;
  // memccp sends without waiting (UDP sets are noreply); poll for the value.
  std::string got;
  for (int i = 0; i < 20 && got.find("VALUE") == std::string::npos; i++) {
    got = Mc(*g, "get greeting\r\n");
    if (got.find("VALUE") == std::string::npos) usleep(100 * 1000);
  }
  EXPECT_EQ(got, "VALUE greeting 0 29\r\nvalue written by memccp --udp\r\nEND\r\n");
}

TEST_F(TestGuestQemu, StoreSurvivesRestartThroughVirtioBlk) {
  std::string disk = NewDisk("store.img");
  {
    auto g = Boot(disk);
    ASSERT_TRUE(g);
    EXPECT_NE(g->Console().find("log generation 0 in half 0: replayed 0 records"), std::string::npos)
        << g->Console();
    EXPECT_EQ(Mc(*g, "set kept 3 0 6\r\nsurviv\r\nset gone 0 0 1\r\nx\r\n"), "STORED\r\nSTORED\r\n");
    EXPECT_EQ(Mc(*g, "append kept 0 0 2\r\ned\r\ndelete gone\r\nset c 0 0 1\r\n1\r\nincr c 41\r\n"),
              "STORED\r\nDELETED\r\nSTORED\r\n42\r\n");
  }
  auto g = Boot(disk);
  ASSERT_TRUE(g);
  // BEGIN plus six mutations.
  EXPECT_NE(g->Console().find("log generation 1 in half 0: replayed 7 records"), std::string::npos)
      << g->Console();
  EXPECT_EQ(Mc(*g, "get kept gone c\r\n"), "VALUE kept 3 8\r\nsurvived\r\nVALUE c 0 2\r\n42\r\nEND\r\n");
  // cas values continue from the replayed log.
  EXPECT_EQ(Mc(*g, "gets c\r\n"), "VALUE c 0 2 5\r\n42\r\nEND\r\n");
  EXPECT_EQ(Mc(*g, "flush_all\r\nget kept\r\n"), "OK\r\nEND\r\n");
}

TEST_F(TestGuestQemu, FullLogIsCompactedIntoTheOtherHalf) {
  // 256 KiB: two halves of 256 sectors; every set below takes one sector.
  std::string disk = NewDisk("small.img", 256 << 10);
  std::string value(400, 'v');
  {
    auto g = Boot(disk);
    ASSERT_TRUE(g);
    EXPECT_EQ(Mc(*g, "set stable 1 0 6\r\nsteady\r\n"), "STORED\r\n");
    for (int i = 0; i < 300; i++) {
      std::string v = value + std::to_string(1000 + i);
      ASSERT_EQ(Mc(*g, "set churn 0 0 " + std::to_string(v.size()) + "\r\n" + v + "\r\n"), "STORED\r\n") << i;
    }
    std::string stats = Mc(*g, "stats\r\n");
    EXPECT_NE(stats.find("STAT log_compactions 1\r\n"), std::string::npos) << stats;
    EXPECT_NE(stats.find("STAT log_generation 2\r\n"), std::string::npos) << stats;
  }
  {
    auto g = Boot(disk);
    ASSERT_TRUE(g);
    EXPECT_NE(g->Console().find("log generation 2 in half 1"), std::string::npos) << g->Console();
    EXPECT_EQ(Mc(*g, "get stable churn\r\n"),
              "VALUE stable 1 6\r\nsteady\r\nVALUE churn 0 404\r\n" + value + "1299\r\nEND\r\n");
  }
  // A compaction cut short: damage the second snapshot record of half 1 (sector
  // 256 + 2). The old half, whose log ended with churn 253, is used instead.
  CorruptSector(disk, 258);
  auto g = Boot(disk);
  ASSERT_TRUE(g);
  EXPECT_NE(g->Console().find("log generation 1 in half 0"), std::string::npos) << g->Console();
  EXPECT_EQ(Mc(*g, "get stable churn\r\n"),
            "VALUE stable 1 6\r\nsteady\r\nVALUE churn 0 404\r\n" + value + "1253\r\nEND\r\n");
}

TEST_F(TestGuestQemu, TornLastRecordIsDiscarded) {
  std::string disk = NewDisk("torn.img");
  {
    auto g = Boot(disk);
    ASSERT_TRUE(g);
    EXPECT_EQ(Mc(*g, "set a 0 0 1\r\n1\r\nset a 0 0 1\r\n2\r\n"), "STORED\r\nSTORED\r\n");
  }
  CorruptSector(disk, 2);  // sectors: BEGIN, a=1, a=2
  {
    auto g = Boot(disk);
    ASSERT_TRUE(g);
    EXPECT_NE(g->Console().find("replayed 2 records"), std::string::npos) << g->Console();
    EXPECT_EQ(Mc(*g, "get a\r\n"), "VALUE a 0 1\r\n1\r\nEND\r\n");
    EXPECT_EQ(Mc(*g, "set a 0 0 1\r\n3\r\n"), "STORED\r\n");
  }
  auto g = Boot(disk);
  ASSERT_TRUE(g);
  EXPECT_EQ(Mc(*g, "get a\r\n"), "VALUE a 0 1\r\n3\r\nEND\r\n");
}

TEST_F(TestGuestQemu, SameInputsGiveSameOutputs) {
  const std::vector<std::string> requests = {
      "set a 1 0 3\r\nabc\r\n", "gets a\r\n",       "incr a 1\r\n", "set n 0 0 1\r\n5\r\n",
      "incr n 10\r\n",          "gets a n\r\n",     "cas n 0 0 1 999\r\n1\r\n", "get a n\r\n"};
  // Not "stats": its frame counters also count what QEMU's slirp sends on its
  // own (an ARP request now and then), which is input too, but not ours.
  std::vector<std::string> runs[2];
  std::string consoles[2];
  for (int run = 0; run < 2; run++) {
    auto g = Boot(NewDisk("det" + std::to_string(run) + ".img"));
    ASSERT_TRUE(g);
    for (const auto& r : requests) runs[run].push_back(Mc(*g, r));
    auto e = client_->Exchange(g->echo_port(), "determinism", 2000, 3);
    ASSERT_TRUE(e) << e.error().ToString();
    runs[run].push_back(*e);
    consoles[run] = g->Console();
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_EQ(consoles[0], consoles[1]);
}

TEST_F(TestGuestQemu, ServesThroughTapWithArpAndPing) {
  if (geteuid() != 0) GTEST_SKIP() << "a network namespace and a TAP device need root";
  if (access("/dev/net/tun", R_OK | W_OK) != 0) GTEST_SKIP() << "/dev/net/tun is missing";
  std::string ns_name;
  {
    auto ns = TapNetns::Create();
    ASSERT_TRUE(ns) << ns.error().ToString();
    ns_name = (*ns)->name();
    QemuConfig c;
    c.work_dir = dir_;
    c.tap = TapNetns::kTap;
    c.append = std::string("ip=") + TapNetns::kGuestAddress + " mask=255.255.255.0 gw=" + TapNetns::kHostAddress;
    auto g = QemuGuest::Start(c);
    ASSERT_TRUE(g) << g.error().ToString();
    auto client = UdpClient::Open(TapNetns::kGuestAddress);
    ASSERT_TRUE(client);
    // The host kernel resolves the guest by ARP first: the guest answers it.
    auto r = (*client)->Exchange(7, "through the tap", 2000, 3);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(*r, "through the tap");
    std::string ping = std::string("ping -c 2 -W 2 ") + TapNetns::kGuestAddress + " >/dev/null 2>&1 || busybox ping -c 2 -W 2 " +
                       TapNetns::kGuestAddress + " >/dev/null 2>&1";
    EXPECT_EQ(system(ping.c_str()), 0) << "no ICMP echo reply";
    auto m = (*client)->Memcache(11211, "set t 0 0 3\r\ntap\r\nget t\r\n");
    ASSERT_TRUE(m) << m.error().ToString();
    EXPECT_EQ(*m, "STORED\r\nVALUE t 0 3\r\ntap\r\nEND\r\n");
    if (system("command -v memccp >/dev/null 2>&1") == 0) {
      std::string file = dir_ + "/viatap";
      std::ofstream(file) << "memccp via tap";
      EXPECT_EQ(system(("memccp --udp --servers=" + std::string(TapNetns::kGuestAddress) + ":11211 " + file).c_str()), 0);
      std::string got;
      for (int i = 0; i < 20 && got.find("VALUE") == std::string::npos; i++) {
        auto v = (*client)->Memcache(11211, "get viatap\r\n");
        got = v ? *v : "";
        if (got.find("VALUE") == std::string::npos) usleep(100 * 1000);
      }
      EXPECT_EQ(got, "VALUE viatap 0 14\r\nmemccp via tap\r\nEND\r\n");
    }
  }
  // The namespace and its TAP device are gone with the test.
  std::string list;
  FILE* p = popen("ip netns list", "r");
  ASSERT_NE(p, nullptr);
  char buf[256];
  while (fgets(buf, sizeof buf, p)) list += buf;
  pclose(p);
  EXPECT_EQ(list.find(ns_name), std::string::npos) << list;
}

}  // namespace
}  // namespace twinstep::testguest
