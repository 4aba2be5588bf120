#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The PPP session hook (contrib/ppp/op25b-ppp-hook) run as pppd and
# accel-ppp run it: their arguments, their environment, their radattr
# files. 1,000 sessions up and down, 8 at a time, a third of them exempt
# by RADIUS, some attached per session on a TUN device standing in for
# pppN; while a session is up its exemption holds; at the end the tables
# are exactly what they were, and nothing is left attached or recorded.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
HOOK=$here/../../contrib/ppp/op25b-ppp-hook

suite_begin tun
make_pin_dir ppp

SESSIONS=${PPP_SESSIONS:-1000}
# the BRAS: sessions' devices, attachments and hooks all in a namespace
ns_names ppp NS
ns_create "$NS" || die "netns" "cannot add $NS"
export NS
export OP25BCTL=$CTL OP25B_PIN_DIR=$PIN OP25B_PPP_CONF=/nonexistent
export OP25B_RADATTR=$TMPD/radattr
export HOOK TMPD

ctl() {
	"$CTL" --pin-dir "$PIN" "$@"
}

# The policy a BRAS starts with: pools, a static customer exempt before
# any session, and a more specific deny the sessions must give back.
ctl -q deny subscriber 100.64.0.0/10 2001:db8::/32 100.64.3.3 ||
	die "policy" "cannot set the pools"
ctl -q allow subscriber 100.64.7.7 2001:db8:7::/48
ctl save >"$TMPD/before"

# session N up, check, down, as daemon N%2 (0: pppd, 1: accel-ppp)
session() {
	local n=$1 ifc=o25p$1 v4 pd attach=no rc=0
	v4=100.64.$((n / 250)).$((n % 250 + 1))
	[ "$n" = 1000 ] && v4=100.64.3.3	# a deny given back
	[ "$n" = 999 ] && v4=100.64.7.7		# an allow that was there before
	pd=2001:db8:$((n + 4096)):100::/56
	rm -f "$OP25B_RADATTR.$ifc"
	if ((n % 3 == 0)) || [ "$v4" = 100.64.3.3 ] || [ "$v4" = 100.64.7.7 ]; then
		printf 'User-Name sub%d\nFilter-Id op25b-exempt\nDelegated-IPv6-Prefix %s\n' \
			"$n" "$pd" >"$OP25B_RADATTR.$ifc"
	fi
	if ((n % 50 == 0)); then
		attach=yes
		ip -n "$NS" tuntap add dev "$ifc" mode tun 2>/dev/null
	fi
	if ((n % 2 == 0)); then
		# pppd: ip-up.d with IFNAME, IPLOCAL, IPREMOTE, PEERNAME set
		IFNAME=$ifc IPLOCAL=100.127.255.1 IPREMOTE=$v4 PEERNAME=sub$n \
			OP25B_PPP_ATTACH=$attach nsenter --net="/run/netns/$NS" \
			"$HOOK" up "$ifc" /dev/ppp 0 \
			100.127.255.1 "$v4" "" || rc=1
	else
		# accel-ppp pppd_compat: ifname none 0 local remote calling-sid
		PEERNAME=sub$n CALLING_SID=02:00:00:00:00:01 IPV6_DELEGATED_PREFIX=$pd \
			OP25B_PPP_ATTACH=$attach nsenter --net="/run/netns/$NS" \
			"$HOOK" up "$ifc" none 0 \
			100.127.255.1 "$v4" 02:00:00:00:00:01 || rc=1
	fi
	# its addresses are recorded, exempt or not, for its events
	"$OP25BCTL" --pin-dir "$OP25B_PIN_DIR" -j session list 2>/dev/null |
		grep -q "\"session\":\"$ifc\",[^}]*\"address\":\[\"$v4/32\"" ||
		echo "no-address $n" >>"$TMPD/bad"
	if [ -e "$OP25B_RADATTR.$ifc" ]; then
		"$OP25BCTL" --pin-dir "$OP25B_PIN_DIR" test "$v4" 203.0.113.25 25 \
			>/dev/null 2>&1 || echo "exempt-not-passing $n" >>"$TMPD/bad"
	else
		"$OP25BCTL" --pin-dir "$OP25B_PIN_DIR" test "$v4" 203.0.113.25 25 \
			>/dev/null 2>&1 && [ "$v4" != 100.64.7.7 ] &&
			echo "plain-passing $n" >>"$TMPD/bad"
	fi
	if [ "$attach" = yes ]; then
		"$OP25BCTL" -n "$NS" --pin-dir "$OP25B_PIN_DIR" status 2>/dev/null |
			grep -q "$ifc .*attached" || echo "not-attached $n" >>"$TMPD/bad"
	fi
	IFNAME=$ifc nsenter --net="/run/netns/$NS" "$HOOK" down "$ifc" || rc=1
	[ "$attach" = yes ] && ip -n "$NS" link del "$ifc" 2>/dev/null
	rm -f "$OP25B_RADATTR.$ifc"
	[ $rc -eq 0 ] || echo "hook-failed $n" >>"$TMPD/bad"
}
export -f session

test_sessions() {
	: >"$TMPD/bad"
	seq 1 "$SESSIONS" | xargs -P 8 -I{} bash -c 'session {}'
	check_eq "$SESSIONS sessions, 8 at a time: no hook failed, every address recorded, every exemption held, every attach" \
		"" "$(sort "$TMPD/bad" | head -5)"
	ctl save >"$TMPD/after"
	check "afterwards the tables are exactly as before" \
		"$(diff "$TMPD/before" "$TMPD/after" | head -5)" \
		cmp -s "$TMPD/before" "$TMPD/after"
	check_eq "no session is left registered" "" "$(ctl session list)"
	check "nothing is left attached or recorded" "$(ctl -n "$NS" status | tail -3)" \
		eval 'ctl -n "$NS" status | grep -q "attachments: none"'
}

# The hook's refusals: one line, exit 2, nothing changed.
test_bad_input() {
	local before
	before=$(ctl save)
	env -u IFNAME "$HOOK" up >"$TMPD/out" 2>"$TMPD/err"
	check "no interface: exit 2, one line" "exit $?: $(cat "$TMPD/err")" \
		eval '[ "$(wc -l <"$TMPD/err")" = 1 ] && grep -q "no interface" "$TMPD/err"'
	printf 'Filter-Id op25b-exempt\n' >"$OP25B_RADATTR.o25pbad"
	IFNAME=o25pbad IPREMOTE=100.64.0.300 "$HOOK" up >"$TMPD/out" 2>"$TMPD/err"
	check_eq "a bad session address: exit 2" 2 $?
	check "...one line naming it" "$(cat "$TMPD/err")" \
		eval '[ "$(wc -l <"$TMPD/err")" = 1 ] && grep -q "100.64.0.300" "$TMPD/err"'
	IFNAME=o25pbad IPREMOTE=100.64.0.5 IPV6_DELEGATED_PREFIX=2001:db8::1/56 \
		"$HOOK" up >"$TMPD/out" 2>"$TMPD/err"
	check_eq "a bad delegated prefix: exit 2" 2 $?
	IFNAME='o25p/x' "$HOOK" up >"$TMPD/out" 2>"$TMPD/err"
	check_eq "a bad interface name: exit 2" 2 $?
	"$HOOK" sideways o25p1 >"$TMPD/out" 2>"$TMPD/err"
	check_eq "neither up nor down: exit 2" 2 $?
	check_eq "after all of them, nothing changed" "$before" "$(ctl save)"
	check_eq "...and no session registered" "" "$(ctl session list)"
	rm -f "$OP25B_RADATTR.o25pbad"
}

run_tests "$@"
