#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# End to end: real TCP connects and hand-built packets through a router
# namespace that runs op25b, on every hook doc/DESIGN.md promises.
#
#   sub: s0 ------- r0 :rtr: r1 ------- i0 :net
#   subscribers     router (op25b)      outside MX + provider relay
#                   o25tun0 (tun, L3)
#
# Every blocked check has a control that passes through the same path
# (without op25b, or from an exempt source), so the suite can fail.
#
# Usage: test_e2e.sh [TEST...]   (default: every test_* function, in order)
# Each test asks for the namespaces and the policy (once e2e_setup) and
# leaves the router as it found it: nothing attached, action drop.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
RAW=$here/rawsend.py

suite_begin nsenter tc tun
make_pin_dir e2e

ns_names e2e SUB RTR NET
TUN=o25tun0

# Subscriber pools (denied): 10.25.0.0/16, 2001:db8:25::/48.
DENIED4=10.25.1.10	DENIED6=2001:db8:25:1::10
EXEMPT4=10.25.1.20	EXEMPT6=2001:db8:25:1::20
OTHER4=10.26.0.10	OTHER6=2001:db8:26::10
RTR_S4=10.25.1.1	RTR_S6=2001:db8:25:1::1
RTR_N4=198.51.100.1	RTR_N6=2001:db8:100::1
NET4=198.51.100.2	NET6=2001:db8:100::2
MX4=203.0.113.25	MX6=2001:db8:203::25
RELAY4=192.0.2.25	RELAY6=2001:db8:192::25
TUNSRC4=10.25.99.5	TUNSRC6=2001:db8:25:99::5

ctl() {
	in_ns "$RTR" "$CTL" --pin-dir "$PIN" "$@"
}

# The same pin dir, from the subscriber's side of the link.
ctl_sub() {
	in_ns "$SUB" "$CTL" --pin-dir "$PIN" "$@"
}

# ctl_ok LABEL ARGS...: the command succeeds (and so has returned: op25b
# keeps no daemon, whatever is checked next runs without op25bctl).
ctl_ok() {
	local label=$1 rc
	shift
	ctl "$@" >"$TMPD/out" 2>"$TMPD/err"
	rc=$?
	if [ $rc -eq 0 ]; then
		ok "$label"
	else
		fail "$label" "op25bctl $* exited $rc: $(head -c 300 "$TMPD/err")"
	fi
	return $rc
}

# hits_positive TABLE PREFIX: the entry's hit counter is above zero.
hits_positive() {
	ctl -j list 2>/dev/null | "$PY" -c '
import json, sys
t, p = sys.argv[1:3]
sys.exit(0 if any(e.get("table") == t and e.get("prefix") == p and
                  e.get("hits", 0) > 0 for e in json.load(sys.stdin)) else 1)
' "$1" "$2"
}

stat_of() {
	ctl -j stats 2>/dev/null | jget "$1"
}

# offload NS IF tx-csum on|off (what `ethtool -K` does).
offload() {
	ip netns exec "$1" "$PY" "$RAW" offload --iface "$2" --feature "$3" \
		--state "$4"
}

# ---- topology ----

build_topology() {
	ns_chain "$SUB" "$RTR" "$NET" || return 1

	addr_add "$SUB" s0 $DENIED4/16 && addr_add "$SUB" s0 $EXEMPT4/16 &&
	addr_add "$SUB" s0 $OTHER4/24 && addr_add "$SUB" s0 $DENIED6/64 &&
	addr_add "$SUB" s0 $EXEMPT6/64 && addr_add "$SUB" s0 $OTHER6/64 ||
		return 1
	ip -n "$SUB" route add default via $RTR_S4 || return 1
	ip -n "$SUB" -6 route add default via $RTR_S6 || return 1

	addr_add "$RTR" r0 $RTR_S4/16 && addr_add "$RTR" r0 10.26.0.1/24 &&
	addr_add "$RTR" r0 $RTR_S6/64 && addr_add "$RTR" r0 2001:db8:26::1/64 &&
	addr_add "$RTR" r1 $RTR_N4/24 && addr_add "$RTR" r1 $RTR_N6/64 ||
		return 1
	ip -n "$RTR" route add $MX4/32 via $NET4 &&
	ip -n "$RTR" route add $RELAY4/32 via $NET4 &&
	ip -n "$RTR" -6 route add $MX6/128 via $NET6 &&
	ip -n "$RTR" -6 route add $RELAY6/128 via $NET6 || return 1

	addr_add "$NET" i0 $NET4/24 && addr_add "$NET" i0 $NET6/64 &&
	addr_add "$NET" i0 $MX4/32 && addr_add "$NET" i0 $RELAY4/32 &&
	addr_add "$NET" i0 $MX6/128 && addr_add "$NET" i0 $RELAY6/128 ||
		return 1
	ip -n "$NET" route add default via $RTR_N4 &&
	ip -n "$NET" -6 route add default via $RTR_N6
}

# One sniffer on the outside host's link for the whole run; raw packets
# are told apart by unique source ports and IP ids.
SNIFF=$TMPD/sniff.log
# Above the ephemeral range (32768-60999): no real connect shares them.
NEXT_SPORT=61000

# e2e_setup: what every test needs, made once (once e2e_setup) by the
# first test that runs: the namespaces, listeners on MX and the relay, the
# sniffer, and the policy, set before anything is attached (the tables are
# created first). A topology that cannot be built ends the suite: nothing
# after it could be judged.
e2e_setup() {
	build_topology || die "topology" "could not build namespaces $SUB $RTR $NET"
	tcp_listen "$NET" "$TMPD/listen.log" \
		$MX4:25 $MX4:587 $MX4:465 $RELAY4:25 \
		"[$MX6]:25" "[$MX6]:587" "[$MX6]:465" "[$RELAY6]:25" ||
		die "listeners" "$(cat "$TMPD/listen.log")"
	ip netns exec "$NET" "$PY" "$RAW" sniff --iface i0 >"$SNIFF" 2>&1 &
	CLEAN_PIDS+=($!)
	wait_file_line "$SNIFF" ready || die "sniffer" "$(cat "$SNIFF")"
	RTR_MAC=$(mac_of "$RTR" r0)

	ctl_ok "policy before attach: deny subscriber pools" \
		deny subscriber 10.25.0.0/16 2001:db8:25::/48
	ctl_ok "policy before attach: exempt subscriber" \
		allow subscriber $EXEMPT4/32 $EXEMPT6/128
	ctl_ok "policy before attach: allow relay" allow relay $RELAY4/32 $RELAY6/128
}

next_sport() {
	NEXT_SPORT=$((NEXT_SPORT + 1))
	SP=$NEXT_SPORT
}

# arrived PATTERN [TRIES]: the sniffer saw a line matching PATTERN.
arrived() {
	wait_file_line "$SNIFF" "$1" "${2:-30}"
}

# raw_eth SRC DST DPORT [rawsend options]: from the subscriber, sport in SP.
raw_eth() {
	local src=$1 dst=$2 dport=$3
	shift 3
	next_sport
	ip netns exec "$SUB" "$PY" "$RAW" eth --iface s0 --dst-mac "$RTR_MAC" \
		--src "$src" --dst "$dst" --dport "$dport" --sport "$SP" \
		--ipid "$SP" "$@"
}

raw_tun() {
	next_sport
	ip netns exec "$RTR" "$PY" "$RAW" tun --dev $TUN --src "$1" \
		--dst "$2" --dport "$3" --sport "$SP"
}

# ---- the checks ----

# both H WANT WHO DST PORT: expect_WANT (blocked, connect or refused) from
# WHO's IPv4 address, then its IPv6 one (WHO: DENIED, EXEMPT or OTHER), to
# DST's (MX or RELAY), labelled "H: IPv4 denied subscriber -> MX:25 blocked".
both() {
	local h=$1 want=$2 who=$3 dst=$4 port=$5 f src to
	local -A name=([DENIED]="denied subscriber" [EXEMPT]="exempt subscriber"
		[OTHER]=non-subscriber [MX]=MX [RELAY]=relay)
	local -A word=([blocked]=blocked [connect]=open [refused]=refused)
	for f in 4 6; do
		src=$who$f to=$dst$f
		"expect_$want" "$h: IPv$f ${name[$who]} -> ${name[$dst]}:$port ${word[$want]}" \
			"$SUB" "${!src}" "${!to}" "$port"
	done
}

# The TCP matrix, both families; $1 names the hook under test.
connect_matrix() {
	local h=$1 b0 b1
	b0=$(stat_of blocked)
	both "$h" blocked DENIED MX 25
	b1=$(stat_of blocked)
	check_rose "$h: stats blocked counter rose" "$b0" "$b1"
	both "$h" connect DENIED MX 587
	both "$h" connect DENIED MX 465
	both "$h" connect DENIED RELAY 25
	both "$h" connect EXEMPT MX 25
	both "$h" connect OTHER MX 25
}

# Evasion shapes from a denied source must not reach MX; the same shapes
# from the exempt source must (sent after, so their arrival also proves
# the denied ones had time to arrive). $2 "pass" expects everything to
# arrive (no op25b attached).
evasion_checks() {
	local h=$1 want=${2:-block} d6 e6 d4 e4 ev0 ev1
	ev0=$(stat_of evasion)

	raw_eth $DENIED6 $MX6 25 --ext hbh,dst || fail "$h: rawsend" "IPv6 send failed"
	d6=$SP
	raw_eth $EXEMPT6 $MX6 25 --ext hbh,dst || fail "$h: rawsend" "IPv6 send failed"
	e6=$SP
	raw_eth $DENIED4 $MX4 25 --frag8 || fail "$h: rawsend" "IPv4 send failed"
	d4=$SP
	raw_eth $EXEMPT4 $MX4 25 --frag8 || fail "$h: rawsend" "IPv4 send failed"
	e4=$SP

	check "$h: exempt IPv6 SYN:25 behind hop-by-hop+dstopts arrives" \
		"not seen by the sniffer on the MX link" \
		arrived "ext=0,60 sport=$e6 dport=25 flags=2"
	check "$h: exempt IPv4 8-byte-TCP first fragment arrives" \
		"not seen" arrived "id=$e4 off=0 mf=1 sport=$e4 dport=25"
	check "$h: exempt IPv4 second fragment (offset 1) arrives" \
		"not seen" arrived "id=$e4 off=1 "
	if [ "$want" = pass ]; then
		check "$h: denied IPv6 SYN:25 behind hop-by-hop+dstopts arrives" \
			"not seen" arrived "ext=0,60 sport=$d6 dport=25"
		check "$h: denied IPv4 tiny first fragment arrives" \
			"not seen" arrived "id=$d4 off=0 mf=1 sport=$d4"
		check "$h: denied IPv4 second fragment arrives" \
			"not seen" arrived "id=$d4 off=1 "
		return
	fi
	check "$h: denied IPv6 SYN:25 behind hop-by-hop+dstopts dropped" \
		"it reached the MX link" not grep -q "sport=$d6 dport=25" "$SNIFF"
	check "$h: denied IPv4 tiny first fragment dropped" \
		"it reached the MX link" not grep -q "id=$d4 off=0 mf=1 " "$SNIFF"
	check "$h: denied IPv4 second fragment (offset 1) dropped" \
		"it reached the MX link" not grep -q "id=$d4 off=1 " "$SNIFF"
	ev1=$(stat_of evasion)
	if [[ "$ev0" =~ ^[0-9]+$ && "$ev1" =~ ^[0-9]+$ ]] &&
	   [ $((ev1 - ev0)) -ge 4 ]; then
		ok "$h: stats evasion counter counted the 4 fragments ($ev0 -> $ev1)"
	else
		fail "$h: stats evasion counter" "expected +4 or more, saw '$ev0' -> '$ev1'"
	fi
}

xdp_on() {
	ip -n "$RTR" -d link show dev "$1" | grep -q "prog/xdp"
}

tc_filter_on() {
	tc -n "$RTR" filter show dev "$1" "$2" 2>/dev/null | grep -q "bpf"
}

xdp_generic_on() {
	ip -n "$RTR" link show dev "$1" | grep -q xdpgeneric
}

foreign_filter_on() {
	tc -n "$RTR" filter show dev "$1" ingress | grep -q u32
}

clsact_on() {
	tc -n "$RTR" qdisc show dev "$1" | grep -q clsact
}

# monitor_saw_first_block: the background 'monitor -j --count 1' printed
# the IPv4 SYN to MX:25 that XDP dropped, as one JSON line, and ended.
monitor_saw_first_block() {
	local i rc=
	for ((i = 0; i < 50; i++)); do
		kill -0 "$mon_pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! kill -0 "$mon_pid" 2>/dev/null; then
		wait "$mon_pid"
		rc=$?
	fi
	check "xdp: monitor --count 1 ended with exit 0 after one event" \
		"exit ${rc:-none (still running)}, stderr $(head -c 200 "$TMPD/monitor.err")" \
		eval '[ "$rc" = 0 ] && [ "$(wc -l <"$TMPD/monitor")" -eq 1 ]'
	check "xdp: monitor -j event names $DENIED4 -> $MX4:25, action drop" \
		"stdout: $(head -c 400 "$TMPD/monitor")" \
		"$PY" -c '
import json, sys
e = json.loads(open(sys.argv[1]).readline())
sys.exit(0 if e["saddr"] == sys.argv[2] and e["daddr"] == sys.argv[3] and
         e["dport"] == 25 and e["action"] == "drop" and
         e["class"] == "smtp" and e["family"] == 4 else 1)
' "$TMPD/monitor" $DENIED4 $MX4
	check "xdp: the event says when (RFC 3339 UTC, within a minute), where (r0, xdp), and s0's MAC" \
		"stdout: $(head -c 400 "$TMPD/monitor"), s0 is $(mac_of "$SUB" s0)" \
		"$PY" -c '
import json, sys, datetime
e = json.loads(open(sys.argv[1]).readline())
t = datetime.datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
age = datetime.datetime.utcnow() - t
sys.exit(0 if abs(age.total_seconds()) < 60 and e["interface"] == "r0" and
         e["hook"] == "xdp" and e["mac"] == sys.argv[2] else 1)
' "$TMPD/monitor" "$(mac_of "$SUB" s0)"
}

# top_lists_blocked: 'top -j' names both denied sources, blocked at least
# once, last seen going to MX:25.
top_lists_blocked() {
	ctl -j top >"$TMPD/top" 2>&1
	check "xdp: top -j lists $DENIED4 and $DENIED6, blocked, last destination MX:25" \
		"top -j: $(head -c 400 "$TMPD/top")" \
		"$PY" -c '
import json, sys
rows = {r["address"]: r for r in json.load(open(sys.argv[1]))}
ok = all(a in rows and rows[a]["blocked"] >= 1 and
         rows[a]["last_daddr"] == mx and rows[a]["last_dport"] == 25
         for a, mx in ((sys.argv[2], sys.argv[4]), (sys.argv[3], sys.argv[5])))
sys.exit(0 if ok else 1)
' "$TMPD/top" $DENIED4 $DENIED6 $MX4 $MX6
}

# The control: without op25b the same traffic gets through.
test_no_op25b() {
	once e2e_setup
	expect_connect "no op25b: IPv4 denied subscriber -> MX:25 connects" "$SUB" $DENIED4 $MX4 25
	expect_connect "no op25b: IPv6 denied subscriber -> MX:25 connects" "$SUB" $DENIED6 $MX6 25
	evasion_checks "no op25b" pass
}

# XDP on the subscriber-facing veth: the matrix, monitor, top, hits, evasions.
test_xdp() {
	once e2e_setup
	if ctl_ok "xdp: attach r0 --hook xdp" attach r0 --hook xdp; then
		check "xdp: program on r0" "ip link shows no xdp prog" xdp_on r0
		ctl status >"$TMPD/status" 2>&1
		check "xdp: status names r0" "$(head -c 300 "$TMPD/status")" \
			grep -q r0 "$TMPD/status"
		check "xdp: no op25bctl left running on this pin dir" \
			"$(pgrep -af -- "$PIN")" not pgrep -f -- "--pin-dir $PIN"
		# the first blocked connect below is IPv4: its event is the first
		ctl -j monitor --count 1 >"$TMPD/monitor" 2>"$TMPD/monitor.err" &
		mon_pid=$!
		CLEAN_PIDS+=("$mon_pid")
		sleep 0.5	# monitor shows events from its start on
		connect_matrix xdp
		monitor_saw_first_block
		top_lists_blocked
		check "xdp: hit counter of the denied pool rose" "list -j: $(ctl -j list 2>&1 | head -c 300)" \
			hits_positive subscriber 10.25.0.0/16
		check "xdp: hit counter of the relay rose" "list -j: $(ctl -j list 2>&1 | head -c 300)" \
			hits_positive relay $RELAY4/32
		evasion_checks xdp
		ctl_ok "xdp: detach r0" detach r0
		check "xdp: program gone from r0" "ip link still shows xdp" \
			not xdp_on r0
		expect_connect "xdp: after detach IPv4 denied -> MX:25 connects" "$SUB" $DENIED4 $MX4 25
	fi
}

# XDP in generic mode on the same veth.
test_xdp_generic() {
	once e2e_setup
	if ctl_ok "xdp generic: attach r0 --hook xdp --xdp-mode generic" \
		attach r0 --hook xdp --xdp-mode generic; then
		check "xdp generic: generic mode on r0" "ip link shows no xdpgeneric" \
			xdp_generic_on r0
		expect_blocked "xdp generic: IPv4 denied -> MX:25 blocked" "$SUB" $DENIED4 $MX4 25
		expect_connect "xdp generic: IPv6 denied -> MX:587 open" "$SUB" $DENIED6 $MX6 587
		ctl_ok "xdp generic: detach r0" detach r0
		check "xdp generic: program gone from r0" "ip link still shows xdp" \
			not xdp_on r0
	fi
}

# tc ingress on the subscriber-facing veth.
test_tc_ingress() {
	once e2e_setup
	if ctl_ok "tc ingress: attach r0 --hook tc" attach r0 --hook tc; then
		check "tc ingress: bpf filter on r0 ingress" "none in tc filter show" \
			tc_filter_on r0 ingress
		check "tc ingress: no xdp on r0" "xdp attached too" not xdp_on r0
		connect_matrix "tc ingress"
		evasion_checks "tc ingress"
		ctl_ok "tc ingress: detach r0" detach r0
		check "tc ingress: clsact op25b created is gone" \
			"$(tc -n "$RTR" qdisc show dev r0 | grep clsact)" not clsact_on r0
		expect_connect "tc ingress: after detach IPv4 denied -> MX:25 connects" "$SUB" $DENIED4 $MX4 25
	fi
}

# A clsact qdisc someone else made, with their filter: detach keeps both.
test_foreign_clsact() {
	once e2e_setup
	if tc -n "$RTR" qdisc add dev r0 clsact &&
	   tc -n "$RTR" filter add dev r0 ingress pref 100 protocol all \
		u32 match u32 0 0; then
		if ctl_ok "foreign clsact: attach r0 --hook tc" attach r0 --hook tc; then
			expect_blocked "foreign clsact: IPv4 denied -> MX:25 blocked" "$SUB" $DENIED4 $MX4 25
			ctl_ok "foreign clsact: detach r0" detach r0
			check "foreign clsact: qdisc stays" "clsact removed" clsact_on r0
			check "foreign clsact: foreign filter stays" "u32 filter removed" \
				foreign_filter_on r0
			check "foreign clsact: op25b filter gone" "bpf filter still there" \
				not tc_filter_on r0 ingress
			expect_connect "foreign clsact: after detach IPv4 denied -> MX:25 connects" "$SUB" $DENIED4 $MX4 25
		fi
		tc -n "$RTR" qdisc del dev r0 clsact
	else
		fail "foreign clsact" "could not set up a clsact qdisc with a u32 filter"
	fi
}

# tc egress on the WAN side, for what the router itself sends.
test_tc_egress() {
	once e2e_setup
	ctl_ok "tc egress: deny the router's own addresses" \
		deny subscriber $RTR_N4/32 $RTR_N6/128
	if ctl_ok "tc egress: attach r1 --hook tc --direction egress" \
		attach r1 --hook tc --direction egress; then
		check "tc egress: bpf filter on r1 egress" "none in tc filter show" \
			tc_filter_on r1 egress
		expect_blocked "tc egress: IPv4 router -> MX:25 blocked" "$RTR" $RTR_N4 $MX4 25
		expect_blocked "tc egress: IPv6 router -> MX:25 blocked" "$RTR" $RTR_N6 $MX6 25
		expect_connect "tc egress: IPv4 router -> MX:587 open" "$RTR" $RTR_N4 $MX4 587
		expect_connect "tc egress: IPv6 router -> MX:587 open" "$RTR" $RTR_N6 $MX6 587
		expect_connect "tc egress: IPv4 router -> relay:25 open" "$RTR" $RTR_N4 $RELAY4 25
		ctl_ok "tc egress: detach r1" detach r1
		check "tc egress: clsact gone from r1" "still there" not clsact_on r1
		expect_connect "tc egress: after detach IPv4 router -> MX:25 connects" "$RTR" $RTR_N4 $MX4 25
	fi
	ctl_ok "tc egress: undo the router's deny" del subscriber $RTR_N4/32 $RTR_N6/128
}

# tun_checks: SYNs written into the tun, judged as they come out of it.
tun_checks() {
	local s0 b0 s1 b1 p25 p587 q25 q587
	s0=$(stat_of smtp)
	b0=$(stat_of blocked)
	raw_tun $TUNSRC4 $MX4 25 && p25=$SP
	raw_tun $TUNSRC4 $MX4 587 && p587=$SP
	raw_tun $TUNSRC6 $MX6 25 && q25=$SP
	raw_tun $TUNSRC6 $MX6 587 && q587=$SP
	check "tun: IPv4 SYN:587 written into the tun reaches MX" "not seen" \
		arrived "sport=$p587 dport=587"
	check "tun: IPv6 SYN:587 written into the tun reaches MX" "not seen" \
		arrived "sport=$q587 dport=587"
	check "tun: IPv4 SYN:25 from a denied source dropped" "reached MX" \
		not grep -q "sport=$p25 dport=25" "$SNIFF"
	check "tun: IPv6 SYN:25 from a denied source dropped" "reached MX" \
		not grep -q "sport=$q25 dport=25" "$SNIFF"
	s1=$(stat_of smtp)
	b1=$(stat_of blocked)
	check_eq "tun: stats smtp +2 (25 judged, 587 not)" "2" \
		"$((${s1:-0} - ${s0:-0}))"
	check_eq "tun: stats blocked +2" "2" "$((${b1:-0} - ${b0:-0}))"
}

# An L3 device: tun, default hook.
test_tun() {
	once e2e_setup
	if ip -n "$RTR" tuntap add dev $TUN mode tun &&
	   ip -n "$RTR" link set $TUN up &&
	   ip -n "$RTR" route add 10.25.99.0/24 dev $TUN &&
	   ip -n "$RTR" -6 route add 2001:db8:25:99::/64 dev $TUN; then
		if ctl_ok "tun: attach $TUN (default hook)" attach $TUN; then
			check "tun: default hook is tc ingress" "no bpf filter on ingress" \
				tc_filter_on $TUN ingress
			check "tun: no xdp on tun" "xdp attached" not xdp_on $TUN
			tun_checks
			ctl_ok "tun: detach $TUN" detach $TUN
			raw_tun $TUNSRC4 $MX4 25
			check "tun: after detach the IPv4 SYN:25 reaches MX" "not seen" \
				arrived "sport=$SP dport=25"
		fi
	else
		fail "tun" "could not create $TUN in $RTR"
	fi
	# the router as the test found it (and the test runnable again)
	ip -n "$RTR" link del $TUN 2>/dev/null
}

# reject_matrix H: with action reject, the denied SYNs to 25 are answered
# with a RST; what is not blocked still connects.
reject_matrix() {
	local h=$1
	both "$h" refused DENIED MX 25
	both "$h" connect DENIED MX 587
	expect_connect "$h: IPv4 exempt subscriber -> MX:25 open" "$SUB" $EXEMPT4 $MX4 25
}

# A veth skb from a local socket is CHECKSUM_PARTIAL, and a PARTIAL skb's
# TCP checksum is never verified on the way in. To have the subscriber's
# stack verify the RST's, the skb must be complete when it gets there:
# $2 (NS) computes sums in software on $3 (IF) while the two connects run.
reject_verified() {
	local h=$1 ns=$2 dev=$3
	if ! offload "$ns" "$dev" tx-csum off; then
		fail "$h: tx checksumming off on $dev" "rawsend offload failed"
		return
	fi
	expect_refused "$h: IPv4 denied -> MX:25 refused, RST checksum verified" "$SUB" $DENIED4 $MX4 25
	expect_refused "$h: IPv6 denied -> MX:25 refused, RST checksum verified" "$SUB" $DENIED6 $MX6 25
	offload "$ns" "$dev" tx-csum on ||
		fail "$h: tx checksumming back on on $dev" "rawsend offload failed"
}

# action reject, on every hook: the blocked client fails at once.
test_reject() {
	once e2e_setup
	if ctl_ok "reject: action reject" action reject; then
		rj0=$(stat_of rejected)

		if ctl_ok "xdp generic reject: attach r0" attach r0 --hook xdp --xdp-mode generic; then
			reject_matrix "xdp generic reject"
			# the SYN arrives with its sum complete, the RST gets a full one
			reject_verified "xdp generic reject, s0 sums itself" "$SUB" s0
			ctl_ok "xdp generic reject: detach r0" detach r0
		fi

		if ctl_ok "tc ingress reject: attach r0" attach r0 --hook tc; then
			reject_matrix "tc ingress reject"
			# a PARTIAL RST, its sum completed by r0's stack on the way out
			reject_verified "tc ingress reject, r0 completes the partial sum" "$RTR" r0
			# a complete SYN, a complete RST
			reject_verified "tc ingress reject, s0 sums itself" "$SUB" s0
			ctl_ok "tc ingress reject: detach r0" detach r0
		fi

		# XDP_TX on a veth hands the frame to the peer's XDP ring, which is
		# served when the peer runs XDP itself (GRO on the peer gives it the
		# ring, but on kernel 6.18 the frames were never delivered): op25b on
		# s0 as well, where everything a subscriber receives passes. The RST
		# reaches s0's stack as a new skb, its checksum verified.
		if ctl_sub attach s0 --hook xdp --xdp-mode native >"$TMPD/out" 2>&1; then
			ok "xdp native reject: attach s0 (the peer) too"
			if ctl_ok "xdp native reject: attach r0" attach r0 --hook xdp --xdp-mode native; then
				reject_matrix "xdp native reject"
				ctl_ok "xdp native reject: detach r0" detach r0
			fi
			ctl_sub detach s0 >"$TMPD/out" 2>&1 ||
				fail "xdp native reject: detach s0" "$(head -c 300 "$TMPD/out")"
		else
			fail "xdp native reject: attach s0 (the peer) too" "$(head -c 300 "$TMPD/out")"
		fi

		# the router's own connect: the RST goes back into r1's receive path
		ctl_ok "tc egress reject: deny the router's own addresses" \
			deny subscriber $RTR_N4/32 $RTR_N6/128
		if ctl_ok "tc egress reject: attach r1" attach r1 --hook tc --direction egress; then
			expect_refused "tc egress reject: IPv4 router -> MX:25 refused" "$RTR" $RTR_N4 $MX4 25
			expect_refused "tc egress reject: IPv6 router -> MX:25 refused" "$RTR" $RTR_N6 $MX6 25
			expect_connect "tc egress reject: IPv4 router -> MX:587 open" "$RTR" $RTR_N4 $MX4 587
			expect_connect "tc egress reject: IPv4 router -> relay:25 open" "$RTR" $RTR_N4 $RELAY4 25
			ctl_ok "tc egress reject: detach r1" detach r1
		fi
		ctl_ok "tc egress reject: undo the router's deny" \
			del subscriber $RTR_N4/32 $RTR_N6/128

		rj1=$(stat_of rejected)
		check_rose "reject: stats rejected counter rose" "$rj0" "$rj1"
		ctl_ok "reject: back to action drop" action drop
	fi
}

# detach --all takes away everything attached in this namespace.
test_detach_all() {
	once e2e_setup
	if ctl_ok "detach --all: attach r0 xdp" attach r0 --hook xdp &&
	   ctl_ok "detach --all: attach r1 tc egress" attach r1 --hook tc --direction egress; then
		ctl_ok "detach --all" detach --all
		check "detach --all: r0 has no xdp" "still attached" not xdp_on r0
		check "detach --all: r1 has no clsact" "still there" not clsact_on r1
	fi
}

run_tests "$@"
