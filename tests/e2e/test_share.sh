#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Sharing a device with another XDP program (doc/DESIGN.md, "Sharing XDP").
# xdp-filter (xdp-tools) runs on the router's subscriber side, dropping UDP
# to port 9 and TCP to port 587; op25b attaches there in chained mode. On
# real traffic both do their job; a re-attach under a SYN flood lets
# neither op25b's nor xdp-filter's traffic through; detach puts xdp-filter
# back; an op25b no pin dir records is found, said chained, and detached
# with xdp-filter put back; someone else taking op25b off is reported; a
# program the kernel will not chain is refused, changing nothing;
# libxdp's dispatcher: where the kernel allows freplace programs (make
# cross-test CROSS_ARCHES=amd64 runs this test on Debian's kernel),
# xdp-filter loaded through it, op25b joins it first and the same checks
# run in dispatcher mode; where the kernel refuses them (as here) that test
# is skipped and reported (not a pass; not a failure under CI=true either:
# tests/lib.sh, skip_reported). The chained tests load xdp-filter as a
# plain program (LIBXDP_SKIP_DISPATCHER) on either kernel.
#
# Usage: test_share.sh [TEST...]   (default: every test_* function, in order)
set -u
. "$(dirname "$0")/../lib.sh"
suite_begin nsenter unshare xdp-filter xdp-loader

ns_names shr SUB RTR MXN
SRC=10.40.0.10
MX=203.0.113.25
REATTACH=8

make_pin_dir share
PINA=$PIN
make_pin_dir share-b
PINB=$PIN
make_pin_dir share-l4
PINC=$PIN
PIN=$PINA
# The last commit before chained mode: its op25bctl makes layout 4 pin
# dirs without the chain array (test_layout4).
BEFORE_CHAIN=4b729817d0d61912c957f3df3ca8d7696e7e834f
# xdp-tools' pins, private to this run: xdp-filter keeps its own under
# /sys/fs/bpf/xdp-filter whatever LIBXDP_BPFFS says, so each call sees
# this directory as /sys/fs/bpf, in a mount namespace of its own (xdpt)
XPIN=/sys/fs/bpf/op25b-test-share-xdp-$$
CLEAN_PATHS+=("$XPIN")
UDPLOG=$TMPD/udp

ctl() {
	in_ns "$RTR" "$CTL" --pin-dir "$PIN" "$@"
}

# xdpt TOOL ARGS...: an xdp-tools command in the router's namespace, with
# XPIN for its bpffs.
xdpt() {
	unshare -m --propagation private sh -c \
		'p=$0 n=$1; shift; mount --bind "$p" /sys/fs/bpf && exec nsenter --net="$n" "$@"' \
		"$XPIN" "/run/netns/$RTR" "$@"
}

xf() {
	xdpt xdp-filter "$@"
}

# xdp-filter loaded as a plain program, not into libxdp's dispatcher
# where the kernel would allow it: what chained mode keeps.
xf_plain() {
	LIBXDP_SKIP_DISPATCHER=1 xdpt xdp-filter "$@"
}

# "ID NAME" of the XDP program on the router's r0, nothing for none.
xdp_on_r0() {
	ip -n "$RTR" link show dev r0 |
		sed -n 's/.*prog\/xdp id \([0-9]*\) name \([^ ]*\).*/\1 \2/p'
}

# share_setup: sub -- router -- mx, a TCP listener on 25 and 587 and a UDP
# one on 9, 10 and 11 at the MX, the subscriber's pool denied, xdp-filter
# on r0. Made once, by the first test that asks.
share_setup() {
	ns_chain "$SUB" "$RTR" "$MXN" &&
		addr_add "$SUB" s0 $SRC/24 && addr_add "$RTR" r0 10.40.0.1/24 &&
		addr_add "$RTR" r1 10.41.0.1/24 && addr_add "$MXN" i0 10.41.0.2/24 &&
		addr_add "$MXN" i0 $MX/32 &&
		ip -n "$SUB" route add default via 10.40.0.1 &&
		ip -n "$RTR" route add $MX/32 via 10.41.0.2 &&
		ip -n "$MXN" route add 10.40.0.0/24 via 10.41.0.1 ||
		die "topology" "cannot build sub -- router -- mx"
	R0_MAC=$(mac_of "$RTR" r0)
	tcp_listen "$MXN" "$TMPD/tcp" "$MX:25" "$MX:587" ||
		die "listener" "TCP listener not ready"
	ip netns exec "$MXN" "$PY" -c '
import selectors, signal, socket, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
sel = selectors.DefaultSelector()
for p in sys.argv[1:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(p)))
    sel.register(s, selectors.EVENT_READ, p)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        d, _ = key.fileobj.recvfrom(2048)
        print(key.data, d.decode(errors="replace"), flush=True)
' 9 10 11 >"$UDPLOG" 2>&1 &
	CLEAN_PIDS+=($!)
	wait_file_line "$UDPLOG" ready || die "listener" "UDP listener not ready"
	mkdir -p "$XPIN"
	xf_load
	ctl -q deny subscriber 10.40.0.0/24 || die "policy" "op25bctl deny failed"
}

# xf_load: xdp-filter on r0 (again, after a test took it off), dropping
# udp/9 and tcp/587 (its pinned port map may hold them already); XF is
# its program, "ID NAME".
xf_load() {
	xf unload r0 >/dev/null 2>&1
	xf_plain load r0 >"$TMPD/xf" 2>&1 ||
		die "xdp-filter" "cannot load on r0: $(tail -n 1 "$TMPD/xf")"
	xf port 9 -p udp >/dev/null 2>&1
	xf port 587 -p tcp >/dev/null 2>&1
	XF=$(xdp_on_r0)
	[[ $XF == *" xdpfilt_"* ]] ||
		die "xdp-filter" "not its program on r0 after loading it: '$XF'"
}

# udp_arrives PORT: three datagrams from the subscriber to MX:PORT; true
# when one of them arrives (waits a second for it).
udp_arrives() {
	local tok=t$RANDOM$RANDOM
	ip netns exec "$SUB" "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3):
    s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
' $MX "$1" "$tok"
	wait_file_line "$UDPLOG" "^$1 $tok\$" 10
}

# both_work WHO: xdp-filter's drops and op25b's block, on real traffic
both_work() {
	expect_blocked "$1: tcp/25 from a denied subscriber blocked (op25b)" \
		"$SUB" $SRC $MX 25
	check "$1: udp/9 dropped (xdp-filter)" "a datagram to 9 arrived" \
		not udp_arrives 9
	check "$1: udp/10 arrives (neither drops it)" "none arrived" \
		udp_arrives 10
	expect_blocked "$1: tcp/587 dropped (xdp-filter, after op25b passed it)" \
		"$SUB" $SRC $MX 587
}

# attach_says LABEL CTL MODE: attach r0 by CTL (ctl, dctl), status then
# saying MODE of it.
attach_says() {
	local st
	$2 attach r0 >"$TMPD/att" 2>&1 ||
		{ fail "$1: attach r0" "$(tail -n 1 "$TMPD/att")"; return 1; }
	st=$($2 status | grep ' r0 ')
	check "$1: status says $3" "saw: $st" grep -qF ", $3, " <<<"$st"
}

# attach_chained LABEL: attach r0 in chained mode, the mode checked.
attach_chained() {
	attach_says "$1" ctl "chained (prog ${XF% *} ${XF#* })"
}

test_chained() {
	once share_setup
	expect_connect "before: tcp/25 open (no op25b yet)" "$SUB" $SRC $MX 25
	check "before: udp/9 dropped (xdp-filter)" "arrived" not udp_arrives 9
	ctl attach r0 >"$TMPD/att" 2>&1
	check_eq "attach r0 over xdp-filter: exit 0" 0 $?
	check "attach says it kept xdp-filter's program, and why not the dispatcher" \
		"said: $(cat "$TMPD/att")" \
		grep -q "kept XDP program '${XF#* }' (id ${XF% *}) on r0.*chained mode: the kernel" "$TMPD/att"
	check "status -j: sharing chained, chained_prog_id ${XF% *}" \
		"saw: $(ctl -j status)" \
		test "$(ctl -j status | jget sharing)$(ctl -j status | jget chained_prog_id)" = "\"chained\"${XF% *}"
	check "status text: chained (prog ${XF% *} ${XF#* })" "saw: $(ctl status)" \
		grep -q "r0 (ifindex [0-9]*): xdp .*, chained (prog ${XF% *} ${XF#* }), file, attached" <(ctl status)
	check "r0 runs op25b now" "saw $(xdp_on_r0)" grep -q op25b_xdp <<<"$(xdp_on_r0)"
	both_work "chained"
	xf port 11 -p udp >/dev/null
	check "chained: xdp-filter's own ports still change what its program does (udp/11 dropped)" \
		"arrived" not udp_arrives 11
	xf port 11 -p udp --remove >/dev/null
	check "chained: ...and undone (udp/11 arrives)" "none arrived" udp_arrives 11
	ctl -q detach r0
}

test_detach() {
	once share_setup
	attach_chained "detach" || return
	ctl detach r0 >"$TMPD/det" 2>&1
	check_eq "detach r0: exit 0" 0 $?
	check "detach says it put xdp-filter back" "said: $(cat "$TMPD/det")" \
		grep -q "put XDP program '${XF#* }' (id ${XF% *}) back on r0" "$TMPD/det"
	check_eq "after detach: r0 runs xdp-filter's program again, the same one" \
		"$XF" "$(xdp_on_r0)"
	check_eq "after detach: the chain slot is empty" "[]" \
		"$(bpftool map dump pinned "$PIN/chain" 2>&1 | tr -d ' \n')"
	expect_connect "after detach: tcp/25 open (op25b gone)" "$SUB" $SRC $MX 25
	check "after detach: udp/9 still dropped (xdp-filter works)" "arrived" \
		not udp_arrives 9
	check "after detach: xdp-filter says it is loaded on r0" \
		"saw: $(xf status 2>&1 | tr '\n' ' ')" \
		grep -q "r0 " <(xf status 2>&1)
}

# reattach [CTL]: attach r0 again REATTACH times, by CTL (ctl; dctl in
# dispatcher mode).
reattach() {
	local i rc=0 c=${1:-ctl}
	for ((i = 0; i < REATTACH; i++)); do
		$c -q attach r0 || rc=1
	done
	return $rc
}

# Zero-gap replace in chained mode: op25b's SYNs to 25 and xdp-filter's to
# 587 both stay out while op25b is attached again and again; the chain
# holds the same program after. Controls: with op25b detached 25 gets
# through, and with op25b alone (--force) 587 does: the counter sees both.
test_reattach() {
	local before after
	once share_setup
	attach_chained "re-attach" || return
	before=$(ctl -j status | jget prog_id)
	run_flood "re-attach" reattach || { ctl -q detach r0; return; }
	after=$(ctl -j status | jget prog_id)
	check "re-attach: op25b's program was replaced ($before -> $after)" \
		"same program" [ "$before" != "$after" ]
	check_eq "re-attach: no SYN to 25 got through (op25b never off)" 0 "${SEEN25:-none}"
	check_eq "re-attach: no SYN to 587 got through (xdp-filter never off)" 0 "${SEEN587:-none}"
	check "re-attach: still chained to the same program" "saw: $(ctl status)" \
		grep -q ", chained (prog ${XF% *} ${XF#* }), file, attached" <(ctl status)
	ctl -q detach r0
	run_flood "control: xdp-filter alone" true || return
	check "control: xdp-filter alone lets SYNs to 25 through (${SEEN25:-0})" \
		"saw ${SEEN25:-none}: the counter would not see a leak" \
		[ "${SEEN25:-0}" -gt 0 ]
	ctl -q attach r0 --force || { fail "control: attach --force" "failed"; return; }
	check "attach --force replaces xdp-filter: status says alone" \
		"saw: $(ctl status)" grep -q ", alone, file, attached" <(ctl status)
	run_flood "control: op25b alone" true || return
	check "control: op25b alone lets SYNs to 587 through (${SEEN587:-0})" \
		"saw ${SEEN587:-none}: the counter would not see a leak" \
		[ "${SEEN587:-0}" -gt 0 ]
	ctl -q detach r0
	# the control took xdp-filter off: put it back for the tests after
	xf_load
}

# orphan_seen PREFIX CTL MODE WORD: the other pin dir's status says r0's
# op25b unrecorded, MODE, this pin dir's (-j: sharing WORD); its detach
# r0 exits 0.
orphan_seen() {
	local st
	st=$(PIN=$PINB $2 status | grep ' r0 ')
	check "${1}another pin dir's status: op25b on r0 unrecorded, $3" \
		"saw: $st" grep -qF ", $3, pin dir $PINA" <<<"$st"
	check_eq "${1}...and in JSON" "\"$4\"" \
		"$(PIN=$PINB $2 -j status | jget unrecorded | jget sharing)"
	PIN=$PINB $2 detach r0 >"$TMPD/det" 2>&1
	check_eq "${1}detach r0 from the other pin dir: exit 0" 0 $?
}

# An op25b no record of this pin dir names, chained: found, said chained,
# and detach puts xdp-filter back through the program's own array.
test_orphan() {
	local st
	once share_setup
	attach_chained "orphan" || return
	orphan_seen "" ctl "chained (prog ${XF% *} ${XF#* })" chained
	check_eq "...puts xdp-filter back on r0" "$XF" "$(xdp_on_r0)"
	check "the first pin dir's record: not attached, its program let go" \
		"saw: $(ctl status)" grep -q "r0 .*, chained (the program it chained is gone), file, not attached" <(ctl status)
	ctl -q detach r0
	both_alone_after "orphan"

	# its pin dir removed: the kernel empties the array; said, then removed
	attach_chained "orphan, pin dir removed" || return
	rm -rf "$PINA"
	st=$(ctl status | grep ' r0 ')
	check "pin dir removed: op25b on r0 unrecorded, its chained program said gone" \
		"saw: $st" grep -q "xdp .*, chained (the program it chained is gone), no pin dir" <<<"$st"
	ctl detach r0 >"$TMPD/det" 2>&1
	check_eq "pin dir removed: detach r0 removes the op25b" "" "$(xdp_on_r0)"
	check "pin dir removed: detach says r0 is left without XDP" \
		"said: $(cat "$TMPD/det")" grep -q "is left without XDP" "$TMPD/det"
	xf_load
	ctl -q deny subscriber 10.40.0.0/24 || die "policy" "op25bctl deny failed"
}

# After op25b went: xdp-filter alone on r0, doing its job.
both_alone_after() {
	check "$1: udp/9 still dropped by xdp-filter" "arrived" not udp_arrives 9
	expect_connect "$1: tcp/25 open (op25b gone)" "$SUB" $SRC $MX 25
}

# Someone else takes op25b off the device: xdp-filter cannot unload behind
# op25b's back; an XDP detach that removes op25b is reported, and op25b's
# detach then lets the chained program go without putting it back.
test_taken_off() {
	local st
	once share_setup
	attach_chained "taken off" || return
	check "xdp-filter unload refuses while op25b chains its program" \
		"it unloaded" not xf unload r0 2>/dev/null
	check_eq "...and op25b (its chaining program) stays on r0" "op25b_xdp_ch" "$(xdp_on_r0 | cut -d' ' -f2)"
	ip -n "$RTR" link set dev r0 xdp off
	st=$(ctl status | grep ' r0 ')
	check "taken off: status says not attached, the chained program held, not running" \
		"saw: $st" grep -q "chained (prog ${XF% *} ${XF#* }, held, not running), file, not attached" <<<"$st"
	check_eq "taken off: -j chained_running false" false \
		"$(ctl -j status | jget chained_running)"
	ctl detach r0 >"$TMPD/det" 2>&1
	check "taken off: detach drops the record" "said: $(cat "$TMPD/det")" \
		grep -q "dropped the record of r0" "$TMPD/det"
	check_eq "taken off: the chain slot is empty" "[]" \
		"$(bpftool map dump pinned "$PIN/chain" 2>&1 | tr -d ' \n')"
	check_eq "taken off: nothing put back on r0" "" "$(xdp_on_r0)"
	xf_load
}

# A chained device deleted: detach of its record lets the program go at
# once (the slot emptied), and the other device's chain is untouched.
test_gone() {
	local n
	once share_setup
	ns_veth "$RTR" gx0 gx1 && xf_plain load gx0 >/dev/null 2>&1 ||
		{ fail "gone: setup" "cannot load xdp-filter on gx0"; return; }
	ctl -q attach gx0 && ctl -q attach r0 ||
		{ fail "gone: attach gx0 and r0" "failed"; return; }
	n=$(bpftool map dump pinned "$PIN/chain" | grep -c '"key"')
	check_eq "gone: two slots filled (gx0's, r0's)" 2 "$n"
	ip -n "$RTR" link del gx0
	ctl detach gx0 >"$TMPD/det" 2>&1
	check "gone: detach gx0 drops its record" "said: $(cat "$TMPD/det")" \
		grep -q "dropped the record of gx0.*the interface is gone" "$TMPD/det"
	n=$(bpftool map dump pinned "$PIN/chain" | grep -c '"key"')
	check_eq "gone: its slot emptied, r0's kept" 1 "$n"
	both_work "gone: r0 still chained"
	ctl -q detach r0
}

# A program the kernel will not have in op25b's program array (here a
# multi-buffer one, SEC("xdp.frags")): attach refuses, one line naming it
# and the way out, and changes nothing; --force replaces it.
test_refused() {
	local obj=$TMPD/frags.bpf.o
	once share_setup
	printf '%s\n' '#include <linux/bpf.h>' '#include <bpf/bpf_helpers.h>' \
		'char LICENSE[] SEC("license") = "GPL";' \
		'SEC("xdp.frags") int frags_prog(struct xdp_md *c) { return XDP_PASS; }' \
		>"$TMPD/frags.bpf.c"
	clang -O2 -g -target bpf -I"/usr/include/$(gcc -print-multiarch)" \
		-c "$TMPD/frags.bpf.c" -o "$obj" &&
		ns_veth "$RTR" fr0 fr1 &&
		bpftool prog load "$obj" "$XPIN/frags" type xdp &&
		in_ns "$RTR" bpftool net attach xdpgeneric pinned "$XPIN/frags" dev fr0 ||
		{ fail "refused: setup" "cannot put a multi-buffer program on fr0"; return; }
	ctl attach fr0 >"$TMPD/out" 2>"$TMPD/err"
	check_eq "refused: attach over a multi-buffer program: exit 1" 1 $?
	check "refused: one line naming the program, the device, and --force" \
		"said: $(cat "$TMPD/err")" \
		grep -q "^op25bctl: cannot chain XDP program 'frags_prog' on 'fr0': .*multi-buffer.*--force" "$TMPD/err"
	check_eq "refused: ...one line" 1 "$(wc -l <"$TMPD/err")"
	check_eq "refused: fr0 keeps its program" "frags_prog" \
		"$(ip -n "$RTR" link show dev fr0 | sed -n 's/.* name \([^ ]*\) .*/\1/p')"
	check "refused: no record of fr0" "saw: $(ctl status)" not grep -q " fr0 " <(ctl status)
	check_eq "refused: the chain slot is empty" "[]" \
		"$(bpftool map dump pinned "$PIN/chain" 2>&1 | tr -d ' \n')"
	ctl -q attach fr0 --force
	check_eq "refused: with --force op25b replaces it" "op25b_xdp" \
		"$(ip -n "$RTR" link show dev fr0 | sed -n 's/.* name \([^ ]*\) .*/\1/p')"
	ctl -q detach fr0
}

# A layout 4 pin dir made by the op25b before chained mode (no chain array
# pinned): read as it is; the next attach, in place under a SYN flood,
# lets no SYN to 25 through and adds the array; chaining works there after.
test_layout4() {
	local old=$TMPD/l4 st
	once share_setup
	mkdir -p "$old" &&
		git -C "$LIB_DIR/.." archive "$BEFORE_CHAIN" | tar -x -C "$old" &&
		make -s -C "$old" build/op25bctl >"$TMPD/l4.log" 2>&1 ||
		{ fail "layout 4: build op25b $BEFORE_CHAIN" "$(tail -n 3 "$TMPD/l4.log")"; return; }
	xf unload r0 >/dev/null 2>&1
	PIN=$PINC
	in_ns "$RTR" "$old/build/op25bctl" --pin-dir "$PIN" -q deny subscriber 10.40.0.0/24 &&
		in_ns "$RTR" "$old/build/op25bctl" --pin-dir "$PIN" -q attach r0 ||
		{ fail "layout 4: the old op25b attaches" "failed"; PIN=$PINA; xf_load; return; }
	check "layout 4: the old op25b pinned no chain array" "it did" \
		test ! -e "$PIN/chain"
	check "layout 4: nor root table records" "it did" \
		test ! -e "$PIN/rootsync"
	ctl -q deny subscriber 10.43.0.0/24
	check_eq "layout 4: this op25bctl changes it, copying whole root tables" \
		"blocked" "$(ctl -q test 10.43.0.9 198.51.100.25 >/dev/null 2>&1; [ $? = 3 ] && echo blocked)"
	st=$(ctl status 2>&1 | grep ' r0 ')
	check "layout 4: this op25bctl reads it (r0 alone, attached)" "saw: $st" \
		grep -q ", alone, file, attached" <<<"$st"
	run_flood "layout 4: attach in place" ctl -q attach r0 ||
		{ ctl -q detach r0; PIN=$PINA; xf_load; return; }
	check_eq "layout 4: no SYN to 25 through while this op25b replaced the old" 0 "${SEEN25:-none}"
	check "layout 4: markers to 587 arrived meanwhile (${SEEN587:-0})" \
		"saw ${SEEN587:-none}" [ "${SEEN587:-0}" -gt 0 ]
	check "layout 4: the chain array is pinned now" "absent" test -e "$PIN/chain"
	check "layout 4: and the root table records" "absent" test -e "$PIN/rootsync"
	ctl -q del subscriber 10.43.0.0/24
	check_eq "layout 4: a change after, through the records: the delete holds" \
		"passes" "$(ctl -q test 10.43.0.9 198.51.100.25 >/dev/null 2>&1; [ $? = 3 ] && echo blocked || echo passes)"
	check_eq "layout 4: ...and the earlier deny of the tree stays" \
		"blocked" "$(ctl -q test 10.40.0.9 198.51.100.25 >/dev/null 2>&1; [ $? = 3 ] && echo blocked)"
	ctl -q detach r0
	xf_load
	attach_chained "layout 4, upgraded" && both_work "layout 4, upgraded"
	ctl -q detach r0
	PIN=$PINA
}

# libxdp's dispatcher: where the kernel refuses freplace programs (as
# here), op25b says so and chains; the test is a reported skip. Where it
# allows them, the dispatcher tests below run (dispatcher_tests).
test_dispatcher() {
	local allows reason libxdp obj
	once share_setup
	allows=$(ctl -j status | jget kernel_allows)
	reason=$(ctl -j status | jget reason)
	obj=$(dpkg -L libxdp1 2>/dev/null | grep -m1 '/xdpfilt_alw_all\.o$')
	if [ -n "$obj" ]; then
		libxdp=$(xdpt xdp-loader load -v -m skb r1 "$obj" 2>&1)
		xdpt xdp-loader unload r1 --all >/dev/null 2>&1
		if grep -q "Compatibility check for dispatcher program failed" <<<"$libxdp"; then
			check_eq "op25b's probe of freplace agrees with libxdp's (refused)" false "$allows"
		else
			check_eq "op25b's probe of freplace agrees with libxdp's (allowed)" true "$allows"
		fi
	fi
	case $allows in
	false)
		skip_reported "dispatcher" "libxdp's dispatcher cannot run on this kernel, op25b says: $(tr -d '"' <<<"$reason"); chained mode is tested instead" ;;
	true)
		dispatcher_tests ;;
	*)
		fail "dispatcher" "status -j says nothing of it: '$allows'" ;;
	esac
}

# dctl ARGS...: op25bctl with libxdp's pins where xdp-tools keep theirs
# here (XPIN, xdpt): a dispatcher's programs are found through them.
dctl() {
	LIBXDP_BPFFS=$XPIN ctl "$@"
}

# The programs of r0's dispatcher, in the order it runs them: "PRIO NAME"
# lines (xdp-loader status).
dispatched() {
	xdpt xdp-loader status r0 2>&1 | sed -n 's/^ *=> *\([0-9]*\) *\([^ ]*\) .*/\1 \2/p'
}

# xf_dispatched: xdp-filter on r0 again, through libxdp's dispatcher.
xf_dispatched() {
	xf unload r0 >/dev/null 2>&1
	xf load r0 >"$TMPD/xf" 2>&1 ||
		{ fail "dispatcher: xdp-filter loads through libxdp" "$(tail -n 1 "$TMPD/xf")"; return 1; }
	xf port 9 -p udp >/dev/null 2>&1
	xf port 587 -p tcp >/dev/null 2>&1
	check "dispatcher: r0 runs libxdp's dispatcher, xdp-filter in it" \
		"saw: $(xdp_on_r0) / $(dispatched | tr '\n' ' ')" \
		test "$(xdp_on_r0 | cut -d' ' -f2)" = xdp_dispatcher -a \
		"$(dispatched | grep -c ' xdpfilt_')" = 1
}

# attach_dispatched LABEL: attach r0 into the dispatcher, first, checked.
attach_dispatched() {
	attach_says "$1" dctl "dispatcher (before 1 other programs)" || return 1
	check "$1: op25b runs first in r0's dispatcher, xdp-filter after it" \
		"saw: $(dispatched | tr '\n' ' ')" \
		test "$(dispatched | cut -d' ' -f2 | tr '\n' ' ')" = "op25b_xdp $(dispatched | sed -n '2s/.* //p') " -a \
		"$(dispatched | wc -l)" = 2 -a -n "$(dispatched | sed -n '2s/.* xdpfilt_/x/p')"
}

# Where the kernel allows freplace: the chained tests' checks, in
# dispatcher mode.
dispatcher_tests() {
	local before after st
	xf_dispatched || { xf_load; return; }
	dctl attach r0 >"$TMPD/att" 2>&1
	check_eq "dispatcher: attach r0 into xdp-filter's dispatcher: exit 0" 0 $?
	check "dispatcher: attach says it joined the dispatcher, first" \
		"said: $(cat "$TMPD/att")" grep -q "joined the XDP dispatcher on r0: op25b runs first" "$TMPD/att"
	check_eq "dispatcher: status -j sharing" '"dispatcher"' "$(dctl -j status | jget attachments | jget sharing)"
	check "dispatcher: status -v says the kernel allows it, and it is used" \
		"saw: $(dctl -v status 2>/dev/null | grep 'xdp sharing') $(dctl -j status | jget xdp_dispatcher)" \
		test "$(dctl -j status | jget xdp_dispatcher | jget used)" = true
	dctl -q detach r0
	attach_dispatched "dispatcher" || { xf_load; return; }
	both_work "dispatcher"
	xf port 11 -p udp >/dev/null
	check "dispatcher: xdp-filter's own ports still change what it does (udp/11 dropped)" \
		"arrived" not udp_arrives 11
	xf port 11 -p udp --remove >/dev/null

	# save and apply's attach sync: what save wrote holds, nothing to do
	before=$(dctl -j status | jget attachments | jget prog_id)
	dctl save "$TMPD/saved.conf"
	check "dispatcher: save writes the attachment" "saw: $(grep attach "$TMPD/saved.conf")" \
		grep -q "^attach r0 --hook xdp" "$TMPD/saved.conf"
	dctl apply --dry-run "$TMPD/saved.conf" >"$TMPD/out" 2>&1
	check_eq "dispatcher: a dry run of what save wrote prints nothing" "" "$(cat "$TMPD/out")"
	dctl -q apply "$TMPD/saved.conf"
	check_eq "dispatcher: apply of it leaves op25b's program in place" "$before" \
		"$(dctl -j status | jget attachments | jget prog_id)"

	# zero-gap replace: a new op25b joins before the old one leaves
	before=$(dctl -j status | jget attachments | jget prog_id)
	run_flood "dispatcher re-attach" reattach dctl || { dctl -q detach r0; xf_load; return; }
	after=$(dctl -j status | jget attachments | jget prog_id)
	check "dispatcher re-attach: op25b's program was replaced ($before -> $after)" \
		"same program" [ "$before" != "$after" ]
	check_eq "dispatcher re-attach: no SYN to 25 got through (op25b never off)" 0 "${SEEN25:-none}"
	check_eq "dispatcher re-attach: no SYN to 587 got through (xdp-filter never off)" 0 "${SEEN587:-none}"
	check_eq "dispatcher re-attach: one op25b left in the dispatcher, first" \
		"op25b_xdp 1" "$(dispatched | sed -n '1s/.* //p') $(dispatched | grep -c ' op25b_xdp')"

	# detach: op25b alone taken out, xdp-filter left running
	dctl detach r0 >"$TMPD/det" 2>&1
	check_eq "dispatcher: detach r0: exit 0" 0 $?
	check "dispatcher: after detach r0's dispatcher runs xdp-filter alone" \
		"saw: $(xdp_on_r0) / $(dispatched | tr '\n' ' ')" \
		test "$(dispatched | wc -l)" = 1 -a -n "$(dispatched | sed -n '1s/.* xdpfilt_/x/p')"
	both_alone_after "dispatcher"
	check "dispatcher: after detach xdp-filter says it is loaded on r0" \
		"saw: $(xf status 2>&1 | tr '\n' ' ')" grep -q "r0 " <(xf status 2>&1)

	# orphan: an op25b no record of this pin dir names, in the dispatcher
	attach_dispatched "dispatcher orphan" || { xf_load; return; }
	# another pin dir's attach is refused, pointing at the detach that
	# belongs to that pin dir, never at --force (which would replace the
	# dispatcher and xdp-filter with it); the dispatcher is left as it was
	before=$(dispatched)
	PIN=$PINB dctl attach r0 >"$TMPD/other" 2>&1
	check_eq "dispatcher: another pin dir's attach: exit 1, one line" "1 1" \
		"$? $(wc -l <"$TMPD/other")"
	check "dispatcher: ...names the pin dir and its detach, not --force" \
		"saw: $(cat "$TMPD/other")" \
		bash -c 'grep -qF "in its XDP dispatcher" "$1" && grep -qF -- "--pin-dir $2 detach r0" "$1" && ! grep -q "use --force" "$1"' _ "$TMPD/other" "$PINA"
	check_eq "dispatcher: ...and the dispatcher runs what it ran" "$before" "$(dispatched)"
	orphan_seen "dispatcher orphan: " dctl "dispatcher (before 1 other programs)" dispatcher
	check "dispatcher orphan: ...takes op25b out, xdp-filter left in the dispatcher" \
		"saw: $(dispatched | tr '\n' ' ')" \
		test "$(dispatched | wc -l)" = 1 -a -n "$(dispatched | sed -n '1s/.* xdpfilt_/x/p')"
	check "dispatcher orphan: the first pin dir's record: not attached" \
		"saw: $(dctl status)" grep -q "r0 .*, dispatcher, file, not attached" <(dctl status)
	dctl -q detach r0
	both_alone_after "dispatcher orphan"

	# xdp-filter unloaded behind op25b: op25b keeps its place, alone
	attach_dispatched "dispatcher, xdp-filter leaves" || { xf_load; return; }
	xf unload r0 >/dev/null 2>&1
	expect_blocked "dispatcher, xdp-filter left: tcp/25 still blocked" "$SUB" $SRC $MX 25
	dctl detach r0 >"$TMPD/det" 2>&1
	check_eq "dispatcher, xdp-filter left: detach r0: exit 0" 0 $?
	check_eq "dispatcher, xdp-filter left: r0 without XDP after" "" "$(xdp_on_r0)"
	xf_load
}

run_tests "$@"
