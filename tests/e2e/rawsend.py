#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Hand-built TCP SYNs for the e2e tests, and the sniffer that looks for them.

The shapes the parser must not let through (an IPv6 SYN behind extension
headers, an IPv4 SYN split after 8 bytes of TCP) cannot be made with a normal
socket, so they are built here byte by byte with correct checksums.

  rawsend.py eth  --iface IF --dst-mac MAC --src A --dst B --dport P
                  --sport P [--ext hbh,dst] [--frag8] [--ipid N]
      write the frame(s) onto IF with an AF_PACKET socket
  rawsend.py tun  --dev TUN --src A --dst B --dport P --sport P
      attach to the persistent tun device TUN (IFF_TUN|IFF_NO_PI) and write
      the bare IP packet into it, as a PPP/VPN daemon would
  rawsend.py sniff --iface IF
      print one line per received IPv4/IPv6 TCP packet or fragment:
      "v4 SRC DST id=N off=N mf=N sport=N dport=N flags=N" ("-" for what a
      fragment does not carry), "v6 SRC DST ext=a,b sport=N dport=N
      flags=N"; "ready" first
  rawsend.py offload --iface IF --feature tx-csum --state on|off
      switch a device offload, as `ethtool -K` does (which may not be
      installed): tx-csum off makes the stack complete CHECKSUM_PARTIAL
      sums itself before the device
Standard library only.
"""

import argparse
import array
import fcntl
import ipaddress
import os
import socket
import struct
import sys
import time

from pktlib import ipv4, ipv6, tcp_syn

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_ALL = 0x0003
PROTO_TCP = 6
NH_HOP = 0
NH_DSTOPTS = 60
NH_ROUTING = 43
NH_FRAGMENT = 44

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

PACKET_OUTGOING = 4

# linux/sockios.h, linux/ethtool.h: the legacy one-feature commands.
SIOCETHTOOL = 0x8946
ETHTOOL_GET = {"tx-csum": 0x16}
ETHTOOL_SET = {"tx-csum": 0x17}
IFREQ_LEN = 40


def packets(a):
    """The IP packets a send command asks for, in sending order."""
    src = ipaddress.ip_address(a.src)
    dst = ipaddress.ip_address(a.dst)
    if src.version != dst.version:
        sys.exit("rawsend: --src and --dst of different families")
    tcp = tcp_syn(src, dst, a.sport, a.dport)
    if src.version == 4:
        if a.frag8:
            # RFC 1858 tiny fragment: ports in the first, flags in the next.
            return [ipv4(src, dst, tcp[:8], a.ipid, 0, mf=True),
                    ipv4(src, dst, tcp[8:], a.ipid, 1)]
        return [ipv4(src, dst, tcp, a.ipid)]
    names = {"hbh": NH_HOP, "dst": NH_DSTOPTS}
    exts = [names[e] for e in a.ext.split(",") if e] if a.ext else []
    return [ipv6(src, dst, exts, tcp)]


def send_eth(a):
    dmac = bytes.fromhex(a.dst_mac.replace(":", ""))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    # The bound address carries the interface's own MAC (sysfs may show
    # another namespace's devices).
    smac = s.getsockname()[4]
    for p in packets(a):
        etype = ETH_P_IP if p[0] >> 4 == 4 else ETH_P_IPV6
        s.send(dmac + smac + struct.pack("!H", etype) + p)
    s.close()


def send_tun(a):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    ifr = struct.pack("16sH22x", a.dev.encode(), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    for p in packets(a):
        os.write(fd, p)
    # Keep the carrier up while the backlog hands the packet on.
    time.sleep(0.3)
    os.close(fd)


def tcp_fields(b, off):
    if len(b) < off + 14:
        return "sport=- dport=- flags=-"
    sport, dport = struct.unpack_from("!HH", b, off)
    return "sport=%d dport=%d flags=%d" % (sport, dport, b[off + 13])


def describe_v4(b):
    if len(b) < 20 or b[9] != PROTO_TCP:
        return None
    ihl = (b[0] & 0x0F) * 4
    ipid, frag = struct.unpack_from("!HH", b, 4)
    off = frag & 0x1FFF
    mf = 1 if frag & 0x2000 else 0
    s = "v4 %s %s id=%d off=%d mf=%d " % (
        socket.inet_ntop(socket.AF_INET, b[12:16]),
        socket.inet_ntop(socket.AF_INET, b[16:20]), ipid, off, mf)
    if off:
        return s + "sport=- dport=- flags=-"
    if len(b) < ihl + 4:
        return s + "sport=- dport=- flags=-"
    if len(b) < ihl + 14:
        sport, dport = struct.unpack_from("!HH", b, ihl)
        return s + "sport=%d dport=%d flags=-" % (sport, dport)
    return s + tcp_fields(b, ihl)


def describe_v6(b):
    if len(b) < 40:
        return None
    nh = b[6]
    off = 40
    exts = []
    while nh in (NH_HOP, NH_DSTOPTS, NH_ROUTING, NH_FRAGMENT) and len(exts) < 16:
        if len(b) < off + 8:
            return None
        exts.append(str(nh))
        if nh == NH_FRAGMENT:
            if struct.unpack_from("!H", b, off + 2)[0] & 0xFFF8:
                return None
            nxt, ln = b[off], 8
        else:
            nxt, ln = b[off], (b[off + 1] + 1) * 8
        nh, off = nxt, off + ln
    if nh != PROTO_TCP:
        return None
    return "v6 %s %s ext=%s %s" % (
        socket.inet_ntop(socket.AF_INET6, b[8:24]),
        socket.inet_ntop(socket.AF_INET6, b[24:40]),
        ",".join(exts) or "-", tcp_fields(b, off))


def sniff(a):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.iface, 0))
    print("ready", flush=True)
    while True:
        b, addr = s.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING or len(b) < 14:
            continue
        etype = struct.unpack_from("!H", b, 12)[0]
        line = None
        if etype == ETH_P_IP:
            line = describe_v4(b[14:])
        elif etype == ETH_P_IPV6:
            line = describe_v6(b[14:])
        if line:
            print(line, flush=True)


def ethtool_value(s, iface, cmd, data=0):
    """One struct ethtool_value {u32 cmd; u32 data;} ioctl; data back."""
    val = array.array("I", [cmd, data])
    ifr = struct.pack("16sP", iface.encode(), val.buffer_info()[0])
    fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr + bytes(IFREQ_LEN - len(ifr)))
    return val[1]


def offload(a):
    want = a.state == "on"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ethtool_value(s, a.iface, ETHTOOL_SET[a.feature], want)
        seen = ethtool_value(s, a.iface, ETHTOOL_GET[a.feature])
    except OSError as e:
        sys.exit("rawsend: %s %s %s: %s" % (a.iface, a.feature, a.state,
                                            e.strerror))
    finally:
        s.close()
    if bool(seen) != want:
        sys.exit("rawsend: %s %s is still %s" % (a.iface, a.feature,
                                                 "on" if seen else "off"))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("eth", "tun"):
        c = sub.add_parser(name)
        c.add_argument("--src", required=True)
        c.add_argument("--dst", required=True)
        c.add_argument("--sport", type=int, required=True)
        c.add_argument("--dport", type=int, required=True)
        c.add_argument("--ipid", type=int, default=0x2525)
        c.add_argument("--ext", default="")
        c.add_argument("--frag8", action="store_true")
        if name == "eth":
            c.add_argument("--iface", required=True)
            c.add_argument("--dst-mac", required=True)
        else:
            c.add_argument("--dev", required=True)
    c = sub.add_parser("sniff")
    c.add_argument("--iface", required=True)
    c = sub.add_parser("offload")
    c.add_argument("--iface", required=True)
    c.add_argument("--feature", required=True, choices=sorted(ETHTOOL_SET))
    c.add_argument("--state", required=True, choices=("on", "off"))
    a = p.parse_args()
    {"eth": send_eth, "tun": send_tun, "sniff": sniff,
     "offload": offload}[a.cmd](a)


if __name__ == "__main__":
    main()
