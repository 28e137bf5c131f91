// The dirty-page set: union, order, bounds.
#include "host/replication/dirty_set.h"

#include <gtest/gtest.h>

namespace twinstep::replication {
namespace {

TEST(DirtySet, UnionInOrderWithoutDuplicates) {
  DirtySet s(200);
  const uint64_t a[] = {5, 130, 64, 5};
  const uint64_t b[] = {63, 64, 199};
  s.Add(a);
  s.Add(b);
  EXPECT_EQ(s.count(), 5u);
  EXPECT_EQ(s.Members(), (std::vector<uint64_t>{5, 63, 64, 130, 199}));
}

TEST(DirtySet, PagesPastTheEndAreCountedNotKept) {
  DirtySet s(100);
  const uint64_t a[] = {99, 100, 1000};
  s.Add(a);
  EXPECT_EQ(s.count(), 1u);
  EXPECT_EQ(s.ignored(), 2u);
  s.Clear();
  EXPECT_EQ(s.count(), 0u);
  EXPECT_TRUE(s.Members().empty());
}

}  // namespace
}  // namespace twinstep::replication
