// Trace parsing and replay against RoleMachine.
#include "firmware/trace.h"

#include <gtest/gtest.h>

namespace twinstep::firmware {
namespace {

TEST(TraceTest, ReplaysAFailoverTrace) {
  constexpr std::string_view kTrace = R"(# secondary takes over after its primary dies
join_complete 1        => secondary 1
peer_suspected         => secondary 1
witness_unavailable
witness_grant 2        => solo 2
peer_joined            => primary 2
newer_epoch 3          => fenced 2
restart                => joining 2
)";
  RoleMachine m;
  const ReplayResult r = ReplayTrace(kTrace, m);
  EXPECT_TRUE(r.ok) << "line " << r.line;
  EXPECT_EQ(r.steps, 7u);
  EXPECT_EQ(m.role(), Role::kJoining);
}

TEST(TraceTest, ReportsTheFirstMismatchWithItsLine) {
  RoleMachine m;
  const ReplayResult r = ReplayTrace("join_complete 1 => secondary 1\npeer_suspected => solo 2\n", m);
  ASSERT_FALSE(r.ok);
  EXPECT_FALSE(r.parse_failed);
  EXPECT_EQ(r.line, 2u);
  EXPECT_EQ(r.step.role, Role::kSolo);
  EXPECT_EQ(r.got.role, Role::kSecondary);
  EXPECT_EQ(r.got.pending, ArbitrationKind::kFailover);
}

struct BadLine {
  const char* line;
  TraceError error;
};

class TraceBadLineTest : public ::testing::TestWithParam<BadLine> {};

TEST_P(TraceBadLineTest, IsRejectedWithItsReason) {
  TraceStep s;
  auto r = ParseTraceLine(GetParam().line, &s);
  ASSERT_FALSE(r.has_value()) << GetParam().line;
  EXPECT_EQ(r.error(), GetParam().error);
  EXPECT_STRNE(TraceErrorMessage(r.error()), "unknown trace error");
}

INSTANTIATE_TEST_SUITE_P(Lines, TraceBadLineTest,
                         ::testing::Values(BadLine{"become_leader", TraceError::kUnknownEvent},
                                           BadLine{"witness_grant x", TraceError::kBadNumber},
                                           BadLine{"witness_grant 99999999999999999999", TraceError::kBadNumber},
                                           BadLine{"stop => boss 1", TraceError::kUnknownRole},
                                           BadLine{"stop =>", TraceError::kMissingExpectation},
                                           BadLine{"stop => stopped 1 extra", TraceError::kTrailingText},
                                           BadLine{"witness_grant 1 2", TraceError::kTrailingText}));

TEST(TraceTest, BlankAndCommentLinesAreNoSteps) {
  TraceStep s;
  EXPECT_FALSE(*ParseTraceLine("", &s));
  EXPECT_FALSE(*ParseTraceLine("   # just a comment", &s));
  ASSERT_TRUE(*ParseTraceLine("witness_grant 18446744073709551615 # max", &s));
  EXPECT_EQ(s.event.arg, UINT64_MAX);
  EXPECT_FALSE(s.has_expectation);
}

TEST(TraceTest, ParseErrorStopsReplayAtItsLine) {
  RoleMachine m;
  const ReplayResult r = ReplayTrace("start_alone\n\nfly\nstop\n", m);
  ASSERT_FALSE(r.ok);
  EXPECT_TRUE(r.parse_failed);
  EXPECT_EQ(r.line, 3u);
  EXPECT_EQ(r.steps, 1u);
}

}  // namespace
}  // namespace twinstep::firmware
