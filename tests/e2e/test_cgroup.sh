#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The socket hooks end to end (doc/DESIGN.md, "Socket hooks"): real
# processes in cgroups this suite makes under the cgroup v2 root (found in
# /proc/self/mountinfo, as op25bctl finds it; no systemd needed), connecting
# to listeners in a namespace of their own over a veth:
#
#   cli: c0 ------------------- s0 :srv
#   the processes               MX (25, 587, 465), relay (25), v4 and v6
#
# A process in an attached cgroup (or below) that connects to port 25 is
# refused with EPERM at once, for IPv4, IPv6 and IPv4-mapped IPv6, every
# way it can open a connection (connect, sendto MSG_FASTOPEN,
# TCP_FASTOPEN_CONNECT, io_uring, MPTCP); 587, 465 and the relay connect;
# exempt uids, gids and cgroups connect; another program on the same
# cgroup keeps working and stays when op25b's go; a SIGKILL at any moment
# of an attach leaves the cgroup judged for both families or for neither.
# Every cgroup made here is removed however the suite ends.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

suite_begin nsenter setpriv
make_pin_dir cgroup

ns_names cg CLI SRV
CLI4=10.25.7.1		CLI6=2001:db8:257::1
MX4=10.25.7.2		MX6=2001:db8:257::2
RELAY4=10.25.7.3	RELAY6=2001:db8:257::3
MAPPED=::ffff:$MX4
# A user and a group no account has, for the exemptions' tests.
UID_A=42501	UID_B=42502	GID_A=42511	GID_B=42512
# Refused at once: well under the 10 ms the design promises.
FAST_MS=10

# The cgroup v2 root, as /proc/self/mountinfo says (hybrid hosts have
# v1 on /sys/fs/cgroup and v2 below it).
V2=$(cg_v2_root)
[ -n "$V2" ] && [ -w "$V2/cgroup.procs" ] ||
	skip_suite "no writable cgroup v2 hierarchy in /proc/self/mountinfo"
CG=o25t-$$-cg		# below the v2 root: this suite's, and only its
CGD=$V2/$CG

ctl() {
	"$CTL" --pin-dir "$PIN" "$@"
}

# Every cgroup of ours emptied (its processes killed) and removed, deepest
# first; op25b's programs go with them.
cg_cleanup() {
	[ -d "$CGD" ] || return 0
	ctl detach --all >/dev/null 2>&1
	cg_remove "$CGD"
}
trap 'cg_cleanup; cleanup' EXIT

build() {
	ns_create "$CLI" && ns_create "$SRV" &&
	veth_pair "$CLI" c0 "$SRV" s0 || return 1
	addr_add "$CLI" c0 $CLI4/24 && addr_add "$CLI" c0 $CLI6/64 &&
	addr_add "$SRV" s0 $MX4/24 && addr_add "$SRV" s0 $MX6/64 &&
	addr_add "$SRV" s0 $RELAY4/24 && addr_add "$SRV" s0 $RELAY6/64 || return 1
	# TCP Fast Open as a client may (the sendto and sockopt ways)
	ip netns exec "$CLI" sysctl -qw net.ipv4.tcp_fastopen=1 >/dev/null
	ip netns exec "$CLI" sysctl -qw net.mptcp.enabled=1 >/dev/null 2>&1
	ip netns exec "$SRV" sysctl -qw net.mptcp.enabled=1 >/dev/null 2>&1
	tcp_listen "$SRV" "$TMPD/listen.log" $MX4:25 $MX4:587 $MX4:465 \
		"[$MX6]:25" "[$MX6]:587" "[$MX6]:465" $RELAY4:25 "[$RELAY6]:25" \
		$RELAY4:587 \
		$MX4:2526 || return 1
	mkdir -p "$CGD/site/php" "$CGD/mta" "$CGD/other" "$CGD/deep/a/b/c" || return 1
	ctl allow relay $RELAY4 $RELAY6 2>/dev/null
}
once_build() {
	once build || die "setup" "namespaces, listeners and cgroups under $CGD"
}

# sc [--cgroup DIR] [--uid U --gid G] WAY DST PORT...: sockconnect.py in
# the client's namespace; one "OUTCOME MS" line per connection.
sc() {
	in_ns "$CLI" "$PY" "$here/sockconnect.py" "$@"
}

# sc_is WANT ARGS...: sc ARGS's outcome (its first word) is WANT; st says it.
sc_is() {
	local want=$1
	shift
	st=$(sc "$@")
	[ "${st%% *}" = "$want" ]
}

# expect_conn LABEL WANT CGDIR WAY DST PORT [-- EXTRA...]: one connection
# from a process in CGDIR (as root, or EXTRA: --uid U --gid G); WANT is
# connected or EPERM, and an EPERM comes within FAST_MS.
expect_conn() {
	local label=$1 want=$2 dir=$3 way=$4 dst=$5 port=$6 out r ms
	shift 6
	[ "${1:-}" = -- ] && shift
	out=$(sc --cgroup "$dir" "$@" "$way" "$dst" "$port" 2>&1)
	r=${out%% *}
	ms=${out##* }
	if [ "$r" != "$want" ]; then
		fail "$label" "expected $want, saw ${out:-nothing}"
	elif [ "$want" = EPERM ] && ! awk -v m="$ms" -v f=$FAST_MS 'BEGIN { exit !(m + 0 < f) }'; then
		fail "$label" "EPERM after $ms ms (more than $FAST_MS)"
	else
		ok "$label ($r, $ms ms)"
	fi
}

# ---- attachment ----

test_attach() {
	local s
	once_build
	ctl attach --cgroup "$CG/site" 2>/dev/null
	check "attach --cgroup: exit 0" "exit $?" test $? -eq 0
	s=$(bpftool cgroup show "$CGD/site" 2>/dev/null)
	check "both hooks on the cgroup, multi" "$s" \
		eval 'grep -q "cgroup_inet4_connect *multi *op25b_connect4" <<<"$s" &&
		      grep -q "cgroup_inet6_connect *multi *op25b_connect6" <<<"$s"'
	s=$(ctl -j status | jget cgroups)
	check "status lists it attached" "$s" \
		eval "grep -q '\"cgroup\": \"$CG/site\"' <<<\"\$s\" && grep -q '\"state\": \"attached\"' <<<\"\$s\""
	s=$(ctl status)
	check "status says it in text" "$s" grep -q "$CG/site (id [0-9]*): connect4, connect6, prog .*, file, attached" <<<"$s"
	# found below the mount point too, and as the root's path
	ctl attach --cgroup "$CGD/site" 2>/dev/null
	check "a path under the mount point names the same cgroup" \
		"$(ctl status | grep -c "$CG/site")" test "$(ctl status | grep -c "$CG/site")" -eq 1
	check "a cgroup that does not exist: exit 2" "" \
		not ctl attach --cgroup "$CG/nosuch" 2>/dev/null
	ctl attach --cgroup "$CG/nosuch" >/dev/null 2>&1
	check_eq "its exit status" 2 $?
	ctl attach --cgroup "$CG/../x" >/dev/null 2>&1
	check_eq "'..' refused" 2 $?
}

# ---- what is refused, what passes ----

test_refused_families() {
	once_build
	ctl attach --cgroup "$CG/site" 2>/dev/null
	expect_conn "IPv4 to 25: EPERM" EPERM "$CGD/site" connect $MX4 25
	expect_conn "IPv6 to 25: EPERM" EPERM "$CGD/site" connect $MX6 25
	expect_conn "IPv4-mapped IPv6 to 25: EPERM" EPERM "$CGD/site" connect $MAPPED 25
	expect_conn "nested three deep: EPERM" EPERM "$CGD/site/php" connect $MX4 25
	expect_conn "nested, IPv6: EPERM" EPERM "$CGD/site/php" connect $MX6 25
	expect_conn "587 connects" connected "$CGD/site" connect $MX4 587
	expect_conn "465 connects" connected "$CGD/site" connect $MX4 465
	expect_conn "587 over IPv6 connects" connected "$CGD/site" connect $MX6 587
	expect_conn "465 IPv4-mapped connects" connected "$CGD/site" connect ::ffff:$MX4 465
	expect_conn "the relay connects (IPv4)" connected "$CGD/site" connect $RELAY4 25
	expect_conn "the relay connects (IPv6)" connected "$CGD/site" connect $RELAY6 25
	expect_conn "the relay connects (IPv4-mapped)" connected "$CGD/site" connect ::ffff:$RELAY4 25
	expect_conn "a cgroup not attached connects" connected "$CGD/other" connect $MX4 25
	expect_conn "as another uid, still EPERM" EPERM "$CGD/site" connect $MX4 25 -- --uid $UID_B --gid $GID_B
}

test_ways() {
	local way
	once_build
	ctl attach --cgroup "$CG/site" 2>/dev/null
	for way in fastopen tfo uring mptcp; do
		# each way first shown to work at all, on 587
		out=$(sc --cgroup "$CGD/site" $way $MX4 587)
		case $out in
		unsupported*|ENOSYS*)
			skip "$way" "not available here ($out)"
			continue ;;
		esac
		check "$way: 587 connects" "$out" test "${out%% *}" = connected
		expect_conn "$way: IPv4 to 25 EPERM" EPERM "$CGD/site" $way $MX4 25
		expect_conn "$way: IPv6 to 25 EPERM" EPERM "$CGD/site" $way $MX6 25
		expect_conn "$way: IPv4-mapped to 25 EPERM" EPERM "$CGD/site" $way $MAPPED 25
	done
}

# ---- who may connect ----

test_exempt_identities() {
	once_build
	ctl attach --cgroup "$CG/site" 2>/dev/null
	ctl allow uid $UID_A 2>/dev/null
	ctl allow gid $GID_A 2>/dev/null
	ctl allow cgroup "$CG/site/php" 2>/dev/null
	expect_conn "exempt uid connects" connected "$CGD/site" connect $MX4 25 -- --uid $UID_A --gid $GID_B
	expect_conn "exempt uid, IPv6" connected "$CGD/site" connect $MX6 25 -- --uid $UID_A --gid $GID_B
	expect_conn "exempt gid connects" connected "$CGD/site" connect $MX4 25 -- --uid $UID_B --gid $GID_A
	expect_conn "neither: EPERM" EPERM "$CGD/site" connect $MX4 25 -- --uid $UID_B --gid $GID_B
	expect_conn "exempt cgroup connects" connected "$CGD/site/php" connect $MX4 25 -- --uid $UID_B --gid $GID_B
	expect_conn "exempt cgroup, IPv4-mapped" connected "$CGD/site/php" connect $MAPPED 25
	# setpriv, as an operator would run a user's command
	out=$(in_ns "$CLI" sh -c "echo \$\$ > '$CGD/site/cgroup.procs' && exec setpriv --reuid $UID_A --regid $GID_B --clear-groups $PY '$here/sockconnect.py' connect $MX4 25")
	check "setpriv --reuid of the exempt uid connects" "$out" test "${out%% *}" = connected
	out=$(in_ns "$CLI" sh -c "echo \$\$ > '$CGD/site/cgroup.procs' && exec setpriv --reuid $UID_B --regid $GID_B --clear-groups $PY '$here/sockconnect.py' connect $MX4 25")
	check "setpriv --reuid of another uid: EPERM" "$out" test "${out%% *}" = EPERM
	# list and del
	s=$(ctl list uid)
	check "list uid shows it" "$s" grep -q "^uid  *$UID_A  *$UID_A " <<<"$s"
	ctl del uid $UID_A 2>/dev/null
	expect_conn "after del uid: EPERM" EPERM "$CGD/site" connect $MX4 25 -- --uid $UID_A --gid $GID_B
	ctl del gid $GID_A 2>/dev/null
	ctl del cgroup "$CG/site/php" 2>/dev/null
	expect_conn "after del cgroup: EPERM" EPERM "$CGD/site/php" connect $MX4 25
	check "deny uid is refused (exit 2)" "" not ctl deny uid 5 2>/dev/null
}

# ---- beside other programs ----

# beside VERB OURS WANT25 LABEL...: ctl VERB --cgroup mta, then the
# other program still there and ours as OURS says (a grep of bpftool's
# list, or "! grep"), a connect to 25 getting WANT25, one to 2526 still
# EPERM. The LABELs: the exit, the programs, 25, 2526.
beside() {
	local verb=$1 ours=$2 want25=$3 s
	shift 3
	ctl "$verb" --cgroup "$CG/mta" 2>/dev/null
	check "$1" "" test $? -eq 0
	s=$(bpftool cgroup show "$CGD/mta")
	check "$2" "$s" eval "grep -q other_connect4 <<<\"\$s\" && $ours <<<\"\$s\""
	expect_conn "$3" "$want25" "$CGD/mta" connect $MX4 25
	expect_conn "$4" EPERM "$CGD/mta" connect $MX4 2526
}

test_multi_attach() {
	local other
	once_build
	ctl detach --cgroup "$CG/mta" >/dev/null 2>&1
	other=$("$PY" "$here/cgprog.py" "$CGD/mta" 2526) ||
		{ fail "another program on the cgroup" "cgprog.py failed"; return; }
	ok "another program on the cgroup (prog $other)"
	beside attach "grep -q op25b_connect4" EPERM "op25b attaches beside it" \
		"both are there" "ours refuses 25" "theirs still refuses 2526"
	beside detach "! grep -q op25b_" connected "detach: exit 0" \
		"detach took ours only" "25 connects after detach" \
		"theirs still refuses 2526 after"
	check "detach of a cgroup not attached: exit 2" "" not ctl detach --cgroup "$CG/mta" 2>/dev/null
}

# ---- a process that moves ----

test_move() {
	local out
	once_build
	ctl attach --cgroup "$CG/site" 2>/dev/null
	# it may write both cgroups' procs (root here; a delegated user in its subtree)
	out=$(in_ns "$CLI" sh -c "echo \$\$ > '$CGD/site/cgroup.procs'; echo \$\$ > '$CGD/other/cgroup.procs'; exec $PY '$here/sockconnect.py' connect $MX4 25")
	check "moved out of the attached cgroup: judged by its new one (connects)" "$out" test "${out%% *}" = connected
	out=$(in_ns "$CLI" sh -c "echo \$\$ > '$CGD/other/cgroup.procs'; echo \$\$ > '$CGD/site/php/cgroup.procs'; exec $PY '$here/sockconnect.py' connect $MX4 25")
	check "moved into an attached cgroup: EPERM" "$out" test "${out%% *}" = EPERM
	# a socket keeps the cgroup it was made in: moving after socket() is no way out
	out=$(in_ns "$CLI" "$PY" -c '
import os, socket, sys
open(sys.argv[1] + "/cgroup.procs", "w").write(str(os.getpid()))
s = socket.socket()
open(sys.argv[2] + "/cgroup.procs", "w").write(str(os.getpid()))
s.settimeout(2)
try:
    s.connect((sys.argv[3], 25)); print("connected")
except OSError as e:
    import errno; print(errno.errorcode.get(e.errno, e.errno))
' "$CGD/site" "$CGD/other" $MX4)
	check "a socket made in the attached cgroup, moved out, then connect: EPERM" "$out" test "$out" = EPERM
}

# ---- action monitor, and the culprit named ----

test_monitor_culprit() {
	local out ev mon
	once_build
	ctl attach --cgroup "$CG/site" 2>/dev/null
	ctl action monitor 2>/dev/null
	mon=$TMPD/monitor.json
	"$CTL" --pin-dir "$PIN" -j monitor --count 1 >"$mon" 2>/dev/null &
	CLEAN_PIDS+=($!)
	sleep 0.5
	expect_conn "action monitor: the connect goes through" connected "$CGD/site/php" connect $MX4 25 -- --uid $UID_B --gid $GID_B
	wait_file_line "$mon" '"event":"connect"' 30
	ev=$(head -n 1 "$mon")
	check "an event was recorded" "$ev" grep -q '"event":"connect"' <<<"$ev"
	check "it says action monitor" "$ev" grep -q '"action":"monitor"' <<<"$ev"
	check "it names the uid" "$ev" grep -q "\"uid\":$UID_B" <<<"$ev"
	check "it names the gid" "$ev" grep -q "\"gid\":$GID_B" <<<"$ev"
	check "it names the command" "$ev" grep -q '"comm":"python3' <<<"$ev"
	check "it names the pid" "$ev" grep -q '"pid":[1-9]' <<<"$ev"
	check "it names the cgroup" "$ev" grep -q "\"cgroup\":\"$CG/site/php\"" <<<"$ev"
	check "it names the destination" "$ev" grep -q "\"daddr\":\"$MX4\",\"dport\":25" <<<"$ev"
	ctl action drop 2>/dev/null
	# a process that stays: its executable too, in text
	mon=$TMPD/monitor.txt
	"$CTL" --pin-dir "$PIN" monitor --count 1 >"$mon" 2>/dev/null &
	CLEAN_PIDS+=($!)
	sleep 0.5
	in_ns "$CLI" "$PY" -c '
import os, socket, sys, time
open(sys.argv[1] + "/cgroup.procs", "w").write(str(os.getpid()))
try:
    socket.create_connection((sys.argv[2], 25), 2)
except OSError:
    pass
time.sleep(1.5)
' "$CGD/site" $MX4
	wait_file_line "$mon" connect 30
	out=$(cat "$mon")
	check "text: pid, command, executable, uid, cgroup, destination" "$out" \
		grep -q "connect connect4 pid [0-9]* (python3[^)]*) exe /.*python3.* uid 0 (root) gid 0 (root) cgroup $CG/site -> $MX4:25 action drop" <<<"$out"
}

# ---- action limit, keyed by uid and by cgroup ----

# outcomes LINES: the outcome words of sockconnect's lines, on one line.
outcomes() {
	cut -d' ' -f1 | tr '\n' ' ' | sed 's/ $//'
}

test_limit_by_uid() {
	local out q ev mon=$TMPD/limit.json
	once_build
	ctl detach --all >/dev/null 2>&1
	ctl attach --cgroup "$CG/site" 2>/dev/null
	ctl action limit 3/min --burst 3 --quarantine 1min 2>/dev/null
	"$CTL" --pin-dir "$PIN" -j monitor >"$mon" 2>/dev/null &
	CLEAN_PIDS+=($!)
	sleep 0.5
	out=$(sc --cgroup "$CGD/site" --uid $UID_A --gid $GID_B \
		connect $MX4 25 connect $MX6 25 connect $MAPPED 25 connect $MX4 25 connect $MX4 25 | outcomes)
	check_eq "a uid's first 3 connects pass, then it is refused" \
		"connected connected connected EPERM EPERM" "$out"
	q=$(ctl quarantine list)
	check "quarantine list names the uid" "$q" grep -q "^uid $UID_A " <<<"$q"
	out=$(sc --cgroup "$CGD/site" --uid $UID_B --gid $GID_B connect $MX4 25 | outcomes)
	check_eq "another uid in the same cgroup is not" connected "$out"
	wait_file_line "$mon" '"event":"connect".*"action":"limit"' 30
	ev=$(grep '"action":"limit"' "$mon" | head -n 1)
	check "the quarantine is an event naming the culprit" "$ev" \
		grep -q "\"uid\":$UID_A" <<<"$ev"
	ctl quarantine release uid $UID_A >/dev/null 2>&1
	check "quarantine release uid: exit 0" "" test $? -eq 0
	out=$(sc --cgroup "$CGD/site" --uid $UID_A --gid $GID_B connect $MX4 25 | outcomes)
	check_eq "released: it connects again" connected "$out"
	# by cgroup: two users of one site share its budget
	ctl action limit 2/min --by cgroup --quarantine 1min 2>/dev/null
	check "save writes --by cgroup" "$(ctl save | grep ^action)" \
		grep -q "^action limit 2/min --burst 2 --quarantine 1min --by cgroup$" <<<"$(ctl save)"
	out=$( (sc --cgroup "$CGD/site/php" --uid $UID_A --gid $GID_B connect $MX4 25 connect $MX4 25;
		sc --cgroup "$CGD/site/php" --uid $UID_B --gid $GID_B connect $MX4 25) | outcomes)
	check_eq "by cgroup: two uids share one budget" "connected connected EPERM" "$out"
	q=$(ctl quarantine list)
	check "quarantine list names the cgroup" "$q" grep -q "^cgroup $CG/site/php " <<<"$q"
	ctl quarantine release cgroup "$CG/site/php" >/dev/null 2>&1
	check "quarantine release cgroup: exit 0" "" test $? -eq 0
	ctl action drop 2>/dev/null
	kill "${CLEAN_PIDS[-1]}" 2>/dev/null
}

# ---- top by uid and by cgroup ----

test_top() {
	local s
	once_build
	ctl attach --cgroup "$CG/site" 2>/dev/null
	sc --cgroup "$CGD/site" --uid $UID_B --gid $GID_B connect $MX4 25 connect $MX4 25 connect $MX4 25 >/dev/null
	sc --cgroup "$CGD/site/php" connect $MX6 25 >/dev/null
	s=$(ctl top --by uid)
	check "top --by uid ranks the uid" "$s" grep -q "^ *$UID_B  *[3-9]" <<<"$s"
	s=$(ctl -j top --by cgroup)
	check "top --by cgroup names the cgroup" "$s" grep -q "\"cgroup\":\"$CG/site/php\"" <<<"$s"
}

# ---- the policy of record ----

test_save_apply() {
	local f=$TMPD/cg.conf s
	once_build
	ctl detach --all >/dev/null 2>&1
	cat >"$f" <<-EOF
	allow relay $RELAY4 $RELAY6
	allow uid $UID_A
	allow gid $GID_A
	allow uid no-such-user-o25t
	allow cgroup $CG/mta
	attach --cgroup $CG/site
	attach --cgroup $CG/deep/a
	EOF
	ctl apply "$f" 2>"$TMPD/apply.err"
	check "apply: exit 0" "$(cat "$TMPD/apply.err")" test $? -eq 0
	check "a user that does not exist is said to wait" "$(cat "$TMPD/apply.err")" \
		grep -q "no-such-user-o25t: no such user" "$TMPD/apply.err"
	expect_conn "applied: refused in an attached cgroup" EPERM "$CGD/deep/a/b/c" connect $MX4 25
	expect_conn "applied: exempt uid" connected "$CGD/site" connect $MX4 25 -- --uid $UID_A --gid $GID_B
	s=$(ctl save)
	check "save writes attach --cgroup" "$s" grep -qx "attach --cgroup $CG/site" <<<"$s"
	check "save writes the uid as given" "$s" grep -qx "allow uid $UID_A" <<<"$s"
	check "save keeps the waiting name" "$s" grep -qx "allow uid no-such-user-o25t" <<<"$s"
	check "save writes allow cgroup" "$s" grep -qx "allow cgroup $CG/mta" <<<"$s"
	ctl save "$TMPD/saved.conf"
	s=$(ctl apply --dry-run "$TMPD/saved.conf" 2>/dev/null)
	check "apply --dry-run of what save wrote: nothing" "$s" test -z "$s"
	ctl detach --cgroup "$CG/deep/a" 2>/dev/null
	s=$(ctl apply --dry-run "$f" 2>/dev/null)
	check "a detached cgroup shows in the plan" "$s" grep -q "+ attach --cgroup $CG/deep/a" <<<"$s"
	ctl apply "$f" 2>/dev/null
	expect_conn "apply attaches it again" EPERM "$CGD/deep/a" connect $MX4 25
	# the file without a cgroup: apply takes it off
	grep -v "deep/a" "$f" >"$TMPD/less.conf"
	ctl apply "$TMPD/less.conf" 2>/dev/null
	expect_conn "apply of a file without it detaches it" connected "$CGD/deep/a" connect $MX4 25
	expect_conn "the other stays" EPERM "$CGD/site" connect $MX4 25
	ctl detach --all >/dev/null 2>&1
	expect_conn "detach --all takes the cgroups off" connected "$CGD/site" connect $MX4 25
	s=$(bpftool cgroup show "$CGD/site")
	check "nothing of op25b's left on it" "$s" not grep -q op25b_ <<<"$s"
	ctl flush uid 2>/dev/null; ctl flush gid 2>/dev/null; ctl flush cgroup 2>/dev/null
}

# ---- lifetime without watch ----

test_lifetime() {
	local s
	once_build
	ctl attach --cgroup "$CG/site" 2>/dev/null
	check "no op25bctl attach runs" "$(pgrep -af "op25bctl --pin-dir $PIN attach")" \
		not pgrep -f "op25bctl --pin-dir $PIN attach"
	expect_conn "the cgroup stays judged" EPERM "$CGD/site" connect $MX4 25
	mkdir -p "$CGD/gone"
	ctl attach --cgroup "$CG/gone" 2>/dev/null
	rmdir "$CGD/gone"
	s=$(ctl status)
	check "a removed cgroup shows as gone" "$s" grep -q "$CG/gone.*gone" <<<"$s"
	mkdir -p "$CGD/gone"
	s=$(ctl status)
	check "made again: still gone (a new cgroup), until attached again" "$s" grep -q "$CG/gone.*gone" <<<"$s"
	ctl detach --cgroup "$CG/gone" 2>/dev/null
	check "detach of a gone one drops the record" "" not grep -q "$CG/gone" <<<"$(ctl status)"
	rmdir "$CGD/gone"
}

# ---- watch follows cgroups made again ----

test_watch_follows() {
	local wlog=$TMPD/watch.log st
	once_build
	ctl detach --all >/dev/null 2>&1
	mkdir -p "$CGD/svc" "$CGD/mta2"
	ctl attach --cgroup "$CG/svc" 2>/dev/null
	ctl allow cgroup "$CG/mta2" 2>/dev/null
	: >"$TMPD/empty.conf"
	"$CTL" --pin-dir "$PIN" watch --config "$TMPD/empty.conf" >"$wlog" 2>&1 &
	CLEAN_PIDS+=($!)
	wait_file_line "$wlog" watching 30
	# a service restarted: its cgroup removed and made again
	rmdir "$CGD/svc" "$CGD/mta2"
	mkdir -p "$CGD/svc" "$CGD/mta2"
	st=
	wait_for 3 sc_is EPERM --cgroup "$CGD/svc" connect $MX4 25
	check "watch attaches a cgroup made again within a few seconds" "$st" test "${st%% *}" = EPERM
	check "watch says so" "$(cat "$wlog")" grep -q "attached.*cgroup" "$wlog"
	ctl attach --cgroup "$CG/mta2" 2>/dev/null
	wait_for 3 sc_is connected --cgroup "$CGD/mta2" connect $MX4 25
	check "an exempt cgroup made again is exempt again (watch)" "$st" test "${st%% *}" = connected
	kill "${CLEAN_PIDS[-1]}" 2>/dev/null
	ctl detach --all >/dev/null 2>&1
	ctl del cgroup "$CG/mta2" 2>/dev/null
}

# ---- killed at any moment of an attach ----

# Both families judged alike: "both" refused, "neither", or "split".
families() {
	local a b
	a=$(sc --cgroup "$CGD/site" connect $MX4 25)
	b=$(sc --cgroup "$CGD/site" connect $MX6 25)
	a=${a%% *}
	b=${b%% *}
	if [ "$a" = EPERM ] && [ "$b" = EPERM ]; then
		echo both
	elif [ "$a" = connected ] && [ "$b" = connected ]; then
		echo neither
	else
		echo "split ($a/$b)"
	fi
}

# attach_killed PAUSE_MS SEC PATH: an attach --cgroup PATH, each of its steps
# paused PAUSE_MS (0: none), killed SEC seconds after it started
attach_killed() {
	local pid
	OP25B_TEST_ATTACH_PAUSE_MS=$1 "$CTL" --pin-dir "$PIN" attach --cgroup "$3" >/dev/null 2>&1 &
	pid=$!
	sleep "$2"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
}

test_kill_attach() {
	local step st splits=0 seen="" i ms fresh
	once_build
	ctl detach --all >/dev/null 2>&1
	# each step of an attach, paused so that the kill lands in it:
	# fresh (nothing there) and again (ours there, replaced in place)
	for fresh in 1 0; do
		for step in 0 1 2 3 4 5; do
			if [ $fresh = 1 ]; then
				ctl detach --cgroup "$CG/site" >/dev/null 2>&1
			else
				ctl attach --cgroup "$CG/site" >/dev/null 2>&1
			fi
			attach_killed 300 "$(awk -v s=$step 'BEGIN { print s * 0.3 + 0.15 }')" "$CG/site"
			st=$(families)
			case $st in
			split*) splits=$((splits + 1)); seen+=" fresh=$fresh step $step: $st" ;;
			esac
			if [ $fresh = 0 ] && [ "$st" != both ]; then
				splits=$((splits + 1))
				seen+=" re-attach step $step: $st (was judged before)"
			fi
		done
	done
	check "killed at each step: judged for both families or neither" "$seen" test $splits -eq 0
	# at random moments, without pauses
	for i in $(seq 1 12); do
		ctl detach --cgroup "$CG/site" >/dev/null 2>&1
		ms=$(( (RANDOM % 60) ))
		attach_killed 0 "$(awk -v m=$ms 'BEGIN { print m / 1000 }')" "$CG/site"
		st=$(families)
		case $st in
		split*) splits=$((splits + 1)); seen+=" at ${ms} ms: $st" ;;
		esac
	done
	check "killed at random moments: both or neither" "$seen" test $splits -eq 0
	# what a kill left is finished by the next attach, or undone by detach
	attach_killed 300 0.75 "$CG/other"
	st=$(ctl status)
	check "status says an attach was cut short" "$st" grep -q "$CG/other.*incomplete" <<<"$st"
	ctl attach --cgroup "$CG/other" 2>/dev/null
	st=$(ctl status)
	check "the next attach completes it" "$st" grep -q "$CG/other.*attached" <<<"$st"
	ctl detach --cgroup "$CG/other" 2>/dev/null
	st=$(bpftool cgroup show "$CGD/other")
	check "detach leaves nothing of op25b's" "$st" not grep -q op25b_ <<<"$st"
}

# ---- the identity rules against a model ----

test_identity_model() {
	local out
	once_build
	ctl detach --all >/dev/null 2>&1
	out=$(TMPDIR=$TMPD in_ns "$CLI" "$PY" "$here/cgmodel.py" "$CTL" "$PIN" "$CG" "$CGD" \
		$MX4 $MX6 $RELAY4 2>&1)
	check "random policies and connects agree with the model" "$out" \
		grep -q "^model: [0-9]* connects, 0 disagree" <<<"$out"
}

run_tests "$@"
