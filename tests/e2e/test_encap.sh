#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Encapsulations on real attachments: SYNs inside VLAN, QinQ and PPPoE
# frames, written with AF_PACKET onto a veth whose peer carries op25b (XDP
# native, XDP generic, tc ingress). On tc ingress the kernel has already
# moved an outer 0x8100/0x88a8 tag into skb->vlan_tci, a path that
# BPF_PROG_TEST_RUN cannot reach. Verdicts are read from op25b's counters:
# every probe is followed by a marker frame (a plain SYN from a
# non-subscriber, judged and passed) so a probe that moved nothing is told
# from one not processed yet.
#
# Usage: test_encap.sh [TEST...]   (default: every test_* function, in order)
set -u
. "$(dirname "$0")/../lib.sh"

SEND=$LIB_DIR/e2e/encap_send.py
ns_names enc A B
DENIED4=10.9.0.5
DENIED6=2001:db8:9::5
MARK4=172.31.0.5
DST4=198.51.100.25
DST6=2001:db8:beef::25

suite_begin
make_pin_dir encap

ctl() {
	in_ns "$B" "$CTL" --pin-dir "$PIN" "$@"
}

# counters: "smtp blocked not_subscriber" from one stats read.
counters() {
	ctl -j stats | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
print(s["smtp"], s["blocked"], s["not_subscriber"])'
}

# encap_setup: the two namespaces, a veth between them, and the denied
# pools; made once, by the first test (once encap_setup). Without them no
# probe could be judged: the suite ends.
encap_setup() {
	ns_create "$A" && ns_create "$B" && veth_pair "$A" a0 "$B" b0 ||
		die "topology" "cannot create namespaces and veths"
	B_MAC=$(mac_of "$B" b0)
	ctl -q deny subscriber 10.9.0.0/16 2001:db8:9::/48 ||
		die "policy" "op25bctl deny failed"
}

SPORT=40000
send() {
	SPORT=$((SPORT + 1))
	ip netns exec "$A" "$PY" "$SEND" --iface a0 --dst-mac "$B_MAC" \
		--sport "$SPORT" "$@"
}

# probe LABEL blocked|passed SRC DST DPORT [encap_send options]
probe() {
	local label=$1 want=$2 src=$3 dst=$4 dport=$5 b0 s0 n0 b1 s1 n1 i
	shift 5
	read -r s0 b0 n0 < <(counters)
	send --src "$src" --dst "$dst" --dport "$dport" "$@" &&
		send --src $MARK4 --dst $DST4 --dport 25 ||
		{ fail "$label" "could not send"; return; }
	for ((i = 0; i < 50; i++)); do
		read -r s1 b1 n1 < <(counters)
		[ "$n1" -gt "$n0" ] 2>/dev/null && break
		sleep 0.1
	done
	if [ "$want" = blocked ]; then
		check_eq "$label" "smtp+2 blocked+1" \
			"smtp+$((s1 - s0)) blocked+$((b1 - b0))"
	else
		check_eq "$label" "smtp+1 blocked+0" \
			"smtp+$((s1 - s0)) blocked+$((b1 - b0))"
	fi
}

SHAPES=(
	"untagged|"
	"VLAN 0x8100|--tags 8100:10"
	"VLAN 0x88a8|--tags 88a8:10"
	"VLAN 0x9100|--tags 9100:10"
	"QinQ 0x88a8+0x8100|--tags 88a8:100,8100:10"
	"QinQ 0x9100+0x8100|--tags 9100:100,8100:10"
	"QinQ 0x8100+0x8100|--tags 8100:100,8100:10"
	"PPPoE session|--pppoe 4660"
	"VLAN + PPPoE|--tags 8100:10 --pppoe 4660"
	"QinQ + PPPoE|--tags 88a8:100,8100:10 --pppoe 4660"
)

# run_hook H ATTACH_OPTIONS...: every shape through b0 attached so, then
# detached again.
run_hook() {
	local h=$1 shape name args
	shift
	once encap_setup
	ctl -q attach b0 "$@" || { fail "$h: attach" "op25bctl attach failed"; return; }
	for shape in "${SHAPES[@]}"; do
		name=${shape%%|*}
		read -ra args <<<"${shape#*|}"
		probe "$h: $name IPv4 SYN to 25 blocked" blocked $DENIED4 $DST4 25 "${args[@]}"
		probe "$h: $name IPv6 SYN to 25 blocked" blocked $DENIED6 $DST6 25 "${args[@]}"
		probe "$h: $name IPv4 SYN to 587 passed" passed $DENIED4 $DST4 587 "${args[@]}"
	done
	# Deeper than the parser's bound: passed, never misread.
	probe "$h: three VLAN tags passed, not judged" passed $DENIED4 $DST4 25 \
		--tags 88a8:1,8100:2,8100:3
	ctl -q detach b0 || fail "$h: detach" "op25bctl detach failed"
}

test_xdp_native() {
	run_hook "xdp native" --hook xdp --xdp-mode native
}

test_xdp_generic() {
	run_hook "xdp generic" --hook xdp --xdp-mode generic
}

# Where the kernel has moved an outer 802.1Q/802.1ad tag into the skb.
test_tc_ingress() {
	run_hook "tc ingress" --hook tc
}

run_tests "$@"
