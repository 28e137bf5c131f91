// The adaptive idle back-off's schedule.
#include "dataplane/core/idle_backoff.h"

#include <gtest/gtest.h>

namespace twinstep::dataplane {
namespace {

TEST(IdleBackoffTest, SpinsThenSleepsLongerThenSnapsBack) {
  IdleBackoff b({false, 3, 1000, 4000});
  EXPECT_EQ(b.OnPoll(0), 0u);
  EXPECT_EQ(b.OnPoll(0), 0u);
  EXPECT_EQ(b.OnPoll(0), 0u);
  EXPECT_EQ(b.OnPoll(0), 1000u);
  EXPECT_EQ(b.OnPoll(0), 2000u);
  EXPECT_EQ(b.OnPoll(0), 4000u);
  EXPECT_EQ(b.OnPoll(0), 4000u);
  EXPECT_EQ(b.OnPoll(5), 0u);
  EXPECT_EQ(b.OnPoll(0), 0u);
  EXPECT_EQ(b.sleeps(), 4u);
}

TEST(IdleBackoffTest, BusyPollNeverSleeps) {
  IdleBackoff b({true, 0, 1000, 4000});
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(b.OnPoll(0), 0u);
}

}  // namespace
}  // namespace twinstep::dataplane
