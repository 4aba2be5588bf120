#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The policy engine through op25bctl, as a hostile operator uses it: large
# batches killed at random moments, readers running during writers, and the
# capacity limit (doc/DESIGN.md, "Policy engine").
#
# Usage: test_policy.sh [TEST...]   (default: every test_* function)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

suite_begin

# ctl PIN ARGS...: op25bctl on a pin dir of this suite.
ctl() {
	local pin=$1
	shift
	"$CTL" --pin-dir "$pin" "$@"
}

# count PIN TABLE: prefixes 'list -j' shows, "dup" when one shows twice.
count() {
	ctl "$1" -j list "$2" | $PY -c '
import json, sys
rows = json.load(sys.stdin)
keys = [(r["table"], r["prefix"]) for r in rows]
print("dup" if len(set(keys)) != len(keys) else len(keys))'
}

# status_count PIN: subscriber prefixes as status counts them.
status_count() {
	ctl "$1" -j status | $PY -c '
import json, sys
t = json.load(sys.stdin)["tables"]
print(t["subscriber4"] + t["subscriber6"])'
}

# gen_prefixes N FIRST_OCTET: N distinct IPv4 /32s, one per line.
gen_prefixes() {
	$PY -c '
import sys
n, a = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
	print("%d.%d.%d.%d" % (a, i >> 16 & 255, i >> 8 & 255, i & 255))' "$1" "$2"
}

# seed_pin NAME CAPACITY FILE LABEL: a pin dir of this suite (removed at
# exit) made with CAPACITY and holding FILE's prefixes, what a test then
# writes over; sets the caller's pin. A failure is LABEL's; returns 1.
seed_pin() {
	pin=/sys/fs/bpf/op25b-test-policy-$1-$$
	CLEAN_PATHS+=("$pin")
	ctl "$pin" -q --capacity "$2" deny subscriber -f "$3" && return 0
	fail "$4" "deny -f failed"
	return 1
}

# A deny of 130,000 prefixes killed at 20 random moments: the table is the
# one before or the one after, whole; the next command cleans up and works.
test_kill_batch() {
	local pin big=$TMPD/big base=$TMPD/base
	local i pid n before=0 after=0 bad=0 t0 t1 span us
	gen_prefixes 1000 10 >"$base"
	gen_prefixes 130000 11 >"$big"
	seed_pin kill 262144 "$base" "kill: base policy" || return
	# how long the batch takes, so the kills fall across all of it
	t0=$(date +%s%N)
	ctl "$pin" -q deny subscriber -f "$big"
	t1=$(date +%s%N)
	ctl "$pin" -q del subscriber -f "$big"
	span=$(((t1 - t0) / 1000))
	for ((i = 0; i < 20; i++)); do
		"$CTL" --pin-dir "$pin" -q deny subscriber -f "$big" &
		pid=$!
		us=$((RANDOM * 32768 + RANDOM))
		us=$((us % (span * 2 + 1)))
		sleep "$(printf '%d.%06d' $((us / 1000000)) $((us % 1000000)))"
		kill -KILL $pid 2>/dev/null
		wait $pid 2>/dev/null
		n=$(count "$pin" subscriber)
		case $n in
		1000) before=$((before + 1)) ;;
		131000) after=$((after + 1)) ;;
		*) bad=$((bad + 1))
		   fail "kill $i: table whole" "list shows $n prefixes (1000 or 131000 expected)" ;;
		esac
		[ "$(status_count "$pin")" = "$n" ] ||
			fail "kill $i: status counts what list shows" "status $(status_count "$pin"), list $n"
		# the next writer: cleans up after the dead one and works
		ctl "$pin" -q del subscriber -f "$big" 2>"$TMPD/err" ||
			fail "kill $i: next command works" "$(cat "$TMPD/err")"
		n=$(count "$pin" subscriber)
		[ "$n" = 1000 ] || fail "kill $i: back to the base" "list shows $n"
	done
	[ "$bad" -eq 0 ] && ok "kill: 20 kills of a 130,000-prefix deny left the table whole ($before before, $after after)"
	ctl "$pin" -q deny subscriber 192.0.2.0/24 &&
		check_eq "kill: a deny after the kills lands" 1001 "$(count "$pin" subscriber)"
}

# Readers during a writer: every 'list' shows the stable rows once each,
# and the churning batch all or not at all.
test_readers_during_churn() {
	local pin stable=$TMPD/stable churn=$TMPD/churn
	local wpid i n bad=0 seen_all=0 seen_none=0
	gen_prefixes 500 20 >"$stable"
	gen_prefixes 20000 21 >"$churn"
	seed_pin churn 32768 "$stable" "churn: stable policy" || return
	(
		for ((i = 0; i < 200; i++)); do
			ctl "$pin" -q deny subscriber -f "$churn" || exit 1
			ctl "$pin" -q del subscriber -f "$churn" || exit 1
		done
	) &
	wpid=$!
	for ((i = 0; i < 40; i++)); do
		ctl "$pin" -j list subscriber >"$TMPD/list" || { bad=$((bad + 1)); continue; }
		n=$($PY - "$TMPD/list" "$stable" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
keys = [r["prefix"] for r in rows]
stable = {l.strip() + "/32" for l in open(sys.argv[2])}
if len(set(keys)) != len(keys):
	print("duplicate rows")
elif not stable <= set(keys):
	print("%d stable rows missing" % len(stable - set(keys)))
elif len(keys) not in (500, 20500):
	print("%d rows: half a batch" % len(keys))
else:
	print("ok %d" % len(keys))
EOF
)
		case $n in
		"ok 500") seen_none=$((seen_none + 1)) ;;
		"ok 20500") seen_all=$((seen_all + 1)) ;;
		*) bad=$((bad + 1)); fail "churn: list $i" "$n" ;;
		esac
	done
	kill $wpid 2>/dev/null
	wait $wpid 2>/dev/null
	[ "$bad" -eq 0 ] &&
		ok "churn: 40 lists during 20,000-prefix writes: no duplicate, no stable row missing, no half batch ($seen_none without, $seen_all with)"
}

# Capacity: chosen when the maps are made, stated, and enforced whole.
test_capacity() {
	local pin=/sys/fs/bpf/op25b-test-policy-cap-$$ f=$TMPD/cap
	CLEAN_PATHS+=("$pin")
	ctl "$pin" -q --capacity 100 deny subscriber 10.0.0.0/8 ||
		fail "capacity: small maps" "deny failed"
	check_eq "capacity: status states it" 100 \
		"$(ctl "$pin" -j status | $PY -c 'import json,sys; print(json.load(sys.stdin)["tables"]["capacity"])')"
	gen_prefixes 100 30 >"$f"
	ctl "$pin" deny subscriber -f "$f" >/dev/null 2>"$TMPD/err"
	check_eq "capacity: a batch over it fails with exit 1" 1 "$?"
	check "capacity: the error says what it holds" "$(cat "$TMPD/err")" \
		grep -q "holds at most 100" "$TMPD/err"
	check_eq "capacity: nothing of the batch landed" 1 "$(count "$pin" subscriber)"
	ctl "$pin" --capacity 200 list >/dev/null 2>"$TMPD/err"
	check_eq "capacity: another --capacity on made maps is bad usage" 2 "$?"
	ctl "$pin" --capacity 5 list >/dev/null 2>"$TMPD/err"
	check_eq "capacity: below the minimum is bad usage" 2 "$?"
	check "capacity: ...naming the value" "$(cat "$TMPD/err")" grep -q "'5'" "$TMPD/err"
}

# verdict PIN SRC: what 'test' says of SRC to 198.51.100.25: blocked, or
# the exit code.
verdict() {
	ctl "$1" -q test "$2" 198.51.100.25 >/dev/null 2>&1
	case $? in
	3) echo blocked ;;
	*) echo "passes" ;;
	esac
}

# A writer copies only the root entries the last change wrote, by the
# records in the rootsync pin; a pin dir without it (made before it was)
# copies whole root tables. Both keep every change: each step below reads
# what the one before left, through a root table the change copied.
test_root_copies() {
	local with=/sys/fs/bpf/op25b-test-policy-rs-$$ without=/sys/fs/bpf/op25b-test-policy-nors-$$
	local pin what have
	CLEAN_PATHS+=("$with" "$without")
	for pin in "$with" "$without"; do
		what=with
		ctl "$pin" -q --capacity 1024 deny subscriber 10.0.0.0/8 ||
			fail "root copies: first deny" "deny failed"
		if [ "$pin" = "$without" ]; then
			what=without
			rm "$pin/rootsync"
		fi
		[ -e "$pin/rootsync" ] && have=yes || have=no
		check_eq "root copies ($what the records): the pin is as made" 			"$([ $what = with ] && echo yes || echo no)" "$have"
		ctl "$pin" -q allow relay 192.0.2.0/24 &&
			ctl "$pin" -q deny subscriber 20.0.0.0/8 &&
			ctl "$pin" -q deny subscriber 2001:db8::/32 ||
			fail "root copies ($what)" "a change failed"
		check_eq "root copies ($what the records): an earlier change of the tree stays" 			blocked "$(verdict "$pin" 10.1.2.3)"
		check_eq "root copies ($what the records): the last one holds" 			blocked "$(verdict "$pin" 20.1.2.3)"
		ctl "$pin" -q del subscriber 10.0.0.0/8 &&
			ctl "$pin" -q allow subscriber 20.1.0.0/16 ||
			fail "root copies ($what)" "a change failed"
		check_eq "root copies ($what the records): a delete holds" 			passes "$(verdict "$pin" 10.1.2.3)"
		check_eq "root copies ($what the records): an exemption holds" 			passes "$(verdict "$pin" 20.1.2.3)"
		check_eq "root copies ($what the records): the rest of the /8 stays" 			blocked "$(verdict "$pin" 20.2.2.3)"
		check_eq "root copies ($what the records): list has the 4 left" 4 \
			"$(ctl "$pin" -j list | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')"
	done
}

# mem PIN [MAP]: bytes -j status says the maps (or MAP) take.
mem() {
	ctl "$1" -j status | $PY -c '
import json, sys
m = json.load(sys.stdin)["memory"]
print(m["maps"][sys.argv[1]] if len(sys.argv) > 1 else m["bytes"])' ${2:+"$2"}
}

# entries PIN MAP: max_entries of a pinned map, as bpftool says.
entries() {
	bpftool -j map show pinned "$1/$2" | $PY -c '
import json, sys
print(json.load(sys.stdin)["max_entries"])'
}

# The maps' memory follows the capacity (doc/DESIGN.md, "Sizing"): a home
# router's 1,024 prefixes under 2 MB, the default under 16 MB, as the
# kernel counts it and as status says; the sources' tables sized by
# --offenders and --limiter, fixed when made.
test_footprint() {
	local small=/sys/fs/bpf/op25b-test-policy-fs-$$ def=/sys/fs/bpf/op25b-test-policy-fd-$$
	local own=/sys/fs/bpf/op25b-test-policy-fo-$$ f m sum ncpu grew=
	CLEAN_PATHS+=("$small" "$def" "$own")
	ctl "$small" -q --capacity 1024 deny subscriber 10.0.0.0/8 ||
		fail "footprint: capacity 1024" "deny failed"
	ctl "$def" -q deny subscriber 10.0.0.0/8 ||
		fail "footprint: default capacity" "deny failed"
	sum=0
	for f in "$small"/*; do
		[ -f "$f" ] || continue
		m=$(bpftool -j map show pinned "$f" 2>/dev/null | $PY -c '
import json, sys
print(json.load(sys.stdin)["bytes_memlock"])') && sum=$((sum + m))
	done
	check_eq "footprint: status's total is the kernel's (bpftool bytes_memlock)" \
		"$sum" "$(mem "$small")"
	check "footprint: capacity 1024 under 2 MB ($(mem "$small") bytes)" \
		"$(mem "$small")" test "$(mem "$small")" -lt 2000000
	check "footprint: default capacity under 16 MB ($(mem "$def") bytes)" \
		"$(mem "$def")" test "$(mem "$def")" -lt 16000000
	for m in roots nodes leaves rules hits index offenders limiter sessions culprits; do
		[ "$(mem "$small" "$m")" -lt "$(mem "$def" "$m")" ] || grew+="$m "
	done
	check "footprint: every map that follows the capacity is smaller at 1024" \
		"not smaller: $grew" test -z "$grew"
	ctl "$small" status | grep -q "^memory .* MB in [0-9]* maps$"
	check_eq "footprint: status prints the memory" 0 "$?"

	ncpu=$(( $(cat /sys/devices/system/cpu/possible | sed 's/.*-//') + 1 ))
	ctl "$own" -q --capacity 1024 --offenders 5000 --limiter 3000 \
		deny subscriber 10.0.0.0/8 || fail "footprint: own sizes" "deny failed"
	check_eq "footprint: --limiter 3000 makes 4096 entries (a power of two)" \
		4096 "$(entries "$own" limiter)"
	check_eq "footprint: --offenders 5000 makes 8192, shared out among $ncpu CPUs" \
		$((8192 / ncpu)) "$(entries "$own" offenders)"
	ctl "$own" --limiter 1024 list >/dev/null 2>"$TMPD/err"
	check_eq "footprint: another --limiter on made maps: exit 2" 2 "$?"
	check "footprint: ...one line naming the size they have" "$(cat "$TMPD/err")" \
		eval '[ "$(wc -l <"$TMPD/err")" = 1 ] && grep -q "limiter 4096" "$TMPD/err"'
	ctl "$own" --offenders 10 list >/dev/null 2>"$TMPD/err"
	check_eq "footprint: --offenders below 1024 is bad usage" 2 "$?"
	check "footprint: ...naming the value" "$(cat "$TMPD/err")" grep -q "'10'" "$TMPD/err"
	check_eq "footprint: the policy still holds" "10.0.0.0/8" \
		"$(ctl "$own" -j list | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["prefix"])')"
}

run_tests "$@"
