// TCP sequence translation for the secondary (see tcp_translate.h).
#include "dataplane/core/tcp_translate.h"

#include <bit>
#include <cstring>

#include "common/crc.h"

namespace twinstep::dataplane {
namespace {

constexpr uint8_t kSyn = 0x02, kAck = 0x10;
constexpr uint8_t kOptEnd = 0, kOptNop = 1, kOptSack = 5;

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Be32(const uint8_t* p) { return uint32_t{Be16(p)} << 16 | Be16(p + 2); }
void PutBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// A TCP segment found in an Ethernet frame: where its header is, and the
// connection key with the guest's address and port first.
struct Segment {
  uint8_t* tcp = nullptr;
  size_t tcp_len = 0;  // header and payload bytes present
  size_t hdr_len = 0;
  uint64_t key = 0;
};

// `guest_is_src`: the frame was sent by the guest (else by a client).
bool ParseTcp(std::span<uint8_t> f, bool guest_is_src, Segment* s) {
  size_t off = 12;
  if (f.size() < off + 2) return false;
  uint16_t type = Be16(&f[off]);
  while ((type == 0x8100 || type == 0x88A8) && f.size() >= off + 6) {
    off += 4;
    type = Be16(&f[off]);
  }
  off += 2;
  const uint8_t* src = nullptr;
  const uint8_t* dst = nullptr;
  size_t addr_len = 0;
  if (type == 0x0800) {
    if (f.size() < off + 20) return false;
    const size_t ihl = (f[off] & 0xF) * 4u;
    const uint16_t frag = Be16(&f[off + 6]);
    if ((f[off] >> 4) != 4 || ihl < 20 || f.size() < off + ihl || f[off + 9] != 6 || (frag & 0x3FFF) != 0) return false;
    const size_t total = Be16(&f[off + 2]);
    if (total < ihl || f.size() < off + total) return false;
    src = &f[off + 12];
    dst = &f[off + 16];
    addr_len = 4;
    s->tcp_len = total - ihl;
    off += ihl;
  } else if (type == 0x86DD) {
    if (f.size() < off + 40 || f[off + 6] != 6) return false;  // no extension headers
    const size_t payload = Be16(&f[off + 4]);
    if (f.size() < off + 40 + payload) return false;
    src = &f[off + 8];
    dst = &f[off + 24];
    addr_len = 16;
    s->tcp_len = payload;
    off += 40;
  } else {
    return false;
  }
  if (s->tcp_len < 20) return false;
  s->tcp = &f[off];
  s->hdr_len = (s->tcp[12] >> 4) * 4u;
  if (s->hdr_len < 20 || s->hdr_len > s->tcp_len) return false;
  // Key: guest address, guest port, client address, client port.
  uint8_t key[40];
  const uint8_t* guest_addr = guest_is_src ? src : dst;
  const uint8_t* client_addr = guest_is_src ? dst : src;
  const uint8_t* guest_port = guest_is_src ? s->tcp : s->tcp + 2;
  const uint8_t* client_port = guest_is_src ? s->tcp + 2 : s->tcp;
  size_t n = 0;
  std::memcpy(key + n, guest_addr, addr_len), n += addr_len;
  std::memcpy(key + n, guest_port, 2), n += 2;
  std::memcpy(key + n, client_addr, addr_len), n += addr_len;
  std::memcpy(key + n, client_port, 2), n += 2;
  s->key = Crc64({key, n}) | 1;  // never 0
  return true;
}

// RFC 1624 incremental update of the TCP checksum for one 32-bit field.
void Rewrite32(const Segment& s, size_t field, uint32_t value) {
  uint8_t* p = s.tcp + field;
  const uint16_t old_hi = Be16(p), old_lo = Be16(p + 2);
  const uint16_t new_hi = static_cast<uint16_t>(value >> 16), new_lo = static_cast<uint16_t>(value);
  uint32_t sum = static_cast<uint16_t>(~Be16(s.tcp + 16));
  sum += static_cast<uint16_t>(~old_hi) + uint32_t{new_hi} + static_cast<uint16_t>(~old_lo) + uint32_t{new_lo};
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  PutBe16(p, new_hi);
  PutBe16(p + 2, new_lo);
  PutBe16(s.tcp + 16, static_cast<uint16_t>(~sum));
}

// Adds `delta` to both edges of every SACK block.
void ShiftSackBlocks(const Segment& s, uint32_t delta) {
  size_t i = 20;
  while (i < s.hdr_len) {
    const uint8_t kind = s.tcp[i];
    if (kind == kOptEnd) return;
    if (kind == kOptNop) {
      ++i;
      continue;
    }
    if (i + 1 >= s.hdr_len) return;
    const size_t len = s.tcp[i + 1];
    if (len < 2 || i + len > s.hdr_len) return;
    if (kind == kOptSack) {
      for (size_t b = i + 2; b + 4 <= i + len; b += 4) Rewrite32(s, b, Be32(s.tcp + b) + delta);
    }
    i += len;
  }
}

}  // namespace

TcpTranslator::TcpTranslator(size_t capacity) : table_(std::bit_ceil(capacity < 2 ? size_t{2} : capacity) * 2) {}

TcpTranslator::Conn* TcpTranslator::Find(uint64_t key, bool insert) {
  const size_t mask = table_.size() - 1;
  for (size_t i = key & mask, n = 0; n < table_.size(); i = (i + 1) & mask, ++n) {
    Conn& c = table_[i];
    if (c.used && c.key == key) return &c;
    if (!c.used) {
      if (!insert) return nullptr;
      if (used_ >= table_.size() / 2) {
        ++stats_.table_full;
        return nullptr;
      }
      c = Conn{key, 0, 0, true, false};
      ++used_;
      return &c;
    }
  }
  return nullptr;
}

const TcpTranslator::Conn* TcpTranslator::Find(uint64_t key) const {
  return const_cast<TcpTranslator*>(this)->Find(key, false);
}

void TcpTranslator::OnGuestOutput(std::span<uint8_t> frame) {
  Segment s;
  if (!ParseTcp(frame, true, &s)) return;
  const uint8_t flags = s.tcp[13];
  if (flags & kSyn) {
    Conn* c = Find(s.key, true);
    if (!c) return;
    c->guest_isn = Be32(s.tcp + 4);
    c->has_offset = false;
    ++stats_.connections;
    // Until the offset is known the SYN goes out as it is (only after a
    // failover, and then the primary's SYN was never released either).
    return;
  }
  if (!translate_outputs_) return;
  const Conn* c = Find(s.key);
  if (!c || !c->has_offset || c->offset == 0) return;
  Rewrite32(s, 4, Be32(s.tcp + 4) - c->offset);
  ++stats_.outputs_rewritten;
}

void TcpTranslator::OnClientInput(std::span<uint8_t> frame) {
  Segment s;
  if (!ParseTcp(frame, false, &s)) return;
  const uint8_t flags = s.tcp[13];
  if (!(flags & kAck)) return;
  Conn* c = Find(s.key, false);
  if (!c) return;  // not opened since the last checkpoint: both guests agree
  if (!c->has_offset) {
    // The client acknowledges the primary guest's SYN: ack = ISN_p + 1.
    c->offset = c->guest_isn - (Be32(s.tcp + 8) - 1);
    c->has_offset = true;
    ++stats_.offsets_learned;
  }
  if (c->offset == 0) return;
  Rewrite32(s, 8, Be32(s.tcp + 8) + c->offset);
  ShiftSackBlocks(s, c->offset);
  ++stats_.inputs_rewritten;
}

void TcpTranslator::Clear() {
  for (Conn& c : table_) c = Conn{};
  used_ = 0;
}

bool TcpTranslator::OffsetFor(std::span<const uint8_t> guest_frame, uint32_t* offset) const {
  std::vector<uint8_t> copy(guest_frame.begin(), guest_frame.end());
  Segment s;
  if (!ParseTcp(copy, true, &s)) return false;
  const Conn* c = Find(s.key);
  if (!c || !c->has_offset) return false;
  *offset = c->offset;
  return true;
}

}  // namespace twinstep::dataplane
