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

tc_ingress_on() {	# NS IFACE...: status lists every IFACE attached, tc ingress
	local ns=$1 dev
	shift
	for dev; do
		attached_as "$ns" "$dev" "tc ingress" || return 1
	done
}

# tuntaps_watched LABEL NS PATTERN MODE IFACE...: the watch the block left
# running (watch PATTERN) found, to be stopped whatever happens next; then
# each IFACE made (a tuntap of MODE): the watch attaches tc ingress to all.
tuntaps_watched() {
	local label=$1 ns=$2 pattern=$3 mode=$4 pid dev
	shift 4
	# it may not have started yet when the block returns: wait for it
	wait_for 5 eval 'pid=$(pgrep -f -- "--pin-dir $PIN watch $pattern")'
	CLEAN_PIDS+=($pid)
	for dev; do
		ip -n "$ns" tuntap add dev "$dev" mode "$mode"
	done
	check "$label" "$(ctl "$ns" status 2>&1 | tail -3)" \
		wait_for 5 tc_ingress_on "$ns" "$@"
}

test_bras_tc() {
	local ns=o25t-$$-dt
	make_pin_dir deploy-tc
	ns_create "$ns" || return
	run_block "$ns" bras-tc
	check_eq "bras-tc: the commands run" 0 $?
	tuntaps_watched "bras-tc: watch attaches tc to ppp0 and ppp1 as they appear" \
		"$ns" ppp tun ppp0 ppp1
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

# ---- the hosts: socket hooks on cgroups, packet hooks on guests' taps ----

# The cgroup blocks name slices below the v2 root (system.slice,
# machine.slice): run here below a cgroup of the test's own, made with
# those slices in it, so that no real service is touched. Every
# --cgroup PATH and allow cgroup PATH of the block is taken below it.
V2=$(cg_v2_root)
CG=o25t-$$-deploy
CGD=$V2/$CG

trap '[ -n "$V2" ] && cg_remove "$CGD"; cleanup' EXIT

# run_block_cg NS NAME: run_block with the block's cgroups below $CG.
run_block_cg() {
	local ns=$1 name=$2 code
	code=$(block "$name" | sed -E "s#(--cgroup|allow cgroup) ([^ ]+)#\1 $CG/\2#g")
	[ -n "$code" ] || { fail "$name" "no deploy: block in DEPLOYMENT.md"; return 1; }
	nsenter --net="/run/netns/$ns" bash -c "set -e
op25bctl() { \"$CTL\" --pin-dir \"$PIN\" \"\$@\"; }
$code" >"$TMPD/$name.out" 2>&1
}

HCLI=o25t-$$-hc
HSRV=o25t-$$-hs
# a host's processes (HCLI) and the Internet's mail servers (HSRV)
hosts_build() {
	[ -n "$V2" ] && [ -w "$V2/cgroup.procs" ] || return 2
	ns_create "$HCLI" && ns_create "$HSRV" &&
	veth_pair "$HCLI" h0 "$HSRV" x0 || return 1
	addr_add "$HCLI" h0 10.25.9.1/24 && addr_add "$HCLI" h0 2001:db8:259::1/64 &&
	addr_add "$HSRV" x0 10.25.9.2/24 && addr_add "$HSRV" x0 2001:db8:259::2/64 &&
	addr_add "$HSRV" x0 192.0.2.25/32 || return 1
	ip -n "$HCLI" route add 192.0.2.25/32 dev h0 || return 1
	tcp_listen "$HSRV" "$TMPD/hosts-listen.log" 10.25.9.2:25 10.25.9.2:587 \
		"[2001:db8:259::2]:25" 192.0.2.25:25
}
once_hosts() {
	local rc
	once hosts_build
	rc=$?
	[ $rc -eq 2 ] && skip "hosts" "no writable cgroup v2 hierarchy" && return 1
	[ $rc -eq 0 ] || { fail "hosts" "namespaces and listeners"; return 1; }
}

# conn DIR DST PORT: a process in cgroup DIR (made if missing) connects
# from HCLI; prints connected, EPERM, ...
conn() {
	mkdir -p "$1"
	nsenter --net="/run/netns/$HCLI" "$PY" "$here/sockconnect.py" \
		--cgroup "$1" connect "$2" "$3" | cut -d' ' -f1
}

test_shared_hosting() {
	once_hosts || return
	make_pin_dir deploy-shared
	mkdir -p "$CGD/system.slice/php-fpm.service" "$CGD/system.slice/postfix.service" \
		"$CGD/user.slice/user-1000.slice/session-1.scope"
	run_block_cg "$HCLI" shared-hosting
	check_eq "shared-hosting: the commands run" 0 $?
	check "shared-hosting: status lists both slices attached" "$(cat "$TMPD/shared-hosting.out")" \
		eval 'grep -q "$CG/system.slice (id [0-9]*): connect4, connect6.*attached" "$TMPD/shared-hosting.out" &&
		      grep -q "$CG/user.slice (id [0-9]*): connect4, connect6.*attached" "$TMPD/shared-hosting.out"'
	check_eq "shared-hosting: a PHP script is refused (IPv4)" EPERM \
		"$(conn "$CGD/system.slice/php-fpm.service" 10.25.9.2 25)"
	check_eq "shared-hosting: a PHP script is refused (IPv6)" EPERM \
		"$(conn "$CGD/system.slice/php-fpm.service" 2001:db8:259::2 25)"
	check_eq "shared-hosting: a user's session is refused" EPERM \
		"$(conn "$CGD/user.slice/user-1000.slice/session-1.scope" 10.25.9.2 25)"
	check_eq "shared-hosting: the MTA connects" connected \
		"$(conn "$CGD/system.slice/postfix.service" 10.25.9.2 25)"
	check_eq "shared-hosting: submission stays open" connected \
		"$(conn "$CGD/system.slice/php-fpm.service" 10.25.9.2 587)"
	"$CTL" --pin-dir "$PIN" -q detach --all
}

test_container_host() {
	once_hosts || return
	make_pin_dir deploy-containers
	mkdir -p "$CGD/machine.slice/machine-mx.scope" "$CGD/machine.slice/machine-web.scope"
	run_block_cg "$HCLI" container-host
	check_eq "container-host: the commands run" 0 $?
	check_eq "container-host: a container is refused" EPERM \
		"$(conn "$CGD/machine.slice/machine-web.scope" 10.25.9.2 25)"
	check_eq "container-host: a container started after the attach is refused" EPERM \
		"$(conn "$CGD/machine.slice/machine-new.scope/payload" 2001:db8:259::2 25)"
	check_eq "container-host: the mail container connects" connected \
		"$(conn "$CGD/machine.slice/machine-mx.scope" 10.25.9.2 25)"
	check_eq "container-host: the relay connects" connected \
		"$(conn "$CGD/machine.slice/machine-web.scope" 192.0.2.25 25)"
	"$CTL" --pin-dir "$PIN" -q top --by cgroup >"$TMPD/top.out"
	check "container-host: top --by cgroup names the container" "$(cat "$TMPD/top.out")" \
		grep -q "$CG/machine.slice/machine-web.scope" "$TMPD/top.out"
	"$CTL" --pin-dir "$PIN" -q detach --all
}

test_vps_host() {
	local ns=o25t-$$-dv
	make_pin_dir deploy-vps
	ns_create "$ns" || return
	run_block "$ns" vps-host
	check_eq "vps-host: the commands run" 0 $?
	tuntaps_watched "vps-host: watch attaches tc to the guests' taps as they appear" \
		"$ns" vnet tap vnet0 tap7
	ctl "$ns" test 203.0.113.9 198.51.100.25 >/dev/null
	check_eq "vps-host: a guest's SYN to port 25 is blocked (test: exit 3)" 3 $?
	pkill -TERM -f -- "--pin-dir $PIN watch vnet"
	wait_for 5 eval '! pgrep -f -- "--pin-dir $PIN watch vnet" >/dev/null'
	rm -f /run/op25b-watch-vps.log
	ctl "$ns" -q detach --all
}

run_tests "$@"
