// NodeProcess against real child processes (small shell scripts standing in
// for `twinstep node`): a node that exits asking to be started again is, a
// bounded number of times; a failed node's last log line is its exit reason.
#include "simulation/node_process.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <fstream>
#include <thread>

namespace twinstep::sim {
namespace {

class NodeProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/twsim-np-" + std::to_string(getpid());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A stand-in for `twinstep node --config C --events E` that fails with
  // status 75 (start again) on its first `failures` starts, then says ready.
  NodeLaunch Script(int failures) {
    const std::string path = dir_ + "/node.sh";
    std::ofstream out(path);
    out << "#!/bin/sh\n"
        << "n=$(cat " << dir_ << "/starts 2>/dev/null || echo 0); n=$((n+1)); echo $n > " << dir_ << "/starts\n"
        << "if [ $n -le " << failures << " ]; then\n"
        << "  echo \"twinstep node: client port 'net_af_packet0': fanout id taken (start $n)\" >&2; exit 75\n"
        << "fi\n"
        << "echo '{\"event\":\"ready\",\"role\":\"solo\",\"t\":1}' >> \"$5\"\n"
        << "exec sleep 30\n";
    out.close();
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    NodeLaunch l;
    l.name = "node-a";
    l.twinstep = path;
    l.config = dir_ + "/node-a.toml";
    l.out_dir = dir_;
    return l;
  }

  int Starts() {
    std::ifstream in(dir_ + "/starts");
    int n = 0;
    in >> n;
    return n;
  }

  // Polls until `done` or 10 s; returns every event seen.
  std::vector<NodeEvent> PollUntil(NodeProcess& n, const std::function<bool()>& done) {
    std::vector<NodeEvent> all;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done() && std::chrono::steady_clock::now() < end) {
      for (auto& e : n.Poll()) all.push_back(std::move(e));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return all;
  }

  std::string dir_;
};

size_t Count(const std::vector<NodeEvent>& events, const std::string& name) {
  return static_cast<size_t>(std::count_if(events.begin(), events.end(), [&](const NodeEvent& e) { return e.event == name; }));
}

TEST_F(NodeProcessTest, ANodeThatAsksToBeStartedAgainIs) {
  NodeProcess n(Script(2));
  ASSERT_TRUE(n.Start());
  auto events = PollUntil(n, [&] { return n.ready(); });
  ASSERT_TRUE(n.ready()) << "starts: " << Starts();
  EXPECT_TRUE(n.running());
  EXPECT_EQ(Starts(), 3);
  EXPECT_EQ(Count(events, "start_again"), 2u);
  bool named = false;
  for (const auto& e : events) {
    if (e.event == "exit") named |= e.fields.value("reason", "").find("exit status 75: twinstep node: client port") == 0;
  }
  EXPECT_TRUE(named) << "the exit reason carries the node's last log line";
}

TEST_F(NodeProcessTest, StartingAgainIsBounded) {
  NodeProcess n(Script(100));
  ASSERT_TRUE(n.Start());
  PollUntil(n, [&] { return Starts() >= 1 + NodeProcess::kMaxStartsAgain && !n.running(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  n.Poll();
  EXPECT_FALSE(n.running());
  EXPECT_EQ(Starts(), 1 + NodeProcess::kMaxStartsAgain);
  EXPECT_NE(n.last_exit().find("fanout id taken (start 4)"), std::string::npos) << n.last_exit();
}

}  // namespace
}  // namespace twinstep::sim
