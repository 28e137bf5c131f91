// The golden-vector format round-trips and refuses bad files with file:line.
#include "dataplane/comparator/golden.h"

#include <gtest/gtest.h>

#include "dataplane/comparator/conformance.h"

namespace twinstep::compare::golden {
namespace {

TEST(GoldenFormatTest, CheckedInFilesRoundTrip) {
  const auto paths = GoldenVectorPaths();
  ASSERT_GE(paths.size(), 7u);
  for (const auto& p : paths) {
    auto v = Load(p);
    ASSERT_TRUE(v.has_value()) << v.error().ToString();
    const std::string text = Format(*v);
    auto again = Parse(text, "roundtrip");
    ASSERT_TRUE(again.has_value()) << again.error().ToString();
    EXPECT_EQ(Format(*again), text) << p;
    EXPECT_EQ(again->steps.size(), v->steps.size());
  }
}

struct BadCase {
  const char* text;
  int line;
  const char* fragment;
};

TEST(GoldenFormatTest, BadFilesNameTheLine) {
  const BadCase cases[] = {
      {"", 1, "empty"},
      {"twinstep-golden-vectors 2\n", 1, "version"},
      {"nonsense\n", 1, "first line"},
      {"twinstep-golden-vectors 1\nname x\nout 5 1 zz\n", 3, "out needs"},
      {"twinstep-golden-vectors 1\nname x\nadv 5\nadv 4\n", 4, "backwards"},
      {"twinstep-golden-vectors 1\nname x\nexpect release 1 0 0 0 0 0\n", 3, "before any step"},
      {"twinstep-golden-vectors 1\nname x\nadv 1\nexpect released 1 0 0 0 0 0\n", 4, "expect needs"},
      {"twinstep-golden-vectors 1\nname x\nconfig bogus=1\n", 3, "unknown config"},
      {"twinstep-golden-vectors 1\nname x\nfly 1\n", 3, "unknown line"},
      {"twinstep-golden-vectors 1\nadv 1\n", 3, "missing 'name'"},  // reported at the end
  };
  for (const auto& c : cases) {
    auto r = Parse(c.text, "t.tgv");
    ASSERT_FALSE(r.has_value()) << c.text;
    EXPECT_EQ(r.error().line, c.line) << c.text << " -> " << r.error().ToString();
    EXPECT_NE(r.error().message.find(c.fragment), std::string::npos) << r.error().ToString();
  }
}

}  // namespace
}  // namespace twinstep::compare::golden
