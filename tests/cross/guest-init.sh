#!/bin/busybox sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# /init of make cross-test's guests: mounts what op25b needs, loads the
# modules given, runs each suite between "==> NAME" and "<== NAME exit N"
# markers on the console (tests/cross/run.sh reads them on the host),
# then powers off. Nothing is judged here.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t bpf bpf /sys/fs/bpf
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /var/lib/op25b /var/log/op25b
dmesg -n 1
for m in $(cat /lib/modules/order); do
	insmod /lib/modules/$m || echo "insmod $m failed"
done
ip link set lo up

# The byte order, as the CPU reads 01 00.
order=$(printf '\001\000' | od -An -tu2 | tr -d ' ')
[ "$order" = 1 ] && endian=little || endian=big
# a line of its own, whatever the firmware left on the console
echo
echo "CROSS-BEGIN $(uname -m) $(uname -r) $endian-endian, $(nproc) CPUs"

suite() {
	name=$1
	shift
	echo "==> $name"
	"$@" 2>&1
	echo "<== $name exit $?"
}
# op25b.hostonly: the host's suites alone (CROSS_HOST_ONLY=1, run.sh)
if ! grep -q op25b.hostonly /proc/cmdline; then
	suite unit /bin/test_datapath -q
	suite engine /bin/test_engine -q
	suite policy /bin/policy.sh /bin/op25bctl /sys/fs/bpf/op25b-cross-policy
	suite e2e /bin/guest-e2e.sh
fi
# The host's own root (amd64: the host's CPU), shared read-only over 9p
# when run.sh gives it: the host's shell suites run here as they run there,
# on this kernel (tests/cross/guest-hostroot.sh).
if grep -q 'op25b.top=' /proc/cmdline; then
	suite share /bin/guest-hostroot.sh
fi
echo "==> dmesg"
dmesg | tail -n 40
echo "<== dmesg exit 0"
echo "CROSS-END"
sync
poweroff -f
