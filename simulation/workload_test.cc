// The client workload's checks against a small memcached-over-UDP server on
// loopback that can be told to misbehave: a checker that cannot see a lost
// write, a stale read or a dropped request would pass every sim scenario.
#include "simulation/workload.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace twinstep::sim {
namespace {

enum class Fault { kNone, kForgetOneKey, kStaleRead, kDropFirstSend, kDuplicateReplies };

// memcached ASCII over UDP: an 8-byte frame header, then "set"/"get".
class KvServer {
 public:
  explicit KvServer(Fault fault) : fault_(fault) {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // sockaddr_in is the sockaddr of an AF_INET socket.
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~KvServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  void Loop() {
    char buf[2048];
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      sockaddr_in from{};
      socklen_t flen = sizeof from;
      const ssize_t got = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (got < 8) continue;
      const uint16_t rid = static_cast<uint16_t>((static_cast<uint8_t>(buf[0]) << 8) | static_cast<uint8_t>(buf[1]));
      if (fault_ == Fault::kDropFirstSend && seen_rids_.insert(rid).second) continue;
      const std::string req(buf + 8, static_cast<size_t>(got) - 8);
      std::string reply = Handle(req);
      std::string frame(buf, 8);
      frame += reply;
      const int copies = fault_ == Fault::kDuplicateReplies ? 2 : 1;
      for (int i = 0; i < copies; ++i)
        sendto(fd_, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&from), flen);
    }
  }
  std::string Handle(const std::string& req) {
    const size_t sp1 = req.find(' ');
    const std::string cmd = req.substr(0, sp1);
    const size_t key_end = req.find_first_of(" \r", sp1 + 1);
    const std::string key = req.substr(sp1 + 1, key_end - sp1 - 1);
    if (cmd == "set") {
      const size_t data = req.find("\r\n") + 2;
      std::string value = req.substr(data, req.size() - data - 2);
      if (fault_ == Fault::kForgetOneKey && key == "k3") return "STORED\r\n";  // acknowledged, never stored
      if (fault_ == Fault::kStaleRead) old_[key] = store_[key];
      store_[key] = std::move(value);
      return "STORED\r\n";
    }
    auto it = store_.find(key);
    if (fault_ == Fault::kStaleRead && old_.count(key) && !old_[key].empty()) it = old_.find(key);
    if (it == store_.end()) return "END\r\n";
    return "VALUE " + key + " 0 " + std::to_string(it->second.size()) + "\r\n" + it->second + "\r\nEND\r\n";
  }

  Fault fault_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::map<std::string, std::string> store_, old_;
  std::set<uint16_t> seen_rids_;
};

WorkloadTotals RunAgainst(Fault fault) {
  KvServer server(fault);
  WorkloadConfig c;
  c.server = "127.0.0.1";
  c.port = server.port();
  c.rate = 4000;
  c.keys = 16;
  c.retry_ms = 20;
  c.give_up_ms = 2000;
  auto w = Workload::Create(c);
  EXPECT_TRUE(w.has_value());
  (*w)->Start();
  usleep(300'000);
  (*w)->Stop();
  (*w)->Verify();
  return (*w)->Totals();
}

TEST(WorkloadTest, CorrectServerPassesEveryCheck) {
  const WorkloadTotals t = RunAgainst(Fault::kNone);
  EXPECT_GT(t.acked_writes, 100u);
  EXPECT_EQ(t.ok, t.requests);
  EXPECT_EQ(t.wrong, 0u);
  EXPECT_EQ(t.unanswered, 0u);
  EXPECT_EQ(t.lost_acked_writes, 0u);
  EXPECT_EQ(t.duplicate_replies, 0u);
  EXPECT_EQ(t.verified_keys, 16u);
}

TEST(WorkloadTest, AcknowledgedWritesNeverStoredAreFound) {
  const WorkloadTotals t = RunAgainst(Fault::kForgetOneKey);
  EXPECT_GT(t.wrong, 0u);                 // gets of k3 after an acknowledged set
  EXPECT_EQ(t.lost_acked_writes, 1u);     // and the read-back of k3
  EXPECT_EQ(t.verified_keys, 15u);
}

TEST(WorkloadTest, StaleReadIsWrong) {
  EXPECT_GT(RunAgainst(Fault::kStaleRead).wrong, 0u);
}

TEST(WorkloadTest, DroppedRequestsAreResentAndAnswered) {
  const WorkloadTotals t = RunAgainst(Fault::kDropFirstSend);
  EXPECT_GE(t.resends, t.requests);  // every request (and each read-back) once more
  EXPECT_EQ(t.unanswered, 0u);
  EXPECT_EQ(t.wrong, 0u);
  EXPECT_EQ(t.lost_acked_writes, 0u);
}

TEST(WorkloadTest, DuplicateRepliesAreCounted) {
  EXPECT_GT(RunAgainst(Fault::kDuplicateReplies).duplicate_replies, 0u);
}

TEST(WorkloadTest, BadServerAddressIsRefused) {
  WorkloadConfig c;
  c.server = "10.77.0";
  auto w = Workload::Create(c);
  ASSERT_FALSE(w.has_value());
  EXPECT_NE(w.error().Message().find("10.77.0"), std::string::npos);
}

}  // namespace
}  // namespace twinstep::sim
