#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Who, when, which line (doc/DESIGN.md, "Events and their readers"): real
# connections through a router namespace. 50 subscribers, each a session
# registered by the PPP hook itself (user name, line, address), make
# 20 blocked attempts each, a second apart (the datapath reports one event
# per source per second per CPU: spread out, every attempt is reported),
# 1,000 in all, while two monitors, and log to a file, to syslog and to the
# journal (a journald of the test's own, in a mount namespace) read the
# event log at once. Each reader sees all 1,000, each event with the session's user name and line, the
# subscriber's MAC, the router's interface (named as in the router's
# namespace, wherever the reader runs) and an RFC 3339 UTC time; history
# and report of the log agree with what was sent.
#
# Usage: test_events.sh [TEST...]   (default: every test_* function, in order)
set -u
. "$(dirname "$0")/../lib.sh"

ns_names ev SUB RTR NET
MX4=198.51.100.25
SUBSCRIBERS=${EVENTS_SUBSCRIBERS:-50}
ROUNDS=${EVENTS_ROUNDS:-20}
ATTEMPTS=$((SUBSCRIBERS * ROUNDS))

suite_begin nsenter
make_pin_dir events

ctl() {
	in_ns "$RTR" "$CTL" --pin-dir "$PIN" "$@"
}

PPP_HOOK=$TOP_DIR/contrib/ppp/op25b-ppp-hook
export OP25BCTL=$CTL OP25B_PIN_DIR=$PIN OP25B_PPP_CONF=/nonexistent

# subscriber N's address
sub4() {
	echo "10.25.1.$1"
}

# hook_up N: subscriber N's session registered by the PPP hook itself
# (contrib/ppp/op25b-ppp-hook), as pppd's ip-up runs it for even N (IFNAME,
# IPREMOTE, PEERNAME, the line from the radattr file) and as accel-ppp's
# pppd_compat for odd N (positional arguments, PEERNAME, CALLING_SID).
hook_up() {
	local n=$1 ifc=ppp$1
	if ((n % 2 == 0)); then
		printf 'User-Name user%s\nCalling-Station-Id line%s\n' "$n" "$n" \
			>"$TMPD/radattr.$ifc"
		IFNAME=$ifc IPLOCAL=10.25.0.254 IPREMOTE=$(sub4 "$n") \
			OP25B_RADATTR=$TMPD/radattr nsenter --net=/run/netns/"$RTR" \
			"$PPP_HOOK" up "$ifc" /dev/ppp 0 10.25.0.254 "$(sub4 "$n")" ""
	else
		PEERNAME=user$n CALLING_SID=line$n nsenter --net=/run/netns/"$RTR" \
			"$PPP_HOOK" up "$ifc" none 0 10.25.0.254 "$(sub4 "$n")" "line$n"
	fi
}

# Three namespaces, the subscribers' addresses on s0, the MX listening on
# 25, the pool denied with action reject (a blocked connect fails at
# once), op25b on r0's tc ingress, and one session per subscriber.
events_setup() {
	local i
	ns_chain "$SUB" "$RTR" "$NET" || die "topology" "cannot build namespaces"
	addr_add "$RTR" r0 10.25.0.254/16 && addr_add "$RTR" r1 198.51.100.1/24 &&
		addr_add "$NET" i0 $MX4/24 &&
		ip -n "$NET" route add default via 198.51.100.1 &&
		ip -n "$SUB" addr add 10.25.0.1/16 dev s0 &&
		ip -n "$SUB" route add default via 10.25.0.254 ||
		die "addresses" "cannot address the namespaces"
	for ((i = 1; i <= SUBSCRIBERS; i++)); do
		ip -n "$SUB" addr add "$(sub4 $i)/32" dev s0 ||
			die "addresses" "cannot add $(sub4 $i)"
	done
	tcp_listen "$NET" "$TMPD/listen.log" $MX4:25 ||
		die "listener" "$(cat "$TMPD/listen.log")"
	ctl -q deny subscriber 10.25.0.0/16 && ctl -q action reject &&
		ctl -q attach r0 --hook tc ||
		die "policy" "op25bctl could not set the policy up"
	for ((i = 1; i <= SUBSCRIBERS; i++)); do
		hook_up "$i" || die "sessions" "the PPP hook's up of ppp$i failed"
	done
	SUB_MAC=$(mac_of "$SUB" s0)
}

# attempts: ROUNDS rounds, each a connect to MX:25 from every subscriber,
# rounds 1.1 s apart; prints "refused N other M". attempts_n R: R rounds.
attempts() {
	attempts_n "$ROUNDS"
}

attempts_n() {
	ip netns exec "$SUB" "$PY" -c '
import socket, sys, time
n, rounds, mx = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
refused = other = 0
for r in range(rounds):
    start = time.monotonic()
    for i in range(1, n + 1):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("10.25.1.%d" % i, 0))
        s.settimeout(2)
        try:
            s.connect((mx, 25))
            other += 1
        except ConnectionRefusedError:
            refused += 1
        except OSError:
            other += 1
        s.close()
    left = start + 1.1 - time.monotonic()
    if left > 0 and r < rounds - 1:
        time.sleep(left)
print("refused %d other %d" % (refused, other))
' "$SUBSCRIBERS" "$1" $MX4
}

# reader NAME CMD...: a reader of the event log in the background, in the
# router's namespace, as the process itself (so that $! is what kill must
# reach). reader_outside: in this process's namespace, where r0 is not.
reader() {
	local name=$1
	shift
	nsenter --net=/run/netns/"$RTR" "$CTL" --pin-dir "$PIN" "$@" \
		>"$TMPD/$name" 2>"$TMPD/$name.err" &
	CLEAN_PIDS+=($!)
	READER_PIDS+=($!)
}

reader_outside() {
	local name=$1
	shift
	"$CTL" --pin-dir "$PIN" "$@" >"$TMPD/$name" 2>"$TMPD/$name.err" &
	CLEAN_PIDS+=($!)
	READER_PIDS+=($!)
}

# events_check FILE LABEL: FILE holds the JSON lines of ATTEMPTS blocked
# events, each subscriber's ROUNDS, each with its session's user name and
# line, s0's MAC, r0, and an RFC 3339 UTC time of this run.
events_check() {
	check "$2: $ATTEMPTS events, $ROUNDS per subscriber, each with user name, line, MAC, r0 and an RFC 3339 UTC time" \
		"$(head -c 300 "$1"; echo; cat "$1.err" | head -c 300)" \
		"$PY" -c '
import collections, datetime, json, sys
path, mac, n, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
per = collections.Counter()
bad = []
now = datetime.datetime.utcnow()
for line in open(path):
    e = json.loads(line)
    if e.get("event") != "blocked":
        bad.append(line); continue
    i = int(e["saddr"].rsplit(".", 1)[1])
    t = datetime.datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    if (e.get("user") != "user%d" % i or e.get("calling_station_id") != "line%d" % i
            or e.get("session") != "ppp%d" % i or e.get("mac") != mac
            or e.get("interface") != "r0" or e.get("dport") != 25
            or e.get("action") != "reject" or abs((now - t).total_seconds()) > 300):
        bad.append(line); continue
    per[i] += 1
ok = not bad and len(per) == n and all(v == rounds for v in per.values())
if not ok:
    print("bad: %r; per subscriber: %s" % (bad[:2], sorted(set(per.values()))), file=sys.stderr)
sys.exit(0 if ok else 1)
' "$1" "$SUB_MAC" "$SUBSCRIBERS" "$ROUNDS"
}

# syslog_listen: a datagram socket standing for /dev/log, its messages
# one a line in $TMPD/syslog.
syslog_listen() {
	"$PY" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
with open(sys.argv[2], "a") as out:
    while True:
        m = s.recv(65536).decode()
        out.write(m.replace("\n", " ") + "\n")
        out.flush()
' "$TMPD/syslog.sock" "$TMPD/syslog" >"$TMPD/syslog.log" 2>&1 &
	CLEAN_PIDS+=($!)
	wait_file_line "$TMPD/syslog.log" ready
}

# syslog_check: $TMPD/syslog holds ATTEMPTS RFC 5424 messages, each with
# its structured data: the subscriber's user, line, MAC and address.
syslog_check() {
	check "syslog: $ATTEMPTS RFC 5424 messages, structured data with user, line, MAC and address" \
		"$(head -c 400 "$TMPD/syslog")" \
		"$PY" -c '
import collections, re, sys
path, mac, n, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rx = re.compile(r"^<29>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ op25b \d+ blocked \[op25b@32473((?: [a-z_]+=\"(?:[^\"\\\]]|\\.)*\")+)\] blocked .*$")
per = collections.Counter()
for line in open(path):
    m = rx.match(line.rstrip("\n"))
    if not m:
        sys.exit("not RFC 5424: %r" % line)
    sd = dict(re.findall(r"([a-z_]+)=\"((?:[^\"\\]|\\.)*)\"", m.group(1)))
    i = int(sd["saddr"].rsplit(".", 1)[1])
    if sd.get("user") != "user%d" % i or sd.get("calling_station_id") != "line%d" % i or sd.get("mac") != mac:
        sys.exit("wrong fields: %r" % line)
    per[i] += 1
sys.exit(0 if len(per) == n and set(per.values()) == {rounds} else "per subscriber: %s" % per)
' "$TMPD/syslog" "$SUB_MAC" "$SUBSCRIBERS" "$ROUNDS"
}

# journal_ns CMD...: CMD in a mount namespace whose journal directories
# are this test's: /run/log/journal is $TMPD/journal.d, /var/log/journal an
# empty tmpfs (never the host's journal).
journal_ns() {
	mkdir -p "$TMPD/journal.d"
	unshare -m --propagation private bash -c '
mount -t tmpfs tmpfs /var/log/journal && mount -t tmpfs tmpfs /run/log &&
	mkdir /run/log/journal && mount --bind "$0" /run/log/journal || exit 1
exec "$@"' "$TMPD/journal.d" "$@"
}

# reader_journal: 'log' (to the journal, its default) beside a journald of
# its own: both in a mount namespace of journal_ns's, with a private
# /run/systemd/journal. The journald's pid goes to $TMPD/journald.pid;
# $TMPD/journal.ready is made once its socket is there and 'log' starts
# (a journald can take seconds to start on a busy machine: wait for it),
# with the pid 'log' runs as (the shell's, which execs it).
reader_journal() {
	rm -f "$TMPD/journal.ready"
	journal_ns bash -c '
mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/journal || exit 1
/lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 &
echo $! >"$0"
for i in $(seq 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
[ -S /run/systemd/journal/socket ] && echo $$ >"$3"
exec "$1" --pin-dir "$2" log' "$TMPD/journald.pid" "$CTL" "$PIN" \
		"$TMPD/journal.ready" 2>"$TMPD/journal.err" &
	CLEAN_PIDS+=($!)
	READER_PIDS+=($!)
}

# journal_check: the journal holds ATTEMPTS op25b entries, each with the
# fields of its event: user, line, MAC, address, a human MESSAGE; history
# and report read from it say what they say from the file.
journal_check() {
	journal_ns journalctl -o json --no-pager SYSLOG_IDENTIFIER=op25b \
		>"$TMPD/journal" 2>"$TMPD/journalctl.err"
	check "journal: $ATTEMPTS entries, OP25B_* fields with user, line, MAC and address" \
		"$(head -c 400 "$TMPD/journal"; cat "$TMPD/journal.err" "$TMPD/journalctl.err")" \
		"$PY" -c '
import collections, json, sys
path, mac, n, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
per = collections.Counter()
for line in open(path):
    e = json.loads(line)
    i = int(e["OP25B_SADDR"].rsplit(".", 1)[1])
    if (e.get("OP25B_USER") != "user%d" % i or e.get("OP25B_CALLING_STATION_ID") != "line%d" % i
            or e.get("OP25B_MAC") != mac or e.get("OP25B_EVENT") != "blocked"
            or e.get("PRIORITY") != "5" or "user%d" % i not in e.get("MESSAGE", "")):
        sys.exit("wrong fields: %r" % line)
    per[i] += 1
sys.exit(0 if len(per) == n and set(per.values()) == {rounds} else "per subscriber: %s" % per)
' "$TMPD/journal" "$SUB_MAC" "$SUBSCRIBERS" "$ROUNDS"
	check_eq "report --journal says what report --file says" \
		"$("$CTL" -j report --file "$TMPD/events.jsonl" 2>&1)" \
		"$(journal_ns "$CTL" -j report --journal 2>&1)"
	check_eq "history --journal of $(sub4 3) says what history --file says" \
		"$("$CTL" -j history "$(sub4 3)" --file "$TMPD/events.jsonl" 2>&1)" \
		"$(journal_ns "$CTL" -j history "$(sub4 3)" --journal 2>&1)"
}

test_events_every_reader() {
	local r pid
	once events_setup || return
	READER_PIDS=()
	syslog_listen || { fail "syslog listener" "$(cat "$TMPD/syslog.log")"; return; }
	reader monitor1 -j monitor
	reader_outside monitor2 -j monitor
	reader log log --file "$TMPD/events.jsonl"
	OP25B_SYSLOG_SOCKET=$TMPD/syslog.sock reader syslog log --syslog
	reader_journal journal
	wait_for 10 test -s "$TMPD/journal.ready" ||
		fail "journal reader" "no journald socket after 10 s"
	# the log process itself: the background job is only the shell before it
	[ -s "$TMPD/journal.ready" ] && READER_PIDS+=("$(cat "$TMPD/journal.ready")") &&
		CLEAN_PIDS+=("$(cat "$TMPD/journal.ready")")
	sleep 1		# readers show what comes after their start
	[ -s "$TMPD/journald.pid" ] && CLEAN_PIDS+=("$(cat "$TMPD/journald.pid")")
	r=$(attempts)
	check_eq "$ATTEMPTS attempts from $SUBSCRIBERS subscribers, all refused by op25b's RST" \
		"refused $ATTEMPTS other 0" "$r"
	sleep 1		# a poll's time, for the readers to read the last
	for pid in "${READER_PIDS[@]}"; do
		kill "$pid"
		wait "$pid" 2>/dev/null
	done
	events_check "$TMPD/monitor1" "first monitor"
	events_check "$TMPD/monitor2" "second monitor, at the same time, outside the router's namespace"
	cp "$TMPD/log.err" "$TMPD/events.jsonl.err"
	events_check "$TMPD/events.jsonl" "log --file, at the same time"
	syslog_check
	[ -s "$TMPD/journald.pid" ] && kill "$(cat "$TMPD/journald.pid")"
	sleep 0.5	# journald syncs its file as it ends
	journal_check
	check_eq "the logs said nothing on stderr" "" \
		"$(cat "$TMPD/log.err" "$TMPD/syslog.err" "$TMPD/journal.err")"
	check_eq "each monitor says it saw $ATTEMPTS and lost none" \
		"monitor: $ATTEMPTS events, 0 lost|monitor: $ATTEMPTS events, 0 lost" \
		"$(cat "$TMPD/monitor1.err")|$(cat "$TMPD/monitor2.err")"
	history_report_check "$TMPD/events.jsonl"
}

# history_report_check LOG: what report and history say of LOG agrees
# with what was sent: every subscriber ROUNDS times, from its own address
# and session, to MX:25, at times of this run.
history_report_check() {
	local log=$1 i=7
	"$CTL" -j report --file "$log" >"$TMPD/report.json" 2>"$TMPD/report.err"
	check "report -j: $SUBSCRIBERS sources, each $ROUNDS attempts blocked, its user and line, to MX:25" \
		"$(head -c 300 "$TMPD/report.json") $(cat "$TMPD/report.err")" \
		"$PY" -c '
import json, sys
rows, n, rounds, mx = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ok = len(rows) == n and all(
    r["attempts"] == rounds and r["blocked"] == rounds and r["monitored"] == 0
    and r["user"] == "user" + r["address"].rsplit(".", 1)[1]
    and r["calling_station_id"] == "line" + r["address"].rsplit(".", 1)[1]
    and r["top_destination"] == mx + ":25" and r["first"] < r["last"]
    and r["first"].endswith("Z") for r in rows)
sys.exit(0 if ok else 1)
' "$TMPD/report.json" "$SUBSCRIBERS" "$ROUNDS" $MX4
	"$CTL" report --csv --file "$log" >"$TMPD/report.csv" 2>/dev/null
	check "report --csv: a header and the same $SUBSCRIBERS rows" "$(head -3 "$TMPD/report.csv")" \
		"$PY" -c '
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
js = json.load(open(sys.argv[2]))
sys.exit(0 if [(r["address"], int(r["attempts"]), r["user"]) for r in rows] ==
         [(r["address"], r["attempts"], r["user"]) for r in js] else 1)
' "$TMPD/report.csv" "$TMPD/report.json"
	"$CTL" -j history "$(sub4 $i)" --file "$log" >"$TMPD/h.json" 2>&1
	check "history $(sub4 $i): $ROUNDS attempts, all by user$i on line$i with s0's MAC, to MX:25" \
		"$(head -c 400 "$TMPD/h.json")" \
		"$PY" -c '
import json, sys
h, rounds, i, mac, mx = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
sys.exit(0 if h["attempts"] == rounds and h["first"] < h["last"]
         and h["users"] == [{"what": "user%s line%s" % (i, i), "count": rounds}]
         and h["destinations"] == [{"what": mx + ":25", "count": rounds}]
         and h["macs"] == [{"what": mac, "count": rounds}]
         and h["interfaces"] == [{"what": "r0", "count": rounds}] else 1)
' "$TMPD/h.json" "$ROUNDS" $i "$SUB_MAC" $MX4
	"$CTL" -j history "user$i" --file "$log" >"$TMPD/hu.json" 2>&1
	check "history user$i: the same $ROUNDS attempts, from $(sub4 $i)" \
		"$(head -c 400 "$TMPD/hu.json")" \
		"$PY" -c '
import json, sys
h, a = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
sys.exit(0 if h["attempts"] == a["attempts"] and h["first"] == a["first"]
         and h["addresses"] == [{"what": sys.argv[3], "count": a["attempts"]}] else 1)
' "$TMPD/hu.json" "$TMPD/h.json" "$(sub4 $i)"
	check_eq "history --since 1h: all of them; --since tomorrow: none" \
		"$ROUNDS 0" \
		"$("$CTL" -j history "$(sub4 $i)" --file "$log" --since 1h | jget attempts) $("$CTL" -j history "$(sub4 $i)" --file "$log" --since "$(date -u -d tomorrow +%Y-%m-%d)" | jget attempts)"
}

# log --file after logrotate (the file moved, SIGHUP) writes to a new
# file, losing nothing; a session registered and ended while it runs is
# recorded, up with its user and address, then down.
test_log_reopen_and_sessions() {
	local pid r
	once events_setup || return
	READER_PIDS=()
	reader rot log --file "$TMPD/rot.jsonl"
	pid=$!
	sleep 0.5
	ctl -q session up ppp99 --user user99 --calling-station-id line99 \
		--address 10.25.2.99 --address 2001:db8:99::/56
	sleep 1.5	# the log compares the sessions once a second
	r=$(attempts_n 1)
	sleep 0.6	# a poll's time, for the log to write them
	mv "$TMPD/rot.jsonl" "$TMPD/rot.jsonl.1"
	kill -HUP "$pid"
	sleep 0.6	# a second after the first round: each source may report again
	r+=" $(attempts_n 1)"
	ctl -q session down ppp99
	sleep 1.5
	kill "$pid"
	wait "$pid" 2>/dev/null
	check_eq "two rounds, all refused" "refused $SUBSCRIBERS other 0 refused $SUBSCRIBERS other 0" "$r"
	check_eq "rotated: $SUBSCRIBERS events before SIGHUP, $SUBSCRIBERS after, in the new file" \
		"$SUBSCRIBERS $SUBSCRIBERS" \
		"$(grep -c '"event":"blocked"' "$TMPD/rot.jsonl.1") $(grep -c '"event":"blocked"' "$TMPD/rot.jsonl")"
	check "session up recorded with its user, line and addresses, down after" \
		"$(grep session "$TMPD/rot.jsonl.1" "$TMPD/rot.jsonl" | head -c 600)" \
		"$PY" -c '
import json, sys
up = [json.loads(l) for l in open(sys.argv[1]) if "session up" in l]
down = [json.loads(l) for l in open(sys.argv[2]) if "session down" in l]
ok = (len(up) == 1 and up[0]["session"] == "ppp99" and up[0]["user"] == "user99"
      and up[0]["calling_station_id"] == "line99"
      and up[0]["address"] == ["10.25.2.99/32", "2001:db8:99::/56"]
      and len(down) == 1 and down[0]["session"] == "ppp99" and down[0]["time"] > up[0]["time"])
sys.exit(0 if ok else 1)
' "$TMPD/rot.jsonl.1" "$TMPD/rot.jsonl"
	check_eq "the log said nothing on stderr" "" "$(cat "$TMPD/rot.err")"
	cat "$TMPD/rot.jsonl.1" "$TMPD/rot.jsonl" >"$TMPD/rot.all"
	check "history 10.25.2.99 and history user99: session ppp99 up, then down" \
		"$("$CTL" history 10.25.2.99 --file "$TMPD/rot.all" 2>&1 | head -5)" \
		eval '[ "$("$CTL" -j history 10.25.2.99 --file "$TMPD/rot.all" |
			  "$PY" -c "import json,sys; print([(s[\"event\"], s[\"session\"]) for s in json.load(sys.stdin)[\"sessions\"]])")" = \
		       "[('"'"'session up'"'"', '"'"'ppp99'"'"'), ('"'"'session down'"'"', '"'"'ppp99'"'"')]" ] &&
		      [ "$("$CTL" -j history user99 --file "$TMPD/rot.all" | jget sessions)" = \
		        "$("$CTL" -j history 2001:db8:99::1 --file "$TMPD/rot.all" | jget sessions)" ]'
}

# connect_from ADDR: one connection to MX:25 from ADDR (added to s0
# first); prints "refused" when op25b's RST answered it.
connect_from() {
	ip -n "$SUB" addr add "$1/32" dev s0 2>/dev/null
	ip netns exec "$SUB" "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind((sys.argv[1], 0))
s.settimeout(2)
try:
    s.connect((sys.argv[2], 25))
    print("connected")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    print(e)
' "$1" $MX4
}

# A session shorter than the readers' look at the sessions (once a
# second): up, one blocked attempt, down, all within a second. Its event
# still carries its user name and line in the log and in monitor, and the
# log records the session's up and down.
test_short_session() {
	local t0 r took
	once events_setup || return
	READER_PIDS=()
	reader short_mon -j monitor
	reader short_log log --file "$TMPD/short.jsonl"
	sleep 1.2	# the readers have read the sessions there are
	t0=$(date +%s%N)
	PEERNAME=shortuser CALLING_SID=shortline nsenter --net=/run/netns/"$RTR" \
		"$PPP_HOOK" up pppshort none 0 10.25.0.254 10.25.3.1 shortline
	r=$(connect_from 10.25.3.1)
	IFNAME=pppshort nsenter --net=/run/netns/"$RTR" "$PPP_HOOK" down
	took=$((($(date +%s%N) - t0) / 1000000))
	sleep 1.5	# the readers' polls, and their look at the sessions
	for pid in "${READER_PIDS[@]}"; do
		kill "$pid"
		wait "$pid" 2>/dev/null
	done
	check_eq "up, a refused attempt and down within a second ($took ms)" \
		"refused yes" "$r $([ "$took" -lt 1000 ] && echo yes || echo no)"
	check "log and monitor: the attempt from 10.25.3.1 with user shortuser, line shortline, session pppshort" \
		"$(grep 10.25.3.1 "$TMPD/short.jsonl" "$TMPD/short_mon" | head -c 600)" \
		"$PY" -c '
import json, sys
for path in sys.argv[1:]:
    ev = [json.loads(l) for l in open(path) if "\"blocked\"" in l and "10.25.3.1" in l]
    if len(ev) != 1 or ev[0].get("user") != "shortuser" or ev[0].get("session") != "pppshort" \
            or ev[0].get("calling_station_id") != "shortline":
        sys.exit("%s: %r" % (path, ev))
' "$TMPD/short.jsonl" "$TMPD/short_mon"
	check "log: session pppshort up (user shortuser, 10.25.3.1/32), then down after the attempt" \
		"$(grep pppshort "$TMPD/short.jsonl" | head -c 600)" \
		"$PY" -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
up = [r for r in recs if r["event"] == "session up" and r.get("session") == "pppshort"]
down = [r for r in recs if r["event"] == "session down" and r.get("session") == "pppshort"]
ev = [r for r in recs if r["event"] == "blocked" and r.get("saddr") == "10.25.3.1"]
ok = (len(up) == 1 and len(down) == 1 and len(ev) == 1 and up[0].get("user") == "shortuser"
      and up[0].get("address") == ["10.25.3.1/32"]
      and up[0]["time"] <= ev[0]["time"] <= down[0]["time"])
sys.exit(0 if ok else 1)
' "$TMPD/short.jsonl"
	check_eq "history 10.25.3.1: one attempt by shortuser, session pppshort up and down" \
		"1 shortuser shortline ['session up', 'session down']" \
		"$("$CTL" -j history 10.25.3.1 --file "$TMPD/short.jsonl" | "$PY" -c '
import json, sys
h = json.load(sys.stdin)
print(h["attempts"], h["users"][0]["what"] if h["users"] else "-",
      [s["event"] for s in h["sessions"]])')"
	check_eq "the readers said nothing on stderr but monitor's summary" \
		"monitor: 1 events, 0 lost" "$(cat "$TMPD/short_log.err" "$TMPD/short_mon.err")"
}

# ifstat JSON INTERFACE HOOK FIELD: a counter of stats -j's attachment.
ifstat() {
	"$PY" -c '
import json, sys
s = json.loads(sys.argv[1])
print(sum(i[sys.argv[4]] for i in s["interfaces"] if i["interface"] == sys.argv[2] and i["hook"] == sys.argv[3]))
' "$1" "$2" "$3" "$4"
}

# Counters per attachment: a round of attempts moves r0's tc ingress
# counters by exactly what it moves the global ones, as stats -j and
# stats --prometheus say, whichever namespace asks (names as in the
# router's); promtool has nothing to say.
test_interface_counters() {
	local before after outside r
	once events_setup || return
	before=$(ctl -j stats)
	r=$(attempts_n 1)
	after=$(ctl -j stats)
	outside=$("$CTL" --pin-dir "$PIN" -j stats)
	check_eq "a round, all refused" "refused $SUBSCRIBERS other 0" "$r"
	check_eq "stats -j: r0 (tc ingress) blocked moved by $SUBSCRIBERS, as the global blocked did; nothing passed or monitored" \
		"$SUBSCRIBERS $SUBSCRIBERS 0 0" \
		"$(($(ifstat "$after" r0 "tc ingress" blocked) - $(ifstat "$before" r0 "tc ingress" blocked))) $(($(jget blocked <<<"$after") - $(jget blocked <<<"$before"))) $(($(ifstat "$after" r0 "tc ingress" passed) - $(ifstat "$before" r0 "tc ingress" passed))) $(ifstat "$after" r0 "tc ingress" monitored)"
	check_eq "stats -j outside the router's namespace: the same attachment, named r0" \
		"$(ifstat "$after" r0 "tc ingress" judged)" \
		"$(ifstat "$outside" r0 "tc ingress" judged)"
	"$CTL" --pin-dir "$PIN" stats --prometheus >"$TMPD/ifprom" 2>&1
	check "stats --prometheus: op25b_interface_segments_total of r0, tc ingress, by decision" \
		"$(grep interface_segments "$TMPD/ifprom" | head -c 600)" \
		eval 'grep -q "^op25b_interface_segments_total{interface=\"r0\",hook=\"tc ingress\",decision=\"blocked\"} [1-9]" "$TMPD/ifprom" &&
		      grep -q "^op25b_interface_segments_total{interface=\"r0\",hook=\"tc ingress\",decision=\"passed\"} " "$TMPD/ifprom"'
	if command -v promtool >/dev/null; then
		promtool check metrics <"$TMPD/ifprom" >"$TMPD/ifpromtool" 2>&1
		check_eq "promtool check metrics: nothing to say" "" "$(cat "$TMPD/ifpromtool")"
	else
		fail "promtool" "not installed (package prometheus)"
	fi
	ctl stats >"$TMPD/ifstats.txt" 2>&1
	check "stats: a table of interfaces, r0 tc ingress among them" \
		"$(tail -4 "$TMPD/ifstats.txt")" \
		eval 'grep -q "^INTERFACE  *HOOK  *BLOCKED  *MONITORED  *PASSED" "$TMPD/ifstats.txt" &&
		      grep -Eq "^r0 +tc ingress +[1-9]" "$TMPD/ifstats.txt"'
}

# rename_r0 NAME: r0 (whatever it is called now) becomes NAME, up again.
rename_r0() {
	local cur
	cur=$(ip -n "$RTR" -o link show | awk -F': ' '$2 ~ /^r0/ {sub(/@.*/, "", $2); print $2}')
	ip -n "$RTR" link set "$cur" down &&
		ip -n "$RTR" link set "$cur" name "$1" &&
		ip -n "$RTR" link set "$1" up
}

# An interface renamed in the router's namespace after op25b attached to
# it: monitor outside that namespace, and log inside it, name the events
# by its new name; so does stats, from outside. Renamed back after.
test_renamed_interface() {
	local r
	once events_setup || return
	READER_PIDS=()
	rename_r0 r0renamed || { fail "rename r0" "ip link set name failed"; return; }
	reader_outside ren_mon -j monitor
	reader ren_log log --file "$TMPD/ren.jsonl"
	sleep 1.2	# each source may be reported again
	r=$(attempts_n 1)
	sleep 1
	for pid in "${READER_PIDS[@]}"; do
		kill "$pid"
		wait "$pid" 2>/dev/null
	done
	check_eq "a round, all refused, through the renamed interface" \
		"refused $SUBSCRIBERS other 0" "$r"
	check_eq "monitor outside the router's namespace and log inside: $SUBSCRIBERS events each, all on r0renamed" \
		"$SUBSCRIBERS $SUBSCRIBERS 0" \
		"$(grep -c '"interface":"r0renamed"' "$TMPD/ren_mon") $(grep -c '"interface":"r0renamed"' "$TMPD/ren.jsonl") $(grep -c '"interface":"r0"' "$TMPD/ren_mon" "$TMPD/ren.jsonl" | awk -F: '{n += $2} END {print n}')"
	check "stats -j from outside: the counters under r0renamed" \
		"$("$CTL" --pin-dir "$PIN" -j stats | head -c 600)" \
		eval '[ "$(ifstat "$("$CTL" --pin-dir "$PIN" -j stats)" r0renamed "tc ingress" blocked)" -ge "$SUBSCRIBERS" ]'
	rename_r0 r0 || fail "rename back to r0" "ip link set name failed"
}

# A layout 4 pin dir made before ifstats and sessions_ended existed keeps
# working as it was: readers, changes and sessions go on without them,
# and the next program loaded (an attach) makes and pins them.
test_layout4_without_new_maps() {
	local pin=/sys/fs/bpf/op25b-test-events-l4-$$ out
	once events_setup || return
	CLEAN_PATHS+=("$pin")
	l4() {
		in_ns "$RTR" "$CTL" --pin-dir "$pin" "$@"
	}
	l4 -q deny subscriber 10.99.0.0/16 || { fail "layout 4" "deny failed"; return; }
	rm -f "$pin/ifstats" "$pin/sessions_ended"
	out=$(l4 -j stats 2>&1)
	check_eq "without them: stats -j answers, no interfaces" "0 []" \
		"$? $(jget interfaces <<<"$out")"
	out=$(l4 -q session up l4s --user l4user --address 10.99.0.1 2>&1 &&
		l4 -q session down l4s 2>&1 && l4 -q deny subscriber 10.98.0.0/16 2>&1 &&
		l4 list subscriber 2>&1 | grep -c "10\.9[89]\.0\.0/16")
	check_eq "without them: session up and down, deny and list work, nothing said" "2" "$out"
	out=$(l4 -q attach r1 --hook tc 2>&1; echo "rc $?")
	check_eq "without them: attach loads the program and makes them" \
		"rc 0 ifstats sessions_ended" \
		"$out $(cd "$pin" && ls -d ifstats sessions_ended 2>&1 | tr '\n' ' ' | sed 's/ $//')"
	check_eq "with them: stats -j has r1's tc ingress, at 0" "0" \
		"$(ifstat "$(l4 -j stats)" r1 "tc ingress" judged)"
	l4 -q detach --all
}

# libsystemd is loaded only by the commands that use the journal, when
# they do (user/journal.c): where it cannot be loaded, those say why and
# fail, and every other command, which never loads it, works as before.
# libsystemd.so.0 is hidden behind an empty file in a mount namespace.
test_journal_without_libsystemd() {
	local lib out
	lib=$(ldconfig -p | awk '$1 == "libsystemd.so.0" { print $NF; exit }')
	lib=$(readlink -f "$lib")
	[ -f "$lib" ] || { fail "journal without libsystemd" "no libsystemd.so.0 here"; return; }
	hidden() {
		unshare -m --propagation private bash -c \
			'mount --bind /dev/null "$0" && exec "$@"' "$lib" "$@"
	}
	local cmd what rc pin=/sys/fs/bpf/op25b-test-events-nosd-$$
	CLEAN_PATHS+=("$pin")
	"$CTL" -q --pin-dir "$pin" deny subscriber 10.99.0.0/16 ||
		{ fail "journal without libsystemd" "deny failed"; return; }
	for cmd in "log --journal" "history 192.0.2.1 --journal"; do
		what=$([ "${cmd%% *}" = log ] && echo write to || echo read)
		out=$(hidden "$CTL" --pin-dir "$pin" $cmd 2>&1)
		rc=$?
		check_eq "$cmd without libsystemd: exit 1, one line" "1 1" \
			"$rc $(wc -l <<<"$out")"
		check "$cmd without libsystemd: says why" "$out" \
			grep -q "^op25bctl: ${cmd%% *}: cannot $what the journal: .*libsystemd" <<<"$out"
	done
	out=$(hidden "$CTL" -V 2>&1; echo "rc $?")
	check "-V works without libsystemd" "$out" grep -q "rc 0" <<<"$out"
	out=$(hidden ldd "$CTL" 2>&1)
	check "op25bctl is not linked to libsystemd" "$out" \
		bash -c '! grep -q libsystemd <<<"$1"' _ "$out"
}

run_tests "$@"
