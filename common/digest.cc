// Output-event normalization and digest (specification: docs/digest.md).
#include "common/digest.h"

#include <cstring>

#include "common/crc.h"

namespace twinstep::digest {
namespace {

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}
void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Flow-key kinds (first byte of the key).
constexpr uint8_t kKeyShort = 0, kKeyIpv4 = 1, kKeyIpv6 = 2, kKeyOther = 3;
constexpr uint8_t kProtoTcp = 6, kProtoUdp = 17;

class Parser {
 public:
  explicit Parser(std::span<const uint8_t> f) : f_(f) {}

  FrameInfo Run() {
    // Offsets are 16-bit: larger frames (no real NIC sends them) stay as they are.
    if (f_.size() < 14 || f_.size() > 0xFFFF) {
      Key(&kKeyShort, 1);
      return Finish();
    }
    size_t off = 12;
    uint16_t type = Be16(&f_[off]);
    off += 2;
    uint8_t vids[4];
    uint8_t nvlan = 0;
    while ((type == kEtherTypeVlan || type == kEtherTypeQinQ) && nvlan < 2 && off + 4 <= f_.size()) {
      vids[2 * nvlan] = f_[off] & 0x0F;
      vids[2 * nvlan + 1] = f_[off + 1];
      ++nvlan;
      type = Be16(&f_[off + 2]);
      off += 4;
    }
    bool ip = false;
    if (type == kEtherTypeIpv4) ip = Ipv4(off, nvlan, vids);
    if (type == kEtherTypeIpv6) ip = Ipv6(off, nvlan, vids);
    if (!ip) {
      // ARP, other protocols and malformed IP: flow by Ethernet type and addresses.
      key_len_ = 0;
      patch_count_ = 0;
      Key(&kKeyOther, 1);
      Key(&nvlan, 1);
      Key(vids, 2 * nvlan);
      const uint8_t t[2] = {static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type)};
      Key(t, 2);
      Key(&f_[0], 12);
    }
    return Finish();
  }

 private:
  bool Ipv4(size_t off, uint8_t nvlan, const uint8_t* vids) {
    if (off + 20 > f_.size()) return false;
    const uint8_t* h = &f_[off];
    const size_t ihl = (h[0] & 0x0F) * 4u;
    const size_t total = Be16(h + 2);
    if ((h[0] >> 4) != 4 || ihl < 20 || total < ihl || off + total > f_.size()) return false;
    Zero(off + 4, 2);   // identification
    Zero(off + 10, 2);  // header checksum
    const bool fragment = (Be16(h + 6) & 0x3FFF) != 0;
    const uint8_t proto = h[9];
    Key(&kKeyIpv4, 1);
    Key(&nvlan, 1);
    Key(vids, 2 * nvlan);
    Key(&proto, 1);
    Key(h + 12, 8);  // source and destination address
    L4(fragment ? 0 : proto, off + ihl, off + total);
    return true;
  }

  bool Ipv6(size_t off, uint8_t nvlan, const uint8_t* vids) {
    if (off + 40 > f_.size()) return false;
    const uint8_t* h = &f_[off];
    const size_t end = off + 40 + Be16(h + 4);
    if ((h[0] >> 4) != 6 || end > f_.size()) return false;
    // Flow label: the low 4 bits of byte 1 and bytes 2-3.
    const uint8_t label[3] = {static_cast<uint8_t>(h[1] & 0xF0), 0, 0};
    AddPatch(off + 1, 3, label);
    uint8_t next = h[6];
    size_t l4 = off + 40;
    for (int i = 0; i < 8 && (next == 0 || next == 43 || next == 60); ++i) {
      if (l4 + 8 > end) {
        next = 0xFF;  // truncated extension header: no transport layer
        break;
      }
      const size_t len = (f_[l4 + 1] + 1u) * 8u;
      next = f_[l4];
      l4 += len;
    }
    if (next == 0 || next == 43 || next == 60 || l4 > end) next = 0xFF;  // too deep or past the end
    const uint8_t proto = next;  // 44 (fragment) and 0xFF carry no ports
    Key(&kKeyIpv6, 1);
    Key(&nvlan, 1);
    Key(vids, 2 * nvlan);
    Key(&proto, 1);
    Key(h + 8, 32);
    L4(proto, l4, end);
    return true;
  }

  void L4(uint8_t proto, size_t l4, size_t end) {
    static constexpr uint8_t kNoPorts[4] = {0, 0, 0, 0};
    if (proto == kProtoUdp && l4 + 8 <= end) {
      Key(&f_[l4], 4);
      Zero(l4 + 6, 2);
      return;
    }
    if (proto == kProtoTcp && l4 + 20 <= end) {
      const size_t doff = (f_[l4 + 12] >> 4) * 4u;
      if (doff >= 20 && l4 + doff <= end) {
        Key(&f_[l4], 4);
        info_.is_tcp = true;
        info_.tcp_seq = Be32(&f_[l4 + 4]);
        info_.tcp_ack = Be32(&f_[l4 + 8]);
        info_.tcp_flags = f_[l4 + 13];
        info_.tcp_seq_offset = static_cast<uint16_t>(l4 + 4);
        Zero(l4 + 16, 2);  // checksum
        TcpOptions(l4 + 20, l4 + doff);
        return;
      }
    }
    Key(kNoPorts, 4);
  }

  void TcpOptions(size_t p, size_t end) {
    while (p < end) {
      const uint8_t kind = f_[p];
      if (kind == 0) return;
      if (kind == 1) {
        ++p;
        continue;
      }
      if (p + 2 > end) return;
      const size_t len = f_[p + 1];
      if (len < 2 || p + len > end) return;
      if (kind == 8 && len == 10 && !timestamps_seen_) {  // the first timestamps option: TSval, TSecr
        Zero(p + 2, 4);
        Zero(p + 6, 4);
        timestamps_seen_ = true;
      }
      p += len;
    }
  }

  void Zero(size_t off, uint8_t len) {
    static constexpr uint8_t kZeros[4] = {0, 0, 0, 0};
    AddPatch(off, len, kZeros);
  }
  void AddPatch(size_t off, uint8_t len, const uint8_t* bytes) {
    if (patch_count_ == kMaxPatches) return;  // cannot happen: at most 7 per frame
    Patch& p = info_.patches[patch_count_++];
    p.offset = static_cast<uint16_t>(off);
    p.length = len;
    std::memcpy(p.bytes, bytes, len);
  }
  void Key(const uint8_t* p, size_t n) {
    std::memcpy(key_ + key_len_, p, n);
    key_len_ += n;
  }
  FrameInfo Finish() {
    info_.patch_count = patch_count_;
    info_.flow = Crc64({key_, key_len_});
    return info_;
  }

  std::span<const uint8_t> f_;
  FrameInfo info_;
  uint8_t patch_count_ = 0;
  bool timestamps_seen_ = false;
  uint8_t key_[64];
  size_t key_len_ = 0;
};

// Walks the patches (TCP seq/ack merged in at their place) in offset order.
template <typename Fn>
void ForEachPatch(const FrameInfo& info, uint32_t rel_seq, uint32_t rel_ack, Fn&& fn) {
  Patch tcp[2];
  int ntcp = 0;
  if (info.is_tcp) {
    tcp[0].offset = info.tcp_seq_offset;
    tcp[0].length = 4;
    PutBe32(tcp[0].bytes, rel_seq);
    tcp[1].offset = static_cast<uint16_t>(info.tcp_seq_offset + 4);
    tcp[1].length = 4;
    PutBe32(tcp[1].bytes, rel_ack);
    ntcp = 2;
  }
  int t = 0;
  for (int i = 0; i < info.patch_count; ++i) {
    while (t < ntcp && tcp[t].offset < info.patches[i].offset) fn(tcp[t++]);
    fn(info.patches[i]);
  }
  while (t < ntcp) fn(tcp[t++]);
}

}  // namespace

FrameInfo ParseFrame(std::span<const uint8_t> frame) { return Parser(frame).Run(); }

uint64_t DigestFrame(std::span<const uint8_t> frame, const FrameInfo& info, uint32_t rel_seq, uint32_t rel_ack) {
  // Patch a copy of the head of the frame and digest it in one pass: a few
  // large CRC updates are much cheaper than one per unpatched stretch.
  constexpr size_t kCopyBytes = 256;
  size_t head = 0;
  ForEachPatch(info, rel_seq, rel_ack, [&](const Patch& p) { head = p.offset + p.length; });
  if (frame.size() <= kCopyBytes) head = frame.size();
  if (head <= kCopyBytes) {
    uint8_t buf[kCopyBytes];
    if (head > 0) std::memcpy(buf, frame.data(), head);  // an empty frame may have no data pointer
    ForEachPatch(info, rel_seq, rel_ack, [&](const Patch& p) { std::memcpy(buf + p.offset, p.bytes, p.length); });
    return Crc64Update(Crc64({buf, head}), frame.subspan(head));
  }
  uint64_t crc = 0;
  size_t pos = 0;
  ForEachPatch(info, rel_seq, rel_ack, [&](const Patch& p) {
    crc = Crc64Update(crc, frame.subspan(pos, p.offset - pos));
    crc = Crc64Update(crc, {p.bytes, p.length});
    pos = p.offset + p.length;
  });
  return Crc64Update(crc, frame.subspan(pos));
}

size_t NormalizeFrame(std::span<const uint8_t> frame, const FrameInfo& info, uint32_t rel_seq, uint32_t rel_ack,
                      std::span<uint8_t> out) {
  if (out.size() < frame.size()) return 0;
  if (!frame.empty()) std::memcpy(out.data(), frame.data(), frame.size());
  ForEachPatch(info, rel_seq, rel_ack, [&](const Patch& p) { std::memcpy(out.data() + p.offset, p.bytes, p.length); });
  return frame.size();
}

Digester::Digester(std::span<Slot> slots) : slots_(slots) { Clear(); }

void Digester::Clear() {
  for (auto& s : slots_) s = Slot{};
  used_ = 0;
}

Digester::Slot& Digester::Lookup(uint64_t flow) {
  const size_t mask = slots_.size() - 1;
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (size_t i = flow & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.used && s.flow == flow) return s;
      if (!s.used) {
        if (used_ + 1 > slots_.size() / 2) break;  // half full: start again
        s.used = 1;
        s.flow = flow;
        ++used_;
        return s;
      }
    }
    Clear();
    ++resets_;
  }
  return slots_[flow & mask];  // unreachable: an empty table always has room
}

wire::OutputDigest Digester::Digest(std::span<const uint8_t> frame) { return Digest(frame, ParseFrame(frame)); }

wire::OutputDigest Digester::Digest(std::span<const uint8_t> frame, const FrameInfo& info) {
  Slot& s = Lookup(info.flow);
  uint32_t rel_seq = 0, rel_ack = 0;
  if (info.is_tcp) {
    const bool syn = info.tcp_flags & kTcpFlagSyn;
    const bool ack = info.tcp_flags & kTcpFlagAck;
    if (syn || !s.has_seq_base) {
      s.seq_base = info.tcp_seq;
      s.has_seq_base = 1;
      s.has_ack_base = 0;
    }
    if (ack && !s.has_ack_base) {
      s.ack_base = info.tcp_ack - 1;
      s.has_ack_base = 1;
    }
    rel_seq = info.tcp_seq - s.seq_base;
    rel_ack = ack ? info.tcp_ack - s.ack_base : 0;
  }
  return {info.flow, s.next_out_seq++, static_cast<uint32_t>(frame.size()), DigestFrame(frame, info, rel_seq, rel_ack)};
}

}  // namespace twinstep::digest
