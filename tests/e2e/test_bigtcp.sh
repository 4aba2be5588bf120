#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# BIG TCP: with GSO/GRO sizes above 64 KiB the kernel builds TCP
# super-packets whose IPv4 total length is 0 (IPv6: payload length 0). On tc
# they are ordinary traffic, not malformed: a denied subscriber's (or the
# router's own) bulk upload to any port other than 25 must go through
# untouched. The transfer runs with op25b on the sender's tc egress, and the
# veth's counters prove super-packets were really sent (else the test could
# not fail).
#
# Usage: test_bigtcp.sh [TEST...]   (default: every test_* function, in order)
set -u
. "$(dirname "$0")/../lib.sh"

HELPER=$LIB_DIR/e2e/bigtcp.py
ns_names big S R
BIG=185000
BYTES=$((16 << 20))

suite_begin
make_pin_dir bigtcp

ctl() {
	in_ns "$S" "$CTL" --pin-dir "$PIN" "$@"
}

# bigtcp_setup: sender and receiver namespaces, their veth with BIG TCP
# sizes, the sender denied and op25b on its tc egress; made once, by the
# first test (once bigtcp_setup). Without any of it nothing here could
# fail: the suite ends.
bigtcp_setup() {
	local end ns dev
	ns_create "$S" && ns_create "$R" && veth_pair "$S" s0 "$R" r0 ||
		die "topology" "cannot create namespaces and veths"
	for end in "$S s0" "$R r0"; do
		read -r ns dev <<<"$end"
		ip -n "$ns" link set dev "$dev" gso_max_size $BIG gro_max_size $BIG ||
			die "BIG TCP" "iproute2 cannot set gso_max_size on $dev"
		ip netns exec "$ns" "$PY" "$HELPER" ipv4-size "$dev" $BIG ||
			die "BIG TCP" "kernel refused the IPv4 GSO/GRO max size on $dev"
	done
	addr_add "$S" s0 10.16.0.1/24 && addr_add "$R" r0 10.16.0.2/24 &&
		addr_add "$S" s0 2001:db8:b16::1/64 && addr_add "$R" r0 2001:db8:b16::2/64 ||
		die "addresses" "cannot add addresses"

	ctl -q deny subscriber 10.16.0.1 2001:db8:b16::1 &&
		ctl -q attach s0 --hook tc --direction egress ||
		die "op25b" "cannot set policy or attach"
}

# tx_avg: average bytes per skb the veth sent since the last call.
TX_B=0 TX_P=0
tx_avg() {
	local b p
	read -r b p < <(ip -n "$S" -s -j link show dev s0 | "$PY" -c '
import json, sys
s = json.load(sys.stdin)[0]["stats64"]["tx"]
print(s["bytes"], s["packets"])')
	echo $(((b - TX_B) / (p - TX_P > 0 ? p - TX_P : 1)))
	TX_B=$b TX_P=$p
}

malformed() {
	ctl -j stats | jget malformed
}

# bulk LABEL DST: BYTES to DST:5001 from the denied source.
bulk() {
	local label=$1 dst=$2 log=$TMPD/recv.$RANDOM m0 m1 avg got
	once bigtcp_setup
	m0=$(malformed)
	tx_avg >/dev/null
	ip netns exec "$R" "$PY" "$HELPER" recv "$dst" 5001 >"$log" 2>&1 &
	CLEAN_PIDS+=($!)
	wait_file_line "$log" ready || { fail "$label" "receiver not ready"; return; }
	ip netns exec "$S" "$PY" "$HELPER" send "$dst" 5001 $BYTES 2>/dev/null
	wait_file_line "$log" '^[0-9]' 200
	got=$(grep -E '^[0-9]+$' "$log")
	avg=$(tx_avg)
	m1=$(malformed)
	check "$label: super-packets were sent (average skb $avg bytes > 65535)" \
		"BIG TCP not in effect: nothing here could fail" [ "$avg" -gt 65535 ]
	check_eq "$label: all $BYTES bytes arrived" "$BYTES" "${got:-none}"
	check_eq "$label: no super-packet counted malformed" "$m0" "$m1"
}

test_ipv4() {
	bulk "IPv4 BIG TCP, tc egress" 10.16.0.2
}

test_ipv6() {
	bulk "IPv6 BIG TCP, tc egress" 2001:db8:b16::2
}

run_tests "$@"
