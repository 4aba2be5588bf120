#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""BIG TCP helpers for test_bigtcp.sh (standard library only).

  bigtcp.py ipv4-size IFACE BYTES   set IFLA_GSO/GRO_IPV4_MAX_SIZE by netlink
                                    (iproute2 6.1 has no words for them)
  bigtcp.py recv ADDR PORT          accept one connection, print the bytes read
  bigtcp.py send ADDR PORT BYTES    connect, send BYTES, wait for the close
"""

import socket
import struct
import sys

IFLA_GSO_IPV4_MAX_SIZE = 63
IFLA_GRO_IPV4_MAX_SIZE = 64
RTM_NEWLINK = 16
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2


def ipv4_size(ifname, size):
    def attr(kind, value):
        return struct.pack("HHI", 8, kind, value)

    body = struct.pack("BxHiII", socket.AF_UNSPEC, 0,
                       socket.if_nametoindex(ifname), 0, 0)
    body += attr(IFLA_GSO_IPV4_MAX_SIZE, size)
    body += attr(IFLA_GRO_IPV4_MAX_SIZE, size)
    msg = struct.pack("IHHII", 16 + len(body), RTM_NEWLINK,
                      NLM_F_REQUEST | NLM_F_ACK, 1, 0) + body
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.send(msg)
    reply = s.recv(4096)
    kind = struct.unpack("H", reply[4:6])[0]
    err = struct.unpack("i", reply[16:20])[0] if kind == NLMSG_ERROR else -1
    if err:
        print("netlink error %d" % err, file=sys.stderr)
        sys.exit(1)


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def recv(addr, port):
    s = socket.socket(family(addr))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    print("ready", flush=True)
    s.settimeout(20)
    c, _ = s.accept()
    c.settimeout(20)
    n = 0
    try:
        while True:
            d = c.recv(1 << 20)
            if not d:
                break
            n += len(d)
    except socket.timeout:
        pass
    print(n, flush=True)


def send(addr, port, size):
    s = socket.create_connection((addr, port), timeout=5)
    s.settimeout(15)
    s.sendall(b"\x25" * size)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "ipv4-size":
        ipv4_size(args[0], int(args[1]))
    elif cmd == "recv":
        recv(args[0], int(args[1]))
    elif cmd == "send":
        send(args[0], int(args[1]), int(args[2]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
