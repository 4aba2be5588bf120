#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# op25bctl's interface as doc/DESIGN.md states it: every command's success path
# and its bad input. Exit codes and messages are the interface, so they are
# asserted like output: a usage error exits 2 with exactly one line on
# stderr ("op25bctl: ..." naming the offending argument), nothing on stdout,
# and the pinned state exactly as it was.
#
# Usage: test_cli.sh [TEST...]   (default: every test_* function, in order)
# Each test starts from a pin dir of its own (new_pin, policy_pin), so any
# one runs alone as it does in a full run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

suite_begin bpftool nsenter
ns_names cli NS

OUT=$TMPD/out
ERR=$TMPD/err
RC=0

# Commands that name interfaces run in the suite's own namespace.
WRAP=()

# run ARGS...: op25bctl on this suite's pin dir; sets RC, fills OUT/ERR.
run() {
	"${WRAP[@]}" "$CTL" --pin-dir "$PIN" "$@" >"$OUT" 2>"$ERR"
	RC=$?
}

# run_interrupted SECONDS ARGS...: op25bctl in the background, Ctrl-C after
# SECONDS; sets RC, fills OUT/ERR. One that outlives Ctrl-C by 2 s is
# killed (and its exit status then fails the caller's check).
run_interrupted() {
	local secs=$1 pid i
	shift
	"$CTL" --pin-dir "$PIN" "$@" >"$OUT" 2>"$ERR" &
	pid=$!
	sleep "$secs"
	kill -INT $pid 2>/dev/null
	for ((i = 0; i < 20; i++)); do
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	kill -0 $pid 2>/dev/null && kill -KILL $pid
	wait $pid
	RC=$?
}

lines() {
	local n
	n=$(wc -l <"$1")
	# A last line without a newline still counts.
	[ -s "$1" ] && [ -n "$(tail -c 1 "$1")" ] && n=$((n + 1))
	echo "$n"
}

# Pinned state that any command could change: the tables, the config and
# the attachments, as op25bctl and bpftool see them.
snapshot() {
	{
		"$CTL" --pin-dir "$PIN" -j list
		"$CTL" --pin-dir "$PIN" -j port list
		"$CTL" --pin-dir "$PIN" -j action
		"$CTL" --pin-dir "$PIN" save
		# the live generation moves with any publish, even an empty one
		for m in policy attachments; do
			bpftool map dump pinned "$PIN/$m"
		done
	} 2>&1
}

# usage_error_ok NEEDLE: the last run was a clean usage error naming NEEDLE.
# Prints what is wrong, nothing when all is right.
usage_error_problems() {
	local needle=$1 n
	[ "$RC" -eq 2 ] || echo "exit $RC, not 2;"
	[ -s "$OUT" ] && echo "stdout not empty: $(head -c 120 "$OUT");"
	n=$(lines "$ERR")
	[ "$n" -eq 1 ] || echo "$n lines on stderr, not 1: $(head -c 200 "$ERR" | tr '\n' '|');"
	if [ "$n" -ge 1 ]; then
		head -n 1 "$ERR" | grep -q '^op25bctl: ' ||
			echo "stderr does not start with 'op25bctl: ': $(head -n 1 "$ERR");"
		[ -z "$needle" ] || grep -qF -- "$needle" "$ERR" ||
			echo "stderr does not name '$needle': $(head -n 1 "$ERR");"
	fi
}

# expect_usage LABEL NEEDLE ARGS...: exit 2, one line naming NEEDLE, no
# stdout, and nothing changed.
expect_usage() {
	local label=$1 needle=$2 before after p
	shift 2
	before=$(snapshot)
	run "$@"
	after=$(snapshot)
	p=$(usage_error_problems "$needle")
	[ "$before" = "$after" ] || p="$p pinned state changed;"
	if [ -z "$p" ]; then
		ok "$label"
	else
		fail "$label" "op25bctl $*: $p"
	fi
}

# expect_rc LABEL CODE ARGS...: exit CODE; for 0 and 3, nothing on stderr
# but summaries (never an "op25bctl:" error line).
expect_rc() {
	local label=$1 want=$2
	shift 2
	run "$@"
	if [ "$RC" -ne "$want" ]; then
		fail "$label" "op25bctl $*: exit $RC, expected $want; stderr: $(head -c 200 "$ERR")"
	elif grep -q '^op25bctl: ' "$ERR"; then
		fail "$label" "op25bctl $*: exit $RC but an error on stderr: $(head -n 1 "$ERR")"
	else
		ok "$label"
	fi
}

# JSON checks on files, with the standard library only.
json_valid() {
	"$PY" -m json.tool "$1" >/dev/null 2>&1
}

# list_has TABLE PREFIX VERDICT: `list -j` holds exactly that entry.
list_has() {
	"$CTL" --pin-dir "$PIN" -j list 2>/dev/null | "$PY" -c '
import json, sys
t, p, v = sys.argv[1:4]
sys.exit(0 if any(e.get("table") == t and e.get("prefix") == p and
                  e.get("verdict") == v for e in json.load(sys.stdin)) else 1)
' "$1" "$2" "$3"
}

list_lacks() {
	"$CTL" --pin-dir "$PIN" -j list 2>/dev/null | "$PY" -c '
import json, sys
t, p = sys.argv[1:3]
sys.exit(1 if any(e.get("table") == t and e.get("prefix") == p
                  for e in json.load(sys.stdin)) else 0)
' "$1" "$2"
}

# list_count TABLE: entries in `list -j TABLE`.
list_count() {
	"$CTL" --pin-dir "$PIN" -j list "$1" 2>/dev/null |
		"$PY" -c 'import json, sys; print(len(json.load(sys.stdin)))'
}

ports_are() {
	local seen
	seen=$("$CTL" --pin-dir "$PIN" -j port list 2>/dev/null |
		"$PY" -c 'import json, sys; print(" ".join(map(str, json.load(sys.stdin))))')
	[ "$seen" = "$1" ] || { echo "ports '$seen', expected '$1'" >&2; return 1; }
}

# new_pin NAME: a fresh, empty pin dir for one test, removed at exit. Sets
# PIN. A test of its own pin dir is judged on what it did, never on what a
# test before it left there.
new_pin() {
	fresh_pin cli-$1
}

# policy_pin NAME: a fresh pin dir holding the policy the tests after
# test_tables judge against, the one test_tables builds (without its
# checks): denied pools with an exempt host and /48, relays with a
# carve-out. A setup that fails is a failure of the test that asked.
policy_pin() {
	new_pin "$1"
	"$CTL" --pin-dir "$PIN" -q deny subscriber 10.0.0.0/8 2001:db8::/32 &&
	"$CTL" --pin-dir "$PIN" -q allow subscriber 10.1.2.3 2001:db8:1::/48 &&
	"$CTL" --pin-dir "$PIN" -q allow relay 192.0.2.25/32 \
		2001:db8:ffff::25/128 198.51.100.0/24 &&
	"$CTL" --pin-dir "$PIN" -q deny relay 198.51.100.66/32 && return 0
	fail "$1: setup" "op25bctl could not write the base policy to $PIN"
	return 1
}

# cli_netns: the namespace the attach tests work in, a veth pair and a tun
# (made once, with once; removed at exit).
cli_netns() {
	ns_create "$NS" && veth_pair "$NS" v0 "$NS" v1 &&
		ip -n "$NS" tuntap add dev t0 mode tun && ip -n "$NS" link set t0 up
}

# a source in quarantine for an hour, as the datapath writes one: family 4,
# 10.9.9.9, flags 1, then tat, until and since in CLOCK_MONOTONIC ns
limiter_put() {	# SLOT ADDR_BYTES...: one quarantined entry
	local slot=$1 now
	shift
	now=$(python3 -c 'import time; print(time.monotonic_ns())')
	bpftool map update pinned "$PIN/limiter" key $(le32 "$slot") value \
		4 0 0 0 "$@" $(zeros $((16 - $#))) $(le32 1) $(le64 0) \
		$(le64 $((now + 3600000000000))) $(le64 "$now") $(le64 "$now") \
		$(le32 0) $(le32 7)
}

le32() { python3 -c "import sys; print(' '.join(str(b) for b in int(sys.argv[1]).to_bytes(4, 'little')))" "$1"; }
le64() { python3 -c "import sys; print(' '.join(str(b) for b in int(sys.argv[1]).to_bytes(8, 'little')))" "$1"; }
zeros() { local i; for ((i = 0; i < $1; i++)); do printf '0 '; done; }

# What test_attach looks for in the suite's namespace.
xdp_on() {
	ip -n "$NS" -d link show "$1" | grep -q prog/xdp
}

tc_on() {
	tc -n "$NS" filter show dev "$1" "$2" | grep -q bpf
}

clsact_any() {
	tc -n "$NS" qdisc show | grep -q clsact
}

# Global options, help, and words op25bctl does not know: usage errors
# before anything is pinned (the pin dir does not exist yet).
test_help() {
	new_pin help
	run
	check "no command: exit 2, usage on stderr, stdout empty" \
		"exit $RC, stdout $(wc -c <"$OUT") bytes, stderr $(wc -c <"$ERR") bytes" \
		eval '[ $RC -eq 2 ] && [ ! -s "$OUT" ] && [ -s "$ERR" ]'
	expect_rc "help: exit 0" 0 help
	check "help: usage on stdout, names the commands" "$(head -c 200 "$OUT")" \
		eval 'grep -q deny "$OUT" && grep -q attach "$OUT" && grep -q stats "$OUT"'
	expect_rc "help deny: exit 0" 0 help deny
	expect_usage "help frobnicate: unknown command" frobnicate help frobnicate
	expect_usage "unknown command" frobnicate frobnicate
	expect_usage "unknown global option" --bogus --bogus list
	expect_usage "--pin-dir without a value" pin-dir --pin-dir

	run -j frobnicate
	check "-j unknown command: exit 2, nothing on stdout" "exit $RC, stdout $(head -c 100 "$OUT")" \
		eval '[ $RC -eq 2 ] && [ ! -s "$OUT" ]'
	check "-j unknown command: the error is one JSON object on stderr" \
		"stderr: $(head -c 200 "$ERR")" \
		eval '[ "$(lines "$ERR")" -eq 1 ] && "$PY" -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if \"frobnicate\" in d[\"error\"] else 1)" <"$ERR"'
}

# ---- the docs held to op25bctl's own tables ----
#
# As bpftool's test_bpftool_synctypes.py holds its help, man page and
# completion to its sources: every command 'op25bctl help' lists, every
# option it and 'help CMD' print (both from the option tables in
# user/args.c), and every literal word of a command's usage lines (a
# subcommand such as 'action limit', an option's values) must appear in
# README.md's synopsis, in doc/op25bctl.8 and in what the bash completion
# offers. Everything is taken from what help prints: a command or option
# added later fails here until it is documented.

DOC_README=$TOP_DIR/README.md
DOC_MAN=$TOP_DIR/doc/op25bctl.8
DOC_COMP=$TOP_DIR/contrib/op25bctl.bash-completion

# The commands 'help' lists, one a line.
docs_commands() {
	"$CTL" help | awk '/^Commands:/ { on = 1; next }
		on && /^$/ { exit }
		on && /^  [a-z]/ { print $1 }'
}

# The options of the Options: block on stdin, one a line: SPELLING, then 1
# when it takes a value, else 0.
docs_options() {
	awk '/^Options:/ { on = 1; next }
		on && /^$/ { exit }
		on {
			sub(/^ +/, "")
			split($0, part, /  +/)
			n = split(part[1], w, /[ ,]+/)
			arg = 0
			for (i = 1; i <= n; i++)
				if (w[i] !~ /^-/)
					arg = 1
			for (i = 1; i <= n; i++)
				if (w[i] ~ /^-/)
					print w[i], arg
		}'
}

# The usage lines of 'help CMD', one a line, each without its
# "op25bctl CMD" and brackets: the elements, alternatives joined by '|'.
docs_usage() {
	"$CTL" help "$1" | awk -v c="$1" '
		/^Usage:/ { on = 1; sub(/^Usage:/, "") }
		on && /^$/ { exit }
		on {
			if ($1 == "op25bctl") {
				if (u != "")
					print u
				u = ""
				sub(/^ *op25bctl +[^ ]+/, "")
			}
			gsub(/[][]/, " ")
			u = u " " $0
		}
		END { if (u != "") print u }' | sed 's/^ *//; s/  */ /g; s/ $//'
}

# A literal word of a usage line: not a placeholder (FILE, PREFIX...).
docs_literal() {
	[[ $1 =~ ^-{0,2}[a-z][a-z0-9-]*$ ]]
}

# The words of text on stdin, one a line (roff escapes undone).
docs_words() {
	sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\&//g' |
		tr -cs 'A-Za-z0-9-' '\n' | grep -v '^$' | sort -u
}

# Which of the words "$@" are not among the words on stdin.
docs_missing() {
	local have w miss=()
	have=$(docs_words)
	for w in "$@"; do
		grep -qxF -- "$w" <<<"$have" || miss+=("$w")
	done
	printf '%s\n' "${miss[*]}"
}

# README.md's synopsis: the code block under "## op25bctl".
docs_readme_synopsis() {
	awk '/^## op25bctl$/ { sec = 1; next }
		sec && /^```/ { if (on) exit; on = 1; next }
		on' "$DOC_README"
}

# The lines of the synopsis for CMD: its own and those indented below it.
docs_readme_cmd() {
	docs_readme_synopsis | awk -v c="$1" '
		$1 == c { on = 1; print; next }
		on && /^[ \t]/ { print; next }
		{ on = 0 }'
}

# A section of the man page (.SH NAME to the next .SH).
docs_man_section() {
	awk -v s="$1" '/^\.SH / { on = ($0 == ".SH " s || $0 == ".SH \"" s "\"") ; next } on' "$DOC_MAN"
}

# The man page's COMMANDS entries for CMD: those whose tag (the line after
# .TP) starts with CMD, or with an alternation of commands that holds it.
docs_man_cmd() {
	docs_man_section COMMANDS | awk -v c="$1" '
		function plain(s) {
			gsub(/\\f[BIRP]/, "", s); gsub(/\\-/, "-", s); gsub(/"/, "", s)
			sub(/^\.[A-Z]+ +/, "", s); sub(/^ +/, "", s)
			return s
		}
		/^\.TP/ { tag = 1; on = 0; next }
		tag { tag = 0; on = plain($0) ~ ("^([a-z]+ *[|] *)*" c "([ |]|$)") }
		on'
}

# What the bash completion offers for the command line "op25bctl $@" (the
# last word the one completed), one a line. bash-completion's helpers are
# stood in for: the script's own logic is what is tested.
docs_complete() {
	bash -c '
		_init_completion() {
			words=("${COMP_WORDS[@]}")
			cword=$COMP_CWORD
			cur=${words[cword]}
			prev=${words[cword - 1]}
		}
		_filedir() { :; }
		complete() { :; }
		. "$0" || exit 1
		COMP_WORDS=(op25bctl "$@")
		COMP_CWORD=$#
		_op25bctl
		printf "%s\n" "${COMPREPLY[@]}"' "$DOC_COMP" "$@"
}

# docs_offers WORD ARGS...: the completion offers WORD for "op25bctl ARGS".
docs_offers() {
	local w=$1
	shift
	docs_complete "$@" | grep -qxF -- "$w"
}

# What a usage element stands for on a command line: its first
# alternative, or a value for a placeholder.
docs_sample() {
	local first=${1%%|*}
	docs_literal "$first" && printf '%s\n' "$first" || echo x
}

# The words the completion does not offer where CMD's usage puts them: each
# literal word of a usage line completed after the elements before it; an
# option of the Options: block that no usage line shows, at the end of the
# first.
docs_complete_missing() {
	local c=$1 line e a i k ctx=() miss=() opts opt seen first=
	local -a el
	opts=$("$CTL" help "$c" | docs_options | cut -d' ' -f1)
	seen=" "
	while read -r line; do
		read -ra el <<<"$line"
		[ -z "$first" ] && first=$line
		for ((k = 0; k < ${#el[@]}; k++)); do
			ctx=("$c")
			for ((i = 0; i < k; i++)); do
				ctx+=("$(docs_sample "${el[i]}")")
			done
			IFS='|' read -ra alts <<<"${el[k]}"
			for a in "${alts[@]}"; do
				docs_literal "$a" || continue
				seen+="$a "
				docs_offers "$a" "${ctx[@]}" "${a%%[!-]*}" || miss+=("$a")
			done
		done
	done < <(docs_usage "$c")
	read -ra el <<<"$first"
	ctx=("$c")
	for e in "${el[@]}"; do
		ctx+=("$(docs_sample "$e")")
	done
	for opt in $opts; do
		[[ $seen == *" $opt "* ]] && continue
		docs_offers "$opt" "${ctx[@]}" "${opt%%[!-]*}" || miss+=("$opt")
	done
	printf '%s\n' "${miss[*]}"
}

# The literal words of CMD's usage lines and its options, one a line.
docs_cmd_words() {
	{
		docs_usage "$1" | tr ' |' '\n\n'
		"$CTL" help "$1" | docs_options | cut -d' ' -f1
	} | while read -r w; do
		docs_literal "$w" && printf '%s\n' "$w"
	done | sort -u
}

test_docs() {
	local cmds c words m gopts gopt arg word cmdline
	cmds=$(docs_commands)
	# what is read from help is there: the rest cannot pass on nothing
	check "docs: help lists the commands" "$(echo $cmds)" \
		eval 'grep -qx deny <<<"$cmds" && grep -qx help <<<"$cmds"'
	gopts=$("$CTL" help | docs_options)
	check "docs: help lists the global options" "$gopts" \
		eval 'grep -q "^--pin-dir 1$" <<<"$gopts" && grep -q "^--help 0$" <<<"$gopts"'

	# the global options: README's synopsis line, the man page's SYNOPSIS
	# and OPTIONS, and the completion (one that takes a value is not taken
	# for the command)
	m=$(docs_readme_cmd op25bctl | docs_missing $(cut -d' ' -f1 <<<"$gopts"))
	check "docs: README synopsis has every global option" "missing: $m" test -z "$m"
	m=$(docs_man_section SYNOPSIS | docs_missing $(cut -d' ' -f1 <<<"$gopts"))
	check "docs: op25bctl.8 SYNOPSIS has every global option" "missing: $m" test -z "$m"
	m=$(docs_man_section OPTIONS | docs_missing $(cut -d' ' -f1 <<<"$gopts"))
	check "docs: op25bctl.8 OPTIONS has every global option" "missing: $m" test -z "$m"
	m=
	while read -r gopt arg; do
		docs_offers "$gopt" "${gopt%%[!-]*}" || m+="$gopt "
		[ "$arg" = 1 ] && ! docs_offers status "$gopt" x "" &&
			m+="($gopt VALUE COMMAND) "
	done <<<"$gopts"
	check "docs: completion offers every global option" "missing: $m" test -z "$m"

	# every command, in each place
	m=$(docs_readme_synopsis | awk '{ print $1 }' | docs_missing $cmds)
	check "docs: README synopsis has every command" "missing: $m" test -z "$m"
	m=
	for c in $cmds; do
		[ -n "$(docs_man_cmd "$c")" ] || m+="$c "
	done
	check "docs: op25bctl.8 COMMANDS has an entry for every command" "missing: $m" test -z "$m"
	m=
	for c in $cmds; do
		docs_offers "$c" "" || m+="$c "
	done
	check "docs: completion offers every command" "missing: $m" test -z "$m"
	m=
	for c in $cmds; do
		docs_offers "$c" help "" || m+="$c "
	done
	check "docs: completion offers every command after help" "missing: $m" test -z "$m"

	# each command's words and options, in that command's place
	for c in $cmds; do
		words=$(docs_cmd_words "$c")
		[ -n "$words" ] || continue
		m=$(docs_readme_cmd "$c" | docs_missing $words)
		check "docs: README synopsis of $c has its words and options" "missing: $m" test -z "$m"
		m=$(docs_man_cmd "$c" | docs_missing $words)
		check "docs: op25bctl.8 on $c has its words and options" "missing: $m" test -z "$m"
		m=$(docs_complete_missing "$c")
		check "docs: completion of $c offers its words and options" "missing: $m" test -z "$m"
	done

	# a completion arm no command can reach (a second one for a command)
	m=$(awk '/^\tcase \$cmd in/ { on = 1; next } on && /^\tesac/ { exit }
		on && /^\t[a-z][a-z|]*\)/ { sub(/\).*/, ""); sub(/^\t/, "");
			n = split($0, p, "|"); for (i = 1; i <= n; i++) if (seen[p[i]]++) print p[i] }' "$DOC_COMP")
	check "docs: completion has one arm per command" "more than one: $m" test -z "$m"

	# the man page shows examples, and they name commands that exist
	check "docs: op25bctl.8 has an EXAMPLES section" "no .SH EXAMPLES" \
		eval '[ -n "$(docs_man_section EXAMPLES)" ]'
	m=
	while read -r cmdline; do
		set -- $cmdline
		shift
		while [ $# -gt 0 ] && [[ $1 == -* ]]; do
			arg=$(awk -v o="$1" '$1 == o { print $2 }' <<<"$gopts")
			shift
			[ "$arg" = 1 ] && shift
		done
		grep -qxF -- "${1:-}" <<<"$cmds" || m+="'$cmdline' "
	done < <(docs_man_section EXAMPLES | sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' | grep '^op25bctl ')
	check "docs: op25bctl.8 EXAMPLES name commands help lists" "unknown: $m" test -z "$m"
}

# A pin dir that cannot be used, and one that holds nothing yet.
test_pin_dir() {
	new_pin pindir
	expect_usage "pin dir missing: deny" /nonexistent/x \
		--pin-dir /nonexistent/x deny subscriber 10.0.0.0/8
	check "pin dir missing: nothing was created" "/nonexistent exists" \
		not test -e /nonexistent
	expect_usage "pin dir missing: list" /nonexistent/x --pin-dir /nonexistent/x list
	expect_usage "pin dir missing: stats" /nonexistent/x --pin-dir /nonexistent/x stats
	expect_usage "pin dir missing: test" /nonexistent/x --pin-dir /nonexistent/x test 10.0.0.1 192.0.2.1
	expect_usage "pin dir missing: port add" /nonexistent/x --pin-dir /nonexistent/x port add 2525
	expect_usage "pin dir not on bpffs" "$TMPD" --pin-dir "$TMPD" deny subscriber 10.0.0.0/8

	# A pin dir that may be created, but holds nothing yet: read commands
	# report that op25b is not set up, as a runtime failure, in one line.
	run list
	check "list before any rule: exit 1 or an empty list" \
		"exit $RC, stdout $(head -c 100 "$OUT"), stderr $(head -c 200 "$ERR")" \
		eval '{ [ $RC -eq 1 ] && [ "$(lines "$ERR")" -eq 1 ] && [ ! -s "$OUT" ]; } || { [ $RC -eq 0 ] && [ ! -s "$ERR" ]; }'
}

# deny, allow, del and list from an empty pin dir: the first command pins
# every map, and each change shows in list.
test_tables() {
	new_pin tables
	expect_rc "deny subscriber IPv4 and IPv6: exit 0" 0 \
		deny subscriber 10.0.0.0/8 2001:db8::/32
	check "deny: stdout empty (summary on stderr)" "stdout: $(head -c 100 "$OUT")" \
		not test -s "$OUT"
	check "deny: one summary line on stderr counts 2 added" "stderr: $(cat "$ERR")" \
		eval '[ "$(lines "$ERR")" -eq 1 ] && grep -q "2/2" "$ERR"'
	for m in policy roots nodes leaves rules hits engine index stats attachments \
		offenders events; do
		check "first table command pins map $m" "$PIN/$m missing" test -e "$PIN/$m"
	done
	check "list: 10.0.0.0/8 deny" "not in list -j" list_has subscriber 10.0.0.0/8 deny
	check "list: 2001:db8::/32 deny" "not in list -j" list_has subscriber 2001:db8::/32 deny

	expect_rc "allow subscriber bare address (host prefix): exit 0" 0 \
		allow subscriber 10.1.2.3 2001:db8:1::/48
	check "list: bare 10.1.2.3 stored as 10.1.2.3/32 allow" "not in list -j" \
		list_has subscriber 10.1.2.3/32 allow
	check "list: 2001:db8:1::/48 allow" "not in list -j" \
		list_has subscriber 2001:db8:1::/48 allow
	expect_rc "allow relay: exit 0" 0 allow relay 192.0.2.25/32 2001:db8:ffff::25/128 198.51.100.0/24
	expect_rc "deny relay carve-out: exit 0" 0 deny relay 198.51.100.66/32
	check "list: relay carve-out 198.51.100.66/32 deny" "not in list -j" \
		list_has relay 198.51.100.66/32 deny

	expect_rc "deny again (unchanged): exit 0" 0 deny subscriber 10.0.0.0/8
	check "deny again: summary counts it unchanged, not added" "stderr: $(cat "$ERR")" \
		grep -q "0/1" "$ERR"
	expect_rc "allow over deny changes the verdict: exit 0" 0 allow subscriber 10.200.0.0/16
	expect_rc "deny over allow changes the verdict: exit 0" 0 deny subscriber 10.200.0.0/16
	check "list: 10.200.0.0/16 now deny" "not deny" list_has subscriber 10.200.0.0/16 deny
	expect_rc "-q silences the summary" 0 -q deny subscriber 10.201.0.0/16
	check "-q: stderr empty" "stderr: $(cat "$ERR")" not test -s "$ERR"

	cat >"$TMPD/good.txt" <<-'EOF'
	# subscriber pools
	100.64.0.0/10   100.65.0.0/16	# two on a line, a tab
	2001:db8:100::/40

	EOF
	expect_rc "deny -f FILE: exit 0" 0 deny subscriber -f "$TMPD/good.txt"
	check "-f FILE: every prefix added" "missing in list -j" eval \
		'list_has subscriber 100.64.0.0/10 deny && list_has subscriber 100.65.0.0/16 deny && list_has subscriber 2001:db8:100::/40 deny'
	printf '172.16.0.0/12\n# comment\nfd00::/8\n' >"$TMPD/stdin.txt"
	"$CTL" --pin-dir "$PIN" deny subscriber -f - <"$TMPD/stdin.txt" >"$OUT" 2>"$ERR"
	RC=$?
	check_eq "deny -f - (stdin): exit 0" 0 "$RC"
	check "-f -: prefixes from stdin added" "missing in list -j" eval \
		'list_has subscriber 172.16.0.0/12 deny && list_has subscriber fd00::/8 deny'

	expect_rc "del subscriber: exit 0" 0 del subscriber 100.65.0.0/16 fd00::/8
	check "del: entries gone" "still listed" eval \
		'list_lacks subscriber 100.65.0.0/16 && list_lacks subscriber fd00::/8'
	check "del: neighbours kept" "100.64.0.0/10 gone" list_has subscriber 100.64.0.0/10 deny
	expect_rc "del of an absent prefix: exit 0" 0 del subscriber 10.99.0.0/16
	"$CTL" --pin-dir "$PIN" -q allow subscriber 10.98.0.0/16
	run -j del subscriber 172.16.0.0/12 10.98.0.0/16 10.99.0.0/16
	check "-j del: each prefix says what was there (deny, allow, none)" \
		"exit $RC: $(head -c 300 "$OUT")" \
		eval '[ $RC -eq 0 ] && [ "$("$PY" -c "import json,sys; print([(c[\"prefix\"], c[\"change\"], c[\"was\"]) for c in json.load(sys.stdin)])" <"$OUT")" = \
			"[('"'"'172.16.0.0/12'"'"', '"'"'deleted'"'"', '"'"'deny'"'"'), ('"'"'10.98.0.0/16'"'"', '"'"'deleted'"'"', '"'"'allow'"'"'), ('"'"'10.99.0.0/16'"'"', '"'"'not present'"'"', '"'"'none'"'"')]" ]'

	run list
	check_eq "list (text): exit 0" 0 "$RC"
	check "list (text): a header and the entries, nothing on stderr" \
		"stdout: $(head -c 200 "$OUT") stderr: $(head -c 100 "$ERR")" \
		eval 'grep -qi prefix "$OUT" && grep -q "10.0.0.0/8" "$OUT" && grep -q "198.51.100.66/32" "$OUT" && [ ! -s "$ERR" ]'
	run list relay
	check "list relay: only relay entries" "$(head -c 200 "$OUT")" \
		eval '[ $RC -eq 0 ] && grep -q 192.0.2.25/32 "$OUT" && ! grep -q 10.0.0.0/8 "$OUT"'
	run -j list
	check "-j list: valid JSON on stdout, exit 0" "exit $RC: $(head -c 200 "$OUT")" \
		eval '[ $RC -eq 0 ] && json_valid "$OUT"'
	check "-j list: entries carry table, prefix, verdict, hits" "$(head -c 200 "$OUT")" \
		eval '"$PY" -c "import json,sys; v=json.load(sys.stdin); sys.exit(0 if v and all({\"table\",\"prefix\",\"verdict\",\"hits\"} <= set(e) for e in v) else 1)" <"$OUT"'
	run -p list subscriber
	check "-p list: valid indented JSON" "exit $RC: $(head -c 100 "$OUT")" \
		eval '[ $RC -eq 0 ] && json_valid "$OUT" && [ "$(wc -l <"$OUT")" -gt 1 ]'
}

# Bad input to the table commands: refused whole, the tables unchanged.
test_tables_bad_input() {
	policy_pin badinput || return
	run deny subscriber 10.0.0.0/33
	check_eq "bad prefix /33: the message doc/DESIGN.md shows" \
		"op25bctl: bad prefix '10.0.0.0/33': prefix length must be 0-32" \
		"$(cat "$ERR")"
	expect_usage "deny /33" 10.0.0.0/33 deny subscriber 10.0.0.0/33
	run -j deny subscriber 10.0.0.0/33
	check "-j bad prefix: exit 2, stdout empty, one JSON error naming it on stderr" \
		"exit $RC, stdout '$(head -c 100 "$OUT")', stderr '$(head -c 200 "$ERR")'" \
		eval '[ $RC -eq 2 ] && [ ! -s "$OUT" ] && [ "$(lines "$ERR")" -eq 1 ] && jget error <"$ERR" | grep -qF 10.0.0.0/33'
	expect_usage "deny /129" 2001:db8::/129 deny subscriber 2001:db8::/129
	expect_usage "deny IPv4 host bits set" 10.0.0.1/8 deny subscriber 10.0.0.1/8
	expect_usage "deny IPv6 host bits set" 2001:db8::1/32 deny subscriber 2001:db8::1/32
	expect_usage "deny not an address" 300.1.1.1 deny subscriber 300.1.1.1
	expect_usage "deny empty length" 10.0.0.0/ deny subscriber 10.0.0.0/
	expect_usage "deny negative length" 10.0.0.0/-1 deny subscriber 10.0.0.0/-1
	expect_usage "deny length with junk" 10.0.0.0/8x deny subscriber 10.0.0.0/8x
	expect_usage "deny empty string" "''" deny subscriber ""
	expect_usage "deny good+garbage list: nothing added" garbage \
		deny subscriber 10.9.0.0/16 garbage 10.8.0.0/16
	check "good+garbage: the good prefix before the garbage was not added" \
		"10.9.0.0/16 present" list_lacks subscriber 10.9.0.0/16
	expect_usage "allow good+bad list: nothing changed" 10.0.0.0/33 \
		allow subscriber 10.0.0.0/8 10.0.0.0/33
	check "allow good+bad: 10.0.0.0/8 still deny" "verdict changed" \
		list_has subscriber 10.0.0.0/8 deny
	expect_usage "del good+bad list: nothing deleted" 2001:db8::/129 \
		del subscriber 10.0.0.0/8 2001:db8::/129
	check "del good+bad: 10.0.0.0/8 still there" "deleted" \
		list_has subscriber 10.0.0.0/8 deny

	printf '10.7.0.0/16\n# ok so far\n10.6.0.0/16 10.5.0.0/99\n' >"$TMPD/bad.txt"
	expect_usage "-f FILE with a bad line 3: names FILE:3 and the prefix" \
		"bad.txt:3" deny subscriber -f "$TMPD/bad.txt"
	check "-f bad file: message names the prefix" "$(cat "$ERR")" \
		grep -qF "10.5.0.0/99" "$ERR"
	check "-f bad file: good lines before it not added" "10.7.0.0/16 present" \
		list_lacks subscriber 10.7.0.0/16
	expect_usage "-f missing file" /nonexistent/prefixes.txt \
		deny subscriber -f /nonexistent/prefixes.txt
	expect_usage "-f without a file" -f deny subscriber -f
	expect_usage "deny without a table" "" deny
	expect_usage "deny without prefixes" "" deny subscriber
	expect_usage "deny unknown table" frobtable deny frobtable 10.0.0.0/8
	expect_usage "allow unknown table" frobtable allow frobtable 10.0.0.0/8
	expect_usage "del unknown table" frobtable del frobtable 10.0.0.0/8
	expect_usage "deny unknown option" --bogus deny subscriber 10.0.0.0/8 --bogus
	expect_usage "list unknown table" frobtable list frobtable
	expect_usage "list extra argument" extra list subscriber extra
	expect_usage "flush without a table" "" flush
	expect_usage "flush unknown table" frobtable flush frobtable
}

# 'op25bctl test': the verdict the datapath would give, from base_policy.
test_test_command() {
	policy_pin test || return
	expect_rc "test denied -> MX:25: exit 3 (blocked)" 3 test 10.5.5.5 203.0.113.9 25
	check "test: names the rule that decided it" "stdout: $(cat "$OUT")" \
		grep -qF 10.0.0.0/8 "$OUT"
	expect_rc "test default port is 25: exit 3" 3 test 10.5.5.5 203.0.113.9
	expect_rc "test exempt source: exit 0" 0 test 10.1.2.3 203.0.113.9 25
	expect_rc "test relay destination: exit 0" 0 test 10.5.5.5 192.0.2.25 25
	expect_rc "test relay carve-out (deny inside allow): exit 3" 3 test 10.5.5.5 198.51.100.66 25
	expect_rc "test inside allowed relay range: exit 0" 0 test 10.5.5.5 198.51.100.7 25
	expect_rc "test non-subscriber: exit 0" 0 test 192.168.1.1 203.0.113.9 25
	expect_rc "test other port 587: exit 0" 0 test 10.5.5.5 203.0.113.9 587
	expect_rc "test IPv6 denied: exit 3" 3 test 2001:db8:5::1 2001:db8:ffff::99 25
	expect_rc "test IPv6 exempt /48: exit 0" 0 test 2001:db8:1::5 2001:db8:ffff::99 25
	expect_rc "test IPv6 relay: exit 0" 0 test 2001:db8:5::1 2001:db8:ffff::25 25
	expect_rc "test IPv6 non-subscriber: exit 0" 0 test 2001:db9::1 2001:db8:ffff::99 25
	run -j test 10.5.5.5 203.0.113.9 25
	check "-j test blocked: exit 3, valid JSON, verdict blocked" \
		"exit $RC: $(head -c 200 "$OUT")" \
		eval '[ $RC -eq 3 ] && json_valid "$OUT" && [ "$(jget verdict <"$OUT")" = "\"blocked\"" ]'
	run -j test 10.1.2.3 203.0.113.9 25
	check "-j test exempt: exit 0, valid JSON, verdict not blocked" \
		"exit $RC: $(head -c 200 "$OUT")" \
		eval '[ $RC -eq 0 ] && json_valid "$OUT" && v=$(jget verdict <"$OUT") && [ "$v" != "\"blocked\"" ]'
	expect_usage "test missing DST" "" test 10.5.5.5
	expect_usage "test no arguments" "" test
	expect_usage "test bad SRC" bogus test bogus 203.0.113.9
	expect_usage "test bad DST" 203.0.113.999 test 10.5.5.5 203.0.113.999
	expect_usage "test mixed families" 2001:db8::1 test 10.5.5.5 2001:db8::1
	expect_usage "test port 0" "'0'" test 10.5.5.5 203.0.113.9 0
	expect_usage "test port 65536" 65536 test 10.5.5.5 203.0.113.9 65536
	expect_usage "test port abc" abc test 10.5.5.5 203.0.113.9 abc
	expect_usage "test extra argument" extra test 10.5.5.5 203.0.113.9 25 extra
}

# The judged ports: 25 by default, added and removed, bad ones refused.
test_port() {
	policy_pin port || return
	run port list
	check "port list: 25 by default" "exit $RC: $(cat "$OUT")" \
		eval '[ $RC -eq 0 ] && [ "$(tr -d " \n" <"$OUT")" = 25 ]'
	run -j port list
	check "-j port list: valid JSON" "$(head -c 100 "$OUT")" json_valid "$OUT"
	for p in 587 465; do
		run port add 2525 $p
		check "port add $p: refused, exit 2, one line citing its RFC, nothing added" \
			"exit $RC, stderr $(head -c 300 "$ERR")" \
			eval '[ $RC -eq 2 ] && [ "$(wc -l <"$ERR")" -eq 1 ] &&
			      grep -q "RFC $([ $p = 587 ] && echo 5068 || echo 8314)" "$ERR" &&
			      grep -q -- --force "$ERR" && [ ! -s "$OUT" ]'
		check "port add $p refused: 2525 not added either" "" ports_are "25"
	done
	expect_rc "port add 2525 465 --force: exit 0" 0 port add 2525 465 --force
	check "port add: listed" "" ports_are "25 465 2525"
	expect_rc "test on an added port: exit 3" 3 test 10.5.5.5 203.0.113.9 2525
	expect_rc "port del 2525 465: exit 0" 0 port del 2525 465
	check "port del: back to 25" "" ports_are "25"
	expect_usage "port add 0" "'0'" port add 0
	expect_usage "port add 65536" 65536 port add 65536
	expect_usage "port add abc" abc port add abc
	expect_usage "port add -1" -1 port add -1
	expect_usage "port add good+bad: nothing added" 65536 port add 2525 65536
	check "port add good+bad: 2525 not added" "" ports_are "25"
	expect_usage "port add without a port" "" port add
	expect_usage "port del without a port" "" port del
	expect_usage "port unknown subcommand" frob port frob 25
}

# The action for a blocked SYN: drop by default, monitor, reject.
test_action() {
	policy_pin action || return
	run action
	check "action: drop by default" "exit $RC: $(cat "$OUT")" \
		eval '[ $RC -eq 0 ] && grep -q drop "$OUT"'
	expect_rc "action monitor: exit 0" 0 action monitor
	run -j action
	check "-j action: monitor" "$(cat "$OUT")" \
		eval '[ "$(jget action <"$OUT")" = "\"monitor\"" ]'
	expect_rc "test under monitor still answers blocked: exit 3" 3 test 10.5.5.5 203.0.113.9 25
	expect_rc "action drop: exit 0" 0 action drop
	expect_rc "action reject: exit 0" 0 action reject
	run -j action
	check "-j action: reject" "$(cat "$OUT")" \
		eval '[ "$(jget action <"$OUT")" = "\"reject\"" ]'
	expect_rc "action drop again: exit 0" 0 action drop
	expect_usage "action unknown" frob action frob
	expect_usage "action extra argument" extra action drop extra
	run -j action
	check "action unchanged by the refused ones: drop" "$(cat "$OUT")" \
		eval '[ "$(jget action <"$OUT")" = "\"drop\"" ]'
}

# action limit: its words, read and written back.
test_action_limit() {
	policy_pin limit || return
	expect_rc "action limit 20/min --burst 10 --then reject --quarantine 1h: exit 0" 0 \
		action limit 20/min --burst 10 --then reject --quarantine 1h
	run action
	check_eq "action prints the limit as given" \
		"limit 20/min --burst 10 --then reject --quarantine 1h" "$(cat "$OUT")"
	run -j action
	check "-j action: limit, rate 20 a 60 s period, burst 10, then reject, quarantine 3600 s" "$(cat "$OUT")" \
		eval '[ "$(jget action <"$OUT")" = "\"limit\"" ] && [ "$(jget rate <"$OUT")" = 20 ] &&
		      [ "$(jget period_s <"$OUT")" = 60 ] && [ "$(jget burst <"$OUT")" = 10 ] &&
		      [ "$(jget then <"$OUT")" = "\"reject\"" ] && [ "$(jget quarantine_s <"$OUT")" = 3600 ]'
	run save
	check "save writes the limit back in the same words" "$(grep '^action' "$OUT")" \
		grep -qx 'action limit 20/min --burst 10 --then reject --quarantine 1h' "$OUT"
	expect_rc "action limit 5/s: the burst defaults to the rate" 0 action limit 5/s
	run action
	check_eq "action limit 5/s reads back with its burst" "limit 5/s --burst 5" "$(cat "$OUT")"
	expect_rc "action limit 100/h --quarantine 90min --ipv6-prefix 48" 0 \
		action limit 100/h --quarantine 90min --ipv6-prefix 48
	run action
	check_eq "durations and the IPv6 source length read back" \
		"limit 100/h --burst 100 --quarantine 90min --ipv6-prefix 48" "$(cat "$OUT")"
	expect_usage "limit 0/min" "0/min" action limit 0/min
	expect_usage "limit 20/fortnight" fortnight action limit 20/fortnight
	expect_usage "limit with a negative burst" -3 action limit 20/min --burst -3
	expect_usage "limit with a burst of 0" "'0'" action limit 20/min --burst 0
	expect_usage "limit with a quarantine shorter than a second" 500ms \
		action limit 20/min --quarantine 500ms
	expect_usage "limit with a quarantine of 0s" 0s action limit 20/min --quarantine 0s
	expect_usage "limit with a quarantine without a unit" "'60'" action limit 20/min --quarantine 60
	expect_usage "limit without RATE/PERIOD" RATE/PERIOD action limit
	expect_usage "limit with a rate without a period" "'20'" action limit 20
	expect_usage "limit with an enormous rate" 99999999999999999999 \
		action limit 99999999999999999999/min
	expect_usage "limit --then accept" accept action limit 20/min --then accept
	expect_usage "limit --burst without a value" --burst action limit 20/min --burst
	expect_usage "limit --ipv6-prefix 129" 129 action limit 20/min --ipv6-prefix 129
	expect_usage "limit with an unknown option" --frob action limit 20/min --frob 1
	expect_usage "limit with a stray argument" stray action limit 20/min stray
	expect_usage "limit with control bytes" '\x01' action limit "$(printf '20/min\001')"
	run action
	check_eq "action unchanged by the refused limits" \
		"limit 100/h --burst 100 --quarantine 90min --ipv6-prefix 48" "$(cat "$OUT")"
}

# quarantine: listed and released, from the limiter map itself.
test_quarantine() {
	policy_pin quarantine || return
	run quarantine
	check "quarantine list: empty, a header" "exit $RC: $(cat "$OUT")" \
		eval '[ $RC -eq 0 ] && [ "$(lines "$OUT")" -eq 1 ] && grep -q SOURCE "$OUT"'
	run -j quarantine list
	check "-j quarantine list: an empty array" "$(cat "$OUT")" eval '[ "$(tr -d " \n" <"$OUT")" = "[]" ]'
	expect_usage "quarantine release: bad address" 10.0.0.300 quarantine release 10.0.0.300
	expect_usage "quarantine release without a source" missing quarantine release
	expect_usage "quarantine release: two sources" "not more" quarantine release 10.0.0.1 10.0.0.2
	expect_usage "quarantine unknown subcommand" frob quarantine frob
	run quarantine release 10.9.9.9
	check "quarantine release of a source not in quarantine: exit 1, one line saying so" \
		"exit $RC: $(cat "$ERR")" \
		eval '[ $RC -eq 1 ] && [ "$(lines "$ERR")" -eq 1 ] && grep -q "10.9.9.9 is not in quarantine" "$ERR"'
	limiter_put 5 10 9 9 9
	limiter_put 9 10 9 9 10
	run quarantine list
	check "quarantine list: both sources, about an hour left, why" "$(cat "$OUT")" \
		eval 'grep -q "^10.9.9.9 .* 60m00s\|^10.9.9.9 .* 59m5" "$OUT" && grep -q "^10.9.9.10 " "$OUT" &&
		      grep -q "7 over" "$OUT"'
	run -j quarantine
	check "-j quarantine: source, left_s, exceeded" "$(cat "$OUT")" \
		eval 'json_valid "$OUT" && [ "$(jget source <"$OUT")" = "\"10.9.9.9\"" ] && [ "$(jget exceeded <"$OUT")" = 7 ]'
	expect_rc "quarantine release 10.9.9.9: exit 0" 0 quarantine release 10.9.9.9
	check "quarantine release names the source released" "$(cat "$OUT")" grep -qx "released 10.9.9.9" "$OUT"
	run quarantine list
	check "after the release: 10.9.9.10 only" "$(cat "$OUT")" \
		eval '! grep -q "^10.9.9.9 " "$OUT" && grep -q "^10.9.9.10 " "$OUT"'
	expect_rc "quarantine release --all: exit 0" 0 quarantine release --all
	run quarantine list
	check "after release --all: none" "$(cat "$OUT")" eval '[ "$(lines "$OUT")" -eq 1 ]'
	expect_rc "action drop after the limit: exit 0" 0 action drop
}

# stats, once, as JSON, for Prometheus, and repeated until Ctrl-C.
test_stats() {
	policy_pin stats || return
	run stats
	check "stats: exit 0, counters on stdout" "exit $RC: $(head -c 200 "$OUT")" \
		eval '[ $RC -eq 0 ] && grep -q blocked "$OUT"'
	run -j stats
	check "-j stats: valid JSON with smtp and blocked" "exit $RC: $(head -c 200 "$OUT")" \
		eval '[ $RC -eq 0 ] && json_valid "$OUT" && jget smtp <"$OUT" >/dev/null && jget blocked <"$OUT" >/dev/null'
	run stats --prometheus
	check "stats --prometheus: metric lines" "exit $RC: $(head -c 200 "$OUT")" \
		eval '[ $RC -eq 0 ] && grep -Eq "^op25b_[a-z_]+(\{[^}]*\})? [0-9]+" "$OUT"'
	if command -v promtool >/dev/null; then
		promtool check metrics <"$OUT" >"$TMPD/promtool" 2>&1
		check "stats --prometheus: promtool check metrics says nothing, exit 0" \
			"exit $?: $(head -c 400 "$TMPD/promtool")" \
			eval '[ ! -s "$TMPD/promtool" ]'
	elif [ "${CI:-}" = true ]; then
		fail "stats --prometheus: promtool" "not installed (package prometheus)"
	else
		skip "stats --prometheus: promtool" "not installed (package prometheus)"
	fi
	check "stats --prometheus: families with labels, gauges and build info" \
		"$(head -c 300 "$OUT")" \
		eval 'grep -q "^op25b_segments_total{decision=\"blocked\"} " "$OUT" &&
		      grep -q "^op25b_segments_judged_total{reason=\"smtp\"} " "$OUT" &&
		      grep -q "^op25b_rules{table=\"subscriber\",family=\"ipv4\"} [1-9]" "$OUT" &&
		      grep -q "^# TYPE op25b_rules gauge" "$OUT" &&
		      grep -q "^op25b_pool_used_entries{pool=\"nodes\"} " "$OUT" &&
		      grep -q "^op25b_build_info{version=\"[^\"]*\",layout=\"4\"} 1$" "$OUT"'
	run_interrupted 2.5 stats --interval 1
	check "stats --interval 1: repeats (2+ reports in 2.5 s)" "stdout: $(head -c 300 "$OUT")" \
		eval '[ "$(grep -c blocked "$OUT")" -ge 2 ]'
	run_interrupted 2.5 -j stats --interval 1
	check "-j stats --interval 1: a JSON line per interval, its time (RFC 3339 UTC), rates and totals under their own keys" \
		"stdout: $(head -c 300 "$OUT")" \
		"$PY" -c '
import datetime, json, sys
lines = open(sys.argv[1]).read().splitlines()
objs = [json.loads(l) for l in lines]
ok = len(objs) >= 2 and all(
    set(o) == {"time", "interval_s", "rates", "totals"} and o["interval_s"] == 1
    and datetime.datetime.strptime(o["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    and "blocked" in o["rates"] and "blocked" in o["totals"] for o in objs)
sys.exit(0 if ok else 1)
' "$OUT"
	check "stats --interval: Ctrl-C ends it cleanly (exit 0 or 130)" "exit $RC" \
		eval '[ $RC -eq 0 ] || [ $RC -eq 130 ]'
	expect_usage "stats --interval 0" "0" stats --interval 0
	expect_usage "stats --interval abc" abc stats --interval abc
	expect_usage "stats --interval without a value" interval stats --interval
	expect_usage "stats unknown option" --bogus stats --bogus
}

# top on a pin dir nothing was blocked through: the offenders table is empty.
test_top() {
	policy_pin top || return
	# Nothing was blocked through this pin dir: the offenders table is empty.
	expect_rc "top on an empty table: exit 0" 0 top
	check "top on an empty table: the header line only" "stdout: $(head -c 300 "$OUT")" \
		eval '[ "$(lines "$OUT")" -eq 1 ] && grep -q "^ADDRESS .*BLOCKED .*LAST SEEN" "$OUT"'
	expect_rc "-j top on an empty table: exit 0" 0 -j top
	check "-j top on an empty table: []" "stdout: $(head -c 300 "$OUT")" \
		eval '[ "$("$PY" -c "import json,sys; print(json.load(sys.stdin))" <"$OUT")" = "[]" ]'
	expect_rc "top -n 5: exit 0" 0 top -n 5
	expect_rc "top -n 65536: exit 0" 0 top -n 65536
	expect_usage "top -n 0" "'0'" top -n 0
	expect_usage "top -n abc" abc top -n abc
	expect_usage "top -n 65537" 65537 top -n 65537
	expect_usage "top -n without a value" -n top -n
	expect_usage "top unknown option" --bogus top --bogus
	expect_usage "top extra argument" extra top extra
}

# monitor with no traffic: no event, the stream runs until Ctrl-C.
test_monitor() {
	policy_pin monitor || return
	# No traffic here, so no event: the stream runs until Ctrl-C, exit 0.
	run_interrupted 0.5 monitor
	check "monitor: Ctrl-C ends it with exit 0, nothing printed, a summary on stderr" \
		"exit $RC, stdout $(head -c 100 "$OUT"), stderr $(head -c 200 "$ERR")" \
		eval '[ $RC -eq 0 ] && [ ! -s "$OUT" ] &&
		      [ "$(cat "$ERR")" = "monitor: 0 events, 0 lost" ]'
	run_interrupted 0.5 -q monitor --backlog
	check "monitor -q --backlog: nothing kept, nothing printed, no summary" \
		"exit $RC, stdout $(head -c 100 "$OUT"), stderr $(head -c 200 "$ERR")" \
		eval '[ $RC -eq 0 ] && [ ! -s "$OUT" ] && [ ! -s "$ERR" ]'
	expect_usage "monitor --count x" "'x'" monitor --count x
	expect_usage "monitor --count 0" "'0'" monitor --count 0
	expect_usage "monitor --count without a value" count monitor --count
	expect_usage "monitor unknown option" --bogus monitor --bogus
	expect_usage "monitor extra argument" extra monitor extra
}

# The Grafana dashboard (contrib/prometheus) asks only for what op25b
# exports: every metric a query names is a family of stats --prometheus,
# and every label value it selects on is one a series of it carries.
test_dashboard() {
	policy_pin dashboard || return
	"$CTL" --pin-dir "$PIN" stats --prometheus >"$TMPD/prom" 2>&1
	check "dashboard: every query names a metric op25b exports, with labels it has" \
		"$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["panels"]))' \
			"$TOP_DIR/contrib/prometheus/op25b-grafana-dashboard.json") panels" \
		"$PY" -c '
import json, re, sys
dash, prom = json.load(open(sys.argv[1])), open(sys.argv[2]).read()
families = set(re.findall(r"^# TYPE (\S+) ", prom, re.M))
series = re.findall(r"^(op25b_\w+)(?:\{([^}]*)\})? ", prom, re.M)
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
exprs += [v["query"] for v in dash["templating"]["list"] if v.get("type") == "query"]
bad = []
for e in exprs:
    for name in re.findall(r"\bop25b_\w+", e):
        if name not in families:
            bad.append("no family " + name)
    for name, sel in re.findall(r"\b(op25b_\w+)\{([^}]*)\}", e):
        for k, v in re.findall(r"(\w+)=\"([^\"$]*)\"", sel):
            if not any(n == name and ("%s=\"%s\"" % (k, v)) in l for n, l in series):
                bad.append("%s{%s=%r}: no such series" % (name, k, v))
if not exprs or bad:
    sys.exit("; ".join(bad) or "no queries")
' "$TOP_DIR/contrib/prometheus/op25b-grafana-dashboard.json" "$TMPD/prom"
}

# report over a large log (a month's worth, generated): 200,000 blocked
# records from 20,000 sources with session and lost records among them.
# Every source's row is what a plain reading of the log says: attempts,
# blocked and monitored, first and last, its latest user and line, its
# busiest destination, in report's order. (report finds a record's source
# through an index; it once searched every source for every record, which
# took minutes on a month's log. Correctness is asserted here, never time.)
test_report_large() {
	local log=$TMPD/large.jsonl
	"$PY" - "$log" <<'EOF_GEN'
import json, random, sys
rnd, n, nsrc = random.Random(21), 200000, 20000
with open(sys.argv[1], "w") as f:
    for k in range(n):
        i = rnd.randrange(nsrc)
        a = "10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255) if i % 7 else "2001:db8::%x" % i
        t = "2026-11-%02dT%02d:%02d:%02d.%03dZ" % (1 + k * 28 // n, k // 3600 % 24, k // 60 % 60, k % 60, k % 1000)
        if k % 997 == 0:
            f.write(json.dumps({"event": "session up", "time": t, "session": "ppp%d" % i,
                                "user": "user%d" % i, "address": [a + "/32"]}) + "\n")
        if k % 4999 == 0:
            f.write(json.dumps({"event": "lost", "time": t, "lost": "3"}) + "\n")
        e = {"time": t, "event": "blocked", "interface": "ppp%d" % (i % 50), "hook": "tc ingress",
             "family": 4 if i % 7 else 6, "saddr": a, "sport": 40000 + k % 20000,
             "daddr": "198.51.%d.%d" % (rnd.randrange(3), rnd.randrange(1, 9)), "dport": 25,
             "class": "smtp", "action": "monitor" if i % 3 else "drop"}
        if i % 5 and rnd.randrange(4):
            e.update(user="user%d-%d" % (i, k % 3), calling_station_id="line%d" % i)
        f.write(json.dumps(e, separators=(",", ":")) + "\n")
EOF_GEN
	"$CTL" -j report --file "$log" >"$OUT" 2>"$ERR"
	RC=$?
	check "report -j of 200,000 records from 20,000 sources: every row as the log says" \
		"exit $RC: $(head -c 300 "$OUT") $(head -c 300 "$ERR")" \
		"$PY" -c '
import collections, json, sys
src = collections.OrderedDict()
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] != "blocked":
        continue
    s = src.setdefault(e["saddr"], dict(address=e["saddr"], blocked=0, monitored=0, first=e["time"],
                                       user="-", calling_station_id="-", dests=collections.Counter()))
    s["monitored" if e["action"] == "monitor" else "blocked"] += 1
    s["last"] = e["time"]
    s["user"] = e.get("user") or s["user"]
    s["calling_station_id"] = e.get("calling_station_id") or s["calling_station_id"]
    s["interface"] = e["interface"]
    s["dests"]["%s:%d" % (e["daddr"], e["dport"])] += 1
want = []
for s in src.values():
    d = s.pop("dests")
    s["attempts"] = s["blocked"] + s["monitored"]
    s["top_destination"] = sorted(d.items(), key=lambda kv: (-kv[1], kv[0].encode()))[0][0]
    want.append(s)
want.sort(key=lambda s: (-s["attempts"], s["address"].encode()))
got = json.load(open(sys.argv[2]))
if len(got) != len(want) or len(want) < 19000:
    sys.exit("%d rows, want %d" % (len(got), len(want)))
for g, w in zip(got, want):
    if g != w:
        sys.exit("got %r, want %r" % (g, w))
' "$log" "$OUT"
	check_eq "report of the large log: nothing said on stderr but the lines that are not events" \
		"" "$(grep -v "not op25b records" "$ERR")"
	"$CTL" report --csv --file "$log" >"$TMPD/large.csv" 2>/dev/null
	check "report --csv of the large log: every field of every row as -j says it" \
		"$(head -3 "$TMPD/large.csv")" \
		"$PY" -c '
import csv, json, sys
got = [dict(r) for r in csv.DictReader(open(sys.argv[1]))]
dash = lambda v: "" if v == "-" else str(v)
want = [{k: dash(v) for k, v in r.items()} for r in json.load(open(sys.argv[2]))]
sys.exit(0 if got == want else "first difference: %r" % next(
    ((g, w) for g, w in zip(got, want) if g != w), (len(got), len(want))))
' "$TMPD/large.csv" "$OUT"
	rm -f "$log" "$TMPD/large.csv"
}

# bpftool sees named fields (BTF) in the maps base_policy filled.
test_btf() {
	policy_pin btf || return
	# The rule table beside the compiled trees names every prefix, its table
	# and its verdict; the live snapshot carries action and ports.
	bpftool -j map dump pinned "$PIN/rules" >"$TMPD/dump" 2>&1
	check "bpftool dump rules: a subscriber deny record with its prefix" \
		"$(head -c 200 "$TMPD/dump")" python3 -c '
import json, sys
recs = [e["formatted"]["value"] for e in json.load(open(sys.argv[1]))]
sys.exit(not any(r["table"] == "OP25B_TABLE_SUBSCRIBER" and
		 r["verdict"] == "OP25B_V_DENY" and r["prefixlen"] == 8 and
		 r["family"] == 4 and r["addr"][:4] == [10, 0, 0, 0] and
		 r["born"] and not r["died"] for r in recs))' "$TMPD/dump"
	check "bpftool dump rules: relay records name their table" \
		"$(head -c 200 "$TMPD/dump")" grep -q OP25B_TABLE_RELAY "$TMPD/dump"
	# hits: CPU c's counter of rule r at c * hits_stride + r (bpf/op25b.h)
	bpftool -j map show pinned "$PIN/hits" >"$TMPD/dump" 2>&1
	check "bpftool: hits holds a counter per rule per CPU" "$(head -c 200 "$TMPD/dump")" \
		$PY -c '
import json, os, sys
m = json.load(open(sys.argv[1]))
sys.exit(m["max_entries"] < os.cpu_count() * 4 * 16384)' "$TMPD/dump"
	bpftool map dump pinned "$PIN/policy" >"$TMPD/dump" 2>&1
	check "bpftool dump policy: hits_stride set" "$(head -c 200 "$TMPD/dump")" \
		grep -Eq '"hits_stride": [1-9]' "$TMPD/dump"
	bpftool map dump pinned "$PIN/stats" >"$TMPD/dump" 2>&1
	check "bpftool dump stats: smtp, blocked" "$(head -c 200 "$TMPD/dump")" \
		eval 'grep -q smtp "$TMPD/dump" && grep -q blocked "$TMPD/dump"'
	bpftool map dump pinned "$PIN/policy" >"$TMPD/dump" 2>&1
	check "bpftool dump policy: live, action, ports" "$(head -c 200 "$TMPD/dump")" \
		eval 'grep -q live "$TMPD/dump" && grep -q action "$TMPD/dump" && grep -q ports "$TMPD/dump"'
}

# flush empties one table and keeps the other.
test_flush() {
	policy_pin flush || return
	expect_rc "flush relay: exit 0" 0 flush relay
	check "flush relay: relay empty" "" eval '[ "$(list_count relay)" = 0 ]'
	check "flush relay: subscriber kept" "" list_has subscriber 10.0.0.0/8 deny
}

# attach, detach and status, on a veth and a tun in the suite's namespace.
test_attach() {
	policy_pin attach || return
	run status
	check "status: exit 0" "exit $RC: $(head -c 200 "$ERR")" eval '[ $RC -eq 0 ]'
	run -j status
	check "-j status: valid JSON" "exit $RC: $(head -c 200 "$OUT")" \
		eval '[ $RC -eq 0 ] && json_valid "$OUT"'

	once cli_netns ||
		die "attach setup" "could not create namespace $NS with a veth and a tun"
	# from here on, run's commands name the namespace's interfaces
	local -a WRAP=(nsenter "--net=/run/netns/$NS")

	expect_usage "attach unknown interface" nosuchif0 attach nosuchif0
	expect_usage "attach without an interface" "" attach
	expect_usage "attach bad hook" frob attach v0 --hook frob
	expect_usage "attach bad xdp mode" frob attach v0 --hook xdp --xdp-mode frob
	expect_usage "attach bad direction" sideways attach v0 --hook tc --direction sideways
	expect_usage "attach unknown option" --bogus attach v0 --bogus
	expect_usage "detach without an interface" "" detach
	expect_usage "detach unknown interface" nosuchif0 detach nosuchif0




	expect_rc "attach veth (default hook): exit 0" 0 attach v0
	check "default hook on Ethernet is xdp" "ip link: no xdp on v0" xdp_on v0
	run status
	check "status names the veth" "$(head -c 300 "$OUT")" grep -q v0 "$OUT"
	run -j status
	check "-j status with an attachment: valid JSON" "$(head -c 200 "$OUT")" \
		json_valid "$OUT"
	expect_rc "detach v0: exit 0" 0 detach v0
	check "detach v0: xdp gone" "still attached" not xdp_on v0
	expect_rc "attach tun (default hook): exit 0" 0 attach t0
	check "default hook on tun is tc ingress" "no bpf filter on t0 ingress" \
		tc_on t0 ingress
	expect_rc "attach tc egress: exit 0" 0 attach v1 --hook tc --direction egress
	check "tc egress filter on v1" "none" tc_on v1 egress
	expect_rc "detach --all: exit 0" 0 detach --all
	check "detach --all: every clsact op25b made is gone" "still there" \
		not clsact_any
	expect_usage "detach an interface with nothing attached" v0 detach v0
}

run_tests "$@"
