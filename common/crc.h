// CRC32C (the sync-link frame check) and CRC-64/XZ (the output digest and flow
// ids; see docs/digest.md). Pure functions: no heap, usable from firmware.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace twinstep {

// CRC-32C (Castagnoli, reflected poly 0x82F63B78, init and xorout 0xFFFFFFFF).
// Crc32c("123456789") == 0xE3069283. Crc32cUpdate continues a running value:
// Crc32c(a ++ b) == Crc32cUpdate(Crc32c(a), b).
uint32_t Crc32cUpdate(uint32_t crc, std::span<const uint8_t> data);
inline uint32_t Crc32c(std::span<const uint8_t> data) { return Crc32cUpdate(0, data); }

// CRC-64/XZ (ECMA-182 poly 0x42F0E1EBA9EA3693 reflected, init and xorout all
// ones). Crc64("123456789") == 0x995DC9BBDF1939FA. Same chaining as Crc32c.
uint64_t Crc64Update(uint64_t crc, std::span<const uint8_t> data);
inline uint64_t Crc64(std::span<const uint8_t> data) { return Crc64Update(0, data); }

// The table-driven paths alone, for tests and for builds without CLMUL/SSE4.2.
uint32_t Crc32cUpdatePortable(uint32_t crc, std::span<const uint8_t> data);
uint64_t Crc64UpdatePortable(uint64_t crc, std::span<const uint8_t> data);

}  // namespace twinstep
