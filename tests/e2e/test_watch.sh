#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# op25bctl watch under churn: 500 TUN and veth devices made and deleted in
# bursts while it runs, in a namespace of their own. Every device that
# lived until watch could see it is attached; once they are gone no
# attachment record, program or qdisc is left behind. A netlink buffer
# made tiny on purpose overruns, and a full dump still finds every device.
# SIGTERM leaves the attachments in place. Bad patterns are refused.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

suite_begin nsenter tun
make_pin_dir watch

ns_names watch NS
BURSTS=10
PER_BURST=50

ctl() {
	"$CTL" -n "$NS" --pin-dir "$PIN" "$@"
}

# The op25b programs loaded on this suite's maps (their map ids hold our
# pinned policy's): never every op25b program of the host, which other
# instances load and unload meanwhile. 0 while the policy is not pinned.
op25b_progs() {
	local id
	id=$(bpftool -j map show pinned "$PIN/policy" 2>/dev/null |
		"$PY" -c 'import json, sys; print(json.load(sys.stdin)["id"])' 2>/dev/null) ||
		{ echo 0; return; }
	bpftool -j prog show 2>/dev/null | "$PY" -c '
import json, sys
mine = int(sys.argv[1])
print(sum(1 for p in json.load(sys.stdin)
          if p.get("name") in ("op25b_xdp", "op25b_xdp_ch", "op25b_tc") and
          mine in p.get("map_ids", [])))' "$id"
}

# attached NAME...: status lists every NAME as attached.
attached_all() {
	local st n
	st=$(ctl -j status 2>/dev/null) || return 1
	for n in "$@"; do
		echo "$st" | "$PY" -c '
import json, sys
n = sys.argv[1]
d = json.load(sys.stdin)
sys.exit(0 if any(a.get("ifname") == n and a.get("attached") for a in d.get("attachments", [])) else 1)
' "$n" || return 1
	done
}

records() {
	ctl -j status 2>/dev/null | "$PY" -c '
import json, sys
print(len(json.load(sys.stdin).get("attachments", [])))'
}

start_watch() {
	# the process itself, not a subshell: $! is what SIGTERM must reach
	"$CTL" -n "$NS" --pin-dir "$PIN" "$@" >"$TMPD/watch.out" 2>"$TMPD/watch.err" &
	WATCH=$!
	CLEAN_PIDS+=($WATCH)
	wait_file_line "$TMPD/watch.out" watching 50
}

stop_watch() {
	kill -TERM "$WATCH" 2>/dev/null
	wait "$WATCH"
	WATCH_RC=$?
}

ns_create "$NS" || die "netns" "cannot add $NS"
PROGS0=$(op25b_progs)

test_churn() {
	local b i names=() lived=0 missing=0 batch
	start_watch watch 'o25w*' || { fail "watch starts" "$(cat "$TMPD/watch.err")"; return; }
	for ((b = 0; b < BURSTS; b++)); do
		names=()
		batch=$TMPD/add.$b
		: >"$batch"
		for ((i = 0; i < PER_BURST; i++)); do
			if ((i % 2)); then
				echo "tuntap add dev o25wt$b-$i mode tun" >>"$batch"
				names+=("o25wt$b-$i")
			else
				echo "link add o25wv$b-$i type veth peer name o25p$b-$i" >>"$batch"
				names+=("o25wv$b-$i")
			fi
		done
		ip -n "$NS" -batch "$batch" || fail "churn: burst $b" "ip -batch failed"
		if wait_for 30 attached_all "${names[@]}"; then
			lived=$((lived + ${#names[@]}))
		else
			missing=$((missing + 1))
		fi
		sed 's/^tuntap add dev \([^ ]*\) mode tun/link del \1/; s/^link add \([^ ]*\) type veth.*/link del \1/' \
			"$batch" | ip -n "$NS" -batch -
	done
	check_eq "churn: all $((BURSTS * PER_BURST)) devices that lived were attached" \
		"$((BURSTS * PER_BURST)) 0" "$lived $missing"
	check "churn: after they went, no attachment record is left" "$(ctl status 2>&1 | tail -3)" \
		wait_for 30 eval '[ "$(records)" = 0 ]'
	check "churn: the log has one line per change" "$(tail -c 300 "$TMPD/watch.out")" \
		eval '[ "$(grep -c "^attached o25w" "$TMPD/watch.out")" -eq $((BURSTS * PER_BURST)) ] &&
		      [ "$(grep -c "^forgotten o25w" "$TMPD/watch.out")" -eq $((BURSTS * PER_BURST)) ]'
	stop_watch
	check_eq "churn: SIGTERM: exit 0" 0 "$WATCH_RC"
	check_eq "churn: no op25b program left loaded" "$PROGS0" "$(op25b_progs)"
	check "churn: no qdisc or filter left in the namespace" \
		"$(ip -n "$NS" link show | head -c 300)" \
		eval '! ip -n "$NS" link show | grep -q o25w'
}

# A socket buffer too small for a burst: the kernel drops events, watch
# takes a full dump and still attaches every device.
test_overrun() {
	local i names=() batch=$TMPD/over
	OP25B_WATCH_RCVBUF=2048 start_watch watch 'o25x*' ||
		{ fail "overrun: watch starts" "$(cat "$TMPD/watch.err")"; return; }
	: >"$batch"
	for ((i = 0; i < 200; i++)); do
		echo "tuntap add dev o25x$i mode tun" >>"$batch"
		names+=("o25x$i")
	done
	ip -n "$NS" -batch "$batch"
	check "overrun: every one of 200 devices attached" "$(grep -c ^attached "$TMPD/watch.out") attached; $(grep -v ^attached "$TMPD/watch.out" | tail -c 300 | tr "\n" "|"); $(tail -c 300 "$TMPD/watch.err")" \
		wait_for 60 attached_all "${names[@]}"
	check "overrun: watch said it resynchronised" "$(grep -c resync "$TMPD/watch.out") resyncs" \
		grep -q "^resync" "$TMPD/watch.out"
	# SIGTERM leaves them attached
	stop_watch
	check "overrun: after SIGTERM the attachments stay" "" attached_all o25x0 o25x199
	sed 's/^tuntap add dev \([^ ]*\) mode tun/link del \1/' "$batch" | ip -n "$NS" -batch -
	ctl -q detach --all
	check_eq "overrun: nothing left after detach --all" 0 "$(records)"
}

# -j: one JSON object a line, an event each.
test_json() {
	start_watch -j watch 'o25j*' || { fail "json: watch starts" "$(cat "$TMPD/watch.err")"; return; }
	ip -n "$NS" tuntap add dev o25j0 mode tun
	wait_for 10 grep -q '"event":"attached"' "$TMPD/watch.out"
	ip -n "$NS" link del o25j0
	wait_for 10 grep -q '"event":"forgotten"' "$TMPD/watch.out"
	stop_watch
	check "json: every line an object, events watching, attached, forgotten" \
		"$(head -c 300 "$TMPD/watch.out")" "$PY" -c '
import json, sys
ev = [json.loads(l)["event"] for l in open(sys.argv[1]) if l.strip()]
sys.exit(0 if ev == ["watching", "attached", "forgotten"] else 1)' "$TMPD/watch.out"
	check "json: the attached line names the interface and its index" \
		"$(grep attached "$TMPD/watch.out")" \
		grep -q '"event":"attached","interface":"o25j0","ifindex":[0-9]' "$TMPD/watch.out"
}

test_bad_input() {
	local p rc
	for p in 'ppp[' 'ppp]x' "$(printf 'a\tb')" "$(head -c 65 /dev/zero | tr '\0' a)" '' 'x/y'; do
		ctl watch "$p" >"$TMPD/out" 2>"$TMPD/err"
		check "bad pattern '$p': exit 2, one line" "exit $?: $(cat "$TMPD/err")" \
			eval '[ "$(wc -l <"$TMPD/err")" = 1 ] && grep -q "bad pattern\|missing PATTERN" "$TMPD/err" && [ ! -s "$TMPD/out" ]'
	done
	ctl watch o25w --hook frob >"$TMPD/out" 2>"$TMPD/err"
	check_eq "bad attach option: exit 2" 2 $?
	# a pattern that matches nothing waits, and is stopped cleanly
	start_watch watch 'nothing-matches*' || fail "no match: watch starts" "$(cat "$TMPD/watch.err")"
	sleep 1
	check "a pattern that matches nothing: watch still runs" "" kill -0 "$WATCH"
	stop_watch
	check_eq "...and SIGTERM ends it with exit 0" 0 "$WATCH_RC"
	# the config's watch statements
	printf 'deny subscriber 10.0.0.0/8\nwatch o25c* --hook tc\n' >"$TMPD/op25b.conf"
	printf 'watch o25c[\n' >"$TMPD/bad.conf"
	ctl watch --config "$TMPD/bad.conf" >"$TMPD/out" 2>"$TMPD/err"
	rc=$?
	check "watch --config with a bad pattern: exit 2, FILE:LINE" "exit $rc: $(cat "$TMPD/err")" \
		eval '[ $rc -eq 2 ] && grep -q "bad.conf:1: watch: bad pattern" "$TMPD/err"'
	ctl -q apply "$TMPD/op25b.conf" 2>"$TMPD/err"
	check_eq "apply takes a file with watch statements" 0 $?
	start_watch watch --config "$TMPD/op25b.conf" ||
		fail "watch --config starts" "$(cat "$TMPD/watch.err")"
	ip -n "$NS" tuntap add dev o25c0 mode tun
	check "watch --config: o25c0 attached with --hook tc" "$(ctl status | tail -2)" \
		eval 'wait_for 10 attached_all o25c0 && ctl status | grep -q "o25c0.*tc ingress"'
	stop_watch
	ip -n "$NS" link del o25c0
	ctl -q detach --all
}

run_tests "$@"
