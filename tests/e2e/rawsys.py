# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A system call Python has no wrapper for (bpf, io_uring_setup), through
libc: its result, or OSError with its errno (standard library only)."""

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def syscall(nr, *args):
    r = _libc.syscall(nr, *args)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r
