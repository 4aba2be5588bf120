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

from pktlib import ip_syn

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_PPP_SES = 0x8864
PPP_IP = 0x0021
PPP_IPV6 = 0x0057


def frame(a, src_mac):
    src, dst = ipaddress.ip_address(a.src), ipaddress.ip_address(a.dst)
    pkt = ip_syn(src, dst, a.sport, a.dport)
    proto = ETH_P_IP if src.version == 4 else ETH_P_IPV6
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
