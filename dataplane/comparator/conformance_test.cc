// The conformance suite over every golden vector, for the software backend.
#include "dataplane/comparator/conformance.h"

#include <gtest/gtest.h>

#include "dataplane/comparator/software_comparator.h"

namespace twinstep::compare {
namespace {

TEST(ConformanceTest, SoftwareBackendPassesEveryGoldenVector) {
  const auto paths = GoldenVectorPaths();
  ASSERT_FALSE(paths.empty());
  for (const auto& p : paths) {
    auto v = golden::Load(p);
    ASSERT_TRUE(v.has_value()) << v.error().ToString();
    auto report = RunVector(*v, [](const ComparatorConfig& c, VerdictSink* s) {
      return std::make_unique<SoftwareComparator>(c, s);
    });
    EXPECT_EQ(report.steps, v->steps.size());
    EXPECT_GT(report.verdicts, 0u) << p;
    for (const auto& f : report.failures) ADD_FAILURE() << f;
  }
}

}  // namespace
}  // namespace twinstep::compare
