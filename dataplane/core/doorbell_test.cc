// The doorbell between a sleeping loop and its producers, with real threads.
#include "dataplane/core/doorbell.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace twinstep::dataplane {
namespace {

constexpr uint64_t kLongNs = 30'000'000'000;  // a bound that only a lost wake-up reaches
constexpr uint64_t kShortNs = 1'000'000;

TEST(DoorbellTest, RingAfterArmWakesTheSleeper) {
  Doorbell bell;
  ASSERT_GE(bell.fd(), 0);
  bell.Arm();
  std::thread producer([&] { bell.Ring(); });
  EXPECT_TRUE(bell.Wait(kLongNs));
  producer.join();
  EXPECT_EQ(bell.wakes(), 1u);
}

TEST(DoorbellTest, RingWithoutArmCostsNothingAndWakesNoOne) {
  Doorbell bell;
  bell.Ring();
  bell.Ring();
  EXPECT_EQ(bell.wakes(), 0u);
  bell.Arm();
  EXPECT_FALSE(bell.Wait(kShortNs));  // timed out: nothing was left on the fd
}

TEST(DoorbellTest, OneWakePerArmHoweverManyRings) {
  Doorbell bell;
  bell.Arm();
  bell.Ring();
  bell.Ring();
  bell.Ring();
  EXPECT_EQ(bell.wakes(), 1u);
  EXPECT_TRUE(bell.Wait(kLongNs));
}

TEST(DoorbellTest, DisarmedBellIsNotRungAndStaleRingsAreCleared) {
  Doorbell bell;
  bell.Arm();
  bell.Disarm();  // the last look found work
  bell.Ring();
  EXPECT_EQ(bell.wakes(), 0u);
  // A ring that raced with a disarm leaves a count on the fd: Arm clears it.
  bell.Arm();
  bell.Ring();
  bell.Disarm();
  bell.Arm();
  EXPECT_FALSE(bell.Wait(kShortNs));
}

// The protocol the poll loops follow: publish, then ring; arm, then look,
// then wait. No item may be left behind by a sleeper that missed a ring.
TEST(DoorbellTest, ProducersAndASleeperLoseNoWakeUp) {
  constexpr int kProducers = 3, kItems = 20000;
  Doorbell bell;
  std::atomic<int> published{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&] {
      for (int i = 0; i < kItems; ++i) {
        published.fetch_add(1, std::memory_order_relaxed);
        bell.Ring();
      }
    });
  }
  int consumed = 0, lost = 0;
  while (consumed < kProducers * kItems) {
    const int now = published.load(std::memory_order_relaxed);
    if (now > consumed) {
      consumed = now;
      continue;
    }
    bell.Arm();
    if (published.load(std::memory_order_relaxed) > consumed) {
      bell.Disarm();
      continue;
    }
    if (!bell.Wait(kLongNs)) ++lost;  // only a wake-up lost for good times out
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(consumed, kProducers * kItems);
}

}  // namespace
}  // namespace twinstep::dataplane
