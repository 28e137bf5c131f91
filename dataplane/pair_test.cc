// Two dataplane processes joined by a memif sync link, client ports on
// af_packet over veth pairs, each node with the synthetic guest: inputs are
// mirrored once and in order, matched outputs released once and in per-flow
// order, an injected divergence is reported with both digests, and 1 % sync
// frame loss loses, duplicates and reorders nothing.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "dataplane/eal.h"
#include "dataplane/testing/node_process.h"

namespace twinstep::dataplane {
namespace {

constexpr int kFlows = 4;

bool Shell(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

// A raw Ethernet client on one end of a veth pair.
class RawClient {
 public:
  explicit RawClient(const std::string& ifname) {
    fd_ = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    sockaddr_ll a{};
    a.sll_family = AF_PACKET;
    a.sll_protocol = htons(ETH_P_ALL);
    a.sll_ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd_);
      fd_ = -1;
    }
    timeval tv{0, 20'000};
    if (fd_ >= 0) setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawClient() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  // A 64-byte UDP request: payload = flow (4 bytes) + request index (4 bytes) + padding.
  void Send(uint32_t index) {
    uint8_t f[64] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00};
    uint8_t* ip = f + 14;
    const uint32_t flow = index % kFlows;
    ip[0] = 0x45;
    ip[3] = 50;  // 20 + 8 + 22
    ip[8] = 64;
    ip[9] = 17;
    const uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 2};
    std::memcpy(ip + 12, src, 4);
    std::memcpy(ip + 16, dst, 4);
    uint8_t* udp = ip + 20;
    udp[0] = 0x10, udp[1] = static_cast<uint8_t>(flow);  // source port 4096 + flow
    udp[3] = 7;
    udp[5] = 30;
    const uint32_t be_flow = htonl(flow), be_index = htonl(index);
    std::memcpy(udp + 8, &be_flow, 4);
    std::memcpy(udp + 12, &be_index, 4);
    (void)send(fd_, f, sizeof f, 0);
  }

  struct Reply {
    uint32_t flow, index;
    uint64_t count;  // the guest's per-flow reply number
  };
  // Receives until `want` replies arrived in all or `timeout_ms` passes.
  void Receive(std::vector<Reply>& out, size_t want, int timeout_ms) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    uint8_t buf[2048];
    while (out.size() < want && std::chrono::steady_clock::now() < end) {
      sockaddr_ll from{};
      socklen_t len = sizeof from;
      const ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0 || from.sll_pkttype == PACKET_OUTGOING) continue;
      ++frames_in;
      if (n < 14 + 20 + 8 + 8 + 8 || buf[23] != 17) continue;
      const uint8_t* payload = buf + 14 + 20 + 8;
      const size_t payload_len = static_cast<size_t>(n) - 14 - 20 - 8;
      Reply r;
      uint32_t v;
      std::memcpy(&v, payload, 4), r.flow = ntohl(v);
      std::memcpy(&v, payload + 4, 4), r.index = ntohl(v);
      r.count = 0;
      for (size_t i = 0; i < 8; ++i) r.count = r.count << 8 | payload[payload_len - 8 + i];
      out.push_back(r);
    }
  }
  uint64_t frames_in = 0;

 private:
  int fd_ = -1;
};

class PairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for veth pairs and af_packet (run as root, as CI does)";
    if (!Shell("ip link show lo")) GTEST_SKIP() << "needs iproute2 (scripts/packages.txt)";
    const std::string id = std::to_string(getpid() % 100000);
    a_ = "tdp" + id + "a", b_ = "tdp" + id + "b";
    for (const auto& n : {a_, b_}) {
      ASSERT_TRUE(Shell("ip link add " + n + " type veth peer name " + n + "p")) << "cannot create veth " << n;
      for (const auto& end : {n, n + "p"}) {
        Shell("sysctl -qw net.ipv6.conf." + end + ".disable_ipv6=1");
        ASSERT_TRUE(Shell("ip link set " + end + " up"));
      }
    }
    dir_ = "/tmp/twdp-pair-" + id;
    Shell("mkdir -p " + dir_);
  }
  void TearDown() override {
    for (const auto& n : {a_, b_}) {
      if (!n.empty()) Shell("ip link del " + n);
    }
    if (!dir_.empty()) Shell("rm -rf " + dir_);
  }

  struct Result {
    testing::NodeRun primary, secondary;
    std::vector<RawClient::Reply> replies;
    uint64_t secondary_client_frames = 0;
  };

  // Runs the pair, sends `n` requests in bursts of `burst`, waiting for their
  // replies (up to `expect_missing` may never come).
  Result RunPair(uint32_t n, uint32_t burst, const std::vector<std::string>& primary_extra,
                 const std::vector<std::string>& secondary_extra, uint32_t expect_missing = 0) {
    Result res;
    const std::string id = std::to_string(getpid());
    const std::string sock = dir_ + "/sync.sock";
    std::vector<std::string> pa = {"--role", "primary", "--prefix", "twdp-p-" + id, "--client",
                                   "net_af_packet0,iface=" + a_, "--sync", "net_memif0,role=server,socket=" + sock};
    std::vector<std::string> sa = {"--role", "secondary", "--prefix", "twdp-s-" + id, "--salt", "77", "--client",
                                   "net_af_packet1,iface=" + b_, "--sync", "net_memif1,role=client,socket=" + sock};
    pa.insert(pa.end(), primary_extra.begin(), primary_extra.end());
    sa.insert(sa.end(), secondary_extra.begin(), secondary_extra.end());
    testing::NodeProcess primary(TWINSTEP_DATAPLANE_NODE, pa, dir_ + "/primary.log");
    testing::NodeProcess secondary(TWINSTEP_DATAPLANE_NODE, sa, dir_ + "/secondary.log");
    EXPECT_TRUE(primary.WaitFor("ready", 120)) << primary.Stop().output;
    EXPECT_TRUE(secondary.WaitFor("ready", 120)) << secondary.Stop().output;
    RawClient client(a_ + "p"), other(b_ + "p");
    EXPECT_TRUE(client.ok() && other.ok());
    // Traffic sent to the secondary's own client port must go nowhere.
    for (uint32_t i = 0; i < 20; ++i) other.Send(100000 + i);
    for (uint32_t sent = 0; sent < n;) {
      for (uint32_t k = 0; k < burst && sent < n; ++k) client.Send(sent++);
      const size_t want = sent > expect_missing ? sent - expect_missing : 0;
      client.Receive(res.replies, want, 20000);
    }
    client.Receive(res.replies, n, 1000);  // stragglers, duplicates
    std::vector<RawClient::Reply> none;
    other.Receive(none, 1, 200);
    res.secondary_client_frames = other.frames_in;
    res.secondary = secondary.Stop();
    res.primary = primary.Stop();
    RemoveRuntimeDir("twdp-p-" + id);
    RemoveRuntimeDir("twdp-s-" + id);
    return res;
  }

  // Both logs list the same inputs (sequence and packet CRC), 0..n-1, once each.
  static void ExpectMirroredOnceInOrder(const Result& r) {
    auto inputs = [](const testing::NodeRun& run) {
      std::vector<std::string> v;
      for (const auto& l : run.lines) {
        if (l.rfind("input ", 0) == 0) v.push_back(l);
      }
      return v;
    };
    const auto p = inputs(r.primary), s = inputs(r.secondary);
    ASSERT_FALSE(p.empty());
    EXPECT_EQ(p, s) << "the secondary's guest must see exactly the primary's inputs, in order";
    for (size_t i = 0; i < p.size(); ++i) {
      std::istringstream in(p[i]);
      std::string word;
      uint64_t seq = 0;
      in >> word >> seq;
      ASSERT_EQ(seq, i) << p[i];
    }
    EXPECT_EQ(r.secondary.stats.at("input_seq_gaps"), 0u);
    EXPECT_EQ(r.secondary.stats.at("client_tx"), 0u);
    EXPECT_EQ(r.secondary_client_frames, 0u) << "the secondary sent on its client port";
    EXPECT_GE(r.secondary.stats.at("secondary_client_rx_dropped"), 20u);
  }

  // Every reply at most once; per flow, in request order with consecutive guest counts.
  static std::set<uint32_t> ExpectOncePerFlowOrder(const Result& r) {
    std::set<uint32_t> seen;
    std::map<uint32_t, int64_t> last_index, last_count;
    for (const auto& rep : r.replies) {
      EXPECT_TRUE(seen.insert(rep.index).second) << "reply to request " << rep.index << " released twice";
      EXPECT_EQ(rep.flow, rep.index % kFlows);
      auto li = last_index.try_emplace(rep.flow, -1).first;
      auto lc = last_count.try_emplace(rep.flow, -1).first;
      EXPECT_GT(static_cast<int64_t>(rep.index), li->second) << "flow " << rep.flow << " out of order";
      EXPECT_EQ(static_cast<int64_t>(rep.count), lc->second + 1) << "flow " << rep.flow;
      li->second = rep.index;
      lc->second = static_cast<int64_t>(rep.count);
    }
    return seen;
  }

  std::string a_, b_, dir_;
};

TEST_F(PairTest, MirrorsEveryInputOnceInOrderAndReleasesEveryMatchedOutputOnce) {
  const uint32_t n = 600;
  Result r = RunPair(n, 16, {}, {});
  ExpectMirroredOnceInOrder(r);
  const auto seen = ExpectOncePerFlowOrder(r);
  EXPECT_EQ(seen.size(), n) << "every matched output reaches the client";
  EXPECT_EQ(r.primary.stats.at("released"), r.primary.stats.at("guest_tx"));
  EXPECT_EQ(r.primary.stats.at("divergences"), 0u);
  EXPECT_EQ(r.secondary.stats.at("digests_sent"), r.primary.stats.at("records_received"));
}

TEST_F(PairTest, OnePercentSyncFrameLossLosesDuplicatesAndReordersNothing) {
  const uint32_t n = 2000;
  Result r = RunPair(n, 8, {"--sync-drop-ppm", "10000"}, {"--sync-drop-ppm", "10000"});
  ExpectMirroredOnceInOrder(r);
  const auto seen = ExpectOncePerFlowOrder(r);
  EXPECT_EQ(seen.size(), n);
  EXPECT_EQ(r.primary.stats.at("divergences"), 0u);
  const uint64_t dropped = r.primary.stats.at("sync_dropped_injected") + r.secondary.stats.at("sync_dropped_injected");
  EXPECT_GT(dropped, 0u) << "the fault was not injected";
  std::printf("sync frames dropped %lu, retransmitted %lu (primary) + %lu (secondary), gaps seen %lu + %lu\n",
              static_cast<unsigned long>(dropped), static_cast<unsigned long>(r.primary.stats.at("sync_retransmits")),
              static_cast<unsigned long>(r.secondary.stats.at("sync_retransmits")),
              static_cast<unsigned long>(r.primary.stats.at("sync_gaps")),
              static_cast<unsigned long>(r.secondary.stats.at("sync_gaps")));
  EXPECT_GT(r.primary.stats.at("sync_retransmits") + r.secondary.stats.at("sync_retransmits"), 0u);
}

TEST_F(PairTest, InjectedDivergenceIsReportedWithBothDigests) {
  const uint32_t n = 200, bad = 50;  // the secondary's 51st reply differs
  const uint32_t held = (n - bad + kFlows - 1) / kFlows;  // that flow's replies from there on stay held
  Result r = RunPair(n, 10, {}, {"--diverge-at", std::to_string(bad)}, held);
  ExpectMirroredOnceInOrder(r);
  const auto seen = ExpectOncePerFlowOrder(r);
  std::vector<std::string> divergences;
  for (const auto& l : r.primary.lines) {
    if (l.rfind("divergence ", 0) == 0) divergences.push_back(l);
  }
  ASSERT_EQ(divergences.size(), 1u) << "one divergence, reported once for its flow";
  std::istringstream in(divergences[0]);
  std::string word, kind;
  uint64_t flow = 0, seq = 0, pd = 0, sd = 0;
  in >> word >> kind >> flow >> seq >> pd >> sd;
  EXPECT_EQ(kind, "mismatch");
  EXPECT_EQ(seq, bad / kFlows) << "the flow's output sequence of the bad reply";
  EXPECT_NE(pd, 0u);
  EXPECT_NE(sd, 0u);
  EXPECT_NE(pd, sd);
  for (uint32_t i = 0; i < n; ++i) {
    const bool held_back = i % kFlows == bad % kFlows && i >= bad;
    EXPECT_EQ(seen.count(i), held_back ? 0u : 1u) << "request " << i;
  }
}

}  // namespace
}  // namespace twinstep::dataplane
