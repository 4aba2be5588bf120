#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Replacing the program leaves no window without enforcement (doc/DESIGN.md).
# A subscriber floods SYNs (nine to MX:25 for each marker to MX:587) through
# the router while op25b is attached again and again on its interface; a
# counter on the MX's link must see markers and not one SYN to 25. A
# control that detaches and attaches (a real window) must let SYNs to 25
# through, so the counter is shown to see a leak when there is one.
#
# Usage: test_replace.sh [TEST...]   (default: every test_* function, in order)
set -u
. "$(dirname "$0")/../lib.sh"

ns_names rep SUB RTR MXN
SRC=10.30.0.10
MX=203.0.113.25
REATTACH=10

suite_begin
make_pin_dir replace

ctl() {
	in_ns "$RTR" "$CTL" --pin-dir "$PIN" "$@"
}

# replace_setup: sub -- router -- mx and the subscriber's pool denied; made
# once, by the first test (once replace_setup). Without it nothing could be
# judged: the suite ends.
replace_setup() {
	ns_chain "$SUB" "$RTR" "$MXN" &&
		addr_add "$SUB" s0 $SRC/24 && addr_add "$RTR" r0 10.30.0.1/24 &&
		addr_add "$RTR" r1 10.31.0.1/24 && addr_add "$MXN" i0 10.31.0.2/24 &&
		addr_add "$MXN" i0 $MX/32 &&
		ip -n "$RTR" route add $MX/32 via 10.31.0.2 &&
		ip -n "$RTR" neigh replace 10.31.0.2 lladdr "$(mac_of "$MXN" i0)" \
			dev r1 nud permanent ||
		die "topology" "cannot build sub -- router -- mx"
	R0_MAC=$(mac_of "$RTR" r0)
	ctl -q deny subscriber 10.30.0.0/24 || die "policy" "op25bctl deny failed"
}

# All within the flood's 3 s: each attach loads and verifies a program.
reattach() {
	local i rc=0 t0=$SECONDS
	for ((i = 0; i < REATTACH; i++)); do
		ctl -q attach r0 "$@" || rc=1
	done
	[ $((SECONDS - t0)) -lt 3 ] || echo "# re-attaching took $((SECONDS - t0)) s"
	return $rc
}

window() {
	ctl -q detach r0 && sleep 0.5 && ctl -q attach r0 "$@"
}

# replace_hook HOOK: re-attach under the flood, then the control; r0 is
# left detached. A flood that could not be counted was already a failure.
replace_hook() {
	local hook=$1
	once replace_setup
	ctl -q attach r0 --hook $hook || { fail "$hook: attach" "failed"; return; }
	run_flood "$hook: re-attach" reattach --hook $hook ||
		{ ctl -q detach r0; return; }
	check "$hook: markers to 587 arrived during $REATTACH re-attaches (${SEEN587:-0})" \
		"saw ${SEEN587:-none}" [ "${SEEN587:-0}" -gt 0 ]
	check_eq "$hook: no SYN to 25 got through while re-attaching" 0 "${SEEN25:-none}"
	run_flood "$hook: detach+attach control" window --hook $hook ||
		{ ctl -q detach r0; return; }
	check "$hook: control: a detach/attach window lets SYNs to 25 through (${SEEN25:-0})" \
		"saw ${SEEN25:-none}: the counter would not see a leak" \
		[ "${SEEN25:-0}" -gt 0 ]
	ctl -q detach r0 || fail "$hook: detach" "failed"
}

test_xdp() {
	replace_hook xdp
}

test_tc() {
	replace_hook tc
}

run_tests "$@"
