#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A steady stream of SYNs, and a counter of those that arrive.

  flood.py send  --iface IF --dst-mac MAC --src A --dst B --seconds S
      write SYNs onto IF with AF_PACKET for S seconds, nine to port 25 for
      every one to port 587 (the marker that proves the path is open)
  flood.py count --iface IF --src A
      count arriving TCP SYNs from A by destination port; "ready" first,
      then "25=N 587=M" when SIGTERM or SIGINT comes
Standard library only; IPv4.
"""

import argparse
import ipaddress
import signal
import socket
import struct
import sys
import time

from pktlib import ip_syn

ETH_P_IP = 0x0800
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def send(a):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    head = bytes.fromhex(a.dst_mac.replace(":", "")) + \
        s.getsockname()[4][:6] + struct.pack("!H", ETH_P_IP)
    src, dst = ipaddress.ip_address(a.src), ipaddress.ip_address(a.dst)
    frames = [head + ip_syn(src, dst, 20000 + i, 587 if i % 10 == 0 else 25)
              for i in range(1000)]
    end = time.monotonic() + a.seconds
    n = 0
    while time.monotonic() < end:
        for f in frames:
            s.send(f)
        n += len(frames)
    print("sent", n)


def count(a):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.iface, 0))
    s.settimeout(0.2)
    src = ipaddress.ip_address(a.src).packed
    seen = {25: 0, 587: 0}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    print("ready", flush=True)
    while not stop:
        try:
            b, addr = s.recvfrom(2048)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        if addr[2] == PACKET_OUTGOING or len(b) < 54:
            continue
        if struct.unpack("!H", b[12:14])[0] != ETH_P_IP or b[23] != 6:
            continue
        if b[26:30] != src:
            continue
        dport = struct.unpack("!H", b[36:38])[0]
        if dport in seen:
            seen[dport] += 1
    print("25=%d 587=%d" % (seen[25], seen[587]), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("send")
    c.add_argument("--iface", required=True)
    c.add_argument("--dst-mac", required=True)
    c.add_argument("--src", required=True)
    c.add_argument("--dst", required=True)
    c.add_argument("--seconds", type=float, default=2.0)
    c = sub.add_parser("count")
    c.add_argument("--iface", required=True)
    c.add_argument("--src", required=True)
    a = p.parse_args()
    send(a) if a.cmd == "send" else count(a)


if __name__ == "__main__":
    main()
