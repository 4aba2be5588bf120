#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# In the guest, under busybox: real TCP connects from a subscriber
# namespace through a veth whose far end runs op25b's XDP program; then
# what op25bctl reads back from the maps the program wrote (monitor's
# event, stats' counters, list's hits, top's offender); the RST of action
# reject; the tc hook. A swapped byte order shows in each: 192.0.2.1 is
# not 1.2.0.192, the event's source port is the one the subscriber's
# socket has, a counter of a few segments does not read near 2^56.
#
#   sub ns: s0 192.0.2.1, 2001:db8:25::1  ---  r0 192.0.2.254, 2001:db8:25::fe
#                                              (op25b: XDP native, generic, tc)
#
# Prints "ok - ..." / "FAIL - ..." and "N passed, N failed".
ctl=/bin/op25bctl
pin=/sys/fs/bpf/op25b-cross
T=/tmp/e2e
mkdir -p $T /run/netns
passed=0
failed=0

ok() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1: $2"; failed=$((failed + 1)); }
# check LABEL DETAIL CMD...: ok when CMD succeeds; else DETAIL, a
# command run then, says why.
check() {
	l=$1 d=$2
	shift 2
	if "$@" >$T/check.out 2>&1; then
		ok "$l"
	else
		fail "$l" "$(cat $T/check.out; eval "$d" 2>&1 | head -c 600)"
	fi
}
ctl() { "$ctl" --pin-dir "$pin" "$@"; }
sub() { nsenter --net=/run/netns/sub "$@"; }

# connect PORT [ADDR]: 0 when a TCP connection from the subscriber to the
# router's listener was established.
connect() {
	sub nc -w 3 "${2:-192.0.2.254}" "$1" </dev/null >$T/nc.out 2>&1
}

# blocked LABEL PORT [ADDR]: the connection is not established.
blocked() {
	l=$1
	shift
	if connect "$@"; then fail "$l" "connected"; else ok "$l"; fi
}

# Listeners on 25 and 587 on the router, for every connection.
listen() {
	for p in 25 587; do
		nc -ll -p $p -e /bin/true >/dev/null 2>&1 &
		echo $! >>$T/listeners
	done
	sleep 1
}

sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
unshare -n sleep 100000 &
holder=$!
sleep 1
touch /run/netns/sub
mount --bind /proc/$holder/ns/net /run/netns/sub
ip link add name r0 type veth
ip link set veth0 name s0
ip link set s0 netns $holder
sub ip link set lo up
sub ip link set s0 up
sub ip addr add 192.0.2.1/24 dev s0
sub ip addr add 2001:db8:25::1/64 dev s0
ip link set r0 up
ip addr add 192.0.2.254/24 dev r0
ip addr add 2001:db8:25::fe/64 dev r0
# No neighbour discovery: in the s390x guest (qemu 7.2's emulation) every
# ICMPv6 checksum fails, op25b or not (Icmp6InCsumErrors rises), so IPv6
# would find no neighbour. Both ends take one MAC and NOARP: each sends to
# its own address, which is the other's.
mac_of() { sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }
smac=$(ip link show r0 | mac_of)
sub ip link set s0 address "$smac"
sub ip link set s0 arp off
ip link set r0 arp off
listen
sleep 1

check "control: 25 reachable before op25b is attached" 'cat $T/nc.out' connect 25
check "control: IPv6 25 reachable before op25b is attached" 'cat $T/nc.out; ip -6 neigh; ip -6 addr' \
	connect 25 2001:db8:25::fe
check "deny subscriber 192.0.2.0/24 2001:db8:25::/48" : \
	ctl deny subscriber 192.0.2.0/24 2001:db8:25::/48
check "attach r0 (xdp)" : ctl attach r0
ctl status >$T/status 2>&1
check "status names r0" 'cat $T/status' grep -q r0 $T/status

# The blocked connect's source port, read from its socket while it waits.
ctl -j monitor --count 1 >$T/monitor 2>$T/monitor.err &
mon=$!
sleep 2
connect 25 &
nc_pid=$!
sleep 1
sport=$(sub netstat -tn | sed -n 's/.* 192\.0\.2\.1:\([0-9]*\) *192\.0\.2\.254:25 *SYN_SENT.*/\1/p')
if wait $nc_pid; then
	fail "25 from a denied subscriber is dropped" "connected"
else
	ok "25 from a denied subscriber is dropped"
fi
check "587 from a denied subscriber passes" 'cat $T/nc.out' connect 587
check "IPv6: 587 from a denied subscriber passes" 'cat $T/nc.out' connect 587 2001:db8:25::fe
blocked "IPv6: 25 from a denied subscriber is dropped" 25 2001:db8:25::fe
i=0
while kill -0 $mon 2>/dev/null && [ $i -lt 10 ]; do sleep 1; i=$((i + 1)); done
kill $mon 2>/dev/null
ev=$(cat $T/monitor)
echo "monitor: $ev (source port $sport)"
for want in '"saddr":"192.0.2.1"' '"daddr":"192.0.2.254"' "\"sport\":${sport:-none}," \
	'"dport":25,' '"family":4,' '"interface":"r0"' "\"mac\":\"$smac\"" \
	'"hook":"xdp"' '"action":"drop"'; do
	case $ev in
	*"$want"*) ok "monitor -j event has $want" ;;
	*) fail "monitor -j event has $want" "$ev $(cat $T/monitor.err)" ;;
	esac
done

# Counters are 64-bit, per CPU, summed by op25bctl: a swapped word reads
# as a number near 2^56, not as the few SYNs sent.
ctl stats --prometheus >$T/prom 2>&1
blocked=$(sed -n 's/^op25b_segments_total{decision="blocked"} //p' $T/prom)
check "stats --prometheus: blocked segments 1..20 ($blocked)" 'grep segments_total $T/prom' \
	test "${blocked:-0}" -ge 1 -a "${blocked:-0}" -le 20
smtp=$(sed -n 's/^op25b_segments_judged_total{reason="smtp"} //p' $T/prom)
check "stats --prometheus: judged smtp segments equal blocked ($smtp)" 'grep segments $T/prom' \
	test "${smtp:-x}" = "$blocked"
# IPv4's hits and IPv6's add up to the blocked segments.
ctl -j list subscriber >$T/list 2>&1
h4=$(sed -n 's/.*"prefix":"192.0.2.0\/24","verdict":"deny","hits":\([0-9]*\),.*/\1/p' $T/list)
h6=$(sed -n 's/.*"prefix":"2001:db8:25::\/48","verdict":"deny","hits":\([0-9]*\),.*/\1/p' $T/list)
check "list -j: hits of 192.0.2.0/24 ($h4) and 2001:db8:25::/48 ($h6), each 1 or more, add up to $blocked" 'cat $T/list' \
	test "${h4:-0}" -ge 1 -a "${h6:-0}" -ge 1 -a "$((${h4:-0} + ${h6:-0}))" = "$blocked"
ctl -j top >$T/top 2>&1
check "top -j: 192.0.2.1 blocked $h4 times, last to 192.0.2.254:25" 'cat $T/top' \
	sh -c "grep -q '\"address\":\"192.0.2.1\",\"blocked\":$h4,' $T/top && grep -q '\"last_daddr\":\"192.0.2.254\",\"last_dport\":25' $T/top"

check "allow subscriber 192.0.2.1/32" : ctl allow subscriber 192.0.2.1/32
check "25 from an exempt subscriber passes" 'cat $T/nc.out' connect 25
ctl del subscriber 192.0.2.1/32
check "detach r0" : ctl detach r0

# reject: the program's RST (addresses, ports, sequence numbers and
# checksums it writes) must be one the subscriber's kernel takes. Generic
# XDP: a native XDP_TX on a veth needs a program on the peer as well.
check "attach r0 --xdp-mode generic" : ctl attach r0 --xdp-mode generic
check "action reject" : ctl action reject
start=$(date +%s)
connect 25
end=$(date +%s)
check "25 is refused at once under action reject ($((end - start)) s)" 'cat $T/nc.out' \
	sh -c "grep -qi refused $T/nc.out && [ $((end - start)) -le 1 ]"
ctl stats --prometheus >$T/prom 2>&1
rst=$(sed -n 's/^op25b_rejects_sent_total //p' $T/prom)
check "stats: one RST sent ($rst)" 'grep rejects $T/prom' test "${rst:-0}" = 1
ctl action drop
check "detach r0 (generic)" : ctl detach r0

# The tc program, on the same traffic, IPv6 as well.
check "attach r0 --hook tc" : ctl attach r0 --hook tc
blocked "tc: 25 from a denied subscriber is dropped" 25
check "tc: 587 passes" 'cat $T/nc.out' connect 587
check "tc: IPv6 587 passes" 'cat $T/nc.out; ip -6 neigh' connect 587 2001:db8:25::fe
blocked "tc: IPv6 25 from a denied subscriber is dropped" 25 2001:db8:25::fe
ctl -j list subscriber >$T/list 2>&1
check "list -j: 2001:db8:25::/48 counted hits" 'cat $T/list' \
	sh -c "grep -q '\"prefix\":\"2001:db8:25::/48\",\"verdict\":\"deny\",\"hits\":[1-9][0-9]*,' $T/list"
check "detach r0 (tc)" : ctl detach r0
check "25 reachable again after detach" 'cat $T/nc.out' connect 25

for p in $(cat $T/listeners); do kill $p 2>/dev/null; done
umount /run/netns/sub
kill $holder
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
