#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# make cross-test's packages: Debian's cross toolchains and qemu on the
# host; for each guest architecture (dpkg --add-architecture), its
# packages downloaded and unpacked into the cache. A no-op when everything is there.
#   KERNEL_SUITE=SUITE tests/cross/deps.sh CACHE ARCH...
#   (ARCH: Debian names, arm64 s390x; SUITE: bookworm, the default, or
#   bookworm-backports)
set -euo pipefail
cache=$(realpath -m "$1")
shift
archs=("$@")

# Debian's GNU triplet and qemu package per architecture.
triplet() { case $1 in amd64) echo x86_64-linux-gnu ;; arm64) echo aarch64-linux-gnu ;; s390x) echo s390x-linux-gnu ;; esac; }
qemu_pkg() { case $1 in amd64) echo qemu-system-x86 ;; arm64) echo qemu-system-arm ;; s390x) echo qemu-system-misc ;; esac; }

pkgs=(cpio xz-utils python3 clang llvm bpftool pkg-config make)
for a in "${archs[@]}"; do
	[ -n "$(triplet "$a")" ] || { echo "cross deps: unknown architecture '$a'" >&2; exit 1; }
	pkgs+=("$(qemu_pkg "$a")")
	# the host's own architecture is built by the host's compiler, and
	# its guest runs the host's suites in the host's root: libxdp's
	# dispatcher, xdp-tools
	if [ "$a" = "$(dpkg --print-architecture)" ]; then
		pkgs+=(libxdp-dev xdp-tools)
	else
		pkgs+=("gcc-$(triplet "$a")" "libc6-dev-$a-cross")
	fi
done

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
need_arch=()
for a in "${archs[@]}"; do
	[ "$a" = "$(dpkg --print-architecture)" ] && continue
	dpkg --print-foreign-architectures | grep -x "$a" >/dev/null || need_arch+=("$a")
done

if [ ${#missing[@]} -gt 0 ] || [ ${#need_arch[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "cross deps: missing packages: ${missing[*]} (run as root)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	for a in "${need_arch[@]}"; do
		echo "cross deps: dpkg --add-architecture $a" >&2
		dpkg --add-architecture "$a"
	done
	apt-get update -qq >/dev/null
	if [ ${#missing[@]} -gt 0 ]; then
		echo "cross deps: installing ${missing[*]}" >&2
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
fi

# The guest's own packages are unpacked into the cache, never installed
# (a foreign library must be the very version of the host's to be
# co-installed, and the mirrors of the architectures drift apart): the
# static libraries op25bctl links and busybox, from bookworm, in
# CACHE/ARCH/root; the kernel the metapackage of KERNEL_SUITE names, with
# its modules, in CACHE/ARCH/kernel-SUITE. A suite other than the host's
# is read through apt lists of its own in CACHE/apt-SUITE, the host's
# apt configuration untouched.
guest_pkgs=(libbpf-dev libelf-dev zlib1g-dev libnl-3-dev libnl-route-3-dev
	    busybox-static)

# unpack DIR PKG...: PKG (name:arch) downloaded into DIR/debs, unpacked in DIR.
unpack() {
	local dir=$1 deb
	shift
	rm -rf "$dir" && mkdir -p "$dir/debs"
	echo "cross deps: downloading $*" >&2
	(cd "$dir/debs" && apt-get "${apt_opts[@]}" download -qq \
		-o APT::Sandbox::User=root "$@" >/dev/null) || return 1
	for deb in "$dir"/debs/*.deb; do
		dpkg-deb -x "$deb" "$dir" || return 1
	done
	touch "$dir/.unpacked"
}

apt_opts=()
for a in "${archs[@]}"; do
	[ -e "$cache/$a/root/.unpacked" ] && continue
	apt-cache show "busybox-static:$a" >/dev/null 2>&1 || apt-get update -qq >/dev/null
	unpack "$cache/$a/root" "${guest_pkgs[@]/%/:$a}"
done

suite=${KERNEL_SUITE:-bookworm}
if [ "$suite" != bookworm ]; then
	ad=$cache/apt-$suite
	mkdir -p "$ad/lists/partial" "$ad/parts" "$ad/cache/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
		"http://deb.debian.org/debian $suite main" >"$ad/sources.list"
	apt_opts=(-o "Dir::Etc::SourceList=$ad/sources.list"
		  -o "Dir::Etc::SourceParts=$ad/parts" -o "Dir::State::Lists=$ad/lists"
		  -o "Dir::Cache=$ad/cache" -o APT::Sandbox::User=root)
	for a in "${archs[@]}"; do apt_opts+=(-o "APT::Architectures::=$a"); done
fi
for a in "${archs[@]}"; do
	[ -e "$cache/$a/kernel-$suite/.unpacked" ] && continue
	kpkg=
	for try in 1 2; do
		kpkg=$(apt-cache "${apt_opts[@]}" depends "linux-image-$a:$a" 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1) || true
		[ -n "$kpkg" ] && break
		apt-get "${apt_opts[@]}" update -qq >/dev/null
	done
	[ -n "$kpkg" ] || { echo "cross deps: no $suite kernel for $a" >&2; exit 1; }
	unpack "$cache/$a/kernel-$suite" "${kpkg%%:*}:$a"
done
