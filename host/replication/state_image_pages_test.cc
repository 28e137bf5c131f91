// Page images and the memory digest on guest memory without a VM: round trips,
// complete vs partial images, refusal of corrupt images with nothing changed,
// and what the dirty bitmap reports around an apply.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include "common/crc.h"
#include "host/replication/state_image.h"

namespace twinstep::host {
namespace {

constexpr uint64_t kMem = 16ull << 20;

std::unique_ptr<GuestMemory> NewMemory(uint64_t bytes = kMem) {
  auto m = GuestMemory::Create(bytes, false);
  EXPECT_TRUE(m) << m.error().ToString();
  return m ? std::move(*m) : nullptr;
}

// Fills frame gfn with a pattern derived from seed (never all zero).
void Fill(GuestMemory& mem, uint64_t gfn, uint8_t seed) {
  uint8_t* p = PagePtr(mem, gfn);
  ASSERT_NE(p, nullptr);
  for (uint64_t i = 0; i < kPageSize; ++i) p[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8)) | 1;
}

bool SameRam(const GuestMemory& a, const GuestMemory& b) { return std::memcmp(a.base(), b.base(), a.size()) == 0; }

// Rewrites the PAGE section of an image and reseals the container: a
// well-formed image whose contents are wrong.
std::vector<uint8_t> Reseal(const std::vector<uint8_t>& image, const std::function<void(std::vector<uint8_t>&)>& edit) {
  auto idx = SnapshotIndex::Parse(image);
  EXPECT_TRUE(idx);
  std::span<const uint8_t> b;
  EXPECT_TRUE(idx->Find(kSecPages, &b));
  std::vector<uint8_t> page(b.begin(), b.end());
  edit(page);
  const SectionData s{kSecPages, {page}};
  return BuildSnapshotImage({&s, 1});
}

void PutU64(std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }

TEST(StateImagePagesTest, CompleteImageMakesTheTargetEqualToTheSource) {
  auto a = NewMemory(), b = NewMemory();
  ASSERT_TRUE(a && b);
  for (uint64_t g : {0ull, 1ull, 2ull, 100ull, 4095ull}) Fill(*a, g, static_cast<uint8_t>(g));
  Fill(*b, 7, 9);  // stale content the complete image must clear
  Fill(*b, 100, 1);
  const auto pages = NonZeroPages(*a);
  EXPECT_EQ(pages, (std::vector<uint64_t>{0, 1, 2, 100, 4095}));
  auto img = EncodePages(*a, pages, true);
  ASSERT_TRUE(img) << img.error().ToString();
  EXPECT_EQ(img->size(), 32u + 32u + kPageSectionHeaderBytes + pages.size() * (8 + kPageSize));
  ASSERT_TRUE(ApplyPages(*b, *img));
  EXPECT_TRUE(SameRam(*a, *b));
  EXPECT_EQ(MemoryDigest(*a), MemoryDigest(*b));
}

TEST(StateImagePagesTest, PartialImageReplacesOnlyItsPages) {
  auto a = NewMemory(), b = NewMemory();
  ASSERT_TRUE(a && b);
  Fill(*a, 3, 1);
  Fill(*a, 5, 2);
  Fill(*b, 9, 3);
  // Unsorted with a duplicate: the encoder sorts and merges.
  const uint64_t gfns[] = {5, 3, 5};
  auto img = EncodePages(*a, gfns);
  ASSERT_TRUE(img) << img.error().ToString();
  ASSERT_TRUE(ApplyPages(*b, *img));
  EXPECT_EQ(std::memcmp(PagePtr(*a, 3), PagePtr(*b, 3), kPageSize), 0);
  EXPECT_EQ(std::memcmp(PagePtr(*a, 5), PagePtr(*b, 5), kPageSize), 0);
  EXPECT_NE(PagePtr(*b, 9)[0], 0) << "a page not in a partial image is kept";
  EXPECT_NE(MemoryDigest(*a), MemoryDigest(*b));
}

TEST(StateImagePagesTest, LongRunsIntoAFreshTarget) {
  auto a = NewMemory(), b = NewMemory();
  ASSERT_TRUE(a && b);
  std::vector<uint64_t> gfns;
  for (uint64_t g = 512; g < 512 + 300; ++g) {
    Fill(*a, g, static_cast<uint8_t>(g));
    gfns.push_back(g);
  }
  Fill(*a, 2000, 1);
  gfns.push_back(2000);
  auto img = EncodePages(*a, gfns);
  ASSERT_TRUE(img);
  ASSERT_TRUE(ApplyPages(*b, *img));
  EXPECT_TRUE(SameRam(*a, *b));
}

TEST(StateImagePagesTest, HighMemoryFramesAboveTheHole) {
  // 3 GiB + 2 MiB: frames above 4 GiB exist, those in [3 GiB, 4 GiB) do not.
  auto a = NewMemory(3ull * 1024 * 1024 * 1024 + (2 << 20)), b = NewMemory(3ull * 1024 * 1024 * 1024 + (2 << 20));
  ASSERT_TRUE(a && b);
  const uint64_t high = kHighMemStart >> kPageShift;
  Fill(*a, high + 1, 4);
  Fill(*a, 10, 5);
  EXPECT_EQ(NonZeroPages(*a), (std::vector<uint64_t>{10, high + 1}));
  const uint64_t in_hole[] = {kMmioHoleStart >> kPageShift};
  auto bad = EncodePages(*a, in_hole);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().detail.find("0xc0000"), std::string::npos) << bad.error().detail;
  auto img = EncodePages(*a, NonZeroPages(*a), true);
  ASSERT_TRUE(img);
  ASSERT_TRUE(ApplyPages(*b, *img));
  EXPECT_EQ(MemoryDigest(*a), MemoryDigest(*b));
  EXPECT_EQ(std::memcmp(PagePtr(*a, high + 1), PagePtr(*b, high + 1), kPageSize), 0);
}

TEST(StateImagePagesTest, DigestSeesOneBitAndIgnoresHoles) {
  auto a = NewMemory(), b = NewMemory();
  ASSERT_TRUE(a && b);
  Fill(*a, 42, 1);
  Fill(*b, 42, 1);
  std::memset(PagePtr(*b, 43), 0, kPageSize);  // allocated but zero: same as a hole
  EXPECT_EQ(MemoryDigest(*a), MemoryDigest(*b));
  PagePtr(*b, 42)[100] ^= 0x10;
  EXPECT_NE(MemoryDigest(*a), MemoryDigest(*b));
  PagePtr(*b, 42)[100] ^= 0x10;
  // The same page content at another frame is another memory.
  std::memcpy(PagePtr(*b, 44), PagePtr(*b, 42), kPageSize);
  std::memset(PagePtr(*b, 42), 0, kPageSize);
  EXPECT_NE(MemoryDigest(*a), MemoryDigest(*b));
  auto empty = NewMemory();
  ASSERT_TRUE(empty);
  EXPECT_EQ(MemoryDigest(*empty), 0u);
}

// A checkpoint sends what the secondary's copy may lack: pages it did not
// list, and listed pages whose content differs by as little as one bit; an
// image of those makes the secondary equal to the primary.
TEST(StateImagePagesTest, OnlyPagesThatDifferAreSentAndThatSuffices) {
  auto primary = NewMemory(), secondary = NewMemory();
  ASSERT_TRUE(primary && secondary);
  for (uint64_t gfn : {10, 11, 12, 13}) {
    Fill(*primary, gfn, static_cast<uint8_t>(gfn));
    Fill(*secondary, gfn, static_cast<uint8_t>(gfn));
  }
  PagePtr(*secondary, 11)[4095] ^= 0x01;  // one bit flipped on the secondary
  Fill(*primary, 14, 9);                  // written by the primary alone
  const std::vector<uint64_t> secondary_dirty = {10, 11, 12};
  auto crcs = DecodePageCrcs(*primary, EncodePageCrcs(*secondary, secondary_dirty));
  ASSERT_TRUE(crcs) << crcs.error().ToString();
  ASSERT_EQ(crcs->size(), 3u);
  const std::vector<uint64_t> both = {10, 11, 12, 13, 14};
  const std::vector<uint64_t> sent = PagesThatDiffer(*primary, both, *crcs);
  EXPECT_EQ(sent, (std::vector<uint64_t>{11, 13, 14}));
  auto image = EncodePages(*primary, sent);
  ASSERT_TRUE(image);
  ASSERT_TRUE(ApplyPages(*secondary, *image));
  EXPECT_TRUE(SameRam(*primary, *secondary));
}

TEST(StateImagePagesTest, MalformedDirtyListsAreRefusedByName) {
  auto mem = NewMemory();
  ASSERT_TRUE(mem);
  auto list = [](std::initializer_list<uint64_t> words) {
    std::vector<uint8_t> b(words.size() * 8);
    size_t i = 0;
    for (uint64_t w : words) PutU64(b, 8 * i++, w);
    return b;
  };
  struct Case {
    std::vector<uint8_t> bytes;
    const char* says;
  } cases[] = {
      {std::vector<uint8_t>(17, 0), "not a whole number"},
      {list({kMem / kPageSize, 0}), "outside guest RAM"},
      {list({5, 0, 5, 0}), "not above the one before"},
  };
  for (const Case& c : cases) {
    auto r = DecodePageCrcs(*mem, c.bytes);
    ASSERT_FALSE(r) << c.says;
    EXPECT_NE(r.error().ToString().find(c.says), std::string::npos) << r.error().ToString();
  }
  auto empty = DecodePageCrcs(*mem, {});
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(StateImagePagesTest, CorruptImagesAreRefusedAndChangeNothing) {
  auto a = NewMemory(), b = NewMemory();
  ASSERT_TRUE(a && b);
  Fill(*a, 1, 1);
  Fill(*a, 2, 2);
  Fill(*b, 1, 7);
  const uint64_t gfns[] = {1, 2};
  auto good = EncodePages(*a, gfns);
  ASSERT_TRUE(good);
  const uint64_t before = MemoryDigest(*b);
  const size_t sec = 64;  // header + one table entry
  struct Case {
    const char* name;
    std::vector<uint8_t> image;
    Errc code;
    const char* says;
  };
  std::vector<Case> cases;
  auto flip = [&](size_t at) {
    auto c = *good;
    c[at] ^= 0x01;
    return c;
  };
  cases.push_back({"flipped page byte", flip(good->size() - 10), Errc::kSnapshotCorrupt, "section PAGE checksum"});
  cases.push_back({"flipped frame number", flip(sec + kPageSectionHeaderBytes), Errc::kSnapshotCorrupt, "PAGE checksum"});
  cases.push_back({"flipped table", flip(40), Errc::kSnapshotCorrupt, "table checksum"});
  cases.push_back({"flipped header", flip(9), Errc::kSnapshotCorrupt, "header checksum"});
  cases.push_back({"truncated", std::vector<uint8_t>(good->begin(), good->begin() + good->size() / 2),
                   Errc::kSnapshotTruncated, "ends past the end"});
  cases.push_back({"empty", {}, Errc::kSnapshotTruncated, "shorter than the header"});
  cases.push_back({"frame outside RAM", Reseal(*good, [](auto& p) { PutU64(p, 24 + 8, 1ull << 30); }),
                   Errc::kSnapshotCorrupt, "page #1 (frame 0x40000000) is not a page"});
  cases.push_back({"frames out of order", Reseal(*good, [](auto& p) { PutU64(p, 24 + 8, 1); }), Errc::kSnapshotCorrupt,
                   "page #1 (frame 0x1) does not follow frame 0x1"});
  cases.push_back({"count too large", Reseal(*good, [](auto& p) { PutU64(p, 16, 3); }), Errc::kSnapshotCorrupt,
                   "cannot hold the 3 pages"});
  cases.push_back({"count overflows", Reseal(*good, [](auto& p) { PutU64(p, 16, ~0ull / 8); }), Errc::kSnapshotCorrupt,
                   "cannot hold"});
  cases.push_back({"other RAM size", Reseal(*good, [](auto& p) { PutU64(p, 0, 32ull << 20); }), Errc::kSnapshotMismatch,
                   "32 MiB of RAM, this VM has 16 MiB"});
  cases.push_back({"unknown flag", Reseal(*good, [](auto& p) { p[8] = 2; }), Errc::kSnapshotCorrupt, "unknown flags"});
  for (const Case& c : cases) {
    auto s = ApplyPages(*b, c.image);
    ASSERT_FALSE(s) << c.name;
    EXPECT_EQ(s.error().code, c.code) << c.name << ": " << s.error().ToString();
    EXPECT_NE(s.error().detail.find(c.says), std::string::npos) << c.name << ": " << s.error().detail;
    EXPECT_EQ(MemoryDigest(*b), before) << c.name;
  }
  // Every single flipped byte is refused.
  for (size_t i = 0; i < good->size(); i += 97) {
    EXPECT_FALSE(ApplyPages(*b, flip(i))) << "byte " << i;
  }
  EXPECT_EQ(MemoryDigest(*b), before);
  ASSERT_TRUE(ApplyPages(*b, *good));
}

// Random damage inside a well-formed container (CRCs resealed), so that the
// PAGE decoder itself sees it: refused or applied, never a crash or a write
// outside RAM (run under the sanitizer build too).
TEST(StateImagePagesTest, RandomDamageBehindValidCrcsNeverCrashes) {
  auto a = NewMemory(), b = NewMemory();
  ASSERT_TRUE(a && b);
  Fill(*a, 1, 1);
  Fill(*a, 2, 2);
  Fill(*a, 4000, 3);
  auto good = EncodePages(*a, NonZeroPages(*a));
  ASSERT_TRUE(good);
  std::mt19937_64 rng(1);
  int refused = 0;
  for (int round = 0; round < 3000; ++round) {
    auto bad = Reseal(*good, [&](std::vector<uint8_t>& p) {
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits; ++e) {
        // Mostly the header and frame list, where the structure is.
        const size_t span = (rng() % 4 != 0) ? std::min<size_t>(p.size(), kPageSectionHeaderBytes + 3 * 8) : p.size();
        p[rng() % span] = static_cast<uint8_t>(rng());
      }
      if (rng() % 8 == 0) p.resize(rng() % (p.size() + 1));
    });
    if (!ApplyPages(*b, bad)) ++refused;
  }
  EXPECT_GT(refused, 1500);
}

TEST(StateImagePagesTest, AppliedPagesAreNotReportedDirtyButEarlierWritesAre) {
  auto a = NewMemory(), b = NewMemory();
  ASSERT_TRUE(a && b);
  Fill(*a, 1, 1);
  Fill(*a, 2, 2);
  const uint8_t mark[1] = {1};
  ASSERT_TRUE(b->Write(0x5000, mark));  // a VMM write on the target before the apply
  auto img = EncodePages(*a, NonZeroPages(*a), true);
  ASSERT_TRUE(img);
  ASSERT_TRUE(ApplyPages(*b, *img));
  auto d = b->CollectDirty();
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, (std::vector<uint64_t>{5}));
  d = b->CollectDirty();
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->empty());
  // Encoding reads the source without dirtying it.
  d = a->CollectDirty();
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->empty());
}

}  // namespace
}  // namespace twinstep::host
