#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Install the Debian packages op25b needs to build and test, when missing.
# A no-op (no apt-get at all) when everything is present.
set -euo pipefail

pkgs=(clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libnl-3-dev
      libnl-route-3-dev libsystemd-dev libxdp-dev pkg-config make gcc iproute2 python3
      systemd)
[ -n "${CLANG:-}" ] && [ "$CLANG" != clang ] && pkgs+=("$CLANG")
# make test also checks the datapath against other compilers
[ -n "${EXTRA_PKGS:-}" ] && read -ra extra <<<"$EXTRA_PKGS" && pkgs+=("${extra[@]}")

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]} (run 'make deps' as root)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
