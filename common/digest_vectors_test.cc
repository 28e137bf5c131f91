// The test vectors of docs/digest.md: frames, their normalized form, flow id
// and digest as computed by scripts/digest_reference.py (an independent
// bit-by-bit implementation of the spec). Regenerate the table with
// `scripts/digest_reference.py --cc` if the spec ever changes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/crc.h"
#include "common/digest.h"

namespace twinstep::digest {
namespace {

struct Vector {
  const char* name;
  int index;  // frames of one vector are digested in order by one Digester
  const char* frame_hex;
  const char* normalized_hex;
  uint64_t flow;
  uint64_t out_seq;
  uint64_t digest;
};

constexpr Vector kVectors[] = {
    {"arp_reply", 0, "525400abcdef525400123456080600010800060400025254001234560a000002525400abcdef0a000001", "525400abcdef525400123456080600010800060400025254001234560a000002525400abcdef0a000001", 0x558b1919e54c65c1ull, 0, 0x886ee9bf281d21d2ull},
    {"ipv4_udp_echo", 0, "525400abcdef525400123456080045000021123440004011beef0a0000020a00000100079c40000d123468656c6c6f", "525400abcdef52540012345608004500002100004000401100000a0000020a00000100079c40000d000068656c6c6f", 0xabac425d0d3c96aaull, 0, 0xaa82e5303b9131faull},
    {"vlan_ipv4_udp", 0, "525400abcdef52540012345681000064080045000031000740004011beef0a0000020a0000012bcb9c41001d123456414c5545206b203020310d0a760d0a454e440d0a", "525400abcdef5254001234568100006408004500003100004000401100000a0000020a0000012bcb9c41001d000056414c5545206b203020310d0a760d0a454e440d0a", 0xc59684b913092f04ull, 0, 0x989892c391a60860ull},
    {"ipv6_udp_flow_label", 0, "525400abcdef52540012345686dd600abcde000d1140fd000000000000000000000000000002fd00000000000000000000000000000100079c42000d123468656c6c6f", "525400abcdef52540012345686dd60000000000d1140fd000000000000000000000000000002fd00000000000000000000000000000100079c42000d000068656c6c6f", 0x0dfd30425d849afdull, 0, 0x6e19541af750f038ull},
    {"tcp_synack_then_data", 0, "525400abcdef525400123456080045000034000040004006beef0a0000020a00000100509c4311111111000003e98012faf0cafe00000101080a0001e2400009fbf1", "525400abcdef52540012345608004500003400004000400600000a0000020a00000100509c4300000000000000018012faf0000000000101080a0000000000000000", 0x8c007e8de9529b06ull, 0, 0xd0ec6ebdf597df1bull},
    {"tcp_synack_then_data", 1, "525400abcdef525400123456080045000047000140004006beef0a0000020a00000100509c4311111112000003f38018faf0cafe00000101080a0001e2440009fbfa485454502f312e3020323030204f4b0d0a0d0a", "525400abcdef52540012345608004500004700004000400600000a0000020a00000100509c43000000010000000b8018faf0000000000101080a0000000000000000485454502f312e3020323030204f4b0d0a0d0a", 0x8c007e8de9529b06ull, 1, 0xdccd785f55c2e00bull},
    {"ipv4_fragment", 0, "525400abcdef52540012345608004500002a000920004011beef0a0000020a00000100079c4400161234666972737420667261676d656e74", "525400abcdef52540012345608004500002a00002000401100000a0000020a00000100079c4400161234666972737420667261676d656e74", 0x13c9b1f8224f9617ull, 0, 0xc2097f4347a6029full},
    {"truncated_ipv4", 0, "525400abcdef52540012345608004500001f000340004011beef0a000002", "525400abcdef52540012345608004500001f000340004011beef0a000002", 0x2f16c56357556fa0ull, 0, 0x7b3180e006dd8c4full},
};

std::vector<uint8_t> Hex(const char* s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; s[i] && s[i + 1]; i += 2) out.push_back(static_cast<uint8_t>(std::stoi(std::string(s + i, 2), nullptr, 16)));
  return out;
}

TEST(DigestVectorsTest, SoftwareMatchesReference) {
  std::vector<Digester::Slot> slots(64);
  Digester d(slots);
  for (const Vector& v : kVectors) {
    if (v.index == 0) d.Clear();
    const auto frame = Hex(v.frame_hex);
    const FrameInfo info = ParseFrame(frame);
    EXPECT_EQ(info.flow, v.flow) << v.name;
    const auto rec = d.Digest(frame, info);
    EXPECT_EQ(rec.out_seq, v.out_seq) << v.name;
    EXPECT_EQ(rec.digest, v.digest) << v.name << " frame " << v.index;
    EXPECT_EQ(rec.length, frame.size());
    EXPECT_EQ(Crc64(Hex(v.normalized_hex)), v.digest) << v.name;
  }
}

}  // namespace
}  // namespace twinstep::digest
