#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# make cross-test's packages: Debian's cross toolchains and qemu on the
# host; for each guest architecture (dpkg --add-architecture), its
# packages downloaded and unpacked into the cache. A no-op when everything is there.
#   tests/cross/deps.sh CACHE ARCH...   (ARCH: Debian names, arm64 s390x)
set -euo pipefail
cache=$1
shift
archs=("$@")

# Debian's GNU triplet and qemu package per architecture.
triplet() { case $1 in arm64) echo aarch64-linux-gnu ;; s390x) echo s390x-linux-gnu ;; esac; }
qemu_pkg() { case $1 in arm64) echo qemu-system-arm ;; s390x) echo qemu-system-misc ;; esac; }

pkgs=(cpio clang llvm bpftool pkg-config make)
for a in "${archs[@]}"; do
	[ -n "$(triplet "$a")" ] || { echo "cross deps: unknown architecture '$a'" >&2; exit 1; }
	pkgs+=("$(qemu_pkg "$a")" "gcc-$(triplet "$a")" "libc6-dev-$a-cross")
done

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
need_arch=()
for a in "${archs[@]}"; do
	[ "$a" = "$(dpkg --print-architecture)" ] && continue
	dpkg --print-foreign-architectures | grep -qx "$a" || need_arch+=("$a")
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
# static libraries op25bctl links, busybox, and the kernel (the 6.1 image
# the metapackage names) with its modules.
guest_pkgs=(libbpf-dev libelf-dev zlib1g-dev libnl-3-dev libnl-route-3-dev
	    busybox-static)
for a in "${archs[@]}"; do
	dir=$cache/$a
	[ -e "$dir/.unpacked" ] && continue
	rm -rf "$dir" && mkdir -p "$dir/debs" "$dir/root"
	kpkg=$(apt-cache depends "linux-image-$a:$a" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
	if [ -z "$kpkg" ]; then
		apt-get update -qq >/dev/null
		kpkg=$(apt-cache depends "linux-image-$a:$a" |
			sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
	fi
	[ -n "$kpkg" ] || { echo "cross deps: no kernel package for $a" >&2; exit 1; }
	kpkg=${kpkg%%:*}
	echo "cross deps: downloading $kpkg ${guest_pkgs[*]} for $a" >&2
	(cd "$dir/debs" && apt-get download -qq -o APT::Sandbox::User=root "$kpkg:$a" "${guest_pkgs[@]/%/:$a}" >/dev/null)
	for deb in "$dir"/debs/*.deb; do
		dpkg-deb -x "$deb" "$dir/root"
	done
	touch "$dir/.unpacked"
done
