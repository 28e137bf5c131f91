// Table-driven CRCs (slicing-by-8) with x86-64 fast paths: the SSE4.2 crc32
// instruction for CRC32C and carry-less multiply folding for CRC-64.
#include "common/crc.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) && !defined(TWINSTEP_FREESTANDING)
#include <immintrin.h>
#define TWINSTEP_X86_CRC 1
#endif

namespace twinstep {
namespace {

template <typename T, T kReflectedPoly>
constexpr std::array<std::array<T, 256>, 8> MakeSlicingTables() {
  std::array<std::array<T, 256>, 8> t{};
  for (unsigned i = 0; i < 256; ++i) {
    T c = static_cast<T>(i);
    for (int k = 0; k < 8; ++k) c = (c & 1) ? static_cast<T>((c >> 1) ^ kReflectedPoly) : static_cast<T>(c >> 1);
    t[0][i] = c;
  }
  for (unsigned i = 0; i < 256; ++i) {
    for (int s = 1; s < 8; ++s) t[s][i] = static_cast<T>((t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF]);
  }
  return t;
}

constexpr auto kCrc32cTables = MakeSlicingTables<uint32_t, 0x82F63B78u>();
constexpr uint64_t kCrc64ReflectedPoly = 0xC96C5795D7870F42ull;
constexpr uint64_t kCrc64NormalPoly = 0x42F0E1EBA9EA3693ull;
constexpr auto kCrc64Tables = MakeSlicingTables<uint64_t, kCrc64ReflectedPoly>();

uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);  // x86-64 and aarch64 are little-endian
  return v;
}

// Raw register update (no init/xorout inversion).
uint32_t Crc32cRaw(uint32_t c, const uint8_t* p, size_t n) {
  const auto& t = kCrc32cTables;
  while (n >= 8) {
    const uint64_t w = LoadLe64(p) ^ c;
    c = t[7][w & 0xFF] ^ t[6][(w >> 8) & 0xFF] ^ t[5][(w >> 16) & 0xFF] ^ t[4][(w >> 24) & 0xFF] ^
        t[3][(w >> 32) & 0xFF] ^ t[2][(w >> 40) & 0xFF] ^ t[1][(w >> 48) & 0xFF] ^ t[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFF];
  return c;
}

uint64_t Crc64Raw(uint64_t c, const uint8_t* p, size_t n) {
  const auto& t = kCrc64Tables;
  while (n >= 8) {
    const uint64_t w = LoadLe64(p) ^ c;
    c = t[7][w & 0xFF] ^ t[6][(w >> 8) & 0xFF] ^ t[5][(w >> 16) & 0xFF] ^ t[4][(w >> 24) & 0xFF] ^
        t[3][(w >> 32) & 0xFF] ^ t[2][(w >> 40) & 0xFF] ^ t[1][(w >> 48) & 0xFF] ^ t[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFF];
  return c;
}

#if TWINSTEP_X86_CRC
__attribute__((target("sse4.2"))) uint32_t Crc32cRawSse42(uint32_t c, const uint8_t* p, size_t n) {
  uint64_t c64 = c;
  while (n >= 8) {
    c64 = _mm_crc32_u64(c64, LoadLe64(p));
    p += 8;
    n -= 8;
  }
  c = static_cast<uint32_t>(c64);
  while (n--) c = _mm_crc32_u8(c, *p++);
  return c;
}

// x^n mod P for the CRC-64 polynomial, returned bit-reflected (bit i is the
// coefficient of x^(63-i)), as the folding constants need it.
constexpr uint64_t XPowModReflected(unsigned n) {
  uint64_t v = 1;
  for (unsigned i = 0; i < n; ++i) v = (v & (1ull << 63)) ? (v << 1) ^ kCrc64NormalPoly : v << 1;
  uint64_t r = 0;
  for (int i = 0; i < 64; ++i) r |= ((v >> i) & 1) << (63 - i);
  return r;
}

// Folding a 128-bit block forward by D bits multiplies its low half (the
// higher-degree coefficients) by x^(D+63) mod P and its high half by
// x^(D-1) mod P; the -1 absorbs the one-bit shift of a reflected clmul product.
constexpr uint64_t kFold128Lo = XPowModReflected(128 + 63);
constexpr uint64_t kFold128Hi = XPowModReflected(128 - 1);
constexpr uint64_t kFold512Lo = XPowModReflected(512 + 63);
constexpr uint64_t kFold512Hi = XPowModReflected(512 - 1);

__attribute__((target("pclmul,sse4.1"))) inline __m128i Fold(__m128i x, __m128i k, __m128i next) {
  const __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
  const __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

__attribute__((target("pclmul,sse4.1"))) uint64_t Crc64RawClmul(uint64_t c, const uint8_t* p, size_t n) {
  if (n < 64) return Crc64Raw(c, p, n);
  const __m128i k128 = _mm_set_epi64x(static_cast<long long>(kFold128Hi), static_cast<long long>(kFold128Lo));
  const __m128i k512 = _mm_set_epi64x(static_cast<long long>(kFold512Hi), static_cast<long long>(kFold512Lo));
  auto load = [](const uint8_t* q) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)); };
  __m128i x0 = _mm_xor_si128(load(p), _mm_set_epi64x(0, static_cast<long long>(c)));
  __m128i x1 = load(p + 16), x2 = load(p + 32), x3 = load(p + 48);
  p += 64;
  n -= 64;
  while (n >= 64) {
    x0 = Fold(x0, k512, load(p));
    x1 = Fold(x1, k512, load(p + 16));
    x2 = Fold(x2, k512, load(p + 32));
    x3 = Fold(x3, k512, load(p + 48));
    p += 64;
    n -= 64;
  }
  x1 = Fold(x0, k128, x1);
  x2 = Fold(x1, k128, x2);
  x3 = Fold(x2, k128, x3);
  while (n >= 16) {
    x3 = Fold(x3, k128, load(p));
    p += 16;
    n -= 16;
  }
  // The register after the folded block is (block * x^64) mod P: exactly what
  // the table path yields for those 16 bytes from a zero register.
  alignas(16) uint8_t block[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(block), x3);
  c = Crc64Raw(0, block, sizeof(block));
  return Crc64Raw(c, p, n);
}

const bool kHasSse42 = __builtin_cpu_supports("sse4.2");
const bool kHasClmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif

}  // namespace

uint32_t Crc32cUpdatePortable(uint32_t crc, std::span<const uint8_t> data) {
  return ~Crc32cRaw(~crc, data.data(), data.size());
}

uint64_t Crc64UpdatePortable(uint64_t crc, std::span<const uint8_t> data) {
  return ~Crc64Raw(~crc, data.data(), data.size());
}

uint32_t Crc32cUpdate(uint32_t crc, std::span<const uint8_t> data) {
#if TWINSTEP_X86_CRC
  if (kHasSse42) return ~Crc32cRawSse42(~crc, data.data(), data.size());
#endif
  return Crc32cUpdatePortable(crc, data);
}

uint64_t Crc64Update(uint64_t crc, std::span<const uint8_t> data) {
#if TWINSTEP_X86_CRC
  if (kHasClmul) return ~Crc64RawClmul(~crc, data.data(), data.size());
#endif
  return Crc64UpdatePortable(crc, data);
}

}  // namespace twinstep
