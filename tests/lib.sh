# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Shared helpers for the shell test suites (sourced, not run).
#
# Output convention: one "ok - label" or "FAIL - label: detail" line per
# check, then "N passed, N failed[, N skipped]" alone on the last line;
# tests/run.sh adds those lines up. Everything a suite creates (namespaces,
# background processes, pin dirs, temp files) is registered here and removed
# by one EXIT trap, so a suite that dies half-way leaves nothing behind and
# never touches what other suites running in parallel created.
#
# A suite starts with suite_begin, defines its tests as test_* functions and
# ends with run_tests "$@": all of them in file order, or those named
# (test_cli.sh test_help; tests/run.sh cli:test_help). A test asks for the
# setup it needs (once SETUP_FN) instead of relying on the test before it.

T_PASS=0
T_FAIL=0
T_SKIP=0
T_REPORTED=0

PY=/usr/bin/python3
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(dirname "$LIB_DIR")
BUILD=${BUILD:-$TOP_DIR/build}
CTL=$BUILD/op25bctl

# Connect timeout: a dropped SYN is told from an accepted one by this.
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-1.5}

# result COUNTER LINE: one more result of COUNTER's kind, and its line.
result() {
	printf -v "$1" %d $(($1 + 1))
	echo "$2"
}

# ok LABEL, fail LABEL DETAIL, skip LABEL WHY
ok() { result T_PASS "ok - $1"; }
fail() { result T_FAIL "FAIL - $1: $2"; }
skip() { result T_SKIP "skip - $1: $2"; }
# skip_reported LABEL WHY: a test that cannot run on this kernel for a
# reason the project states and checks (doc/DESIGN.md, "Sharing XDP": the
# dispatcher where freplace is refused). Said on its own line and in the
# summary, never a pass; unlike skip, not a failure under CI=true.
skip_reported() { result T_REPORTED "skip (reported) - $1: $2"; }

# check LABEL DETAIL CMD...: ok when CMD succeeds, FAIL with DETAIL if not.
check() {
	local label=$1 detail=$2
	shift 2
	if "$@"; then
		ok "$label"
	else
		fail "$label" "$detail"
	fi
}

# check_eq LABEL EXPECTED SEEN
check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		fail "$1" "expected '$2', saw '$3'"
	fi
}

summary() {
	local s=
	[ "$T_SKIP" -gt 0 ] && s=", $T_SKIP skipped"
	[ "$T_REPORTED" -gt 0 ] && s+=", $T_REPORTED reported"
	echo "$T_PASS passed, $T_FAIL failed$s"
	[ "$T_FAIL" -eq 0 ]
}

# A whole suite that cannot run here: a skip, or under CI a failure.
skip_suite() {
	if [ "${CI:-}" = true ]; then
		fail "environment" "$1 (CI=true: a skip is a failure)"
		summary
		exit 1
	fi
	skip "suite" "$1"
	summary
	exit 0
}

# Root, bpffs, network namespaces: what every suite here needs.
require_env() {
	[ "$(id -u)" -eq 0 ] || skip_suite "not root"
	[ -x "$PY" ] || skip_suite "$PY not found"
	if ! grep -q ' /sys/fs/bpf bpf ' /proc/mounts &&
	   ! mount -t bpf bpf /sys/fs/bpf 2>/dev/null; then
		skip_suite "no bpffs at /sys/fs/bpf"
	fi
	command -v ip >/dev/null || skip_suite "iproute2 not installed"
	if [ ! -x "$CTL" ]; then
		# Not an environment problem: the thing under test is missing.
		fail "op25bctl built" "$CTL not found (make build/op25bctl)"
		summary
		exit 1
	fi
}

# suite_begin [NEED...]: how every suite starts. The environment every
# suite needs (require_env), then each NEED this one needs too: a command
# name, or "tun" for /dev/net/tun; a missing one skips the suite (under CI,
# fails it). Then the cleanup trap and a temp dir (TMPD), so whatever the
# suite makes after this is removed however it ends.
suite_begin() {
	local need pkg
	require_env
	for need in "$@"; do
		case $need in
		tun)
			[ -c /dev/net/tun ] || skip_suite "no /dev/net/tun"
			continue ;;
		# the package to install, where its name is not the command's
		nsenter) pkg=" (util-linux)" ;;
		tc) pkg=" (iproute2)" ;;
		dpkg-buildpackage) pkg=" (dpkg-dev)" ;;
		dh) pkg=" (debhelper)" ;;
		*) pkg= ;;
		esac
		command -v "$need" >/dev/null || skip_suite "$need$pkg not installed"
	done
	setup_trap
	make_tmpdir
}

# ---- cleanup registry ----

CLEAN_NS=()
CLEAN_PIDS=()
CLEAN_PATHS=()

cleanup() {
	local pid ns p
	set +e
	for pid in "${CLEAN_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${CLEAN_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	for ns in "${CLEAN_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	for p in "${CLEAN_PATHS[@]}"; do
		rm -rf -- "$p"
	done
}

# Install the EXIT trap; signals turn into an exit so it runs once.
setup_trap() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# mktemp -d, removed at exit. Sets TMPD.
make_tmpdir() {
	TMPD=$(mktemp -d --suffix=.op25b-test)
	CLEAN_PATHS+=("$TMPD")
}

# fresh_pin NAME: a pin dir private to this run, empty, removed at exit.
# Sets PIN.
fresh_pin() {
	PIN=/sys/fs/bpf/op25b-test-$1-$$
	rm -rf "$PIN"
	CLEAN_PATHS+=("$PIN")
}

# Pin directory private to this run, removed at exit. Sets PIN.
make_pin_dir() {
	PIN=/sys/fs/bpf/op25b-test-$1-$$
	CLEAN_PATHS+=("$PIN")
}

# ---- network namespaces ----

# ns_names TAG VAR...: each VAR set to the name of a namespace this run
# alone uses, o25t-TAG-var-PID (var in lower case); ns_create makes it.
ns_names() {
	local tag=$1 var
	shift
	for var in "$@"; do
		printf -v "$var" 'o25t-%s-%s-%s' "$tag" "${var,,}" $$
	done
}

# ns_create NAME: a fresh namespace with lo up, removed at exit.
ns_create() {
	ip netns add "$1" || return 1
	CLEAN_NS+=("$1")
	ip -n "$1" link set lo up
	# Kernel defaults, whatever the host set: no reverse-path filter, no
	# router advertisements or DAD in the way of static test addresses.
	ip netns exec "$1" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 \
		net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.disable_ipv6=0 \
		net.ipv6.conf.default.disable_ipv6=0 >/dev/null
}

# veth_pair NS1 IF1 NS2 IF2: a veth created directly inside the namespaces,
# ns_veth NS A B: a veth pair of A and B inside one namespace, both up.
ns_veth() {
	ip -n "$1" link add "$2" type veth peer name "$3" &&
	ip -n "$1" link set "$2" up &&
	ip -n "$1" link set "$3" up
}
# so its names never meet the host's or another suite's.
veth_pair() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" &&
	ip -n "$1" link set "$2" up &&
	ip -n "$3" link set "$4" up
}

ns_forwarding() {
	ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1 >/dev/null
}

# ns_chain SUB RTR NET: the subscriber -- router -- outside chain the
# router suites build: three namespaces, veths s0 (SUB) -- r0 (RTR) and
# r1 (RTR) -- i0 (NET), and the router forwarding. Addresses are each
# suite's own.
ns_chain() {
	ns_create "$1" && ns_create "$2" && ns_create "$3" &&
	veth_pair "$1" s0 "$2" r0 && veth_pair "$2" r1 "$3" i0 &&
	ns_forwarding "$2"
}

# addr_add NS IF ADDR/LEN: IPv6 with nodad so it is usable at once.
addr_add() {
	case $3 in
	*:*) ip -n "$1" addr add "$3" dev "$2" nodad ;;
	*) ip -n "$1" addr add "$3" dev "$2" ;;
	esac
}

mac_of() {
	ip -n "$1" -o link show dev "$2" | sed -E 's/.*link\/ether ([0-9a-f:]+).*/\1/'
}

# ---- TCP helpers (python3 from the standard library only) ----

# tcp_connect NS SRC DST PORT [TIMEOUT]: prints connected / timeout /
# refused (or another errno name); exit 0 only when connected. SRC "-"
# lets the kernel choose.
tcp_connect() {
	ip netns exec "$1" "$PY" -c '
import errno, signal, socket, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
src, dst, port, tmo = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
try:
    if src != "-":
        s.bind((src, 0))
    s.settimeout(tmo)
    s.connect((dst, port))
except socket.timeout:
    print("timeout"); sys.exit(1)
except ConnectionRefusedError:
    print("refused"); sys.exit(1)
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e))); sys.exit(1)
print("connected")
' "$2" "$3" "$4" "${5:-$CONNECT_TIMEOUT}"
}

# expect_outcome LABEL WANT WHY NS SRC DST PORT: tcp_connect prints WANT.
expect_outcome() {
	local r
	r=$(tcp_connect "$4" "$5" "$6" "$7")
	if [ "$r" = "$2" ]; then
		ok "$1"
	else
		fail "$1" "expected $2$3, saw ${r:-nothing}"
	fi
}

# expect_connect|expect_blocked|expect_refused LABEL NS SRC DST PORT
expect_connect() {
	expect_outcome "$1" connected "" "${@:2}"
}

# A dropped SYN shows as a timeout (a refusal would mean it reached the host).
expect_blocked() {
	expect_outcome "$1" timeout " (dropped)" "${@:2}"
}

# Action reject answered the SYN with a RST the sender's stack accepted (a
# timeout would mean a silent drop, or a RST the stack threw away).
expect_refused() {
	expect_outcome "$1" refused " (answered with a RST)" "${@:2}"
}

# wait_file_line FILE PATTERN [TRIES]: poll (0.1 s steps) until it appears.
wait_file_line() {
	local i
	for ((i = 0; i < ${3:-50}; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait_for SECONDS CMD...: poll CMD (0.1 s steps) until it succeeds.
wait_for() {
	local t=$(($1 * 10))
	shift
	while [ $t -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		t=$((t - 1))
	done
	return 1
}

# tcp_listen NS LOG ADDR:PORT...: a background listener that accepts and
# closes, until cleanup kills it. IPv6 as [addr]:port. Waits until bound.
tcp_listen() {
	local ns=$1 log=$2
	shift 2
	ip netns exec "$ns" "$PY" -c '
import selectors, signal, socket, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
sel = selectors.DefaultSelector()
for spec in sys.argv[1:]:
    addr, port = spec.rsplit(":", 1)
    addr = addr.strip("[]")
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, int(port)))
    s.listen(128)
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        c, _ = key.fileobj.accept()
        c.close()
' "$@" >"$log" 2>&1 &
	CLEAN_PIDS+=($!)
	wait_file_line "$log" ready
}

# run_flood LABEL ACTION...: the sub -- router -- mx suites' SYN flood
# (e2e/flood.py): SYNs from SRC in SUB to MX (nine to 25 for each to 587),
# sent on s0 to R0_MAC for 3 s while ACTION runs; sets SEEN25 and SEEN587
# from what MXN's i0 saw. Returns 1, said, when nothing could be counted.
run_flood() {
	local label=$1 log=$TMPD/count.$RANDOM cpid fpid
	local flood=$LIB_DIR/e2e/flood.py
	shift
	ip netns exec "$MXN" "$PY" "$flood" count --iface i0 --src "$SRC" \
		>"$log" 2>&1 &
	cpid=$!
	CLEAN_PIDS+=($cpid)
	wait_file_line "$log" ready || { fail "$label" "counter not ready"; return 1; }
	ip netns exec "$SUB" "$PY" "$flood" send --iface s0 --dst-mac "$R0_MAC" \
		--src "$SRC" --dst "$MX" --seconds 3 >"$TMPD/sent" 2>&1 &
	fpid=$!
	sleep 0.5
	"$@"
	wait $fpid
	sleep 0.3
	kill -TERM $cpid
	wait $cpid 2>/dev/null
	SEEN25=$(sed -n 's/^25=\([0-9]*\) .*/\1/p' "$log")
	SEEN587=$(sed -n 's/.* 587=\([0-9]*\)$/\1/p' "$log")
}

# A setup step failed: nothing after it can be judged.
die() {
	fail "$1" "$2"
	summary
	exit 1
}

# in_ns NS CMD...: enter only the network namespace. Unlike `ip netns
# exec`, which mounts a fresh /sys without bpffs, this keeps the host's
# /sys/fs/bpf, where the pinned maps live.
in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# jget KEY: the first value named KEY in the JSON on stdin (breadth first),
# printed as JSON; nothing and exit 1 when absent or not JSON.
jget() {
	"$PY" -c '
import json, sys
try:
    todo = [json.load(sys.stdin)]
except ValueError:
    sys.exit(1)
while todo:
    v = todo.pop(0)
    if isinstance(v, dict):
        if sys.argv[1] in v:
            print(json.dumps(v[sys.argv[1]]))
            sys.exit(0)
        todo.extend(v.values())
    elif isinstance(v, list):
        todo.extend(v)
sys.exit(1)
' "$1"
}

# check_rose LABEL BEFORE AFTER: a counter read before and after rose. An
# unreadable reading (not a number) is a failure, never a pass.
check_rose() {
	if [[ $2 =~ ^[0-9]+$ && $3 =~ ^[0-9]+$ ]] && [ "$3" -gt "$2" ]; then
		ok "$1 ($2 -> $3)"
	else
		fail "$1" "before '$2', after '$3'"
	fi
}

# not CMD...: succeeds when CMD fails (for check, which runs a command).
not() {
	! "$@"
}

# once FN: run the suite's setup function FN the first time a test asks
# for it, and only then; every later call returns the status it had. A test
# asks for all it needs, so it runs alone (tests/run.sh cli:test_help) as it
# does in a full run, where what it needs is built once for all.
declare -A ONCE_RC=()
once() {
	if [ -z "${ONCE_RC[$1]+set}" ]; then
		"$1"
		ONCE_RC[$1]=$?
	fi
	return "${ONCE_RC[$1]}"
}

# suite_tests: the suite's test_* functions in the order its file defines
# them, so a full run reads top to bottom (declare -F would sort them).
suite_tests() {
	sed -n 's/^\(test_[A-Za-z0-9_]*\)[[:space:]]*()[[:space:]]*{.*/\1/p' "$0"
}

# run_tests [NAME...]: the named test_* functions of the suite, or all of
# them in the order they are defined, then the summary line. A name that is
# not a test of this suite is a failure, never a silent nothing.
run_tests() {
	local t tests=("$@")
	[ ${#tests[@]} -eq 0 ] && mapfile -t tests < <(suite_tests)
	[ ${#tests[@]} -eq 0 ] && fail "run_tests" "no test_* function found in $0"
	for t in "${tests[@]}"; do
		if [[ $t != test_* ]] || ! declare -F "$t" >/dev/null; then
			fail "$t" "no such test"
			continue
		fi
		"$t"
	done
	summary
}

# ---- cgroups (the socket hooks' suites) ----

# The cgroup v2 root, as /proc/self/mountinfo says (hybrid hosts have v1
# on /sys/fs/cgroup and v2 below it); empty when there is none.
cg_v2_root() {
	awk '{ for (i = 7; i < NF; i++) if ($i == "-") {
		if ($(i + 1) == "cgroup2") { print $5; exit } ; break } }' /proc/self/mountinfo
}

# cg_remove DIR: every cgroup at and below DIR (a suite's own) emptied, its
# processes killed, and removed, deepest first.
cg_remove() {
	local d p
	[ -n "$1" ] && [ -d "$1" ] || return 0
	for d in $(find "$1" -depth -type d 2>/dev/null); do
		for p in $(cat "$d/cgroup.procs" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null
		done
	done
	for d in $(find "$1" -depth -type d 2>/dev/null); do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			rmdir "$d" 2>/dev/null && break
			sleep 0.1
		done
	done
}
