#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Reload, boot and sessions never open a hole (doc/DESIGN.md, "Layers"):
# reloads of the file with sessions and watch at work lose none of their
# rules or attachments; the boot sequence, as the units run it, enforces
# the tables before the interfaces exist, attaches each within a second of
# its appearing, and falls back on the last good policy; a renamed or
# deleted interface leaves a save that applies as no change; a reader
# stopped mid-output holds no writer up; a pin dir of the previous layout
# is migrated under a SYN flood with not one SYN to 25 through.
#
# Usage: test_layers.sh [TEST...]   (default: every test_* function, in order)
set -u
. "$(dirname "$0")/../lib.sh"

HOOK=$LIB_DIR/../contrib/ppp/op25b-ppp-hook
UNITS=$LIB_DIR/../contrib
FLOOD=$LIB_DIR/e2e/flood.py
ns_names lay NS
SESSIONS=${LAYER_SESSIONS:-200}
RELOADS=${LAYER_RELOADS:-20}
# The last release of layout 3: what a package upgrade migrates from.
LAYOUT3_COMMIT=59d7189cadd781bda141ac9c86850c191241eb16

suite_begin tun nsenter
make_pin_dir layers

ctl() {
	in_ns "$NS" "$CTL" --pin-dir "$PIN" "$@"
}

# One namespace standing for the BRAS: sessions' devices, watch's, the file's.
bras_setup() {
	ns_create "$NS" || die "netns" "cannot add $NS"
}

# Counts from status -j: records of LAYER in STATE.
records() {
	ctl -j status 2>/dev/null | "$PY" -c '
import json, sys
st = json.load(sys.stdin)
print(sum(1 for a in st.get("attachments", [])
          if a["layer"] == sys.argv[1] and a["state"] == sys.argv[2]))' "$1" "$2"
}

# Rules of the session layer, from list -j.
session_rules() {
	ctl -j list subscriber | "$PY" -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r["layer"] == "session"))'
}

# the process itself, not a subshell: $! is what SIGTERM must reach
start_watch() {
	"$CTL" -n "$NS" --pin-dir "$PIN" "$@" >"$TMPD/watch.out" 2>"$TMPD/watch.err" &
	WATCH_PID=$!
	CLEAN_PIDS+=("$WATCH_PID")
	wait_file_line "$TMPD/watch.out" watching
}

stop_watch() {
	kill -TERM "$WATCH_PID" 2>/dev/null
	wait "$WATCH_PID" 2>/dev/null
}

# session_up N: as pppd would run the hook; the even ones exempt by RADIUS,
# every fourth attached on its own device.
session_up() {
	local n=$1 ifc=o25s$1 v4 attach=no
	v4=100.64.$((n / 200)).$((n % 200 + 1))
	rm -f "$TMPD/radattr.$ifc"
	((n % 2 == 0)) && printf 'User-Name sub%d\nFilter-Id op25b-exempt\n' "$n" \
		>"$TMPD/radattr.$ifc"
	if ((n % 4 == 0)); then
		attach=yes
		ip -n "$NS" tuntap add dev "$ifc" mode tun
	fi
	IFNAME=$ifc IPLOCAL=100.127.255.1 IPREMOTE=$v4 PEERNAME=sub$n \
		OP25B_PPP_ATTACH=$attach OP25BCTL=$CTL OP25B_PIN_DIR=$PIN \
		OP25B_PPP_CONF=/nonexistent OP25B_RADATTR=$TMPD/radattr \
		nsenter --net="/run/netns/$NS" "$HOOK" up "$ifc" /dev/ppp 0 \
		100.127.255.1 "$v4" "" || echo "hook-failed $n"
}

# The file of reload K: the pools, a deny and a relay that change with K,
# an attachment of the file's.
reload_file() {
	local k=$1
	printf 'deny subscriber 100.64.0.0/10\n'
	printf 'deny subscriber 198.18.%d.0/24\n' "$k"
	printf 'allow relay 192.0.2.%d\n' "$((k + 1))"
	printf 'attach o25f0 --hook tc\n'
	((k % 2)) && printf 'attach o25f1 --hook tc\n'
	printf 'watch o25w* --hook tc\n'
}

# 200 sessions (100 exempt, 50 attached), watch at work on five devices,
# and 20 reloads of a file that changes each time: after each one every
# exemption holds, every session's and watch's attachment is there, and
# the file's own changes are in force.
test_reloads() {
	local k n bad=0 lost=0 sessions_att watch_att v4
	once bras_setup || return
	ip -n "$NS" tuntap add dev o25f0 mode tun
	ip -n "$NS" tuntap add dev o25f1 mode tun
	reload_file 0 >"$TMPD/op25b.conf"
	ctl -q apply "$TMPD/op25b.conf" || fail "reloads: first apply" "failed"
	start_watch watch --config "$TMPD/op25b.conf" ||
		{ fail "reloads: watch starts" "$(cat "$TMPD/watch.err")"; return; }
	for n in 0 1 2 3 4; do ip -n "$NS" tuntap add dev o25w$n mode tun; done
	for ((n = 1; n <= SESSIONS; n++)); do
		session_up "$n"
	done >"$TMPD/hooks" 2>&1
	check_eq "reloads: $SESSIONS sessions up through the hook" "" \
		"$(grep hook-failed "$TMPD/hooks" | head -3)"
	wait_for 10 eval '[ "$(records watch attached)" = 5 ]'
	sessions_att=$(records session attached)
	watch_att=$(records watch attached)
	check_eq "reloads: before: $((SESSIONS / 2)) exemptions, $((SESSIONS / 4)) session and 5 watch attachments" \
		"$((SESSIONS / 2)) $((SESSIONS / 4)) 5" \
		"$(session_rules) $sessions_att $watch_att"
	for ((k = 1; k <= RELOADS; k++)); do
		reload_file "$k" >"$TMPD/op25b.conf"
		ctl -q apply "$TMPD/op25b.conf" || bad=$((bad + 1))
		[ "$(session_rules)" = $((SESSIONS / 2)) ] || lost=$((lost + 1))
		[ "$(records session attached) $(records watch attached)" = \
			"$((SESSIONS / 4)) 5" ] || lost=$((lost + 1))
		# the file's change is in force, its last one gone
		ctl -q test 198.18.$k.9 203.0.113.25 >/dev/null; [ $? = 3 ] || bad=$((bad + 1))
		# the last reload's deny is gone: 198.18.x is no subscriber
		ctl -q test 198.18.$((k - 1)).9 203.0.113.25 >/dev/null ||
			bad=$((bad + 1))
		[ "$(ctl -j test 100.64.9.9 192.0.2.$((k + 1)) | jget verdict)" = '"pass"' ] ||
			bad=$((bad + 1))
		[ "$(records file attached)" = $((1 + k % 2)) ] || bad=$((bad + 1))
	done
	check_eq "reloads: $RELOADS reloads: no exemption or session/watch attachment lost" 0 "$lost"
	check_eq "reloads: ...and each file's changes in force (deny, relay, attachments)" 0 "$bad"
	# every exempt session still passes, every other is blocked
	bad=0
	for ((n = 1; n <= SESSIONS; n++)); do
		v4=100.64.$((n / 200)).$((n % 200 + 1))
		ctl -q test "$v4" 203.0.113.25 >/dev/null
		[ $? = $((n % 2 ? 3 : 0)) ] || bad=$((bad + 1))
	done
	check_eq "reloads: after them, each of the $SESSIONS subscribers is judged as its session says" 0 "$bad"
	for ((n = 1; n <= SESSIONS; n++)); do
		IFNAME=o25s$n OP25BCTL=$CTL OP25B_PIN_DIR=$PIN OP25B_PPP_CONF=/nonexistent \
			nsenter --net="/run/netns/$NS" "$HOOK" down o25s$n || echo "down-failed $n"
	done >"$TMPD/downs" 2>&1
	check_eq "reloads: every session down: no exemption, no session attachment left" \
		"0 0 " "$(session_rules) $(records session attached) $(grep -c down-failed "$TMPD/downs" | grep -v '^0$')"
	stop_watch
	check "reloads: the watch stopped (no watch of this pin dir is left)" \
		"$(pgrep -af "op25bctl -n $NS --pin-dir $PIN watch")" \
		eval '! pgrep -f "op25bctl -n $NS --pin-dir $PIN watch" >/dev/null'
	ctl -q detach --all
}

# The boot as the units run it: op25b.service's ExecStart, then
# op25b-watch.service's, with this build's op25bctl, a private pin dir and
# namespace, and this test's files for /etc/op25b and /var/lib/op25b; and
# with no capability but those the units keep (CapabilityBoundingSet).
unit_cmd() {
	local unit=$1 key=$2 line cmd caps
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNITS/$unit" |
		tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
	sed -n "s/^$key=//p" "$UNITS/$unit" | while read -r line; do
		cmd=${line//\/etc\/op25b\/op25b.conf/$TMPD/boot/op25b.conf}
		cmd=${cmd/ apply / apply --last-good $TMPD/boot/last-good.conf }
		echo "${cmd/\/usr\/sbin\/op25bctl/setpriv --bounding-set=-all,$caps nsenter --net=/run/netns/$NS $CTL --pin-dir $PIN}"
	done
}

# ms since EPOCH_NS until status shows NAME attached, polling every 10 ms.
attach_delay() {
	local t0=$1 name=$2 i
	for ((i = 0; i < 300; i++)); do
		ctl -j status 2>/dev/null | "$PY" -c '
import json, sys
st = json.load(sys.stdin)
sys.exit(0 if any(a["ifname"] == sys.argv[1] and a["state"] == "attached"
                  for a in st.get("attachments", [])) else 1)' "$name" && {
			echo $((($(date +%s%N) - t0) / 1000000))
			return
		}
		sleep 0.01
	done
	echo never
}

test_boot() {
	local cmd rc t0 ms
	once bras_setup || return
	mkdir -p "$TMPD/boot"
	printf 'deny subscriber 10.25.0.0/24\nattach o25bx --hook tc\nattach o25by\n' \
		>"$TMPD/boot/op25b.conf"
	if command -v systemd-analyze >/dev/null; then
		sed "s|/usr/sbin/op25bctl|$CTL|" "$UNITS/op25b.service" >"$TMPD/op25b.service"
		sed "s|/usr/sbin/op25bctl|$CTL|" "$UNITS/op25b-watch.service" >"$TMPD/op25b-watch.service"
		systemd-analyze verify --man=no "$TMPD/op25b.service" \
			"$TMPD/op25b-watch.service" >"$TMPD/verify" 2>&1
		check_eq "boot: systemd-analyze verify accepts both units" "" "$(cat "$TMPD/verify")"
	else
		fail "boot: systemd-analyze verify" "not installed"
	fi
	# hardened: systemd's own exposure score, 4.0 or better
	local u score
	for u in op25b.service op25b-watch.service; do
		score=$(systemd-analyze security --offline=true "$TMPD/$u" 2>/dev/null |
			sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
		check "boot: $u's exposure, by systemd-analyze security, is 4.0 or better (${score:-none})" \
			"${score:-none}" eval '[ -n "$score" ] && awk "BEGIN { exit !($score <= 4.0) }"'
	done
	# the readers (log, metrics) keep less: CAP_BPF alone
	check "boot: the units keep only CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON, CAP_SYS_ADMIN" \
		"$(grep -h CapabilityBoundingSet "$UNITS"/op25b*.service)" \
		eval '[ "$(grep -h "^CapabilityBoundingSet=" "$UNITS"/op25b*.service |
			   sed "s/^CapabilityBoundingSet=//" | tr " " "\n" |
			   grep -vxE "CAP_BPF|CAP_NET_ADMIN|CAP_PERFMON|CAP_SYS_ADMIN")" = "" ] &&
		      [ "$(grep -h "^CapabilityBoundingSet=" "$UNITS"/op25b.service)" = \
		        "CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_PERFMON CAP_SYS_ADMIN" ]'
	# ordered as nftables.service: every ordering word of its is ours too
	if [ -f /lib/systemd/system/nftables.service ]; then
		local want missing=
		for want in $(sed -n 's/^\(Before\|Wants\|Conflicts\|DefaultDependencies\)=//p' \
			/lib/systemd/system/nftables.service | tr ' ' '\n'); do
			grep -Eq "^(Before|Wants|Conflicts|DefaultDependencies)=.*\\b$want\\b" \
				"$UNITS/op25b.service" || missing+=" $want"
		done
		check_eq "boot: op25b.service is ordered as nftables.service (before network-pre.target)" \
			"" "$missing"
	else
		fail "boot: nftables.service" "not installed: nothing to compare the ordering with"
	fi
	# the boot: neither interface exists yet
	cmd=$(unit_cmd op25b.service ExecStart)
	eval "$cmd" >"$TMPD/out" 2>"$TMPD/err"
	check_eq "boot: ExecStart with both attach targets missing: exit 0" "0" "$?"
	ctl -q test 10.25.0.7 203.0.113.25 >/dev/null
	check_eq "boot: the tables are enforced before the targets exist" 3 $?
	check_eq "boot: status shows both pending" 2 "$(records file pending)"
	cmd=$(unit_cmd op25b-watch.service ExecStart)
	# exec: the watch itself is the background job, and stop_watch ends it
	eval "exec $cmd" >"$TMPD/watch.out" 2>"$TMPD/watch.err" &
	WATCH_PID=$!
	CLEAN_PIDS+=("$WATCH_PID")
	wait_file_line "$TMPD/watch.out" watching
	t0=$(date +%s%N)
	ns_veth "$NS" o25bx o25bxp
	ms=$(attach_delay "$t0" o25bx)
	check "boot: o25bx attached within 1 s of being created (${ms} ms)" "$ms" \
		eval '[ "$ms" != never ] && [ "$ms" -le 1000 ]'
	t0=$(date +%s%N)
	ip -n "$NS" tuntap add dev o25by mode tun
	ms=$(attach_delay "$t0" o25by)
	check "boot: o25by attached within 1 s of being created (${ms} ms)" "$ms" \
		eval '[ "$ms" != never ] && [ "$ms" -le 1000 ]'
	check "boot: o25bx really has op25b on tc ingress" "no filter" \
		eval 'tc -n "$NS" filter show dev o25bx ingress | grep -q op25b_tc'
	check "boot: the apply that succeeded kept the last good policy" "missing" \
		grep -q '^deny subscriber 10.25.0.0/24' "$TMPD/boot/last-good.conf"
	stop_watch
	check "boot: the watch stopped (no watch of this pin dir is left)" \
		"$(pgrep -af "op25bctl --pin-dir $PIN watch")" \
		eval '! pgrep -f "op25bctl --pin-dir $PIN watch" >/dev/null'

	ctl -q detach --all
	ip -n "$NS" link del o25bx
	ip -n "$NS" link del o25by
	# the next boot: bpffs empty, the file broken
	rm -rf "$PIN"
	printf 'deny subscriber 10.25.0.0/24\nbogus words\n' >"$TMPD/boot/op25b.conf"
	cmd=$(unit_cmd op25b.service ExecStart)
	eval "$cmd" >"$TMPD/out" 2>"$TMPD/err"
	rc=$?
	check "boot: a broken file: the unit still fails (exit $rc), naming the error" \
		"$(cat "$TMPD/err")" \
		eval '[ $rc = 2 ] && grep -q "op25b.conf:2" "$TMPD/err" && grep -q "last good" "$TMPD/err"'
	ctl -q test 10.25.0.7 203.0.113.25 >/dev/null
	check_eq "boot: ...and the last good policy is enforced" 3 $?
	check_eq "boot: ...its attachments waiting" 2 "$(records file pending)"
	ctl -q detach --all
}

# An attached interface renamed, then deleted: save writes a file that
# applies as no change, each time.
test_rename_delete() {
	local out rc
	once bras_setup || return
	ns_veth "$NS" o25ra o25rp
	printf 'deny subscriber 10.26.0.0/16\nattach o25ra --hook xdp --xdp-mode generic\n' |
		ctl -q apply -
	ip -n "$NS" link set o25ra down
	ip -n "$NS" link set o25ra name o25rb
	ip -n "$NS" link set o25rb up
	check "rename: status shows the new name, attached" "$(ctl status | tail -2)" \
		eval 'ctl status | grep -q "o25rb (ifindex [0-9]*): xdp generic.*attached"'
	ctl save >"$TMPD/saved"
	check "rename: save names the new name" "$(grep attach "$TMPD/saved")" \
		grep -q '^attach o25rb --hook xdp --xdp-mode generic$' "$TMPD/saved"
	out=$(ctl apply --dry-run "$TMPD/saved" 2>&1)
	rc=$?
	check_eq "rename: save then apply --dry-run prints nothing, exit 0" "0:" "$rc:$out"
	ip -n "$NS" link del o25rb
	check "delete: status keeps the record and says it is gone" "$(ctl status | tail -2)" \
		eval 'ctl status | grep -q "o25rb.*gone"'
	ctl save >"$TMPD/saved"
	out=$(ctl apply --dry-run "$TMPD/saved" 2>&1)
	rc=$?
	check_eq "delete: save then apply --dry-run prints nothing, exit 0" "0:" "$rc:$out"
	ctl -q apply "$TMPD/saved"
	check_eq "delete: and applying it is clean (exit 0)" 0 $?
	ns_veth "$NS" o25rb o25rp
	ctl -q apply "$TMPD/saved"
	check "delete: the name back, the next apply attaches it" "$(ctl status | tail -2)" \
		eval 'ctl status | grep -q "o25rb (ifindex [0-9]*): xdp generic.*attached"'
	ctl -q detach --all
	ip -n "$NS" link del o25rb
}

# list at 16,000 prefixes, its output stalled and the process stopped:
# 100 deny/del pairs each finish at once; resumed, the list is the one
# snapshot it started from, whole.
test_stopped_reader() {
	local pid i t0 t1 times=() rc=0 rows
	"$PY" -c '
for i in range(16000):
    print("10.%d.%d.0/24" % (100 + i // 256, i % 256))' >"$TMPD/pools"
	"$CTL" --pin-dir "$PIN" -q deny subscriber -f "$TMPD/pools" ||
		{ fail "reader: 16,000 prefixes" "deny failed"; return; }
	mkfifo "$TMPD/fifo"
	"$CTL" --pin-dir "$PIN" list subscriber >"$TMPD/fifo" &
	pid=$!
	CLEAN_PIDS+=("$pid")
	exec 7<"$TMPD/fifo"	# opened, never read: list blocks on a full pipe
	sleep 0.5
	kill -STOP "$pid"
	for ((i = 0; i < 100; i++)); do
		t0=$(date +%s%N)
		"$CTL" --pin-dir "$PIN" -q -w 1 deny subscriber 198.51.100.$i || rc=1
		"$CTL" --pin-dir "$PIN" -q -w 1 del subscriber 198.51.100.$i || rc=1
		t1=$(date +%s%N)
		times+=($(((t1 - t0) / 2000000)))
	done
	local dist
	dist=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 }
		END { printf "min %d, median %d, p90 %d, max %d ms", v[1], v[int(NR / 2)], v[int(NR * 0.9)], v[NR] }')
	echo "# deny or del with a stopped reader: $dist"
	check_eq "reader: 100 deny/del pairs with the reader stopped all succeed" 0 "$rc"
	check "reader: each deny and del under 50 ms ($dist)" "$dist" \
		eval '[ "$(printf "%s\n" "${times[@]}" | sort -n | tail -1)" -lt 50 ]'
	kill -CONT "$pid"
	rows=$(cat <&7 | tail -n +2)
	exec 7<&-
	wait "$pid"
	check_eq "reader: resumed, it wrote one whole snapshot: the 16,000 it started from" \
		"16000 0" "$(echo "$rows" | grep -c '/24') $(echo "$rows" | grep -c 198.51.100)"
	"$CTL" --pin-dir "$PIN" -q flush subscriber
}

# ---- migration from layout 3 under a flood ----

ns_names mig MIG_SUB MIG_RTR MIG_MX

# The op25bctl of the last layout 3 release, built from this repository's
# own history.
old_build() {
	local top=$LIB_DIR/..
	git -C "$top" cat-file -e "$LAYOUT3_COMMIT^{commit}" 2>/dev/null ||
		return 1
	mkdir -p "$TMPD/old" &&
		git -C "$top" archive "$LAYOUT3_COMMIT" | tar -x -C "$TMPD/old" &&
		make -s -C "$TMPD/old" build/op25bctl >"$TMPD/old.log" 2>&1
}

# flood_both SECONDS: SYNs from both subscriber links (s0 via r0's XDP,
# s1 via r2's tc), counted on the MX link by source; sets the counts.
flood_start() {
	local src
	for src in 10.30.0.10 10.30.1.10; do
		ip netns exec "$MIG_MX" "$PY" "$FLOOD" count --iface i0 --src $src \
			>"$TMPD/count.$src" 2>&1 &
		CLEAN_PIDS+=($!)
		COUNTERS+=($!)
		wait_file_line "$TMPD/count.$src" ready || return 1
	done
	ip netns exec "$MIG_SUB" "$PY" "$FLOOD" send --iface s0 \
		--dst-mac "$(mac_of "$MIG_RTR" r0)" --src 10.30.0.10 \
		--dst 203.0.113.25 --seconds "$1" >/dev/null 2>&1 &
	SENDERS=($!)
	ip netns exec "$MIG_SUB" "$PY" "$FLOOD" send --iface s1 \
		--dst-mac "$(mac_of "$MIG_RTR" r2)" --src 10.30.1.10 \
		--dst 203.0.113.25 --seconds "$1" >/dev/null 2>&1 &
	SENDERS+=($!)
}

flood_end() {
	wait "${SENDERS[@]}"
	sleep 0.3
	kill -TERM "${COUNTERS[@]}"
	wait "${COUNTERS[@]}" 2>/dev/null
}

seen() {
	sed -n "s/.*$2=\([0-9]*\).*/\1/p" "$TMPD/count.$1"
}

test_migrate_flood() {
	local old new pin=/sys/fs/bpf/op25b-test-mig-$$ src
	COUNTERS=()
	CLEAN_PATHS+=("$pin" "$pin-migrating")
	if ! old_build; then
		fail "migrate: the layout 3 release ($LAYOUT3_COMMIT)" \
			"cannot be built from this clone's history: $(tail -3 "$TMPD/old.log" 2>/dev/null)"
		return
	fi
	old="nsenter --net=/run/netns/$MIG_RTR $TMPD/old/build/op25bctl --pin-dir $pin"
	new="nsenter --net=/run/netns/$MIG_RTR $CTL --pin-dir $pin"
	ns_chain "$MIG_SUB" "$MIG_RTR" "$MIG_MX" &&
		veth_pair "$MIG_SUB" s1 "$MIG_RTR" r2 &&
		addr_add "$MIG_SUB" s0 10.30.0.10/24 && addr_add "$MIG_RTR" r0 10.30.0.1/24 &&
		addr_add "$MIG_SUB" s1 10.30.1.10/24 && addr_add "$MIG_RTR" r2 10.30.1.1/24 &&
		addr_add "$MIG_RTR" r1 10.31.0.1/24 && addr_add "$MIG_MX" i0 10.31.0.2/24 &&
		addr_add "$MIG_MX" i0 203.0.113.25/32 &&
		ip -n "$MIG_RTR" route add 203.0.113.25/32 via 10.31.0.2 &&
		ip -n "$MIG_RTR" neigh replace 10.31.0.2 lladdr "$(mac_of "$MIG_MX" i0)" \
			dev r1 nud permanent || { fail "migrate: topology" "failed"; return; }
	# layout 3's policy: its rules, ports, action, and a hook on each
	# subscriber link (XDP, tc), where the flood comes in
	$old -q deny subscriber 10.30.0.0/23 2001:db8::/32 10.99.0.0/16 &&
		$old -q allow subscriber 10.30.0.200 10.99.1.0/24 &&
		$old -q allow relay 192.0.2.25 &&
		$old -q port add 2525 && $old -q action reject &&
		$old -q attach r0 --hook xdp --xdp-mode generic &&
		$old -q attach r2 --hook tc ||
		{ fail "migrate: the layout 3 policy" "the old op25bctl failed"; return; }
	$old save | grep -v '^attach' >"$TMPD/before.rules"
	$old save | grep '^attach' | sort >"$TMPD/before.attach"
	$new list >/dev/null 2>"$TMPD/err"
	check "migrate: before, this op25bctl refuses layout 3 with the way out" \
		"$(cat "$TMPD/err")" grep -q "op25bctl migrate" "$TMPD/err"
	flood_start 3 || { fail "migrate: counters" "not ready"; return; }
	sleep 0.7
	# as a package upgrade runs it: the postinst, from the root namespace
	OP25BCTL=$CTL OP25B_PIN_DIRS=$pin "$LIB_DIR/../debian/op25b.postinst" \
		configure 0.2.0 >"$TMPD/mig.out" 2>"$TMPD/mig.err"
	check "migrate: the package's postinst migrates it under the flood" \
		"exit $?: $(cat "$TMPD/mig.err")" \
		eval '[ ! -s "$TMPD/mig.err" ] && $new list >/dev/null'
	flood_end
	for src in 10.30.0.10 10.30.1.10; do
		check "migrate: markers to 587 from $src arrived during the flood ($(seen $src 587))" \
			"saw $(seen $src 587)" [ "$(seen $src 587)" -gt 0 ]
		check_eq "migrate: no SYN to 25 from $src got through while migrating" \
			0 "$(seen $src 25)"
	done
	check_eq "migrate: the rules, ports and action equal before and after" \
		"$(cat "$TMPD/before.rules")" "$($new save | grep -v '^attach')"
	check_eq "migrate: the attachments equal before and after" \
		"$(cat "$TMPD/before.attach")" "$($new save | grep '^attach' | sort)"
	check "migrate: both hooks run the new program, attached" "$($new status | tail -3)" \
		eval '[ "$($new status | grep -c ", file, attached")" = 2 ]'
	check "migrate: no pin dir beside it is left" "$(ls -d "$pin"-* 2>&1)" \
		eval '! ls -d "$pin"-* >/dev/null 2>&1'
	$new migrate >/dev/null 2>&1
	check_eq "migrate: again: nothing to do, exit 0" 0 $?
	$new -q detach --all
}

run_tests "$@"
