// Randomized decoder robustness: millions of random and mutated frames must
// decode or fail with a typed error, never read out of bounds (run under ASan +
// UBSan in the sanitizer tree). Bounded by count, seeded for reproducibility.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "common/crc.h"
#include "common/wire.h"

namespace twinstep::wire {
namespace {

size_t Iterations() {
  const char* s = std::getenv("TWINSTEP_FUZZ_ITERATIONS");
  return s ? std::strtoull(s, nullptr, 10) : 2'000'000;
}

// Decodes all records; returns how many decoded before the first error.
int DecodeAll(const std::vector<uint8_t>& frame) {
  auto reader = FrameReader::Parse(frame);
  if (!reader.has_value()) return -1;
  int n = 0;
  while (!reader->Done()) {
    auto r = reader->Next();
    if (!r.has_value()) return n;
    // Touch every byte a decoded span points at, so ASan sees any overrun.
    volatile uint8_t sink = 0;  // keeps the reads from being optimized away
    for (uint8_t b : r->input.packet) sink = sink ^ b;
    for (uint8_t b : r->checkpoint_chunk.data) sink = sink ^ b;
    ++n;
  }
  return n;
}

std::vector<uint8_t> ValidFrame(std::mt19937_64& rng) {
  std::vector<uint8_t> buf(kEthHeaderBytes + kHeaderBytes + (rng() % 1500));
  const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
  FrameWriter w(buf, mac, mac);
  w.Begin({.type = static_cast<FrameType>(1 + rng() % 3), .epoch = rng(), .seq = rng(), .ack = rng()});
  std::vector<uint8_t> blob(rng() % 200);
  for (auto& b : blob) b = static_cast<uint8_t>(rng());
  for (int i = 0, n = static_cast<int>(rng() % 8); i < n; ++i) {
    Record r;
    r.type = static_cast<RecordType>(1 + rng() % 9);
    r.input = {rng(), static_cast<uint16_t>(rng()), blob};
    r.digest = {rng(), rng(), static_cast<uint32_t>(rng()), rng()};
    r.heartbeat = {static_cast<uint32_t>(rng()), NodeRole::kPrimary, 1, rng(), rng()};
    r.checkpoint_begin = {rng(), rng(), static_cast<uint32_t>(rng()), CheckpointKind::kJoin};
    r.checkpoint_chunk = {rng(), static_cast<uint32_t>(rng()), blob};
    r.checkpoint_end = {rng(), static_cast<uint32_t>(rng()), rng()};
    r.ack = {rng(), rng()};
    r.nack = {rng(), static_cast<uint32_t>(rng())};
    r.control = {ControlOp::kFailover, static_cast<uint32_t>(rng()), rng(), rng()};
    if (!w.Add(r).has_value()) break;
  }
  auto f = w.Finish();
  return {f.begin(), f.end()};
}

void FixCrc(std::vector<uint8_t>& f) {
  if (f.size() < kEthHeaderBytes + kHeaderBytes) return;
  uint8_t* h = f.data() + kEthHeaderBytes;
  uint32_t payload;
  std::memcpy(&payload, h + 12, 4);
  const size_t avail = f.size() - kEthHeaderBytes - kHeaderBytes;
  if (payload > avail) return;
  std::memset(h + 40, 0, 4);
  const uint32_t crc = Crc32c({h, kHeaderBytes + payload});
  std::memcpy(h + 40, &crc, 4);
}

TEST(WireFuzzTest, RandomAndMutatedFramesNeverCrash) {
  std::mt19937_64 rng(20261127);
  const size_t n = Iterations();
  size_t valid_decoded = 0, mutated_rejected = 0;
  for (size_t i = 0; i < n; ++i) {
    std::vector<uint8_t> f;
    switch (i % 4) {
      case 0: {  // pure noise, sometimes with a plausible prefix
        f.resize(rng() % 2048);
        for (auto& b : f) b = static_cast<uint8_t>(rng());
        if (f.size() > 20 && (rng() & 1)) {
          f[12] = 0x88;
          f[13] = 0xB5;
          const uint32_t magic = kMagic;
          std::memcpy(&f[14], &magic, 4);
          f[18] = kVersion;
          FixCrc(f);
        }
        break;
      }
      case 1: {  // a valid frame must decode completely
        f = ValidFrame(rng);
        auto reader = FrameReader::Parse(f);
        ASSERT_TRUE(reader.has_value());
        const int decoded = DecodeAll(f);
        ASSERT_EQ(decoded, reader->header().record_count);
        ++valid_decoded;
        continue;
      }
      default: {  // mutate a valid frame: flips, truncation, growth; CRC fixed half the time
        f = ValidFrame(rng);
        for (int k = 0, m = 1 + static_cast<int>(rng() % 4); k < m && !f.empty(); ++k) {
          f[rng() % f.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
        }
        if (rng() % 4 == 0) f.resize(rng() % (f.size() + 1));
        if (rng() % 8 == 0) f.resize(f.size() + rng() % 64, static_cast<uint8_t>(rng()));
        if (rng() & 1) FixCrc(f);
        if (DecodeAll(f) < 0) ++mutated_rejected;
        break;
      }
    }
    DecodeAll(f);
  }
  EXPECT_EQ(valid_decoded, (n + 2) / 4);
  EXPECT_GT(mutated_rejected, 0u);
}

}  // namespace
}  // namespace twinstep::wire
