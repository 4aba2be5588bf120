#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Action limit end to end: real connects through a router running op25b.
# A subscriber's own mail server opening a few SMTP connections keeps
# working; a spam bot opening 200 is limited, then quarantined, shows in
# 'quarantine list', 'top', 'stats' and 'monitor', and works again after
# the quarantine, by itself or released by the operator.
#
#   sub: s0 ------- r0 :rtr: r1 ------- i0 :net
#   server, bot     router (op25b XDP)  outside MX
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

suite_begin nsenter
make_pin_dir limit

ns_names lim SUB RTR NET

SERVER4=10.25.1.10	BOT4=10.25.1.66		BOT6=2001:db8:25:1::66
SERVER6=2001:db8:25:2::10
RTR_S4=10.25.1.1	RTR_S6=2001:db8:25:1::1
RTR_N4=198.51.100.1	RTR_N6=2001:db8:100::1
NET4=198.51.100.2	NET6=2001:db8:100::2
MX4=203.0.113.25	MX6=2001:db8:203::25
QUARANTINE=3

ctl() {
	in_ns "$RTR" "$CTL" --pin-dir "$PIN" "$@"
}

build_topology() {
	ns_chain "$SUB" "$RTR" "$NET" || return 1
	addr_add "$SUB" s0 $SERVER4/16 && addr_add "$SUB" s0 $BOT4/16 &&
	addr_add "$SUB" s0 $BOT6/64 && addr_add "$SUB" s0 $SERVER6/64 || return 1
	ip -n "$SUB" route add default via $RTR_S4 || return 1
	ip -n "$SUB" -6 route add 2001:db8:25:1::/64 dev s0 2>/dev/null
	ip -n "$SUB" -6 route add default via $RTR_S6 || return 1
	addr_add "$RTR" r0 $RTR_S4/16 && addr_add "$RTR" r0 $RTR_S6/64 &&
	addr_add "$RTR" r0 2001:db8:25:2::1/64 &&
	addr_add "$RTR" r1 $RTR_N4/24 && addr_add "$RTR" r1 $RTR_N6/64 || return 1
	ip -n "$RTR" route add $MX4/32 via $NET4 &&
	ip -n "$RTR" -6 route add $MX6/128 via $NET6 || return 1
	addr_add "$NET" i0 $NET4/24 && addr_add "$NET" i0 $NET6/64 &&
	addr_add "$NET" i0 $MX4/32 && addr_add "$NET" i0 $MX6/128 || return 1
	ip -n "$NET" route add default via $RTR_N4 &&
	ip -n "$NET" -6 route add default via $RTR_N6
}

build_topology || die "topology" "could not build namespaces $SUB $RTR $NET"
tcp_listen "$NET" "$TMPD/listen.log" $MX4:25 $MX4:587 "[$MX6]:25" ||
	die "listeners" "$(cat "$TMPD/listen.log")"

# burst NS SRC DST PORT N: N connects one after the other, each closed at
# once; prints "connected C refused R timeout T".
burst() {
	ip netns exec "$1" "$PY" -c '
import socket, sys
src, dst, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
c = r = t = 0
for _ in range(n):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(1.0)
    try:
        s.connect((dst, port)); c += 1
    except ConnectionRefusedError:
        r += 1
    except OSError:
        t += 1
    s.close()
print("connected %d refused %d timeout %d" % (c, r, t))
' "$2" "$3" "$4" "$5"
}

# A quarantined source in `quarantine list -j`, by its source text.
in_quarantine() {
	ctl -j quarantine list 2>/dev/null | "$PY" -c '
import json, sys
sys.exit(0 if any(q.get("source") == sys.argv[1] for q in json.load(sys.stdin)) else 1)
' "$1"
}

stat_of() {
	ctl -j stats 2>/dev/null | jget "$1"
}

test_limit() {
	local r n mon

	ctl -q deny subscriber 10.25.0.0/16 2001:db8:25::/48 &&
	ctl -q action limit 20/min --burst 10 --then reject \
		--quarantine ${QUARANTINE}s &&
	ctl -q attach r0 --hook xdp --xdp-mode generic ||
		die "setup" "op25bctl could not set the limit up"
	# the process itself, not a subshell: $! is what kill must reach
	nsenter --net=/run/netns/"$RTR" "$CTL" --pin-dir "$PIN" -j monitor \
		>"$TMPD/monitor" 2>&1 &
	mon=$!
	CLEAN_PIDS+=($mon)
	sleep 0.5	# monitor shows events from its start on

	r=$(burst "$SUB" $SERVER4 $MX4 25 5)
	check_eq "a mail server's 5 connections, within the burst: all connect" \
		"connected 5 refused 0 timeout 0" "$r"
	r=$(burst "$SUB" $BOT4 $MX4 25 200)
	n=$(echo "$r" | awk '{ print $2 }')
	check "a bot's 200 connections: the burst of 10 connects, the rest are refused ($r)" \
		"$r" eval '[ "$n" -ge 10 ] && [ "$n" -le 11 ] && echo "$r" | grep -q "timeout 0"'
	check "the bot is in quarantine" "$(ctl quarantine list 2>&1)" in_quarantine $BOT4
	check "quarantine list says why: new connections over 20/min" \
		"$(ctl quarantine list 2>&1)" \
		eval 'ctl quarantine list | grep "^$BOT4 " | grep -q "over 20/min"'
	check "top shows the bot, blocked many times" "$(ctl top 2>&1)" \
		eval 'ctl -j top | "$PY" -c "
import json, sys
sys.exit(0 if any(o[\"address\"] == \"$BOT4\" and o[\"blocked\"] >= 180 for o in json.load(sys.stdin)) else 1)"'
	check "stats: limit_passed, limit_exceeded and quarantines moved" \
		"$(ctl stats 2>&1 | tr '\n' ' ')" \
		eval '[ "$(stat_of limit_passed)" -ge 15 ] && [ "$(stat_of limit_exceeded)" -ge 1 ] &&
		      [ "$(stat_of quarantines)" -ge 1 ]'
	check "stats --prometheus: the quarantine counters and gauge" "" \
		eval 'ctl stats --prometheus >"$TMPD/prom" &&
		      grep -q "^op25b_quarantines_total{transition=\"started\"} [1-9]" "$TMPD/prom" &&
		      grep -q "^op25b_quarantined_sources [1-9]" "$TMPD/prom"'
	r=$(burst "$SUB" $BOT4 $MX4 25 1)
	check_eq "in quarantine, the bot's next connection is refused" \
		"connected 0 refused 1 timeout 0" "$r"
	r=$(burst "$SUB" $SERVER4 $MX4 25 3)
	check_eq "meanwhile the mail server still connects" \
		"connected 3 refused 0 timeout 0" "$r"
	expect_connect "and the bot still reaches submission on 587" "$SUB" $BOT4 $MX4 587

	# the quarantine ends by itself, QUARANTINE s after the last excess
	sleep $((QUARANTINE + 2))
	check "after ${QUARANTINE}s the quarantine is over" "$(ctl quarantine list 2>&1)" \
		not in_quarantine $BOT4
	r=$(burst "$SUB" $BOT4 $MX4 25 1)
	check_eq "the bot connects again (a token back)" \
		"connected 1 refused 0 timeout 0" "$r"
	check "monitor showed it quarantined, then released" "$(head -c 600 "$TMPD/monitor")" \
		eval 'grep -q "\"event\":\"quarantined\",.*\"saddr\":\"$BOT4\"" "$TMPD/monitor" &&
		      grep -q "\"event\":\"released\",.*\"saddr\":\"$BOT4\"" "$TMPD/monitor"'

	# IPv6: the bot's /64 is the source; released by the operator
	r=$(burst "$SUB" $BOT6 $MX6 25 30)
	check "IPv6 bot: 10 connect, 20 are refused ($r)" "$r" \
		eval 'echo "$r" | grep -q "connected 1[01] refused"'
	check "IPv6: its /64 is in quarantine" "$(ctl quarantine list 2>&1)" \
		in_quarantine 2001:db8:25:1::/64
	r=$(burst "$SUB" $SERVER6 $MX6 25 3)
	check_eq "IPv6: a server in another /64 connects" \
		"connected 3 refused 0 timeout 0" "$r"
	ctl quarantine release 2001:db8:25:1::1234 >"$TMPD/out" 2>&1
	check "quarantine release by an address inside the /64" "$(cat "$TMPD/out")" \
		grep -q "released 2001:db8:25:1::/64" "$TMPD/out"
	r=$(burst "$SUB" $BOT6 $MX6 25 1)
	check_eq "IPv6: released, the bot connects at once" \
		"connected 1 refused 0 timeout 0" "$r"
	sleep 2
	check "monitor: released by operator" "$(tail -c 600 "$TMPD/monitor")" \
		grep -q '"event":"released by operator"' "$TMPD/monitor"
	kill $mon 2>/dev/null
	ctl -q detach --all
}

run_tests "$@"
