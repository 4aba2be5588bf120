#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# doc/DEPLOYMENT.md's commands, run as written: each "deploy:" block is
# taken from the document and run in a namespace whose devices have the
# names it uses (op25bctl being this build's, on a private pin dir); then
# what the section promises is checked. A document that drifts from the
# program fails here.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
DOC=$here/../../doc/DEPLOYMENT.md
SEND=$here/encap_send.py

suite_begin tun

# block NAME: the shell block under "<!-- deploy: NAME -->".
block() {
	awk -v name="$1" '
		$0 == "<!-- deploy: " name " -->" { want = 1; next }
		want && /^```sh$/ { inside = 1; next }
		inside && /^```$/ { exit }
		inside { print }' "$DOC"
}

# run_block NS NAME: the block, in NS, with this build's op25bctl.
run_block() {
	local ns=$1 name=$2 code
	code=$(block "$name")
	[ -n "$code" ] || { fail "$name" "no deploy: block in DEPLOYMENT.md"; return 1; }
	nsenter --net="/run/netns/$ns" bash -c "set -e
op25bctl() { \"$CTL\" --pin-dir \"$PIN\" \"\$@\"; }
$code" >"$TMPD/$name.out" 2>&1
}

ctl() {
	local ns=$1
	shift
	"$CTL" -n "$ns" --pin-dir "$PIN" "$@"
}

attached_as() {	# NS IFACE WHAT: status lists IFACE attached, as WHAT
	ctl "$1" status 2>/dev/null | grep -q "^  $2 (ifindex [0-9]*): $3.* attached$"
}

test_bras_xdp() {
	local ns=o25t-$$-dx b0 b1 r0 r1
	make_pin_dir deploy-xdp
	ns_create "$ns" || return
	ip -n "$ns" link add eth1 type veth peer name trunk
	ip -n "$ns" link set eth1 up && ip -n "$ns" link set trunk up
	run_block "$ns" bras-xdp
	check_eq "bras-xdp: the commands run" 0 $?
	check "bras-xdp: eth1 has XDP, native" "$(cat "$TMPD/bras-xdp.out")" \
		attached_as "$ns" eth1 "xdp native"
	b0=$(ctl "$ns" -j stats | jget blocked)
	r0=$(ctl "$ns" -j stats | jget relay)
	ip netns exec "$ns" "$PY" "$SEND" --iface trunk --dst-mac "$(mac_of "$ns" eth1)" \
		--src 100.64.1.1 --dst 203.0.113.25 --sport 40000 --dport 25 \
		--tags 88a8:100,8100:200 --pppoe 4711
	ip netns exec "$ns" "$PY" "$SEND" --iface trunk --dst-mac "$(mac_of "$ns" eth1)" \
		--src 100.64.1.1 --dst 192.0.2.25 --sport 40001 --dport 25 \
		--tags 88a8:100,8100:200 --pppoe 4711
	sleep 0.3
	b1=$(ctl "$ns" -j stats | jget blocked)
	r1=$(ctl "$ns" -j stats | jget relay)
	check "bras-xdp: a SYN in QinQ and PPPoE is blocked, one to the relay passes" \
		"blocked $b0 -> $b1, relay $r0 -> $r1" \
		eval '[ $((b1 - b0)) -eq 1 ] && [ $((r1 - r0)) -eq 1 ]'
	ctl "$ns" -q detach --all
}

both_ppp_attached() {
	local i
	for i in $(seq 50); do
		attached_as "$1" ppp0 "tc ingress" && attached_as "$1" ppp1 "tc ingress" &&
			return 0
		sleep 0.1
	done
	return 1
}

test_bras_tc() {
	local ns=o25t-$$-dt pid
	make_pin_dir deploy-tc
	ns_create "$ns" || return
	run_block "$ns" bras-tc
	check_eq "bras-tc: the commands run" 0 $?
	# the watch the block left running: stopped whatever happens next (it
	# may not have started yet when the block returns: wait for it)
	wait_for 5 eval 'pid=$(pgrep -f -- "--pin-dir $PIN watch ppp")'
	CLEAN_PIDS+=($pid)
	ip -n "$ns" tuntap add dev ppp0 mode tun
	ip -n "$ns" tuntap add dev ppp1 mode tun
	check "bras-tc: watch attaches tc to ppp0 and ppp1 as they appear" \
		"$(ctl "$ns" status 2>&1 | tail -3)" both_ppp_attached "$ns"
	pkill -TERM -f -- "--pin-dir $PIN watch ppp"
	check "bras-tc: the block's watch stopped" "$(pgrep -af -- "--pin-dir $PIN watch ppp")" \
		wait_for 5 eval '! pgrep -f -- "--pin-dir $PIN watch ppp" >/dev/null'
	ip -n "$ns" link del ppp0
	ip -n "$ns" link del ppp1
	rm -f /run/op25b-watch.log
	ctl "$ns" -q detach --all
}

test_home_router() {
	local ns=o25t-$$-dh rc
	make_pin_dir deploy-home
	ns_create "$ns" || return
	ip -n "$ns" link add lan0 type veth peer name lanpeer
	ip -n "$ns" link add wan0 type veth peer name wanpeer
	run_block "$ns" home-router
	check_eq "home-router: the commands run" 0 $?
	check "home-router: lan0 has XDP, wan0 tc egress" "$(cat "$TMPD/home-router.out")" \
		eval 'attached_as "$ns" lan0 "xdp generic" && attached_as "$ns" wan0 "tc egress"'
	ctl "$ns" test 192.168.1.20 203.0.113.25 >/dev/null
	rc=$?
	ctl "$ns" test 198.51.100.7 203.0.113.25 >/dev/null
	check_eq "home-router: a LAN host and the WAN address are blocked (exit 3)" \
		"3 3" "$rc $?"
	ctl "$ns" -q detach --all
}

test_bridge() {
	local ns=o25t-$$-db
	make_pin_dir deploy-br
	ns_create "$ns" || return
	if ! ip -n "$ns" link add br0 type bridge 2>/dev/null; then
		skip "bridge" "no bridge support in this kernel"
		return
	fi
	ip -n "$ns" link add port1 type veth peer name host1
	ip -n "$ns" link set port1 master br0
	run_block "$ns" bridge
	check_eq "bridge: the commands run" 0 $?
	check "bridge: the subscriber-facing port has XDP" "$(cat "$TMPD/bridge.out")" \
		attached_as "$ns" port1 "xdp generic"
	ctl "$ns" -q detach --all
}

run_tests "$@"
