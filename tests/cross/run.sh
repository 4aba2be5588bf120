#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# make cross-test: op25b built by Debian's cross compilers and run on
# Debian's own kernel for another CPU under qemu-system: arm64, and s390x
# (big-endian). Each guest boots a busybox initramfs holding op25bctl and
# the test binaries (statically linked), runs the datapath and engine unit
# tests, the policy commands (tests/cross/policy.sh, whose output must be
# the very text the host prints) and a namespace end-to-end test
# (tests/cross/guest-e2e.sh), and powers off. The console is read here:
# a guest that does not finish within CROSS_TIMEOUT seconds, a suite
# without its summary, and any failure fail the run.
#
# amd64 (the host's own CPU, on Debian's amd64 kernel of the same suite)
# runs them too, then boots again for the host's shell suites
# CROSS_HOST_TESTS (tests/run.sh words, comma-separated; default share) in
# the host's root shared read-only over 9p (tests/cross/guest-hostroot.sh):
# libxdp's dispatcher, which the host's kernel refuses, is tested there
# (test_share's test_dispatcher). CROSS_HOST_ONLY=1: that boot alone.
#
# Usage: tests/cross/run.sh [ARCH...]   (default: arm64 s390x; amd64 too)
# Cache: $BUILD/cross (downloaded packages, unpacked; the guests' builds).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-$top/build}
CLANG=${CLANG:-clang}
CROSS_TIMEOUT=${CROSS_TIMEOUT:-1500}
# Debian's kernel for the guests: bookworm-backports' 6.12 by default;
# bookworm's own 6.1 verifier refuses op25b's datapath (CROSS_KERNEL=bookworm
# shows how).
CROSS_KERNEL=${CROSS_KERNEL:-bookworm-backports}
# Two CPUs: the engine's atomicity test shows its control's torn reads
# only with a reader and a writer running at once, and per-CPU maps are
# then summed over more than one CPU.
CROSS_SMP=${CROSS_SMP:-2}
cache=$BUILD/cross
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(arm64 s390x)
# The kernel modules the guest loads (veth for the namespace test, the
# tc hook's qdisc and classifier); none of them depends on another.
MODULES="veth sch_ingress cls_bpf"
# amd64's host root: 9p over virtio, an overlay to write in
HOSTROOT_MODULES="netfs 9pnet 9pnet_virtio 9p overlay"
CROSS_HOST_TESTS=${CROSS_HOST_TESTS:-share}

total_pass=0
total_fail=0
total_skip=0
qemu_pid=
ref_pin=
cleanup() {
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null
	[ -n "$ref_pin" ] && rm -rf "$ref_pin"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$cache"
KERNEL_SUITE=$CROSS_KERNEL "$here/deps.sh" "$cache" "${archs[@]}" || exit 1

# What the host prints for policy.sh: the reference every guest must match.
make -s -C "$top" --no-print-directory CLANG="$CLANG" BUILD="$BUILD" \
	"$BUILD/op25bctl" || exit 1
ref_pin=/sys/fs/bpf/op25b-cross-ref-$$
"$here/policy.sh" "$BUILD/op25bctl" "$ref_pin" >"$cache/policy.ref"
rm -rf "$ref_pin"
ref_pin=

# arch_setup ARCH: the triplet, the kernel's and BPF's names for it, and
# how qemu boots it.
arch_setup() {
	case $1 in
	amd64)
		# the host's own CPU (CROSS_KVM=1: under KVM)
		triplet=x86_64-linux-gnu karch=x86 bpf_target=bpfel
		# TCG: under KVM, nested in this host's hypervisor, Debian's
		# kernel stops at its first BMI2 instruction ("KVM internal
		# error ... emulation failure"); TCG boots it in seconds
		qemu=(qemu-system-x86_64 -M q35 -cpu max)
		[ -n "${CROSS_KVM:-}" ] && qemu=(qemu-system-x86_64 -M q35 -enable-kvm -cpu host)
		console=ttyS0
		hostroot=1
		;;
	arm64)
		triplet=aarch64-linux-gnu karch=arm64 bpf_target=bpfel hostroot=
		qemu=(qemu-system-aarch64 -M virt -cpu cortex-a57)
		console=ttyAMA0
		;;
	s390x)
		triplet=s390x-linux-gnu karch=s390 bpf_target=bpfeb hostroot=
		qemu=(qemu-system-s390x -M s390-ccw-virtio)
		console=ttysclp0
		;;
	*)
		echo "cross-test: unknown architecture '$1'" >&2
		return 1
		;;
	esac
}

host_bpf_target() {
	[ "$(printf '\001\000' | od -An -tu2 | tr -d ' ')" = 1 ] && echo bpfel || echo bpfeb
}

# build ARCH: op25bctl, test_datapath and test_engine for ARCH, static,
# against the libraries unpacked in the cache, in $cache/ARCH/build.
build() {
	local a=$1 sys=$cache/$1/root b=$cache/$1/build args
	# The test binaries' rules take LDLIBS, not LDFLAGS.
	local libs="-lbpf -lelf -lz -lm -lnl-route-3 -lnl-3 -lpthread"
	args=(-C "$top" --no-print-directory CLANG="$CLANG" CC="$triplet-gcc"
	      ARCH="$karch"
	      "LDLIBS=-static -L$sys/usr/lib/$triplet -L$sys/lib/$triplet $libs")
	export CFLAGS="-O2 -g -I$sys/usr/include"
	export PKG_CONFIG_LIBDIR=$sys/usr/lib/$triplet/pkgconfig
	export PKG_CONFIG_SYSROOT_DIR=$sys PKG_CONFIG_PATH=
	# Every BPF object op25bctl embeds (bpf/NAME.bpf.c), in the guest's
	# byte order. Debian 12's bpftool cannot open an object of the other
	# order: then the skeleton comes from the same source built in the
	# host's, given the guest's object (tests/cross/skel-splice.py).
	local n
	for n in "$top"/bpf/*.bpf.c; do
		n=$(basename "$n" .bpf.c)
		make -s "${args[@]}" BUILD="$b" \
			"BPF_EXTRA=-target $bpf_target -I/usr/$triplet/include" \
			"$b/$n.bpf.o" || return 1
		[ "$bpf_target" != "$(host_bpf_target)" ] || continue
		[ "$b/$n.skel.h" -nt "$b/$n.bpf.o" ] && continue
		make -s "${args[@]}" BUILD="$b/host-order" \
			"BPF_EXTRA=-target $(host_bpf_target) -I/usr/$triplet/include" \
			"$b/host-order/$n.skel.h" || return 1
		"$here/skel-splice.py" "$b/host-order/$n.skel.h" \
			"$b/$n.bpf.o" >"$b/$n.skel.h.tmp" &&
			mv "$b/$n.skel.h.tmp" "$b/$n.skel.h" || return 1
	done
	make -s -j2 "${args[@]}" BUILD="$b" \
		"BPF_EXTRA=-target $bpf_target -I/usr/$triplet/include" \
		"$b/op25bctl" "$b/test_datapath" "$b/test_engine" 2>&1 |
		grep -v -e 'statically linked applications requires at runtime' \
			-e '\.a(.*): in function'
	[ "${PIPESTATUS[0]}" -eq 0 ] || return 1
	unset CFLAGS PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH
}

# initramfs ARCH: busybox, the binaries, the scripts, the modules.
initramfs() {
	local a=$1 sys=$cache/$1/root b=$cache/$1/build r=$cache/$1/initramfs m f
	local k=$cache/$1/kernel-$CROSS_KERNEL
	rm -rf "$r"
	mkdir -p "$r"/{bin,proc,sys,dev,tmp,run,lib/modules}
	cp "$sys/bin/busybox" "$b/op25bctl" "$b/test_datapath" "$b/test_engine" \
		"$here/policy.sh" "$here/guest-e2e.sh" "$here/guest-hostroot.sh" "$r/bin/"
	cp "$here/guest-init.sh" "$r/init"
	local mods=$MODULES
	[ -n "$hostroot" ] && mods+=" $HOSTROOT_MODULES"
	for m in $mods; do
		f=$(find "$k/lib/modules" -name "$m.ko" -o -name "$m.ko.xz" | head -n 1)
		[ -n "$f" ] || { echo "cross-test: $a: no module $m" >&2; return 1; }
		# busybox's insmod takes the module itself, not compressed
		case $f in
		*.xz) xz -dc "$f" >"$r/lib/modules/$m.ko" ;;
		*) cp "$f" "$r/lib/modules/" ;;
		esac
		echo "$m.ko" >>"$r/lib/modules/order"
	done
	(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) >"$cache/$a/initramfs.gz"
}

# boot ARCH [host]: the guest, its console in $cache/ARCH/console.log; with
# host, a second boot for the host's suites alone (amd64), its console in
# console-host.log: the host's root over 9p, and one TCG thread for both
# CPUs (with one each, the kernel's own XDP dispatcher, patched with int3
# while test_share's flood ran through it, was seen to trap: "Oops: int3",
# bpf_dispatcher_xdp_func; the first boot keeps a thread per CPU, which
# the engine's atomicity test needs to see torn reads at all).
boot() {
	local a=$1 kernel more=() append= mem=1024
	kernel=$(ls "$cache/$a/kernel-$CROSS_KERNEL"/boot/vmlinuz-* | head -n 1)
	if [ -n "${2:-}" ]; then
		mem=2048
		more=(-accel tcg,thread=single
		      -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
		append=" op25b.top=$top op25b.tests=$CROSS_HOST_TESTS op25b.hostonly"
	fi
	nice -n 10 timeout -k 10 "$CROSS_TIMEOUT" "${qemu[@]}" -smp "$CROSS_SMP" \
		-m "$mem" \
		-nographic -no-reboot -nic none -kernel "$kernel" \
		-initrd "$cache/$a/initramfs.gz" "${more[@]}" \
		-append "console=$console panic=-1 loglevel=4$append" \
		</dev/null >"$cache/$a/console${2:+-$2}.log" 2>&1 &
	qemu_pid=$!
	wait "$qemu_pid"
	local rc=$?
	qemu_pid=
	return $rc
}

# section LOG NAME: the lines a guest printed between NAME's markers.
section() {
	sed -n "/^==> $2\$/,/^<== $2 exit /p" "$1" | sed '1d;$d'
}

# judge ARCH [host]: the suites' counts from the console (boot's); the
# policy blocks compared with the host's. Adds to pass, fail and skip.
judge() {
	local a=$1 raw=$cache/$1/console${2:+-$2}.log s line p f k rc
	local log=$raw.txt suites="unit engine e2e"
	[ -n "${2:-}" ] && suites=share
	tr -d '\r' <"$raw" >"$log"
	if ! grep -aq '^CROSS-BEGIN' "$log"; then
		echo "FAIL - $a: the guest did not start its tests"
		tail -n 30 "$log"
		fail=$((fail + 1))
		return
	fi
	grep -a '^CROSS-BEGIN' "$log" | sed "s/^CROSS-BEGIN/  $a guest:/"
	for s in $suites; do
		section "$log" "$s" >"$cache/$a/$s.log"
		line=$(grep -aE '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' \
			"$cache/$a/$s.log" | tail -n 1)
		rc=$(sed -n "s/^<== $s exit //p" "$log")
		if [ -z "$line" ]; then
			echo "FAIL - $a $s: no summary line (exit ${rc:-none})"
			tail -n 20 "$cache/$a/$s.log"
			fail=$((fail + 1))
			continue
		fi
		# each count is the word before its name
		read -r p f k < <(awk '{ gsub(/,/, ""); for (i = 2; i <= NF; i++) n[$i] = $(i - 1) }
			END { print n["passed"] + 0, n["failed"] + 0, n["skipped"] + 0 }' <<<"$line")
		grep -aE '^(FAIL|skip) ' "$cache/$a/$s.log" | sed "s/^/  $a $s: /"
		if [ "$rc" != 0 ] && [ "$f" -eq 0 ]; then
			echo "FAIL - $a $s: exit $rc with no failure counted"
			f=1
		fi
		echo "  $a $s: $p passed, $f failed, $k skipped"
		pass=$((pass + p))
		fail=$((fail + f))
		skip=$((skip + k))
	done
	if [ -z "${2:-}" ]; then
		section "$log" policy >"$cache/$a/policy.out"
		judge_policy "$a"
	fi
	if ! grep -aq '^CROSS-END' "$log"; then
		echo "FAIL - $a: the guest did not finish"
		fail=$((fail + 1))
	fi
}

# judge_policy ARCH: each "### op25bctl ..." block of the guest's output
# against the host's.
judge_policy() {
	local a=$1 d=$cache/$1/policy n i p=0 f=0
	rm -rf "$d" && mkdir -p "$d/ref" "$d/out"
	awk -v dir="$d/ref" '/^### /{n++} {print > (dir "/" n+0)}' "$cache/policy.ref"
	awk -v dir="$d/out" '/^### /{n++} {print > (dir "/" n+0)}' "$cache/$a/policy.out"
	n=$(ls "$d/ref" | wc -l)
	for i in $(seq 1 $((n - 1))); do
		if [ -f "$d/out/$i" ] && cmp -s "$d/ref/$i" "$d/out/$i"; then
			p=$((p + 1))
		else
			f=$((f + 1))
			echo "FAIL - $a policy: $(head -n 1 "$d/ref/$i") differs from the host's"
			[ $f -le 3 ] && diff "$d/ref/$i" "$d/out/$i" 2>&1 | head -n 20 | sed 's/^/    /'
		fi
	done
	if [ "$(ls "$d/out" | wc -l)" -ne "$n" ]; then
		f=$((f + 1))
		echo "FAIL - $a policy: $(($(ls "$d/out" | wc -l) - 1)) blocks, the host printed $((n - 1))"
	fi
	echo "  $a policy: $p passed, $f failed"
	pass=$((pass + p))
	fail=$((fail + f))
}

for a in "${archs[@]}"; do
	arch_setup "$a" || { total_fail=$((total_fail + 1)); continue; }
	start=$(date +%s)
	echo "==> cross $a"
	pass=0 fail=0 skip=0
	if ! build "$a"; then
		echo "FAIL - $a: build failed"
		total_fail=$((total_fail + 1))
		continue
	fi
	initramfs "$a" || { total_fail=$((total_fail + 1)); continue; }
	# CROSS_HOST_ONLY=1: amd64's second boot alone (the host's suites)
	for kind in "" ${hostroot:+host}; do
		[ -z "$kind" ] && [ -n "$hostroot" ] && [ -n "${CROSS_HOST_ONLY:-}" ] && continue
		boot "$a" $kind
		rc=$?
		[ $rc -eq 124 ] && echo "FAIL - $a: the guest did not power off within ${CROSS_TIMEOUT}s"
		judge "$a" $kind
		[ $rc -eq 124 ] && fail=$((fail + 1))
	done
	echo "$a: $pass passed, $fail failed, $skip skipped ($(($(date +%s) - start)) s; consoles: $cache/$a/console*.log)"
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
done

echo
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
