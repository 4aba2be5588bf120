#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Open a TCP connection one of the ways a process has, and say how it went.

    sockconnect.py [--cgroup DIR] [--uid U] [--gid G] WAY DST PORT [WAY DST PORT...]

WAY is one of
    connect     connect(2)
    fastopen    sendto(2) with MSG_FASTOPEN on an unconnected socket
    tfo         setsockopt TCP_FASTOPEN_CONNECT, then connect(2)
    uring       io_uring's IORING_OP_CONNECT
    mptcp       connect(2) on an IPPROTO_MPTCP socket
DST is an IPv4 or IPv6 address (an IPv4-mapped one, ::ffff:a.b.c.d, on an
AF_INET6 socket). Before connecting, the process moves itself into the
cgroup v2 directory DIR (its cgroup.procs) and takes uid U and gid G (real
and effective, no supplementary groups), as a process of that user would
run there. One line per connection: the outcome (connected, EPERM,
refused, timeout, unsupported, or an errno name) and the milliseconds it
took, e.g. "EPERM 0.031".
"""
import ctypes
import errno
import mmap
import os
import socket
import struct
import sys
import time

from rawsys import syscall

TIMEOUT = 2.0
MSG_FASTOPEN = 0x20000000
TCP_FASTOPEN_CONNECT = 30
IPPROTO_MPTCP = 262


def sockaddr(dst, port):
    """The socket family and the raw sockaddr of dst:port."""
    if ":" in dst:
        raw = struct.pack("<HH I", socket.AF_INET6, socket.htons(port), 0) + \
            socket.inet_pton(socket.AF_INET6, dst) + struct.pack("<I", 0)
        return socket.AF_INET6, raw
    raw = struct.pack("<HH", socket.AF_INET, socket.htons(port)) + \
        socket.inet_pton(socket.AF_INET, dst) + b"\0" * 8
    return socket.AF_INET, raw


def outcome(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if e.errno in (errno.ENOPROTOOPT, errno.EPROTONOSUPPORT, errno.ENOSYS):
        return "unsupported"
    return errno.errorcode.get(e.errno, str(e.errno))


def way_connect(fam, dst, port, proto=0):
    s = socket.socket(fam, socket.SOCK_STREAM, proto)
    s.settimeout(TIMEOUT)
    try:
        s.connect((dst, port))
    finally:
        s.close()


def way_fastopen(fam, dst, port):
    # blocking, so that sendto waits for the connection (bounded)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                 struct.pack("ll", int(TIMEOUT), 0))
    try:
        s.sendto(b"EHLO x\r\n", MSG_FASTOPEN, (dst, port))
    finally:
        s.close()


def way_tfo(fam, dst, port):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        s.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1)
        s.connect((dst, port))
    finally:
        s.close()


class Uring:
    """One IORING_OP_CONNECT through a ring of our own (no liburing)."""
    SETUP, ENTER = 425, 426
    OP_CONNECT = 16

    def __init__(self):
        self.params = ctypes.create_string_buffer(120)
        fd = syscall(self.SETUP, 4, self.params)
        self.fd = fd
        p = struct.unpack_from("<10I", self.params.raw, 0)
        self.sq_entries, self.cq_entries = p[0], p[1]
        sq = struct.unpack_from("<8IQ", self.params.raw, 40)
        cq = struct.unpack_from("<8IQ", self.params.raw, 80)
        self.sq_off, self.cq_off = sq, cq
        sq_len = sq[6] + self.sq_entries * 4
        cq_len = cq[5] + self.cq_entries * 16
        self.sq = mmap.mmap(fd, sq_len, mmap.MAP_SHARED | mmap.MAP_POPULATE,
                            mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self.cq = mmap.mmap(fd, cq_len, mmap.MAP_SHARED | mmap.MAP_POPULATE,
                            mmap.PROT_READ | mmap.PROT_WRITE, offset=0x8000000)
        self.sqes = mmap.mmap(fd, self.sq_entries * 64,
                              mmap.MAP_SHARED | mmap.MAP_POPULATE,
                              mmap.PROT_READ | mmap.PROT_WRITE,
                              offset=0x10000000)

    def connect(self, sock_fd, raw):
        addr = ctypes.create_string_buffer(raw, len(raw))
        sqe = bytearray(64)
        struct.pack_into("<BBHi", sqe, 0, self.OP_CONNECT, 0, 0, sock_fd)
        struct.pack_into("<Q", sqe, 8, len(raw))            # off: addrlen
        struct.pack_into("<Q", sqe, 16, ctypes.addressof(addr))
        struct.pack_into("<Q", sqe, 32, 0x25)               # user_data
        self.sqes[0:64] = bytes(sqe)
        head_off, tail_off, mask_off = self.sq_off[0], self.sq_off[1], self.sq_off[2]
        tail = struct.unpack_from("<I", self.sq, tail_off)[0]
        mask = struct.unpack_from("<I", self.sq, mask_off)[0]
        struct.pack_into("<I", self.sq, self.sq_off[6] + 4 * (tail & mask), 0)
        struct.pack_into("<I", self.sq, tail_off, tail + 1)
        syscall(self.ENTER, self.fd, 1, 1, 1, None, 0)
        chead = struct.unpack_from("<I", self.cq, self.cq_off[0])[0]
        cmask = struct.unpack_from("<I", self.cq, self.cq_off[2])[0]
        _, res, _ = struct.unpack_from("<QiI", self.cq,
                                       self.cq_off[5] + 16 * (chead & cmask))
        struct.pack_into("<I", self.cq, self.cq_off[0], chead + 1)
        addr  # kept alive until the kernel read it
        return res

    def close(self):
        self.sq.close()
        self.cq.close()
        self.sqes.close()
        os.close(self.fd)


def way_uring(fam, dst, port):
    try:
        ring = Uring()
    except OSError as e:
        if e.errno in (errno.ENOSYS, errno.EPERM, errno.EACCES):
            raise OSError(errno.ENOSYS, "io_uring not available")
        raise
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        _, raw = sockaddr(dst, port)
        res = ring.connect(s.fileno(), raw)
        if res == -errno.ECONNREFUSED:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "refused")
        if res < 0:
            raise OSError(-res, os.strerror(-res))
    finally:
        s.close()
        ring.close()


def way_mptcp(fam, dst, port):
    way_connect(fam, dst, port, IPPROTO_MPTCP)


WAYS = {"connect": way_connect, "fastopen": way_fastopen, "tfo": way_tfo,
        "uring": way_uring, "mptcp": way_mptcp}


def main(argv):
    args = list(argv)
    cgroup = uid = gid = None
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--cgroup":
            cgroup = args.pop(0)
        elif opt == "--uid":
            uid = int(args.pop(0))
        elif opt == "--gid":
            gid = int(args.pop(0))
        else:
            sys.exit("unknown option " + opt)
    if cgroup:
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    if gid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
    if uid is not None:
        os.setresuid(uid, uid, uid)
    while len(args) >= 3:
        way, dst, port = args[0], args[1], int(args[2])
        del args[:3]
        fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
        t = time.monotonic()
        try:
            WAYS[way](fam, dst, port)
            r = "connected"
        except OSError as e:
            r = outcome(e)
        print("%s %.3f" % (r, (time.monotonic() - t) * 1000), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
