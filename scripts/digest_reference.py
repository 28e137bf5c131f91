#!/usr/bin/env python3
"""Bit-by-bit reference of docs/digest.md, written apart from common/digest.cc.

Prints the test vectors of docs/digest.md (markdown) or, with --cc, the C++
table used by common/digest_vectors_test.cc. Each vector is a sequence of frames
from one replica, digested in order (TCP bases carry across frames).
"""
import struct
import sys

POLY = 0xC96C5795D7870F42


def crc64(data: bytes) -> int:
    c = 0xFFFFFFFFFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ POLY if c & 1 else c >> 1
    return c ^ 0xFFFFFFFFFFFFFFFF


def be16(f, o):
    return (f[o] << 8) | f[o + 1]


class Digester:
    def __init__(self):
        self.flows = {}

    def digest(self, frame: bytes):
        f = bytearray(frame)
        n = len(f)
        patches = []  # (offset, bytes)
        key = None
        tcp = None
        if 14 <= n <= 0xFFFF:
            t = be16(f, 12)
            off = 14
            vids = b""
            nv = 0
            while t in (0x8100, 0x88A8) and nv < 2 and off + 4 <= n:
                vids += bytes([f[off] & 0x0F, f[off + 1]])
                nv += 1
                t = be16(f, off + 2)
                off += 4
            l4 = end = proto = None
            if t == 0x0800 and off + 20 <= n:
                ihl = (f[off] & 0x0F) * 4
                total = be16(f, off + 2)
                if f[off] >> 4 == 4 and ihl >= 20 and total >= ihl and off + total <= n:
                    patches += [(off + 4, b"\0\0"), (off + 10, b"\0\0")]
                    frag = be16(f, off + 6) & 0x3FFF
                    proto = f[off + 9]
                    key = bytes([1, nv]) + vids + bytes([proto]) + bytes(f[off + 12:off + 20])
                    l4, end = off + ihl, off + total
                    if frag:
                        proto = -1
            if t == 0x86DD and off + 40 <= n:
                end6 = off + 40 + be16(f, off + 4)
                if f[off] >> 4 == 6 and end6 <= n:
                    patches.append((off + 1, bytes([f[off + 1] & 0xF0, 0, 0])))
                    nxt = f[off + 6]
                    l4 = off + 40
                    for _ in range(8):
                        if nxt not in (0, 43, 60):
                            break
                        if l4 + 8 > end6:
                            nxt = 0xFF
                            break
                        ln = (f[l4 + 1] + 1) * 8
                        nxt = f[l4]
                        l4 += ln
                    if nxt in (0, 43, 60) or l4 > end6:
                        nxt = 0xFF
                    proto, end = nxt, end6
                    key = bytes([2, nv]) + vids + bytes([nxt]) + bytes(f[off + 8:off + 40])
            if key is not None:
                ports = b"\0\0\0\0"
                if proto == 17 and l4 + 8 <= end:
                    ports = bytes(f[l4:l4 + 4])
                    patches.append((l4 + 6, b"\0\0"))
                elif proto == 6 and l4 + 20 <= end:
                    doff = (f[l4 + 12] >> 4) * 4
                    if doff >= 20 and l4 + doff <= end:
                        ports = bytes(f[l4:l4 + 4])
                        seq, ack = struct.unpack(">II", f[l4 + 4:l4 + 12])
                        tcp = (l4 + 4, seq, ack, f[l4 + 13])
                        patches.append((l4 + 16, b"\0\0"))
                        p, ts = l4 + 20, False
                        while p < l4 + doff:
                            kind = f[p]
                            if kind == 0:
                                break
                            if kind == 1:
                                p += 1
                                continue
                            if p + 2 > l4 + doff:
                                break
                            ln = f[p + 1]
                            if ln < 2 or p + ln > l4 + doff:
                                break
                            if kind == 8 and ln == 10 and not ts:
                                patches += [(p + 2, b"\0" * 4), (p + 6, b"\0" * 4)]
                                ts = True
                            p += ln
                key += ports
            else:
                key = bytes([3, nv]) + vids + bytes([t >> 8, t & 0xFF]) + bytes(f[0:12])
        else:
            key = b"\0"
        flow = crc64(key)
        st = self.flows.setdefault(flow, {"next": 0, "seq": None, "ack": None})
        if tcp:
            off, seq, ack, flags = tcp
            if flags & 0x02 or st["seq"] is None:
                st["seq"], st["ack"] = seq, None
            if flags & 0x10 and st["ack"] is None:
                st["ack"] = (ack - 1) & 0xFFFFFFFF
            rel_seq = (seq - st["seq"]) & 0xFFFFFFFF
            rel_ack = (ack - st["ack"]) & 0xFFFFFFFF if flags & 0x10 else 0
            patches.append((off, struct.pack(">I", rel_seq)))
            patches.append((off + 4, struct.pack(">I", rel_ack)))
        for o, b in patches:
            f[o:o + len(b)] = b
        out_seq = st["next"]
        st["next"] += 1
        return flow, out_seq, bytes(f), crc64(bytes(f))


def eth(dst, src, t, vlans=()):
    h = bytes(dst) + bytes(src)
    for v in vlans:
        h += struct.pack(">HH", 0x8100, v)
    return h + struct.pack(">H", t)


MAC_G = bytes([0x52, 0x54, 0, 0x12, 0x34, 0x56])
MAC_C = bytes([0x52, 0x54, 0, 0xAB, 0xCD, 0xEF])


def ipv4(proto, payload, ident, src=b"\x0a\x00\x00\x02", dst=b"\x0a\x00\x00\x01", flags=0x4000):
    # Checksums are left as arbitrary nonzero values: the digest ignores them.
    return struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(payload), ident, flags, 64, proto, 0xBEEF) + src + dst + payload


def udp(sport, dport, data):
    return struct.pack(">HHHH", sport, dport, 8 + len(data), 0x1234) + data


def tcp(sport, dport, seq, ack, flags, data=b"", ts=None):
    opts = b""
    if ts:
        opts = b"\x01\x01\x08\x0a" + struct.pack(">II", *ts)
    doff = (20 + len(opts)) // 4
    return struct.pack(">HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, 64240, 0xCAFE, 0) + opts + data


def vectors():
    v6s = bytes.fromhex("fd000000000000000000000000000002")
    v6d = bytes.fromhex("fd000000000000000000000000000001")
    arp = eth(MAC_C, MAC_G, 0x0806) + bytes.fromhex("0001080006040002") + MAC_G + b"\x0a\x00\x00\x02" + MAC_C + b"\x0a\x00\x00\x01"
    yield "arp_reply", [arp]
    yield "ipv4_udp_echo", [eth(MAC_C, MAC_G, 0x0800) + ipv4(17, udp(7, 40000, b"hello"), 0x1234)]
    yield "vlan_ipv4_udp", [eth(MAC_C, MAC_G, 0x0800, vlans=[100]) + ipv4(17, udp(11211, 40001, b"VALUE k 0 1\r\nv\r\nEND\r\n"), 7)]
    ipv6 = struct.pack(">IHBB", 0x6000_0000 | 0xABCDE, 8 + 5, 17, 64) + v6s + v6d + udp(7, 40002, b"hello")
    yield "ipv6_udp_flow_label", [eth(MAC_C, MAC_G, 0x86DD) + ipv6]
    syn_ack = eth(MAC_C, MAC_G, 0x0800) + ipv4(6, tcp(80, 40003, 0x11111111, 1001, 0x12, ts=(123456, 654321)), 0)
    data = eth(MAC_C, MAC_G, 0x0800) + ipv4(6, tcp(80, 40003, 0x11111112, 1011, 0x18, b"HTTP/1.0 200 OK\r\n\r\n", ts=(123460, 654330)), 1)
    yield "tcp_synack_then_data", [syn_ack, data]
    frag = eth(MAC_C, MAC_G, 0x0800) + ipv4(17, udp(7, 40004, b"first fragment"), 9, flags=0x2000)
    yield "ipv4_fragment", [frag]
    yield "truncated_ipv4", [(eth(MAC_C, MAC_G, 0x0800) + ipv4(17, udp(7, 40005, b"cut"), 3))[:30]]


def main():
    cc = "--cc" in sys.argv
    for name, frames in vectors():
        d = Digester()
        for i, fr in enumerate(frames):
            flow, seq, norm, dig = d.digest(fr)
            if cc:
                print(f'    {{"{name}", {i}, "{fr.hex()}", "{norm.hex()}", 0x{flow:016x}ull, {seq}, 0x{dig:016x}ull}},')
            else:
                print(f"- `{name}` frame {i} ({len(fr)} bytes): flow `{flow:016x}`, out_seq {seq}, digest **`{dig:016x}`**  ")
                print(f"  frame:      `{fr.hex()}`  ")
                print(f"  normalized: `{norm.hex()}`")


if __name__ == "__main__":
    main()
