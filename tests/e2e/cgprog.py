#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Someone else's cgroup program, for the multi-attach tests.

    cgprog.py CGROUP_DIR PORT

Loads a cgroup/connect4 program of five instructions that refuses a
connect to PORT (EPERM) and lets everything else through, attaches it to
CGROUP_DIR with BPF_F_ALLOW_MULTI (the cgroup keeps it after this process
exits), and prints its program id. Through the bpf(2) system call
directly: nothing but Python's standard library.
"""
import ctypes
import os
import socket
import struct
import sys

from rawsys import syscall

NR_BPF = {"x86_64": 321, "aarch64": 280, "armv7l": 386, "riscv64": 280,
          "ppc64le": 361, "s390x": 351}
BPF_PROG_LOAD, BPF_OBJ_GET_INFO_BY_FD, BPF_PROG_ATTACH = 5, 15, 8
BPF_PROG_TYPE_CGROUP_SOCK_ADDR = 18
BPF_CGROUP_INET4_CONNECT = 10
BPF_F_ALLOW_MULTI = 2



def bpf(cmd, attr):
    return syscall(NR_BPF[os.uname().machine], cmd, attr, len(attr))


def insn(code, dst, src, off, imm):
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def main():
    cgdir, port = sys.argv[1], int(sys.argv[2])
    user_port = struct.unpack("<I", struct.pack(">H", port) + b"\0\0")[0]
    prog = (insn(0x61, 2, 1, 24, 0) +          # r2 = ctx->user_port
            insn(0xb7, 0, 0, 0, 1) +           # r0 = 1
            insn(0x55, 2, 0, 1, user_port) +   # if r2 != port goto +1
            insn(0xb7, 0, 0, 0, 0) +           # r0 = 0: EPERM
            insn(0x95, 0, 0, 0, 0))            # exit
    code = ctypes.create_string_buffer(prog, len(prog))
    lic = ctypes.create_string_buffer(b"GPL")
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQQ", attr, 0, BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                     len(prog) // 8, ctypes.addressof(code),
                     ctypes.addressof(lic))
    attr[48:48 + 14] = b"other_connect4"
    struct.pack_into("<I", attr, 68, BPF_CGROUP_INET4_CONNECT)
    pfd = bpf(BPF_PROG_LOAD, attr)
    cg = os.open(cgdir, os.O_RDONLY | os.O_DIRECTORY)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIII", attr, 0, cg, pfd, BPF_CGROUP_INET4_CONNECT,
                     BPF_F_ALLOW_MULTI)
    bpf(BPF_PROG_ATTACH, attr)
    info = ctypes.create_string_buffer(256)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQ", attr, 0, pfd, len(info), ctypes.addressof(info))
    bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
    print(struct.unpack_from("<I", info, 4)[0])


if __name__ == "__main__":
    main()
