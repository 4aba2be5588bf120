#!/bin/busybox sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# In the amd64 guest, under busybox: the host's root (9p, tag hostroot,
# read-only) under a tmpfs overlay at /newroot, the kernel's filesystems
# mounted fresh in it, and there, chrooted, the tests the kernel command
# line names (op25b.tests=SUITE:TEST,...) run by the host's tests/run.sh
# from the host's worktree (op25b.top=DIR), with CI=true: a skip there is
# a failure, a reported one said. The host's op25bctl (with libxdp), bash,
# python3, iproute2 and xdp-tools run on this kernel, not the host's.
arg() { sed -n "s/.*$1=\\([^ ]*\\).*/\\1/p" /proc/cmdline; }
top=$(arg op25b.top)
tests=$(arg op25b.tests | tr , ' ')
r=/newroot
mkdir -p /host /ov $r
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose hostroot /host ||
	{ echo "FAIL - share: cannot mount the host's root"; echo "0 passed, 1 failed"; exit 1; }
mount -t tmpfs tmpfs /ov
mkdir -p /ov/u /ov/w
if ! mount -t overlay overlay -o lowerdir=/host,upperdir=/ov/u,workdir=/ov/w $r; then
	# no overlay: the host's root read-only, what the tests write in tmpfs
	mount --bind /host $r
	for d in var/lib var/log var/tmp root; do mount -t tmpfs tmpfs $r/$d; done
fi
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t devtmpfs devtmpfs $r/dev
# what udev would make: bash's <(...) needs /dev/fd
ln -sf /proc/self/fd $r/dev/fd
ln -sf /proc/self/fd/0 $r/dev/stdin
ln -sf /proc/self/fd/1 $r/dev/stdout
ln -sf /proc/self/fd/2 $r/dev/stderr
mount -t bpf bpf $r/sys/fs/bpf
mount -t tmpfs tmpfs $r/tmp
mount -t tmpfs tmpfs $r/run
mount -t cgroup2 cgroup2 $r/sys/fs/cgroup 2>/dev/null
mkdir -p $r/run/netns
echo "host root: $(cat $r/etc/debian_version), tests: $tests"
chroot $r /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root CI=true BUILD="$top/build" /bin/bash "$top/tests/run.sh" $tests
