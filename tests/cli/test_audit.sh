#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# What hostile operators' audits found, each point held to its fix: input
# accepted but never enforced, one command that turns blocking off,
# unreadable error lines, a lock that waits forever, a half-made pin dir,
# a second op25b taking over in silence, maps checked by size only, one
# letter that flushes a table, and the small ones. The third audit (from
# test_pools on): refused changes that leaked the pools, inputs that hung,
# answers that lied (a full disk, an unreadable pin dir, raw bytes in
# JSON, an op25b whose pin dir is gone).
#
# Usage: test_audit.sh [TEST...]   (default: every test_* function)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

suite_begin bpftool
OUT=$TMPD/out
ERR=$TMPD/err

new_pin() {
	fresh_pin audit-$1
}

# run ARGS...: op25bctl on PIN; RC, OUT, ERR.
run() {
	"$CTL" --pin-dir "$PIN" "$@" >"$OUT" 2>"$ERR"
	RC=$?
}

state() {
	"$CTL" --pin-dir "$PIN" save 2>&1
}

# refused LABEL NEEDLE: the last run was exit 2, one stderr line with NEEDLE.
refused() {
	local needle=$2
	check "$1: exit 2, one line naming it" "exit $RC: $(head -c 300 "$ERR")" \
		eval '[ "$RC" = 2 ] && [ "$(wc -l <"$ERR")" = 1 ] && grep -qF -- "$needle" "$ERR"'
}

# 1. accepted, never enforced
test_mapped_and_bad_files() {
	local before
	new_pin mapped
	"$CTL" --pin-dir "$PIN" -q deny subscriber 10.0.0.0/8
	before=$(state)
	run deny subscriber ::ffff:192.0.2.7/128
	refused "mapped: deny of an IPv4-mapped prefix" "write the IPv4 address (192.0.2.7)"
	run test ::ffff:10.1.2.3 ::ffff:1.2.3.4
	refused "mapped: test of an IPv4-mapped address" "IPv4-mapped"
	printf '10.1.0.0/16\n10.2.0.0/16\0 10.3.0.0/16\n10.4.0.0/16\n' >"$TMPD/nul.txt"
	run deny subscriber -f "$TMPD/nul.txt"
	refused "mapped: a NUL byte inside a -f line" "nul.txt:2: a NUL byte"
	run deny subscriber -f /proc/self/mem
	check "mapped: a read error in -f is an error, not an end of file" \
		"exit $RC: $(cat "$ERR")" test "$RC" -ne 0
	check_eq "mapped: nothing changed" "$before" "$(state)"
}

# 2. one command that turns blocking off
test_allow_everything() {
	local before
	new_pin all
	"$CTL" --pin-dir "$PIN" -q deny subscriber 10.0.0.0/8 ::/0
	before=$(state)
	run allow relay 0.0.0.0/0
	refused "allow-all: allow relay 0.0.0.0/0 without --force" "give --force"
	run allow relay ::/0
	refused "allow-all: allow relay ::/0 without --force" "every IPv6 address"
	run allow subscriber 0.0.0.0/0 10.9.0.0/16
	refused "allow-all: allow subscriber of a /0 among others" "0.0.0.0/0"
	check_eq "allow-all: nothing changed" "$before" "$(state)"
	printf 'deny subscriber 10.0.0.0/8\nallow relay 0.0.0.0/0\n' >"$TMPD/all.conf"
	run apply "$TMPD/all.conf"
	refused "allow-all: a file that allows a /0" "all.conf:2: allow relay 0.0.0.0/0"
	check_eq "allow-all: ...changed nothing" "$before" "$(state)"
	run allow relay 0.0.0.0/0 --force
	check "allow-all: with --force it is done, and said" "exit $RC: $(cat "$ERR")" \
		eval '[ "$RC" = 0 ] && grep -q "no IPv4 packet is blocked" "$ERR"'
}

# 3. error lines an operator can read
test_error_lines() {
	new_pin lines
	head -c 1000000 /dev/zero | tr '\0' 'x' >"$TMPD/big.txt"
	printf '\n' >>"$TMPD/big.txt"
	run deny subscriber -f "$TMPD/big.txt"
	check "lines: a 1 MB garbage line is quoted short" "$(wc -c <"$ERR") bytes" \
		test "$(wc -c <"$ERR")" -lt 400
	printf '\357\273\27710.0.0.0/8\n' >"$TMPD/bom.txt"
	run deny subscriber -f "$TMPD/bom.txt"
	refused "lines: a BOM before a prefix" '\xef\xbb\xbf10.0.0.0/8'
	printf '10.0.0.0/8\302\240\n' >"$TMPD/nbsp.txt"
	run deny subscriber -f "$TMPD/nbsp.txt"
	refused "lines: an NBSP after a prefix" '\xc2\xa0'
	run deny subscriber "$(printf '\033]0;owned\007\033[2J10.0.0.0/8')"
	refused "lines: escape sequences are escaped" '\x1b]0;owned\x07'
	check "lines: no raw control byte reaches the terminal" "$(od -c "$ERR" | head -3)" \
		eval '! LC_ALL=C grep -q "[[:cntrl:]]" <(tr -d "\n" <"$ERR")'
	run deny subscriber "$(printf 'y%.0s' {1..5000})"
	check "lines: a 5,000-byte argument is cut" "$(wc -c <"$ERR") bytes" \
		eval '[ "$(wc -c <"$ERR")" -lt 400 ] && grep -q "\.\.\." "$ERR"'
}

# 4. a stuck writer blocks no one forever
test_lock_wait() {
	local holder t0 t1
	new_pin lock
	"$CTL" --pin-dir "$PIN" -q deny subscriber 10.0.0.0/8
	# a writer stopped while it holds the lock: one process, flock(2)
	"$PY" -c '
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(30)' "$PIN" >"$TMPD/holder" &
	holder=$!
	CLEAN_PIDS+=("$holder")
	wait_file_line "$TMPD/holder" locked
	t0=$(date +%s%N)
	"$CTL" --pin-dir "$PIN" -w 2 deny subscriber 10.1.0.0/16 >"$OUT" 2>"$ERR" &
	local pid=$!
	sleep 1
	check "lock: within a second it says it waits, and for whom" "$(cat "$ERR")" \
		grep -q "waiting for pid $holder (.*python3" "$ERR"
	wait $pid
	RC=$?
	t1=$(date +%s%N)
	check_eq "lock: gives up with exit 1" 1 "$RC"
	check "lock: ...after the -w time, naming the holder" "$(cat "$ERR")" \
		eval 'grep -q "gave up after 2 s waiting for pid" "$ERR" &&
		      [ $(((t1 - t0) / 1000000)) -ge 1900 ] && [ $(((t1 - t0) / 1000000)) -lt 4000 ]'
	run -w 0 list
	check "lock: readers take no lock: a list while a writer holds it (-w 0)" \
		"exit $RC: $(cat "$ERR")" test "$RC" = 0
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	run list subscriber
	check_eq "lock: free again, commands go on" 0 "$RC"
	run -w x list
	refused "lock: a bad -w" "bad wait 'x'"
}

# 5. a half-made pin dir is no dead end
test_half_made() {
	new_pin half
	"$CTL" --pin-dir "$PIN" -q port list >/dev/null 2>&1
	"$CTL" --pin-dir "$PIN" -q action drop
	# as a first run killed while pinning: some maps there, some not
	rm -f "$PIN/rules" "$PIN/index" "$PIN/attachments"
	run list
	check "half: a reader says what happened and what completes it" "$(cat "$ERR")" \
		eval '[ "$RC" = 1 ] && grep -q "next change" "$ERR"'
	run detach --all
	check_eq "half: detach --all works" 0 "$RC"
	run deny subscriber 10.0.0.0/8
	check_eq "half: the next change completes the set-up" 0 "$RC"
	run -j list
	check "half: ...and holds the change" "$(cat "$OUT")" grep -q 10.0.0.0/8 "$OUT"
	# a pin dir that holds a policy is never remade: it is reported
	rm -f "$PIN/index"
	run deny subscriber 10.1.0.0/16
	check "half: with a policy in it, a missing pin is reported, not remade" \
		"exit $RC: $(cat "$ERR")" eval '[ "$RC" = 1 ] && grep -q "missing" "$ERR"'
}

# 6. a second op25b does not take over in silence
test_second_instance() {
	local ns=o25t-$$-audit a b
	new_pin first
	a=$PIN
	new_pin second
	b=$PIN
	ns_create "$ns" || { fail "second: namespace" "ip netns add"; return; }
	ns_veth "$ns" o25x o25y
	PIN=$a run -n "$ns" attach o25x --hook tc
	check_eq "second: the first instance attaches" 0 "$RC"
	PIN=$b run -n "$ns" attach o25x --hook tc
	check "second: another pin dir's attach is refused, naming the owner" \
		"exit $RC: $(cat "$ERR")" \
		eval '[ "$RC" = 1 ] && grep -q "op25b of pin dir $a" "$ERR"'
	PIN=$a run -n "$ns" status
	check "second: the first still says attached" "$(cat "$OUT")" \
		grep -q "o25x.*, attached" "$OUT"
	PIN=$a run -n "$ns" attach o25x --hook xdp
	check "second: XDP beside tc ingress on one device is warned about" \
		"$(cat "$ERR")" grep -q "judged, and counted, twice" "$ERR"
	PIN=$a run -n "$ns" detach o25x
	PIN=$a run -n "$ns" attach o25x --hook tc
	PIN=$a run -n "$ns" attach o25y
	PIN=$b run -n "$ns" attach o25y --force
	check_eq "second: --force takes it over" 0 "$RC"
	PIN=$b run -n "$ns" status
	check "second: status of one pin dir names the other's program" "$(cat "$OUT")" \
		grep -q "o25x.*tc ingress.*pin dir $a" "$OUT"
	# the first pin dir removed by hand: its program goes on enforcing
	rm -rf "$a"
	PIN=$b run -n "$ns" status
	check "second: status reports the op25b no pin dir records" "$(cat "$OUT")" \
		grep -q "o25x.*no pin dir" "$OUT"
	PIN=$b run -n "$ns" detach o25x
	check_eq "second: detach IFACE removes it" 0 "$RC"
	check "second: ...and it is gone" "filter left" \
		eval '! tc -n "$ns" filter show dev o25x ingress | grep -q op25b_tc'
	"$CTL" --pin-dir "$b" -n "$ns" -q detach --all
}

# 7. pinned maps are checked by type, not only by size
test_map_types() {
	new_pin types
	"$CTL" --pin-dir "$PIN" -q deny subscriber 10.0.0.0/8
	rm -f "$PIN/rules"
	bpftool map create "$PIN/rules" type hash key 4 value 40 entries 16 name rules
	run list
	check "types: a hash map pinned as 'rules' is refused" "exit $RC: $(cat "$ERR")" \
		eval '[ "$RC" = 1 ] && [ "$(wc -l <"$ERR")" = 1 ] && grep -q "rules" "$ERR"'
	run deny subscriber 10.1.0.0/16
	check_eq "types: ...by writers too" 1 "$RC"
}

# 8. destructive verbs take their full name
test_full_names() {
	new_pin names
	"$CTL" --pin-dir "$PIN" -q allow relay 192.0.2.25
	run f relay
	refused "names: 'f' does not flush" "unknown command 'f'"
	run flus relay
	refused "names: 'flus' does not flush" "unknown command 'flus'"
	run -j list relay
	check "names: the relay is still there" "$(cat "$OUT")" grep -q 192.0.2.25 "$OUT"
	run detach --al
	check "names: 'detach --al' is not --all" "exit $RC" test "$RC" != 0
	run flush relay
	check_eq "names: 'flush relay' flushes" 0 "$RC"
}

# 9. the small ones
test_small() {
	new_pin small
	(cd /sys/fs/bpf && "$CTL" --pin-dir "$(basename "$PIN")" -q deny subscriber 10.0.0.0/8)
	check_eq "small: a relative --pin-dir is relative to the current directory" 0 $?
	run list relay
	check_eq "small: an empty table lists its header" "TABLE       PREFIX  VERDICT  HITS  OWNER" \
		"$(sed 's/ *$//' "$OUT")"
	run -j list relay
	check_eq "small: ...and [] in JSON" "[]" "$(tr -d ' \n' <"$OUT")"
	check "small: the man page states the table limits" "no capacity in op25bctl.8" \
		grep -q "capacity" "$here/../../doc/op25bctl.8"
}

# Every command has its full help, the same by 'help CMD' and 'CMD --help'.
test_help() {
	local c bad=
	for c in attach detach status deny allow del flush list test port \
		action stats top monitor apply save; do
		"$CTL" "$c" --help >"$OUT" 2>"$ERR" || bad+=" $c(exit)"
		[ "$(wc -l <"$OUT")" -ge 3 ] || bad+=" $c(short)"
		"$CTL" help "$c" | cmp -s - "$OUT" || bad+=" $c(differs)"
		grep -q "^Usage: op25bctl $c" "$OUT" || bad+=" $c(usage)"
	done
	check_eq "help: every command's full help, both ways" "" "$bad"
}

# The names of an Options: block's lines: "-f, --file FILE|-  ..." gives
# -f and --file.
opt_names() {
	sed -E 's/^ +//; s/  .*//' | grep -oE '(^|, )--?[A-Za-z][A-Za-z0-9-]*' |
		sed 's/^, //'
}

# One table makes a command's usage lines, its Options: block and its line
# in 'op25bctl help': an option in one of them is in the others, and every
# option the help shows is one the command takes (not "unknown option").
test_help_options() {
	local c o usage opts line bad=
	for c in attach detach status deny allow del flush list test port \
		action quarantine stats top monitor apply save watch; do
		"$CTL" help "$c" >"$OUT"
		usage=$(sed '/^$/,$d' "$OUT" | grep -oE '\[--?[A-Za-z][A-Za-z0-9-]*' |
			tr -d '[' | sort -u)
		opts=$(sed '1,/^Options:$/d' "$OUT" | opt_names | sort -u)
		line=$("$CTL" help | awk -v c="$c" \
			'$1 == c && /^  [a-z]/ { on = 1; print; next }
			 on && /^          / { print; next } { on = 0 }' |
			grep -oE '\[--?[A-Za-z][A-Za-z0-9-]*' | tr -d '[' | sort -u)
		for o in $usage; do
			grep -qx -- "$o" <<<"$opts" || bad+=" $c:$o(not in Options)"
		done
		[ "$usage" = "$line" ] || bad+=" $c(list: '$line' vs '$usage')"
		for o in $opts; do
			"$CTL" --pin-dir /nonexistent/op25b-help "$c" "$o" \
				>/dev/null 2>"$ERR"
			! grep -q "unknown option" "$ERR" || bad+=" $c:$o(unknown)"
		done
	done
	check_eq "help: usage, Options: and the command list agree" "" "$bad"
	"$CTL" help >"$OUT"
	usage=$(sed -n '/^Options:$/,/^$/p' "$OUT" | sed 1d | opt_names)
	bad=
	for o in $usage; do
		"$CTL" "$o" >/dev/null 2>"$ERR"
		! grep -q "unknown option" "$ERR" || bad+=" $o"
	done
	check_eq "help: every global option shown is taken" "" "$bad"
}

# ---- the third audit (issue #18) ----

# pools: the "pools" object of -j status, one line; "null" while a killed
# writer's work waits for the next change.
pools() {
	"$CTL" --pin-dir "$PIN" -j status 2>/dev/null | jget pools
}

# write_prefixes FILE N KIND: N statements, v4 host routes spread wide or
# v6 host routes with nothing in common (deep: about 20 nodes each).
write_prefixes() {
	"$PY" - "$@" <<'PYEOF'
import random, sys
path, n, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
r = random.Random(n * 7 + len(kind))
with open(path, "w") as f:
    for i in range(n):
        if kind == "v4":
            a = 0x0a000000 + i * 7
            f.write("deny subscriber %d.%d.%d.%d\n" %
                    (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255))
        else:
            f.write("deny subscriber 2001:%x:%x:%x:%x:%x:%x:%x\n" %
                    tuple(r.randrange(65536) for _ in range(7)))
PYEOF
}

# 10. refused, failed and killed changes give the pools back
test_pools() {
	local base big full fit bad i rc p before kept=0 moved=0 wrong=
	new_pin pools
	base=$TMPD/pools-base.conf big=$TMPD/pools-big.conf
	full=$TMPD/pools-full.conf fit=$TMPD/pools-fit.conf bad=$TMPD/pools-bad.conf
	write_prefixes "$base" 100 v4
	write_prefixes "$big" 50000 v4
	write_prefixes "$full" 14000 v6
	write_prefixes "$fit" 10002 v4
	{ cat "$base"; echo "deny subscriber 10.99.0.0/33"; } >"$bad"
	"$CTL" --pin-dir "$PIN" -q apply "$base"
	before=$(pools)
	check "pools: -j status shows the pools" "$before" \
		eval '[[ $before == *\"nodes\"* ]]'
	for i in 1 2 3 4 5 6 7 8 9 10; do
		run apply "$big"
		[ "$RC" = 1 ] || wrong+=" over:$RC"
		[ "$(pools)" = "$before" ] || wrong+=" over$i:$(pools)"
	done
	for i in 1 2 3; do
		run apply "$full"
		[ "$RC" = 1 ] && grep -q "pool is full" "$ERR" || wrong+=" full:$RC"
		[ "$(pools)" = "$before" ] || wrong+=" full$i:$(pools)"
		run apply "$bad"
		[ "$RC" = 2 ] || wrong+=" bad:$RC"
		[ "$(pools)" = "$before" ] || wrong+=" bad$i:$(pools)"
	done
	check_eq "pools: 10 over capacity, 3 pools full, 3 bad files: the use is the policy's" \
		"" "$wrong"
	run -v status
	check "pools: status -v says it in words" "$(cat "$OUT")" \
		grep -q "^pools       nodes [0-9]*/[0-9]*, leaves" "$OUT"
	run apply "$fit"
	check "pools: then a 10,002-prefix policy fits" "exit $RC: $(cat "$ERR")" \
		test "$RC" = 0
	# killed at any moment: the next change reclaims what the writer took
	local after_fit after_base
	after_fit=$(pools)
	"$CTL" --pin-dir "$PIN" -q apply "$base"
	after_base=$(pools)
	wrong=
	for i in $(seq 1 12); do
		(timeout -s KILL "0.$((RANDOM % 2))$((RANDOM % 10))" \
			"$CTL" --pin-dir "$PIN" -q apply "$fit") 2>/dev/null
		# an absent prefix deleted: a change that begins, and reclaims
		"$CTL" --pin-dir "$PIN" -q del subscriber 192.0.2.254 2>/dev/null
		p=$(pools)
		if [ "$p" = "$after_base" ]; then
			kept=$((kept + 1))
		elif [ "$p" = "$after_fit" ]; then
			moved=$((moved + 1))
			"$CTL" --pin-dir "$PIN" -q apply "$base"
		else
			wrong+=" kill$i:$p"
		fi
	done
	check_eq "pools: 12 applies killed at random ($kept before, $moved after the publish): the use is the policy's" \
		"" "$wrong"
}

# 11. output errors are errors: a full disk is exit 1 and one line
test_full_disk() {
	local c bad= f=$TMPD/mode.conf owner
	new_pin full
	"$CTL" --pin-dir "$PIN" -q deny subscriber 10.0.0.0/8
	for c in save list "-j list" status "-j status" "port list" \
		"-j port list" "test 10.1.2.3 192.0.2.1" "-j test 10.1.2.3 192.0.2.1" \
		help "help status"; do
		# shellcheck disable=SC2086
		"$CTL" --pin-dir "$PIN" $c >/dev/full 2>"$ERR"
		RC=$?
		[ "$RC" = 1 ] && [ "$(wc -l <"$ERR")" = 1 ] &&
			grep -q "cannot write the output" "$ERR" || bad+=" [$c: exit $RC, $(head -c 80 "$ERR")]"
	done
	check_eq "full: every command writing to a full disk says so, exit 1, one line" "" "$bad"
	timeout 10 "$CTL" --pin-dir "$PIN" stats --interval 1 >/dev/full 2>"$ERR"
	RC=$?
	check "full: stats --interval stops at its first failed write, exit 1" \
		"exit $RC: $(cat "$ERR")" \
		eval '[ "$RC" = 1 ] && grep -q "cannot write the output" "$ERR"'
	"$CTL" --pin-dir "$PIN" -j list >/dev/full 2>"$ERR"
	check "full: with -j the error is a JSON object" "$(cat "$ERR")" \
		"$PY" -c 'import json, sys; json.loads(open(sys.argv[1]).read())' "$ERR"
	# save FILE keeps the mode and the owner of the file it replaces
	echo "# old" >"$f"
	chmod 0644 "$f"
	chown 65534:65534 "$f"
	run save "$f"
	owner=$(stat -c '%a %u:%g' "$f")
	check_eq "full: save over a 0644 file owned by nobody keeps both" \
		"0 644 65534:65534" "$RC $owner"
	rm -f "$f"
	(umask 022 && "$CTL" --pin-dir "$PIN" save "$f")
	check_eq "full: a new file of save is 0666 less the umask" 644 \
		"$(stat -c %a "$f")"
}

# 12. watch --config keeps every watch statement, or says which it cannot
test_watch_many() {
	local ns=o25t-$$-aw i
	new_pin watchmany
	ns_create "$ns" || { fail "watch: namespace" "ip netns add"; return; }
	for i in $(seq 65); do echo "watch o25w$$x$i"; done >"$TMPD/w65.conf"
	timeout 10 "$CTL" --pin-dir "$PIN" -n "$ns" watch --config "$TMPD/w65.conf" \
		>"$OUT" 2>"$ERR"
	RC=$?
	refused "watch: a 65th watch statement is an error at its line" \
		"w65.conf:65: at most 64 'watch' statements"
}

# 13. input that hangs or explodes: only regular files, a bound on all read
test_input_bounds() {
	local d=$TMPD/inputs i j before t0
	new_pin inputs
	"$CTL" --pin-dir "$PIN" -q deny subscriber 10.0.0.0/8
	before=$(state)
	mkdir -p "$d/dir"
	mkfifo "$d/fifo"
	echo "include fifo" >"$d/inc-fifo.conf"
	echo "include dir" >"$d/inc-dir.conf"
	echo "include /dev/zero" >"$d/inc-zero.conf"
	# each file includes the next ten times, 8 levels: 10^8 files
	echo "deny subscriber 10.1.0.0/16" >"$d/l8.conf"
	for i in 7 6 5 4 3 2 1 0; do
		for j in 1 2 3 4 5 6 7 8 9 10; do echo "include l$((i + 1)).conf"; done >"$d/l$i.conf"
	done
	for i in "apply $d/inc-fifo.conf:inc-fifo.conf:1: cannot read '$d/fifo': a FIFO" \
		"apply $d/fifo:cannot read '$d/fifo': a FIFO" \
		"apply --dry-run $d/inc-dir.conf:inc-dir.conf:1: cannot read '$d/dir': a directory" \
		"apply $d/inc-zero.conf:cannot read '/dev/zero': not a regular file" \
		"deny subscriber -f $d/fifo:cannot open '$d/fifo': a FIFO" \
		"allow relay -f /dev/zero:cannot open '/dev/zero': not a regular file"; do
		# shellcheck disable=SC2086
		timeout 10 "$CTL" --pin-dir "$PIN" ${i%%:*} >"$OUT" 2>"$ERR"
		RC=$?
		refused "inputs: ${i%%:*} is refused at once" "${i#*:}"
	done
	t0=$SECONDS
	timeout 60 "$CTL" --pin-dir "$PIN" apply --dry-run "$d/l0.conf" >"$OUT" 2>"$ERR"
	RC=$?
	check "inputs: includes that fan out to 10^8 files are refused in seconds" \
		"exit $RC after $((SECONDS - t0)) s: $(head -c 300 "$ERR")" \
		eval '[ "$RC" = 2 ] && grep -q "more than 1000 files in one policy" "$ERR" &&
		      [ $((SECONDS - t0)) -lt 10 ]'
	check_eq "inputs: nothing changed" "$before" "$(state)"
}

# 14. every number checked after its unit; what save writes, apply takes
test_round_trip() {
	local a f=$TMPD/rt.conf s1=$TMPD/rt1.conf s2=$TMPD/rt2.conf bad= p
	new_pin roundtrip
	for a in "drop" "reject" "monitor" "limit 1/s" "limit 1000000/s" "limit 1/min" \
		"limit 1000000/h" "limit 7/h --burst 1" "limit 1/s --burst 1000000" \
		"limit 20/min --then reject" "limit 20/min --then drop" \
		"limit 3/s --quarantine 1s" "limit 3/s --quarantine 365d" \
		"limit 3/s --quarantine 1000ms" "limit 3/s --quarantine 1500ms" \
		"limit 3/s --quarantine 8760h" "limit 3/s --quarantine 525600min" \
		"limit 3/s --quarantine 31536000s" "limit 3/s --quarantine 31535999999ms" \
		"limit 3/s --ipv6-prefix 1" "limit 3/s --ipv6-prefix 128" \
		"limit 999999/min --burst 999999 --then reject --quarantine 364d --ipv6-prefix 127"; do
		for p in "25" "1 65535" "25 465 587" "ALL"; do
			{
				echo "action $a"
				if [ "$p" = ALL ]; then
					seq 1 65535 | xargs -n 1000 echo port
				else
					echo "port $p"
				fi
				echo "deny subscriber 0.0.0.0/0 ::/0 10.0.0.0/8 2001:db8::/32"
				echo "allow subscriber 10.255.255.255/32 2001:db8::1/128"
				echo "allow relay 192.0.2.25 2001:db8:25::/48"
			} >"$f"
			# blocking submission (465, 587) is meant here: --force
			"$CTL" --pin-dir "$PIN" -q apply --force "$f" 2>"$ERR" ||
				{ bad+=" [apply '$a' port $p: $(cat "$ERR")]"; continue; }
			"$CTL" --pin-dir "$PIN" save "$s1"
			"$CTL" --pin-dir "$PIN" apply --dry-run "$s1" >"$OUT" 2>"$ERR" ||
				{ bad+=" [saved '$a' port $p refused: $(head -c 200 "$ERR")]"; continue; }
			grep -q '^[-+~]' "$OUT" && bad+=" [saved '$a' port $p would change: $(head -c 200 "$OUT")]"
			"$CTL" --pin-dir "$PIN" -q apply "$s1" 2>/dev/null
			"$CTL" --pin-dir "$PIN" save "$s2"
			cmp -s "$s1" "$s2" || bad+=" [save of '$a' port $p differs once applied]"
		done
	done
	check_eq "roundtrip: every action, limit, duration and port form at its edges: save, apply, save" \
		"" "$bad"
	bad=
	for a in "limit 1/s --quarantine 213504d" "limit 1/s --quarantine 18446744074s" \
		"limit 1/s --quarantine 1099511627776s" "limit 1/s --quarantine 366d" \
		"limit 1/s --quarantine 31536000001ms" "limit 1/s --quarantine 999ms" \
		"limit 1/s --quarantine 0s" "limit 1/s --quarantine 18446744073709551616ns" \
		"limit 0/s" "limit 1000001/s" "limit 1/s --burst 0" "limit 1/s --burst 1000001" \
		"limit 1/s --ipv6-prefix 0" "limit 1/s --ipv6-prefix 129" "limit 1/d"; do
		# shellcheck disable=SC2086
		"$CTL" --pin-dir "$PIN" action $a >"$OUT" 2>"$ERR"
		RC=$?
		[ "$RC" = 2 ] && [ "$(wc -l <"$ERR")" = 1 ] || bad+=" [action $a: exit $RC]"
		echo "action $a" >"$f"
		"$CTL" --pin-dir "$PIN" apply "$f" >"$OUT" 2>"$ERR"
		RC=$?
		[ "$RC" = 2 ] || bad+=" [apply 'action $a': exit $RC]"
	done
	for p in 0 65536 -1 1x 99999999999999999999; do
		"$CTL" --pin-dir "$PIN" port add "$p" >"$OUT" 2>"$ERR"
		RC=$?
		[ "$RC" = 2 ] || bad+=" [port add $p: exit $RC]"
	done
	check_eq "roundtrip: numbers past their range, after the unit too, are refused" "" "$bad"
}

# 15. JSON stays JSON: every byte 0x01-0xff echoed in an error object
test_json_bytes() {
	local ns=o25t-$$-aj out
	new_pin jsonbytes
	ns_create "$ns" || { fail "json: namespace" "ip netns add"; return; }
	"$CTL" --pin-dir "$PIN" -q deny subscriber 10.0.0.0/8
	out=$("$PY" - "$CTL" "$PIN" "$ns" "$TMPD" <<'PYEOF'
import json, os, subprocess, sys
ctl, pin, ns, tmp = sys.argv[1:5]
base = [ctl, "-j", "--pin-dir", pin]
cmds = {
    "attach IFACE": lambda b: ["-n", ns, "attach", b"o25" + b + b"eth"],
    "detach IFACE": lambda b: ["-n", ns, "detach", b"o25" + b],
    "deny PREFIX": lambda b: ["deny", "subscriber", b"10.0.0." + b + b"/32"],
    "allow relay PREFIX": lambda b: ["allow", "relay", b + b"::/64"],
    "del PREFIX": lambda b: ["del", "relay", b"192.0.2." + b],
    "test ADDR": lambda b: ["test", b"10.1.2." + b, "192.0.2.1"],
    "port add X": lambda b: ["port", "add", b"2" + b + b"5"],
    "action X": lambda b: ["action", b"dr" + b + b"op"],
    "action limit X": lambda b: ["action", "limit", b"1/s" + b],
    "list X": lambda b: ["list", b"relay" + b],
    "quarantine release ADDR": lambda b: ["quarantine", "release", b"10.0.0." + b + b"x"],
    "session down NAME": lambda b: ["session", "down", b"s" + b],
    "session up --user NAME": lambda b: ["session", "up", "s1", "--user", b"u" + b],
    "apply FILE (a line)": None,
    "apply FILE (its name)": lambda b: ["apply", os.path.join(tmp, "no") .encode() + b],
    "deny -f FILE (a line)": None,
}
bad = []
for b in range(1, 256):
    byte = bytes([b])
    with open(os.path.join(tmp, "byte.conf"), "wb") as f:
        f.write(b"deny subscriber 10.9.0.0/16\ndeny subscriber 10." + byte + b".0.0/16\n")
    for name, mk in cmds.items():
        if name == "apply FILE (a line)":
            argv = ["apply", os.path.join(tmp, "byte.conf")]
        elif name == "deny -f FILE (a line)":
            argv = ["deny", "subscriber", "-f", os.path.join(tmp, "byte.conf")]
        else:
            argv = mk(byte)
        r = subprocess.run(base + argv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
        if r.returncode in (0, 3):
            continue    # the byte made good input (a digit): an answer
        try:
            text = r.stderr.decode("utf-8", errors="strict")
            lines = text.splitlines()
            assert len(lines) >= 1, "nothing on stderr"
            for line in lines:
                o = json.loads(line)
                assert isinstance(o, dict) and "error" in o, "not an error object"
        except (ValueError, AssertionError) as e:
            bad.append("%s 0x%02x: %s: %r" % (name, b, e, r.stderr[:120]))
print(len(cmds) * 255)
bad.sort(key=lambda x: x.split(" 0x")[0] != "attach IFACE")
for x in bad[:5]:
    print(x)
if bad:
    print("... %d in all" % len(bad))
PYEOF
)
	check_eq "json: every byte 0x01-0xff through the errors of $(head -1 <<<"$out") commands parses as strict JSON" \
		"" "$(sed 1d <<<"$out")"
	# an output value: an interface named in bytes that are not UTF-8
	ip -n "$ns" link add $'o\xe9\xff\xc3(' type veth peer name o25jp
	ip -n "$ns" link set $'o\xe9\xff\xc3(' up
	"$CTL" --pin-dir "$PIN" -n "$ns" -q attach $'o\xe9\xff\xc3(' --hook tc
	"$CTL" --pin-dir "$PIN" -n "$ns" -j status >"$OUT" 2>"$ERR"
	check "json: -j status of an interface named in bytes that are not UTF-8 parses" \
		"$(head -c 300 "$OUT")" "$PY" -c '
import json, sys
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8", "strict"))
sys.exit(0 if any(a["ifname"] == "o\u00e9\u00ff\u00c3(" for a in d["attachments"]) else 1)' "$OUT"
	"$CTL" --pin-dir "$PIN" -n "$ns" -q detach --all
}

# 16. unprivileged use is honest: no right to read is never "absent"
test_unprivileged() {
	local d=$TMPD/nobody c bad= as
	command -v setpriv >/dev/null || { skip "nobody: setpriv" "not installed"; return; }
	new_pin nobody
	"$CTL" --pin-dir "$PIN" -q deny subscriber 10.0.0.0/8
	# a copy nobody can run, in a directory nobody can reach
	mkdir -p "$d"
	chmod 0711 "$TMPD"
	chmod 0755 "$d"
	cp "$CTL" "$d/op25bctl"
	as="setpriv --reuid=65534 --regid=65534 --clear-groups $d/op25bctl --pin-dir $PIN"
	for c in status "-j status" "-v status" list "-j list" save "port list" \
		"test 10.1.2.3 192.0.2.1" stats top "quarantine list" "monitor --count 1" \
		"detach --all" "detach o25nobody" "deny subscriber 10.1.0.0/16" \
		"del subscriber 10.0.0.0/8" "flush relay" "action drop" "port add 26"; do
		# shellcheck disable=SC2086
		timeout 10 $as $c >"$OUT" 2>"$ERR"
		RC=$?
		if [ "$RC" != 1 ] || [ "$(grep -vc '^libbpf' "$ERR")" != 1 ] ||
		   grep -qiE "not set up|nothing to detach|not attached" "$ERR" "$OUT" ||
		   ! grep -qiE "permission denied|not permitted" "$ERR"; then
			bad+=" [$c: exit $RC, $(head -c 120 "$OUT") $(head -c 160 "$ERR")]"
		fi
	done
	check_eq "nobody: without the rights every command says so (exit 1, one line), none answers 'absent'" \
		"" "$bad"
	check "nobody: the policy is still there" "$(state)" grep -q "10.0.0.0/8" <<<"$(state)"
}

# 17. an op25b whose pin dir is gone is found, and removed, from a fresh one
test_orphan_fresh() {
	local ns=o25t-$$-ao a b
	new_pin orphan-a
	a=$PIN
	new_pin orphan-b
	b=$PIN
	ns_create "$ns" || { fail "orphan: namespace" "ip netns add"; return; }
	ns_veth "$ns" o25p o25q
	PIN=$a run -n "$ns" attach o25p --hook tc
	PIN=$a run -n "$ns" attach o25q --hook xdp --xdp-mode generic
	check_eq "orphan: attached by the first pin dir" 0 "$RC"
	rm -rf "$a"
	PIN=$b run -n "$ns" status
	check "orphan: status of a fresh pin dir lists both programs no pin dir records" \
		"exit $RC: $(cat "$OUT")" \
		eval '[ "$RC" = 0 ] && grep -q "not set up" "$OUT" &&
		      grep -q "o25p.*tc ingress.*no pin dir" "$OUT" &&
		      grep -q "o25q.*xdp.*no pin dir" "$OUT"'
	PIN=$b run -n "$ns" -j status
	check "orphan: ...and -j status too" "$(cat "$OUT")" \
		eval '[ "$(jget unrecorded <"$OUT" | "$PY" -c "import json,sys; print(len(json.load(sys.stdin)))")" = 2 ]'
	PIN=$b run -n "$ns" detach o25p
	check_eq "orphan: detach IFACE from a fresh pin dir removes the tc one" 0 "$RC"
	PIN=$b run -n "$ns" -j detach o25q
	check "orphan: ...and the XDP one, saying so in JSON" "exit $RC: $(cat "$OUT")" \
		eval '[ "$RC" = 0 ] && grep -q "\"detached\":true" "$OUT"'
	check "orphan: nothing of op25b is left on either" \
		"$(tc -n "$ns" filter show dev o25p ingress; ip -n "$ns" link show o25q)" \
		eval '! tc -n "$ns" filter show dev o25p ingress | grep -q op25b &&
		      ! ip -n "$ns" link show o25q | grep -q "prog/xdp"'
	PIN=$b run -n "$ns" detach o25p
	check_eq "orphan: then detach IFACE says not attached" 2 "$RC"
	check "orphan: the fresh pin dir was not made" "$(ls "$b" 2>&1)" test ! -e "$b"
}

run_tests "$@"
