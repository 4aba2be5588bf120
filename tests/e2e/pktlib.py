# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Hand-built IP packets for the e2e helpers (standard library only).

Addresses are ipaddress objects; every checksum is filled in.
"""

import struct

PROTO_TCP = 6
TCP_SYN = 0x02


def csum(data):
    """The Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_syn(src, dst, sport, dport):
    """A 20-byte SYN with its checksum over the family's pseudo header."""
    hdr = struct.pack("!HHIIBBHHH", sport, dport, 0x25250000 + sport, 0,
                      5 << 4, TCP_SYN, 64240, 0, 0)
    if src.version == 4:
        pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, PROTO_TCP,
                                                       len(hdr))
    else:
        pseudo = src.packed + dst.packed + struct.pack("!I3xB", len(hdr),
                                                       PROTO_TCP)
    return hdr[:16] + struct.pack("!H", csum(pseudo + hdr)) + hdr[18:]


def ipv4(src, dst, payload, ipid, frag_off8=0, mf=False):
    """IPv4 carrying TCP payload; frag_off8 in 8-byte units."""
    flags = (0x2000 if mf else 0) | frag_off8
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ipid, flags,
                    64, PROTO_TCP, 0, src.packed, dst.packed)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def opts_hdr(nxt):
    """An 8-byte hop-by-hop or destination-options header: one PadN."""
    return struct.pack("!BBBB4x", nxt, 0, 1, 4)


def ipv6(src, dst, exts, payload):
    """exts: extension header numbers in order, each an 8-byte PadN header."""
    body = b""
    chain = list(exts) + [PROTO_TCP]
    for i, _ in enumerate(exts):
        body += opts_hdr(chain[i + 1])
    body += payload
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), chain[0], 64,
                       src.packed, dst.packed) + body


def ip_syn(src, dst, sport, dport, ipid=1):
    """A SYN in a plain IPv4 or IPv6 packet, whichever src is."""
    tcp = tcp_syn(src, dst, sport, dport)
    if src.version == 4:
        return ipv4(src, dst, tcp, ipid)
    return ipv6(src, dst, [], tcp)
