// The doorbell across a same-host link: two sides in one process, and one in
// a forked child (the flags really are shared memory, the wake-up a datagram).
#include "dataplane/core/peer_bell.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

namespace twinstep::dataplane {
namespace {

constexpr int kLongMs = 30'000;  // a bound that only a lost wake-up reaches

class PeerBellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("twinstep-peer-bell-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    base_ = (dir_ / "sync.sock").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static bool Readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1;
  }
  std::filesystem::path dir_;
  std::string base_;
};

TEST_F(PeerBellTest, ASendToAnArmedPeerWakesItOnce) {
  auto a = PeerBell::Open(base_, 0), b = PeerBell::Open(base_, 1);
  ASSERT_TRUE(a) << a.error();
  ASSERT_TRUE(b) << b.error();
  (*a)->RingPeer();
  EXPECT_EQ((*a)->rings(), 0u) << "the peer is not armed: no system call";
  EXPECT_FALSE(Readable((*b)->fd(), 0));
  (*b)->Arm();
  (*a)->RingPeer();
  (*a)->RingPeer();
  EXPECT_EQ((*a)->rings(), 1u) << "one wake-up per arm";
  EXPECT_TRUE(Readable((*b)->fd(), kLongMs));
  (*b)->Arm();  // clears it
  EXPECT_FALSE(Readable((*b)->fd(), 0));
  (*b)->Disarm();
  (*a)->RingPeer();
  EXPECT_EQ((*a)->rings(), 1u);
  // And the other way.
  (*a)->Arm();
  (*b)->RingPeer();
  EXPECT_TRUE(Readable((*a)->fd(), kLongMs));
}

TEST_F(PeerBellTest, APeerThatIsNotThereIsNoError) {
  auto a = PeerBell::Open(base_, 0);
  ASSERT_TRUE(a) << a.error();
  {
    auto b = PeerBell::Open(base_, 1);
    ASSERT_TRUE(b);
    (*b)->Arm();  // then it goes away armed, as a killed node would
  }
  (*a)->RingPeer();  // nobody bound there: the datagram has nowhere to go
  EXPECT_EQ((*a)->rings(), 1u);
  auto again = PeerBell::Open(base_, 1);  // a restarted peer binds again
  ASSERT_TRUE(again) << again.error();
  (*again)->Arm();
  (*a)->RingPeer();
  EXPECT_TRUE(Readable((*again)->fd(), kLongMs));
}

TEST_F(PeerBellTest, BadArgumentsAreRefusedByName) {
  auto side = PeerBell::Open(base_, 2);
  ASSERT_FALSE(side);
  EXPECT_NE(side.error().find("side"), std::string::npos) << side.error();
  auto longer = PeerBell::Open(base_ + std::string(200, 'x'), 0);
  ASSERT_FALSE(longer);
  EXPECT_NE(longer.error().find("too long"), std::string::npos) << longer.error();
  auto nodir = PeerBell::Open((dir_ / "missing" / "sync.sock").string(), 0);
  ASSERT_FALSE(nodir);
  EXPECT_NE(nodir.error().find("missing"), std::string::npos) << nodir.error();
}

TEST_F(PeerBellTest, WakesAnotherProcess) {
  auto a = PeerBell::Open(base_, 0);
  ASSERT_TRUE(a) << a.error();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto b = PeerBell::Open(base_, 1);
    if (!b) _exit(2);
    (*b)->Arm();
    _exit(Readable((*b)->fd(), kLongMs) ? 0 : 1);
  }
  // Ring until the child has armed (its flag is in the shared file).
  for (int i = 0; i < 300'000 && (*a)->rings() == 0; ++i) {
    (*a)->RingPeer();
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the child was never woken, 2: it could not open its side";
  EXPECT_EQ((*a)->rings(), 1u);
}

}  // namespace
}  // namespace twinstep::dataplane
