#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# `make demo`: a throwaway access network in four network namespaces,
# op25b on the router, and what a subscriber can and cannot reach.
#
#   o25demo-sub ---- r0 o25demo-rtr r1 ---- o25demo-relay  provider's relay
#   subscribers         (op25b on r0)  r2 ---- o25demo-mx   someone's MX
#
# Everything shown is checked: the demo exits non-zero when a result is
# not the one it announces. Everything is removed at the end or on Ctrl-C.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib.sh"

SUB=o25demo-sub
RTR=o25demo-rtr
RELAYNS=o25demo-relay
MXNS=o25demo-mx
PIN=/sys/fs/bpf/o25demo

SUB4=10.25.1.10		SUB6=2001:db8:25:1::10
STATIC4=10.25.1.20
RELAY4=192.0.2.25	RELAY6=2001:db8:192::25
MX4=203.0.113.25	MX6=2001:db8:203::25

if [ -t 1 ]; then
	B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'
else
	B= G= R= N=
fi
BAD=0

say() {
	printf '\n%s%s%s\n' "$B" "$*" "$N"
}

# show ARGS...: echo a command line, then run it.
show() {
	printf '%s$ %s%s\n' "$B" "$*" "$N"
	"$@"
}

# op25bctl, in the router's network namespace, on the demo's pin dir.
op25bctl() {
	in_ns "$RTR" "$CTL" --pin-dir "$PIN" "$@"
}

verdict() {
	if [ "$1" = "$2" ]; then
		printf '  %s%s%s (as expected)\n' "$G" "$1" "$N"
	else
		printf '  %s%s, expected %s%s\n' "$R" "$1" "$2" "$N"
		BAD=$((BAD + 1))
	fi
}

# connect WHO SRC DST PORT EXPECT: one real TCP connect from the subscriber.
connect() {
	local r
	printf '%s$ connect %s (%s) -> %s port %s%s\n' "$B" "$2" "$1" "$3" "$4" "$N"
	r=$(tcp_connect "$SUB" "$2" "$3" "$4" 2)
	case $r in
	connected) verdict "connected" "$5" ;;
	timeout) verdict "blocked" "$5"
		 printf '  (SYN dropped: no answer within 2 s)\n' ;;
	*) verdict "failed: $r" "$5" ;;
	esac
}

# expect_exit CODE ARGS...: run op25bctl ARGS and check its exit status.
expect_exit() {
	local want=$1 rc
	shift
	show op25bctl "$@"
	rc=$?
	if [ $rc -eq "$want" ]; then
		printf '  %sexit status %d%s\n' "$G" $rc "$N"
	else
		printf '  %sexit status %d, expected %d%s\n' "$R" $rc "$want" "$N"
		BAD=$((BAD + 1))
	fi
}

fatal() {
	printf '%sdemo: %s%s\n' "$R" "$*" "$N" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || fatal "needs root (network namespaces, BPF)"
[ -x "$CTL" ] || fatal "$CTL not built: run make demo"
command -v nsenter >/dev/null || fatal "nsenter (util-linux) not installed"
for ns in $SUB $RTR $RELAYNS $MXNS; do
	[ -e "/run/netns/$ns" ] &&
		fatal "namespace $ns exists (another demo running? ip netns del $ns)"
done
[ -e "$PIN" ] && fatal "$PIN exists (another demo running? rm -r $PIN)"

demo_cleanup() {
	printf '\nTearing down: namespaces %s %s %s %s, pin dir %s\n' \
		$SUB $RTR $RELAYNS $MXNS "$PIN"
	cleanup
}
setup_trap
trap demo_cleanup EXIT
CLEAN_PATHS+=("$PIN")
make_tmpdir

say "Building the network (namespaces $SUB, $RTR, $RELAYNS, $MXNS)"
{
	ns_create $SUB && ns_create $RTR && ns_create $RELAYNS && ns_create $MXNS &&
	veth_pair $SUB s0 $RTR r0 && veth_pair $RTR r1 $RELAYNS e0 &&
	veth_pair $RTR r2 $MXNS e0 && ns_forwarding $RTR &&
	addr_add $SUB s0 $SUB4/24 && addr_add $SUB s0 $STATIC4/24 &&
	addr_add $SUB s0 $SUB6/64 &&
	ip -n $SUB route add default via 10.25.1.1 &&
	ip -n $SUB -6 route add default via 2001:db8:25:1::1 &&
	addr_add $RTR r0 10.25.1.1/24 && addr_add $RTR r0 2001:db8:25:1::1/64 &&
	addr_add $RTR r1 192.0.2.1/24 && addr_add $RTR r1 2001:db8:192::1/64 &&
	addr_add $RTR r2 203.0.113.1/24 && addr_add $RTR r2 2001:db8:203::1/64 &&
	addr_add $RELAYNS e0 $RELAY4/24 && addr_add $RELAYNS e0 $RELAY6/64 &&
	ip -n $RELAYNS route add default via 192.0.2.1 &&
	ip -n $RELAYNS -6 route add default via 2001:db8:192::1 &&
	addr_add $MXNS e0 $MX4/24 && addr_add $MXNS e0 $MX6/64 &&
	ip -n $MXNS route add default via 203.0.113.1 &&
	ip -n $MXNS -6 route add default via 2001:db8:203::1 &&
	tcp_listen $RELAYNS "$TMPD/relay.log" $RELAY4:25 "[$RELAY6]:25" &&
	tcp_listen $MXNS "$TMPD/mx.log" $MX4:25 $MX4:587 $MX4:465 \
		"[$MX6]:25" "[$MX6]:587" "[$MX6]:465"
} || fatal "could not build the demo network"
cat <<EOF
  subscriber pool 10.25.0.0/16, 2001:db8:25::/48   a subscriber: $SUB4, $SUB6
  static business customer (exempted): $STATIC4
  provider's relay: $RELAY4, $RELAY6          outside MX: $MX4, $MX6
  The MX listens on 25, 587 and 465; the relay on 25.
  Every op25bctl below runs in $RTR with --pin-dir $PIN.
EOF

say "Without op25b, a subscriber (a spam bot, say) reaches any MX on port 25:"
connect subscriber $SUB4 $MX4 25 connected

say "The policy: block the pool, exempt the static customer, allow the relay"
show op25bctl deny subscriber 10.25.0.0/16 2001:db8:25::/48 || BAD=$((BAD + 1))
show op25bctl allow subscriber $STATIC4/32 || BAD=$((BAD + 1))
show op25bctl allow relay $RELAY4/32 $RELAY6/128 || BAD=$((BAD + 1))

say "Attach op25b (XDP) to the router's subscriber-facing interface"
show op25bctl attach r0 --hook xdp || fatal "attach failed"
show op25bctl status

say "op25bctl has exited; the kernel enforces the policy on its own:"
connect subscriber $SUB4 $MX4 25 blocked
connect subscriber $SUB6 "$MX6" 25 blocked
connect subscriber $SUB4 $MX4 587 connected
connect subscriber $SUB4 $MX4 465 connected
connect subscriber $SUB6 "$MX6" 587 connected
connect subscriber $SUB4 $RELAY4 25 connected
connect subscriber $SUB6 "$RELAY6" 25 connected
connect "exempted static customer" $STATIC4 $MX4 25 connected

say "Asking op25b what it would do (exit status 3 means blocked)"
expect_exit 3 test $SUB4 $MX4 25
expect_exit 0 test $SUB4 $MX4 587
expect_exit 0 test $SUB4 $RELAY4 25
expect_exit 0 test $STATIC4 $MX4 25

say "The tables, with their hit counters"
show op25bctl list

say "The counters"
show op25bctl stats
blocked=$(op25bctl -j stats 2>/dev/null | jget blocked)
if [[ "$blocked" =~ ^[0-9]+$ ]] && [ "$blocked" -gt 0 ]; then
	printf '  %s%s blocked attempts counted (as expected)%s\n' "$G" "$blocked" "$N"
else
	printf '  %sblocked counter is %s, expected > 0%s\n' "$R" "${blocked:-missing}" "$N"
	BAD=$((BAD + 1))
fi

say "Detach: everything op25b added to r0 goes away"
show op25bctl detach r0 || BAD=$((BAD + 1))
connect subscriber $SUB4 $MX4 25 connected

echo
if [ $BAD -ne 0 ]; then
	printf '%sdemo: %d result(s) were not what op25b promises%s\n' "$R" $BAD "$N"
	exit 1
fi
printf '%sdemo: every result as expected%s\n' "$G" "$N"
