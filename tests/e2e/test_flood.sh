#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The blocked path under a live flood (doc/DESIGN.md, "Datapath"). make
# bench's generator (BPF_F_TEST_XDP_LIVE_FRAMES, tests/bench/flood.c)
# sends SYNs to 25 from 2,560,000 sources inside 10,000 denied /24s, from
# both CPUs, into a veth where op25b runs on XDP. Past 8192 blocked packets
# a second on a CPU the offenders table is sampled; what must stay exact
# stays exact: every frame op25b judged is counted smtp and blocked, the
# rules' hits add up to blocked, events stay within the per-CPU budget and
# the rest are counted suppressed; top marks its counts as estimates. Only
# what was sent and counted is compared: no rate is asserted (make bench
# measures those).
#
# Usage: test_flood.sh [TEST...]   (default: every test_* function, in order)
set -u
. "$(dirname "$0")/../lib.sh"

ns_names flood NS
SOURCES=2560000		# every address of the 10,000 /24s
SECS=1

suite_begin nsenter
make_pin_dir flood
[ -x "$BUILD/flood" ] || skip_suite "$BUILD/flood not built"

ctl() {
	in_ns "$NS" "$CTL" --pin-dir "$PIN" "$@"
}

# flood_setup: one namespace, a veth of two queues a side (fa sends, fb
# receives), 10.0.0.0/24 ... 10.39.15.0/24 denied, op25b on fb.
flood_setup() {
	ns_create "$NS" &&
		ip -n "$NS" link add fa numtxqueues 2 numrxqueues 2 type veth \
			peer name fb numtxqueues 2 numrxqueues 2 &&
		ip -n "$NS" link set fa up && ip -n "$NS" link set fb up ||
		die "topology" "cannot make the veth"
	"$PY" -c '
for i in range(10000):
    print("10.%d.%d.0/24" % (i >> 8, i & 255))' >"$TMPD/pools"
	ctl -q deny subscriber -f "$TMPD/pools" &&
		ctl -q attach fb --hook xdp --xdp-mode native ||
		die "policy" "cannot deny the pools or attach"
}

# counters: 'stats -j' and the sum of the subscriber rules' hits, as one
# JSON object.
counters() {
	{ ctl -j stats; ctl -j list subscriber; } | "$PY" -c '
import json, sys
dec = json.JSONDecoder()
text = sys.stdin.read()
st, end = dec.raw_decode(text)
rules, _ = dec.raw_decode(text[end:].lstrip())
st["hits"] = sum(r["hits"] for r in rules)
print(json.dumps(st))'
}

# moved BEFORE AFTER NAME: how much counter NAME rose.
moved() {
	echo $(($(jget "$3" <<<"$2") - $(jget "$3" <<<"$1")))
}

test_flood_counts_exact() {
	local before after out sent smtp blocked notsub supp lost hits events cap mpid
	once flood_setup || return
	# a reader of the event log, so that only the budget bounds events;
	# started as itself (no namespace needed), so that $! is its pid
	"$CTL" --pin-dir "$PIN" -j monitor >"$TMPD/events" 2>"$TMPD/monitor.err" &
	mpid=$!
	CLEAN_PIDS+=($mpid)
	# and one that is stopped while the flood lasts: it falls behind
	"$CTL" --pin-dir "$PIN" -j monitor >"$TMPD/events2" 2>"$TMPD/monitor2.err" &
	spid=$!
	CLEAN_PIDS+=($spid)
	sleep 0.5
	kill -STOP "$spid"
	before=$(counters)
	out=$("$BUILD/flood" "$NS" fa fb $SOURCES 2 $SECS "$PIN/stats") ||
		{ fail "flood ran" "$out"; return; }
	after=$(counters)
	sleep 2		# the stopped reader: more than a region behind
	kill -CONT "$spid"
	sleep 1		# for the readers to read the last of the log
	kill "$mpid" "$spid"
	wait "$mpid" "$spid" 2>/dev/null
	sent=$(awk '{ print $6 }' <<<"$out")
	smtp=$(moved "$before" "$after" smtp)
	blocked=$(moved "$before" "$after" blocked)
	notsub=$(moved "$before" "$after" not_subscriber)
	supp=$(moved "$before" "$after" events_suppressed)
	lost=$(moved "$before" "$after" events_lost)
	hits=$(moved "$before" "$after" hits)
	# far more than the exact part of a window, or nothing was sampled
	check "flood: past the exact part on both CPUs" "$blocked blocked" \
		test "$blocked" -gt $((2 * 8192 * 4))
	check "flood: no more judged than sent" "$blocked of $sent" \
		test "$blocked" -le "$sent"
	check_eq "flood: every judged frame was a blocked SYN to 25" \
		"$blocked 0" "$smtp $notsub"
	check_eq "flood: the rules' hits add up to blocked" "$blocked" "$hits"
	# what was neither suppressed nor lost went out as an event: within
	# the budget, 1000 a second per CPU, for each window the run touched
	events=$((blocked - supp - lost))
	cap=$((1000 * 2 * (SECS + 2)))
	check_eq "flood: the reader kept up, no event lost" 0 "$lost"
	check "flood: events within the budget of $cap" "$events events" \
		test "$events" -gt 0 -a "$events" -le "$cap"
	check_eq "flood: monitor printed every event sent" "$events" \
		"$(grep -c '"event":"blocked"' "$TMPD/events")"
	check_eq "flood: monitor lost none" 0 \
		"$(grep -c '"event":"lost"' "$TMPD/events")"
	# the stopped one: what it printed and what it says it lost add up
	# to every event, and its summary says the same
	check "flood: a monitor stopped during the flood printed or counted lost every event, and says so ($(tr -d '\n' <"$TMPD/monitor2.err"))" \
		"$(grep -c '"event":"blocked"' "$TMPD/events2") printed, lost lines: $(grep '"event":"lost"' "$TMPD/events2" | head -3), summary: $(cat "$TMPD/monitor2.err")" \
		"$PY" -c '
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
printed = sum(1 for o in objs if o["event"] == "blocked")
lost = sum(o["lost"] for o in objs if o["event"] == "lost")
summary = open(sys.argv[2]).read().strip()
sys.exit(0 if printed + lost == int(sys.argv[3]) and
         summary == "monitor: %d events, %d lost" % (printed, lost) else 1)
' "$TMPD/events2" "$TMPD/monitor2.err" "$events"
}

test_flood_top_estimates() {
	local est
	once flood_setup || return
	"$BUILD/flood" "$NS" fa fb $SOURCES 2 $SECS "$PIN/stats" >/dev/null ||
		{ fail "flood ran" "generator failed"; return; }
	est=$(ctl -j top -n 65536 | "$PY" -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r.get("estimated")))')
	check "top: sampled sources marked estimated" "$est of them" \
		test "$est" -gt 0
	ctl top >"$TMPD/top"
	check "top: the text marks them with ~" "$(head -3 "$TMPD/top")" \
		grep -q '~' "$TMPD/top"
}

run_tests "$@"
