// The snapshot container: round trip (file and in-memory image), and refusal of corrupt, truncated and
// wrong-version files before any section is handed out.
#include "host/snapshot/format.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "common/crc.h"

namespace twinstep::host {
namespace {

std::vector<uint8_t> MakeFile() {
  char tmpl[] = "/tmp/twinstep-snap-XXXXXX";
  close(mkstemp(tmpl));
  const std::vector<uint8_t> a = {1, 2, 3}, b1 = {4, 5}, b2 = {6};
  const SectionData s[] = {{SectionId("AAAA"), {a}}, {SectionId("BBBB"), {b1, b2}}};
  EXPECT_TRUE(WriteSnapshotFile(tmpl, s));
  std::ifstream in(tmpl, std::ios::binary);
  std::vector<uint8_t> f((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(tmpl);
  return f;
}

TEST(SnapshotFormatTest, RoundTrip) {
  const auto f = MakeFile();
  auto idx = SnapshotIndex::Parse(f);
  ASSERT_TRUE(idx) << idx.error().ToString();
  std::span<const uint8_t> b;
  ASSERT_TRUE(idx->Find(SectionId("BBBB"), &b));
  EXPECT_EQ(std::vector<uint8_t>(b.begin(), b.end()), (std::vector<uint8_t>{4, 5, 6}));
  EXPECT_FALSE(idx->Find(SectionId("CCCC"), &b));
  EXPECT_EQ(SectionName(SectionId("AAAA")), "AAAA");
}

TEST(SnapshotFormatTest, EveryFlippedByteIsRefused) {
  const auto good = MakeFile();
  for (size_t i = 0; i < good.size(); ++i) {
    auto f = good;
    f[i] ^= 0x40;
    EXPECT_FALSE(SnapshotIndex::Parse(f)) << "byte " << i;
  }
}

TEST(SnapshotFormatTest, TruncatedIsRefusedAsTruncated) {
  const auto good = MakeFile();
  for (size_t n : {size_t{0}, size_t{10}, size_t{40}, good.size() - 1}) {
    auto r = SnapshotIndex::Parse(std::span<const uint8_t>(good.data(), n));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error().code, Errc::kSnapshotTruncated) << n << ": " << r.error().ToString();
  }
}

TEST(SnapshotFormatTest, WrongVersionIsRefusedAsVersion) {
  auto f = MakeFile();
  SnapshotHeader h;
  std::memcpy(&h, f.data(), sizeof h);
  h.version = kSnapshotVersion + 1;
  h.header_crc = Crc32c({reinterpret_cast<const uint8_t*>(&h), offsetof(SnapshotHeader, header_crc)});
  std::memcpy(f.data(), &h, sizeof h);
  auto r = SnapshotIndex::Parse(f);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kSnapshotVersion);
  EXPECT_NE(r.error().ToString().find("version 2"), std::string::npos) << r.error().ToString();
}

TEST(SnapshotFormatTest, CorruptSectionNamesTheSection) {
  auto f = MakeFile();
  f.back() ^= 1;  // inside BBBB
  auto r = SnapshotIndex::Parse(f);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kSnapshotCorrupt);
  EXPECT_NE(r.error().detail.find("BBBB"), std::string::npos) << r.error().detail;
}

TEST(SnapshotFormatTest, InMemoryImageIsTheFileByteForByte) {
  const std::vector<uint8_t> a = {1, 2, 3}, b1 = {4, 5}, b2 = {6};
  const SectionData s[] = {{SectionId("AAAA"), {a}}, {SectionId("BBBB"), {b1, b2}}};
  EXPECT_EQ(BuildSnapshotImage(s), MakeFile());
  const SectionData empty[] = {{SectionId("EMPT"), {std::span<const uint8_t>()}}};
  auto idx = SnapshotIndex::Parse(BuildSnapshotImage(empty));
  ASSERT_TRUE(idx) << idx.error().ToString();
  EXPECT_EQ(idx->sections().size(), 1u);
}

TEST(SnapshotFormatTest, ASectionTwiceIsRefused) {
  const std::vector<uint8_t> a = {1};
  const SectionData s[] = {{SectionId("AAAA"), {a}}, {SectionId("AAAA"), {a}}};
  auto r = SnapshotIndex::Parse(BuildSnapshotImage(s));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("section AAAA appears twice"), std::string::npos) << r.error().detail;
}

TEST(SnapshotFormatTest, MissingFileIsAnIoError) {
  auto r = SnapshotFile::Open("/nonexistent/snapshot");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kIo);
}

}  // namespace
}  // namespace twinstep::host
