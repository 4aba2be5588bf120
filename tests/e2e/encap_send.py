#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Write TCP SYNs inside VLAN/QinQ/PPPoE encapsulations onto a veth.

This kernel has no VLAN or PPPoE modules, so the encapsulated frames a BRAS
trunk carries are built by hand and written with an AF_PACKET socket; the
receiving veth's XDP or tc program sees them as a trunk port would.

  encap_send.py --iface IF --dst-mac MAC --src A --dst B --dport P
                --sport P [--tags 8100:10,88a8:20] [--pppoe SID]
Standard library only.
"""

import argparse
import ipaddress
import socket
import struct

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_PPP_SES = 0x8864
PPP_IP = 0x0021
PPP_IPV6 = 0x0057
TCP_SYN = 0x02


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_packet(src, dst, sport, dport):
    """IPv4 or IPv6 header and a 20-byte SYN, checksums filled in."""
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 0x0B0B0000 + sport, 0,
                      5 << 4, TCP_SYN, 64240, 0, 0)
    if s.version == 4:
        pseudo = s.packed + d.packed + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0,
                          64, 6, 0, s.packed, d.packed)
        hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
        return ETH_P_IP, hdr + tcp
    pseudo = s.packed + d.packed + struct.pack("!IxxxB", len(tcp), 6)
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    hdr = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, s.packed,
                      d.packed)
    return ETH_P_IPV6, hdr + tcp


def frame(a, src_mac):
    proto, pkt = ip_packet(a.src, a.dst, a.sport, a.dport)
    if a.pppoe is not None:
        ppp = PPP_IP if proto == ETH_P_IP else PPP_IPV6
        pkt = struct.pack("!BBHHH", 0x11, 0, a.pppoe, 2 + len(pkt), ppp) + pkt
        proto = ETH_P_PPP_SES
    # Tags are listed outermost first; build from the inside out.
    for tag in reversed([t for t in a.tags.split(",") if t]):
        tpid, vid = tag.split(":")
        pkt = struct.pack("!H", proto) + pkt
        proto = int(tpid, 16)
        pkt = struct.pack("!H", int(vid) & 0x0FFF) + pkt
    dst_mac = bytes.fromhex(a.dst_mac.replace(":", ""))
    return dst_mac + src_mac + struct.pack("!H", proto) + pkt


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iface", required=True)
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--sport", type=int, required=True)
    p.add_argument("--dport", type=int, required=True)
    p.add_argument("--tags", default="")
    p.add_argument("--pppoe", type=int)
    a = p.parse_args()
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    src_mac = s.getsockname()[4][:6]
    s.send(frame(a, src_mac))


if __name__ == "__main__":
    main()
