#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The policy of record: op25b.conf applied whole or not at all, saved so
# that applying it changes nothing, killed at random moments, switched back
# and forth under traffic, from another network namespace, and against
# pinned state of another layout (doc/DESIGN.md, "Control plane").
#
# Usage: test_apply.sh [TEST...]   (default: every test_* function)
# APPLY_FLIPS (default 20): back-and-forth applies under traffic.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

suite_begin bpftool
APPLY_FLIPS=${APPLY_FLIPS:-20}
ENGINE=$BUILD/test_engine

# new_pin NAME: a fresh pin dir of this suite, removed at exit. Sets PIN.
new_pin() {
	fresh_pin apply-$1
}

ctl() {
	"$CTL" --pin-dir "$PIN" "$@"
}

# ns_test_begin TAG NS LABEL A B: a fresh pin dir (apply-TAG) and directory
# ($TMPD/t_TAG), and namespace NS with a veth pair A-B, up; false, a
# failure of LABEL's, when NS cannot be made.
ns_test_begin() {
	new_pin "$1"
	mkdir -p "$TMPD/t_$1"
	ns_create "$2" || { fail "$3: namespace" "ip netns add failed"; return 1; }
	ns_veth "$2" "$4" "$5"
	return 0
}

# What a command changed: the policy as save writes it and bpftool sees it.
state() {
	ctl save 2>&1
	bpftool map dump pinned "$PIN/policy" 2>&1 | grep -v '"live"'
}

test_roundtrip() {
	local d=$TMPD/t_rt
	new_pin rt
	mkdir -p "$d"
	cat >"$d/pools.conf" <<'EOF'
deny subscriber 10.0.0.0/8 2001:db8::/32	# pools
EOF
	cat >"$d/op25b.conf" <<'EOF'
# the policy of record
action reject
port 25 2525
include pools.conf
allow subscriber 10.1.2.3 10.1.2.4
allow relay 198.51.100.25 2001:db8:25::/64
deny relay 198.51.100.26
EOF
	ctl apply "$d/op25b.conf" 2>"$TMPD/err"
	check_eq "roundtrip: apply exits 0" 0 $?
	check "roundtrip: one summary line" "$(cat "$TMPD/err")" \
		grep -q "7 prefixes added" "$TMPD/err"
	check_eq "roundtrip: action from the file" reject "$(ctl action)"
	check_eq "roundtrip: ports from the file" "25 2525" \
		"$(ctl -j port list | $PY -c 'import json,sys; print(" ".join(map(str, json.load(sys.stdin))))')"
	ctl test 10.9.9.9 203.0.113.1 >/dev/null
	check_eq "roundtrip: the included pool is enforced" 3 $?
	ctl test 10.1.2.3 203.0.113.1 >/dev/null
	check_eq "roundtrip: the exemption holds" 0 $?
	ctl save "$d/saved.conf"
	check_eq "roundtrip: save exits 0" 0 $?
	ctl apply --dry-run "$d/saved.conf" >"$TMPD/out" 2>&1
	check_eq "roundtrip: dry run of what save wrote prints nothing" "" "$(cat "$TMPD/out")"
	local gen0 gen1
	gen0=$(ctl -j status | $PY -c 'import json,sys; print(json.load(sys.stdin)["tables"]["generation"])')
	ctl -q apply "$d/saved.conf"
	gen1=$(ctl -j status | $PY -c 'import json,sys; print(json.load(sys.stdin)["tables"]["generation"])')
	check_eq "roundtrip: applying what save wrote publishes nothing" "$gen0" "$gen1"
	ctl save >"$d/saved2.conf"
	check "roundtrip: save is canonical (twice the same)" "differs" \
		cmp -s "$d/saved.conf" "$d/saved2.conf"
	# a file that leaves a statement out means its default
	printf 'deny subscriber 192.0.2.0/24\n' >"$d/small.conf"
	ctl apply --dry-run "$d/small.conf" >"$TMPD/out"
	check "roundtrip: dry run lists removals, additions, port and action" "$(cat "$TMPD/out")" \
		eval 'grep -q "^- deny subscriber 10.0.0.0/8" "$TMPD/out" &&
		      grep -q "^+ deny subscriber 192.0.2.0/24" "$TMPD/out" &&
		      grep -q "^~ port 25 (was 25 2525)" "$TMPD/out" &&
		      grep -q "^~ action drop (was reject)" "$TMPD/out"'
	check_eq "roundtrip: dry run changed nothing" reject "$(ctl action)"
	ctl -q apply "$d/small.conf"
	check_eq "roundtrip: apply replaces the whole policy" \
		"deny subscriber 192.0.2.0/24" "$(ctl save | grep -v '^#' | grep -v '^action\|^port')"
	check_eq "roundtrip: ...and the action left out is the default" drop "$(ctl action)"
	printf 'deny subscriber 10.0.0.0/8\n' | ctl -q apply -
	check_eq "roundtrip: apply - reads stdin" 3 "$(ctl test 10.2.3.4 1.1.1.1 >/dev/null; echo $?)"
}

# One bad file: every error, FILE:LINE each, exit 2, nothing changed.
test_errors() {
	local d=$TMPD/t_err before
	new_pin err
	mkdir -p "$d"
	printf 'deny subscriber 10.0.0.0/8\n' >"$d/good.conf"
	ctl -q apply "$d/good.conf"
	before=$(state)
	printf 'include b.conf\n' >"$d/a.conf"
	printf 'include a.conf\n' >"$d/b.conf"
	{
		printf 'deny subscriber 10.9.0.0/16\n'
		printf 'bogus statement\n'
		printf 'allow relay 1.2.3.4/33\n'
		printf 'deny subscriber ::ffff:192.0.2.7\n'
		printf 'include missing.conf\n'
		printf 'include a.conf\n'
		printf 'attach bad/if0\n'
		printf 'action drop\n'
		printf 'action reject\n'
		printf 'port 0\n'
		printf 'allow subscriber 10.9.0.0/16\n'
		printf 'deny subscriber 10.8.0.0/16 \033[31m\n'
		printf 'deny relay %s\n' "$(head -c 9000 /dev/zero | tr '\0' x)"
	} >"$d/bad.conf"
	ctl apply "$d/bad.conf" >"$TMPD/out" 2>"$TMPD/err"
	check_eq "errors: exit 2" 2 $?
	check_eq "errors: nothing on stdout" "" "$(cat "$TMPD/out")"
	local want line
	for want in "bad.conf:2: unknown statement 'bogus'" \
		"bad.conf:3: bad prefix '1.2.3.4/33'" \
		"bad.conf:4: bad prefix '::ffff:192.0.2.7': an IPv4-mapped" \
		"bad.conf:5: cannot read" \
		"include loop" \
		"bad.conf:7: bad interface name 'bad/if0'" \
		"bad.conf:9: action given twice (first at" \
		"bad.conf:10: bad port '0'" \
		"bad.conf:11: allow subscriber 10.9.0.0/16: also denied at" \
		'bad.conf:12: control character \x1b' \
		"bad.conf:13: bad prefix 'xxxxxxxx"; do
		check "errors: reports $want" "$(head -c 300 "$TMPD/err")" \
			grep -qF -- "$want" "$TMPD/err"
	done
	line=$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$TMPD/err")
	check "errors: a 9,000-byte line is quoted short ($line bytes)" "longest $line" \
		test "$line" -lt 300
	check "errors: no raw escape byte reaches the terminal" "raw ESC" \
		eval '! grep -q $'"'"'\033'"'"' "$TMPD/err"'
	check_eq "errors: nothing changed" "$before" "$(state)"
	printf 'deny subscriber 10.0.0.0/8\0 10.1.0.0/16\n' >"$d/nul.conf"
	ctl apply "$d/nul.conf" 2>"$TMPD/err"
	check_eq "errors: a NUL byte: exit 2" 2 $?
	check "errors: ...says so with FILE:LINE" "$(cat "$TMPD/err")" \
		grep -q "nul.conf:1: a NUL byte" "$TMPD/err"
	head -c 4096 /bin/ls >"$d/binary.conf"
	ctl apply "$d/binary.conf" 2>"$TMPD/err"
	check_eq "errors: a binary file: exit 2" 2 $?
	ctl apply "$d/none.conf" 2>"$TMPD/err"
	check_eq "errors: a missing file: exit 2" 2 $?
	check_eq "errors: ...in one line" 1 "$(wc -l <"$TMPD/err")"
	check_eq "errors: after all of them, nothing changed" "$before" "$(state)"
}

# save_of FILE: the canonical form of a policy file, via a scratch pin dir.
canonical() {
	local keep=$PIN
	PIN=$PIN-canon
	CLEAN_PATHS+=("$PIN")
	ctl -q --capacity 65536 apply "$1" && ctl save
	rm -rf "$PIN"
	PIN=$keep
}

# apply of 50,000 prefixes killed at random moments: old or new, whole.
test_kill() {
	local d=$TMPD/t_kill i pid us span t0 t1 now a b n_a=0 n_b=0 bad=0
	new_pin kill
	mkdir -p "$d"
	$PY - "$d" <<'EOF'
import sys
d = sys.argv[1]
with open(d + "/a.conf", "w") as f:
	f.write("action drop\nport 25\n")
	for i in range(50000):
		f.write("deny subscriber 11.%d.%d.%d\n" % (i >> 16, i >> 8 & 255, i & 255))
with open(d + "/b.conf", "w") as f:
	f.write("action reject\nport 25 587\n")
	for i in range(50000):
		f.write("allow relay 12.%d.%d.%d\n" % (i >> 16, i >> 8 & 255, i & 255))
EOF
	a=$(canonical "$d/a.conf")
	b=$(canonical "$d/b.conf")
	ctl -q --capacity 65536 apply "$d/a.conf"
	t0=$(date +%s%N)
	ctl -q apply "$d/b.conf"
	t1=$(date +%s%N)
	span=$(((t1 - t0) / 1000))
	echo "# a 50,000-prefix switch took $((span / 1000)) ms"
	for ((i = 0; i < 20; i++)); do
		"$CTL" --pin-dir "$PIN" -q apply "$d/$([ $((i % 2)) = 0 ] && echo a || echo b).conf" &
		pid=$!
		us=$(((RANDOM * 32768 + RANDOM) % (span * 3 / 2 + 1)))
		sleep "$(printf '%d.%06d' $((us / 1000000)) $((us % 1000000)))"
		kill -KILL $pid 2>/dev/null
		wait $pid 2>/dev/null
		now=$(ctl save 2>&1)
		if [ "$now" = "$a" ]; then
			n_a=$((n_a + 1))
		elif [ "$now" = "$b" ]; then
			n_b=$((n_b + 1))
		else
			bad=$((bad + 1))
			fail "kill $i: the policy is one of the two, whole" \
				"$(diff <(echo "$a") <(echo "$now") | head -3)"
		fi
	done
	[ $bad -eq 0 ] && ok "kill: 20 kills of a 50,000-prefix apply left one policy whole ($n_a a, $n_b b)"
	ctl -q apply "$d/a.conf"
	check_eq "kill: the next apply works" "$a" "$(ctl save)"
}

# Policies A and B each pass 10.1.2.3 -> 192.0.2.25:25; any mix blocks it.
write_ab() {
	printf 'deny subscriber 10.1.0.0/16\nallow relay 192.0.2.25\n' >"$1/a.conf"
	printf 'deny subscriber 172.16.0.0/12\n' >"$1/b.conf"
	# the control's half step: A's subscriber without A's relay
	printf 'deny subscriber 10.1.0.0/16\n' >"$1/half.conf"
}

# flips DIR N HALF: apply A and B in turn N times (through half.conf if
# HALF) while the datapath runs on both CPUs; prints the looper's counts.
flips() {
	local d=$1 n=$2 half=$3 i pid
	ctl -q apply "$d/a.conf"
	"$ENGINE" -p "$PIN" -l 120 >"$TMPD/loop" &
	pid=$!
	CLEAN_PIDS+=("$pid")
	for ((i = 0; i < 50; i++)); do
		grep -q running "$TMPD/loop" 2>/dev/null && break
		sleep 0.1
	done
	for ((i = 0; i < n; i++)); do
		if [ "$half" = 1 ] && [ $((i % 2)) = 0 ]; then
			ctl -q apply "$d/half.conf"
		fi
		ctl -q apply "$d/$([ $((i % 2)) = 0 ] && echo b || echo a).conf"
	done
	kill -TERM $pid
	wait $pid
	grep packets "$TMPD/loop"
}

test_atomic_traffic() {
	local d=$TMPD/t_atomic out judged blocked
	new_pin atomic
	mkdir -p "$d"
	write_ab "$d"
	out=$(flips "$d" "$APPLY_FLIPS" 0)
	echo "# $APPLY_FLIPS applies of A and B in turn: $out"
	judged=$(awk '{ print $4 }' <<<"$out")
	blocked=$(awk '{ print $6 }' <<<"$out")
	check "atomic: packets were judged during the applies" "$out" \
		test "${judged:-0}" -gt 0
	check_eq "atomic: no packet judged by a mix of A and B" 0 "${blocked:-x}"
	out=$(flips "$d" "$APPLY_FLIPS" 1)
	echo "# control, through the half step: $out"
	blocked=$(awk '{ print $6 }' <<<"$out")
	check "atomic: the control (a half-made switch) is seen blocking" "$out" \
		test "${blocked:-0}" -gt 0
}

# Submission stays open in a file too: a port statement blocking 587 or 465
# is refused without --force, naming the statement and the RFC.
test_submission_ports() {
	local d=$TMPD/t_sub
	new_pin sub
	mkdir -p "$d"
	printf 'deny subscriber 10.0.0.0/8\nport 25\n' | ctl -q apply -
	printf 'deny subscriber 10.0.0.0/8\nport 25 465\n' >"$d/p.conf"
	ctl apply "$d/p.conf" >"$TMPD/out" 2>"$TMPD/err"
	check "submission: port 465 in a file: exit 2, one line naming it and RFC 8314" \
		"exit $?: $(cat "$TMPD/err")" \
		eval '[ "$(wc -l <"$TMPD/err")" = 1 ] && grep -q "p.conf:2: port 465: .*RFC 8314" "$TMPD/err"'
	check_eq "submission: ...and nothing was applied" "25" "$(ctl port list | tr -d ' \n')"
	ctl -q apply --force "$d/p.conf"
	check_eq "submission: with --force it is applied" "25465" "$(ctl port list | tr -d ' \n')"
	ctl save >"$d/saved.conf"
	check "submission: save says --force on the statement that blocks 465" \
		"$(grep ^port "$d/saved.conf")" grep -q '^port 25 465 --force$' "$d/saved.conf"
	ctl apply --dry-run "$d/saved.conf" >"$TMPD/out" 2>&1
	check_eq "submission: ...so that it applies as no change" "0:" "$?:$(cat "$TMPD/out")"
}

# The attachments in apply's answers: -j --dry-run lists them as the text
# does, and an attach that fails is an error, not a change.
test_attach_answers() {
	local ns=o25t-$$-aans d=$TMPD/t_aans
	ns_test_begin aans "$ns" answers o25q o25r || return
	ip -n "$ns" link add o25br type bridge
	ip -n "$ns" link set o25br up
	printf 'deny subscriber 10.0.0.0/8\nattach o25q --hook tc\nattach o25later\n' >"$d/p.conf"
	ctl -n "$ns" apply --dry-run "$d/p.conf" >"$TMPD/text"
	ctl -n "$ns" -j apply --dry-run "$d/p.conf" >"$TMPD/json"
	check "answers: -j apply --dry-run lists the attachments the text shows" \
		"$(cat "$TMPD/text"; cat "$TMPD/json")" "$PY" -c '
import json, sys
plan = json.load(open(sys.argv[1]))
att = sorted((p["op"], p["attach"], p["pending"]) for p in plan if "attach" in p)
sys.exit(0 if att == [("attach", "o25later", True), ("attach", "o25q", False)]
         and len([l for l in open(sys.argv[2]) if " attach " in l]) == 2 else 1)' \
		"$TMPD/json" "$TMPD/text"
	# native XDP on a bridge: the kernel refuses it at run time
	printf 'deny subscriber 10.0.0.0/8\nattach o25br --hook xdp --xdp-mode native\n' >"$d/br.conf"
	ctl -n "$ns" -j apply "$d/br.conf" >"$TMPD/out" 2>"$TMPD/err"
	check_eq "answers: an attach that fails at run time: exit 1" 1 $?
	check_eq "answers: ...and it is not counted as a change" 0 \
		"$(jget attachments_changed <"$TMPD/out")"
	ctl -n "$ns" -q detach --all
}

# -n NETNS: interfaces of another namespace, pins of ours.
test_netns() {
	local ns=o25t-$$-apply d=$TMPD/t_ns
	ns_test_begin ns "$ns" netns o25a o25b || return
	printf 'deny subscriber 10.0.0.0/8\nattach o25a --hook tc\n' >"$d/p.conf"
	ctl apply "$d/p.conf" 2>"$TMPD/err"
	check_eq "netns: o25a is not in this namespace: applied, exit 0" 0 $?
	check "netns: ...and waits for it here: status shows it pending" \
		"$(cat "$TMPD/err"; ctl status | tail -2)" \
		eval 'ctl status | grep -q "o25a: tc ingress, file, pending"'
	printf 'deny subscriber 10.0.0.0/8\n' | ctl -q apply -
	ctl -n "$ns" -q apply "$d/p.conf"
	check_eq "netns: -n NAME apply exits 0" 0 $?
	check "netns: tc filter on o25a in the namespace" "no filter" \
		eval 'tc -n "$ns" filter show dev o25a ingress | grep -q op25b_tc'
	check "netns: save names the attachment" "$(ctl -n "$ns" save)" \
		eval 'ctl -n "$ns" save | grep -q "^attach o25a --hook tc --direction ingress"'
	ctl -n "$ns" apply --dry-run "$d/p.conf" >"$TMPD/out"
	check_eq "netns: applying it again changes nothing" "" "$(cat "$TMPD/out")"
	printf 'deny subscriber 10.0.0.0/8\nattach o25b --hook tc\n' >"$d/q.conf"
	ctl -n "$ns" apply --dry-run "$d/q.conf" >"$TMPD/out"
	check "netns: dry run shows the attachments that change" "$(cat "$TMPD/out")" \
		eval 'grep -q "^+ attach o25b" "$TMPD/out" && grep -q "^- attach o25a" "$TMPD/out"'
	ctl -n "$ns" -q apply "$d/q.conf"
	check "netns: o25b attached" "no filter" \
		eval 'tc -n "$ns" filter show dev o25b ingress | grep -q op25b_tc'
	check "netns: o25a detached" "filter left" \
		eval '! tc -n "$ns" filter show dev o25a ingress | grep -q op25b_tc'
	ctl -n no-such-ns-$$ status 2>"$TMPD/err"
	check_eq "netns: an unknown namespace is bad usage" 2 $?
	check_eq "netns: ...in one line" 1 "$(wc -l <"$TMPD/err")"
	ctl -n "$ns" -q detach --all
}

# Pinned state of another layout is neither read nor written.
test_layout() {
	local before vs
	new_pin layout
	ctl -q deny subscriber 10.0.0.0/8
	# the engine's first word is the layout: make it one from the future
	vs=$(bpftool -j map show pinned "$PIN/engine" |
		"$PY" -c 'import json,sys; print(json.load(sys.stdin)["bytes_value"])')
	bpftool map update pinned "$PIN/engine" key 0 0 0 0 value \
		$(printf '99 0 0 0 '; for ((i = 4; i < vs; i++)); do printf '0 '; done)
	before=$(bpftool map dump pinned "$PIN/rules" | md5sum)
	ctl list >/dev/null 2>"$TMPD/err"
	check_eq "layout: another layout: exit 1" 1 $?
	check "layout: one line naming the way out" "$(cat "$TMPD/err")" \
		eval '[ "$(wc -l <"$TMPD/err")" = 1 ] && grep -q "layout 99" "$TMPD/err" && grep -q "detach --all" "$TMPD/err"'
	ctl deny subscriber 10.1.0.0/16 2>/dev/null
	check_eq "layout: a writer refuses too" 1 $?
	check_eq "layout: nothing was written" "$before" \
		"$(bpftool map dump pinned "$PIN/rules" | md5sum)"
	# layout 1: four LPM tries and a config map
	new_pin legacy
	mkdir -p "$PIN"
	bpftool map create "$PIN/subscriber4" type lpm_trie key 8 value 16 \
		entries 16 name subscriber4 flags 1
	ctl deny subscriber 10.0.0.0/8 2>"$TMPD/err"
	check_eq "layout: an op25b 1 pin dir: exit 1" 1 $?
	check "layout: ...one line naming the way out" "$(cat "$TMPD/err")" \
		eval '[ "$(wc -l <"$TMPD/err")" = 1 ] && grep -q "older op25b" "$TMPD/err"'
	# layout 2: everything but the limiter and its sweeper
	new_pin layout2
	ctl -q deny subscriber 10.0.0.0/8
	rm -f "$PIN/limiter" "$PIN/sweeper"
	before=$(bpftool map dump pinned "$PIN/rules" | md5sum)
	ctl deny subscriber 10.1.0.0/16 2>"$TMPD/err"
	check_eq "layout: an op25b layout 2 pin dir: exit 1" 1 $?
	check "layout: ...one line: save with that op25bctl, then apply with this one" \
		"$(cat "$TMPD/err")" \
		eval '[ "$(wc -l <"$TMPD/err")" = 1 ] && grep -q "layout 2" "$TMPD/err" && grep -q "save the policy" "$TMPD/err"'
	check_eq "layout: ...and nothing was written" "$before" \
		"$(bpftool map dump pinned "$PIN/rules" | md5sum)"
}

# Action limit in the policy of record: read, written back, refused whole.
test_limit_conf() {
	local d=$TMPD/t_lim before
	new_pin lim
	mkdir -p "$d"
	printf 'deny subscriber 10.0.0.0/8\naction limit 20/min --burst 10 --then reject --quarantine 1h\n' \
		>"$d/lim.conf"
	ctl -q apply "$d/lim.conf"
	check_eq "limit conf: apply exits 0" 0 $?
	check_eq "limit conf: the action as written" \
		"limit 20/min --burst 10 --then reject --quarantine 1h" "$(ctl action)"
	ctl save >"$d/saved.conf"
	ctl apply --dry-run "$d/saved.conf" >"$TMPD/out" 2>&1
	check "limit conf: its save applies as no change" "$(cat "$TMPD/out")" \
		eval '! grep -q "^[-+~] " "$TMPD/out"'
	printf 'action limit 30/min --burst 10 --then reject --quarantine 1h\n' >>"$d/saved.conf"
	sed -i '/^action limit 20/d' "$d/saved.conf"
	ctl apply --dry-run "$d/saved.conf" >"$TMPD/out" 2>&1
	check "limit conf: a new rate is a change of action, with the old one" "$(cat "$TMPD/out")" \
		grep -q "^~ action limit 30/min --burst 10 --then reject --quarantine 1h (was limit 20/min" "$TMPD/out"
	before=$(state)
	printf 'deny subscriber 10.9.0.0/16\naction limit 20/fortnight\n' >"$d/bad.conf"
	ctl apply "$d/bad.conf" 2>"$TMPD/err"
	check_eq "limit conf: a bad limit: exit 2" 2 $?
	check "limit conf: ...FILE:LINE naming the period" "$(cat "$TMPD/err")" \
		grep -q "bad.conf:2: action limit: unknown period 'fortnight'" "$TMPD/err"
	check_eq "limit conf: ...nothing changed" "$before" "$(state)"
}

# exec_lines UNIT KEY: the unit's own KEY= command lines.
exec_lines() {
	sed -n "s/^$2=//p" "$1"
}

# The unit's ExecStart, ExecReload and ExecStop, run as systemd would (but
# with this build's op25bctl, a private pin dir and a namespace topology):
# blocking before, after reload and after stop as the unit documents it.
test_unit() {
	local unit=$here/../../contrib/op25b.service d=$TMPD/t_unit
	local sub=o25t-$$-usub mx=o25t-$$-umx line cmd
	new_pin unit
	mkdir -p "$d"
	sed "s|/usr/sbin/op25bctl|$CTL|" "$unit" >"$d/op25b.service"
	if command -v systemd-analyze >/dev/null; then
		systemd-analyze verify --man=no "$d/op25b.service" >"$TMPD/out" 2>&1
		check_eq "unit: systemd-analyze verify accepts it" "" "$(cat "$TMPD/out")"
	elif [ "${CI:-}" = true ]; then
		fail "unit: systemd-analyze verify" "not installed"
	else
		skip "unit: systemd-analyze verify" "not installed"
	fi
	ns_create "$sub" && ns_create "$mx" || { fail "unit: topology" "netns"; return; }
	veth_pair "$sub" o25s "$mx" o25m
	addr_add "$sub" o25s 10.25.0.2/24
	addr_add "$mx" o25m 10.25.0.1/24
	tcp_listen "$mx" "$TMPD/unit-listen.log" 10.25.0.1:25 10.25.0.1:587 ||
		{ fail "unit: listeners" "$(cat "$TMPD/unit-listen.log")"; return; }
	printf 'deny subscriber 10.25.0.0/24
attach o25m --hook tc
' >"$d/op25b.conf"
	# the unit's command lines, pointed at this test's files
	run_unit() {
		exec_lines "$d/op25b.service" "$1" | while read -r line; do
			cmd=${line//\/etc\/op25b\/op25b.conf/$d/op25b.conf}
			cmd=${cmd/$CTL/$CTL --pin-dir $PIN -n $mx}
			eval "$cmd" >/dev/null 2>&1 || echo "$1 failed: $cmd"
		done
	}
	expect_connect "unit: before start, 25 connects" "$sub" - 10.25.0.1 25
	check_eq "unit: ExecStart runs" "" "$(run_unit ExecStart)"
	expect_blocked "unit: after start, 25 is blocked" "$sub" - 10.25.0.1 25
	expect_connect "unit: after start, 587 connects" "$sub" - 10.25.0.1 587
	printf 'deny subscriber 10.25.0.0/24
allow subscriber 10.25.0.2
attach o25m --hook tc
' \
		>"$d/op25b.conf"
	check_eq "unit: ExecReload runs" "" "$(run_unit ExecReload)"
	expect_connect "unit: after reload, the new exemption connects" "$sub" - 10.25.0.1 25
	printf 'deny subscriber 10.25.0.0/24
attach o25m --hook tc
' >"$d/op25b.conf"
	run_unit ExecReload >/dev/null
	check_eq "unit: ExecStop runs" "" "$(run_unit ExecStop)"
	expect_blocked "unit: after stop, enforcement stays (as the unit documents)" \
		"$sub" - 10.25.0.1 25
	ctl -n "$mx" -q detach --all
	expect_connect "unit: detach --all is the way to remove it" "$sub" - 10.25.0.1 25
}

# contrib/op25b-log.service: systemd accepts it, its exposure is 4.0 or
# better (systemd-analyze security), and it keeps the capabilities to
# CAP_BPF.
test_log_unit() {
	local d=$TMPD/t_log_unit score
	mkdir -p "$d"
	sed "s|/usr/sbin/op25bctl|$CTL|" "$here/../../contrib/op25b-log.service" \
		>"$d/op25b-log.service"
	if ! command -v systemd-analyze >/dev/null; then
		skip "log unit: systemd-analyze" "not installed"
		return
	fi
	systemd-analyze verify --man=no "$d/op25b-log.service" >"$TMPD/out" 2>&1
	check_eq "log unit: systemd-analyze verify accepts it" "" "$(cat "$TMPD/out")"
	score=$(systemd-analyze security --offline=true "$d/op25b-log.service" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	check "log unit: systemd-analyze security exposure $score, 4.0 or better" \
		"$(systemd-analyze security --offline=true "$d/op25b-log.service" 2>&1 | tail -3)" \
		"$PY" -c 'import sys; sys.exit(0 if sys.argv[1] and float(sys.argv[1]) <= 4.0 else 1)' "$score"
	check_eq "log unit: capabilities bounded to CAP_BPF" "CapabilityBoundingSet=CAP_BPF" \
		"$(grep ^CapabilityBoundingSet "$d/op25b-log.service")"
}

# contrib/prometheus: the textfile collector's unit and timer verify, the
# unit's exposure is 4.0 or better, and what it runs writes metrics that
# promtool accepts, renamed into place.
test_metrics_units() {
	local d=$TMPD/t_metrics score
	mkdir -p "$d/textfile"
	for f in op25b-metrics.service op25b-metrics.timer; do
		sed "s|/usr/sbin/op25bctl|$CTL|" "$here/../../contrib/prometheus/$f" >"$d/$f"
	done
	if command -v systemd-analyze >/dev/null; then
		SYSTEMD_UNIT_PATH=$d: systemd-analyze verify --man=no \
			"$d/op25b-metrics.service" "$d/op25b-metrics.timer" >"$TMPD/out" 2>&1
		check_eq "metrics units: systemd-analyze verify accepts them" "" "$(cat "$TMPD/out")"
		score=$(systemd-analyze security --offline=true "$d/op25b-metrics.service" 2>&1 |
			sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
		check "metrics unit: exposure $score, 4.0 or better" "" \
			"$PY" -c 'import sys; sys.exit(0 if sys.argv[1] and float(sys.argv[1]) <= 4.0 else 1)' "$score"
	else
		skip "metrics units: systemd-analyze" "not installed"
	fi
	new_pin metrics
	"$CTL" --pin-dir "$PIN" -q deny subscriber 10.0.0.0/8
	# the unit's command, pointed at this test's pin dir and directory
	exec_lines "$d/op25b-metrics.service" ExecStart | while read -r line; do
		line=${line//\/var\/lib\/prometheus\/node-exporter/$d/textfile}
		line=${line/$CTL/$CTL --pin-dir $PIN}
		eval "$line"
	done
	check "metrics unit: ExecStart leaves op25b.prom, no temporary file" \
		"$(ls "$d/textfile")" eval '[ "$(ls "$d/textfile")" = op25b.prom ]'
	if command -v promtool >/dev/null; then
		check "metrics unit: promtool accepts what it wrote" \
			"$(promtool check metrics <"$d/textfile/op25b.prom" 2>&1 | head -3)" \
			eval '[ -z "$(promtool check metrics <"$d/textfile/op25b.prom" 2>&1)" ]'
	fi
}

# make install: binary, both man pages, completion, unit, example policy,
# and an operator's policy is never replaced.
test_install() {
	local root=$TMPD/root f
	make -s -C "$here/../.." BUILD="$BUILD" DESTDIR="$root" PREFIX=/usr \
		install >/dev/null 2>"$TMPD/err"
	check_eq "install: make install exits 0" "" "$(cat "$TMPD/err")"
	for f in usr/sbin/op25bctl usr/share/man/man8/op25bctl.8 \
		usr/share/man/man5/op25b.conf.5 \
		usr/share/bash-completion/completions/op25bctl \
		usr/lib/systemd/system/op25b.service \
		usr/lib/systemd/system/op25b-watch.service \
		usr/lib/systemd/system/op25b-log.service \
		usr/lib/systemd/system/op25b-metrics.service \
		usr/lib/systemd/system/op25b-metrics.timer \
		usr/share/op25b/op25b-grafana-dashboard.json etc/op25b/op25b.conf; do
		check "install: $f" "missing" test -e "$root/$f"
	done
	check "install: the unit runs the installed binary" "$(grep Exec "$root/usr/lib/systemd/system/op25b.service")" \
		grep -q "^ExecStart=/usr/sbin/op25bctl apply --boot /etc/op25b/op25b.conf" \
		"$root/usr/lib/systemd/system/op25b.service"
	check "install: the watch unit runs the installed binary on the config" \
		"$(grep Exec "$root/usr/lib/systemd/system/op25b-watch.service")" \
		grep -q "^ExecStart=/usr/sbin/op25bctl watch --config /etc/op25b/op25b.conf --boot" \
		"$root/usr/lib/systemd/system/op25b-watch.service"
	if command -v systemd-analyze >/dev/null; then
		# both units, so that the one the watch unit requires is found
		mkdir -p "$TMPD/units"
		for f in op25b op25b-watch; do
			sed "s|/usr/sbin/op25bctl|$CTL|" "$here/../../contrib/$f.service" \
				>"$TMPD/units/$f.service"
		done
		SYSTEMD_UNIT_PATH=$TMPD/units: systemd-analyze verify --man=no \
			"$TMPD/units/op25b.service" "$TMPD/units/op25b-watch.service" \
			>"$TMPD/out" 2>&1
		check "install: systemd-analyze verify of both units: no complaint" \
			"$(head -c 300 "$TMPD/out")" eval '[ ! -s "$TMPD/out" ]'
	fi
	CLEAN_PATHS+=("/sys/fs/bpf/op25b-test-apply-ex-$$")
	"$root/usr/sbin/op25bctl" --pin-dir "/sys/fs/bpf/op25b-test-apply-ex-$$" \
		apply --dry-run "$root/etc/op25b/op25b.conf" >/dev/null 2>"$TMPD/err"
	check_eq "install: the example policy is a valid file" 0 $?
	printf 'deny subscriber 10.0.0.0/8   # mine\n' >"$root/etc/op25b/op25b.conf"
	make -s -C "$here/../.." BUILD="$BUILD" DESTDIR="$root" PREFIX=/usr \
		install >/dev/null 2>&1
	check_eq "install: an existing op25b.conf is never replaced" \
		"deny subscriber 10.0.0.0/8   # mine" "$(cat "$root/etc/op25b/op25b.conf")"
	if command -v man >/dev/null; then
		man -l "$root/usr/share/man/man5/op25b.conf.5" >"$TMPD/out" 2>&1
		check "install: op25b.conf(5) renders" "$(head -3 "$TMPD/out")" \
			grep -q "include FILE" "$TMPD/out"
	fi
}

run_tests "$@"
