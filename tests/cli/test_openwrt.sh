#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# OpenWrt: the UCI translator (contrib/openwrt/files/op25b-uci) under every
# shell it may meet (busybox ash as on the router, dash, bash): UCI files
# become the op25b.conf(5) they mean, which op25bctl applies; every bad
# value is one line, exit 2, nothing written. The procd script's start and
# reload, with procd's calls recorded, run what the service runs.
#
# Usage: test_openwrt.sh [TEST...]   (default: every test_* function, in order)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
OW=$here/../../contrib/openwrt/files
UCI=$OW/op25b-uci

suite_begin dash
make_pin_dir openwrt

SHELLS="dash bash"
if command -v busybox >/dev/null; then
	SHELLS="busybox $SHELLS"
elif [ "${CI:-}" = true ]; then
	fail "openwrt: busybox" "not installed: the router's shell goes untested"
else
	skip "openwrt: busybox" "not installed"
fi

# run_uci SHELL FILE: the translator under SHELL; OUT, ERR, RC.
run_uci() {
	if [ "$1" = busybox ]; then
		busybox sh "$UCI" "$2" >"$TMPD/out" 2>"$TMPD/err"
	else
		"$1" "$UCI" "$2" >"$TMPD/out" 2>"$TMPD/err"
	fi
	RC=$?
}

test_translate() {
	local sh
	cat >"$TMPD/full.uci" <<'EOF'
# the router's policy
config op25b 'main'
	option limit '20/min'
	option burst '10'
	option then 'reject'
	option quarantine '1h'
	list port '25'
	list port "2525"

config subscriber 'lan'
	list prefix '192.168.1.0/24'
	list prefix fd00:1::/64

config subscriber 'server'
	option verdict 'allow'
	list prefix '192.168.1.10'

config relay 'isp'
	list prefix '192.0.2.25'

config relay 'carve'
	option verdict 'deny'
	list prefix '192.0.2.26'

config attach
	option iface 'br-lan'
	option hook 'xdp'
	option xdp_mode 'generic'

config attach
	option iface 'wan'
	option hook 'tc'
	option direction 'egress'

config watch
	list pattern 'wg*'
	list pattern 'tun[0-9]'
	option hook 'tc'
EOF
	cat >"$TMPD/full.want" <<'EOF'
action limit 20/min --burst 10 --then reject --quarantine 1h
port 25 2525
deny subscriber 192.168.1.0/24 fd00:1::/64
allow subscriber 192.168.1.10
allow relay 192.0.2.25
deny relay 192.0.2.26
attach br-lan --hook xdp --xdp-mode generic
attach wan --hook tc --direction egress
watch wg* tun[0-9] --hook tc
EOF
	for sh in $SHELLS; do
		run_uci "$sh" "$TMPD/full.uci"
		check_eq "translate ($sh): the op25b.conf the UCI file means" \
			"0:$(cat "$TMPD/full.want")" "$RC:$(grep -v '^#' "$TMPD/out")"
	done
	"$CTL" --pin-dir "$PIN" apply --dry-run "$TMPD/out" >/dev/null 2>"$TMPD/err"
	check "translate: op25bctl applies it (dry run)" "$(cat "$TMPD/err")" \
		test -z "$(grep -v 'pending' "$TMPD/err")"
	run_uci dash "$OW/op25b.config"
	check_eq "translate: the package's default config is good" 0 "$RC"
}

# Each bad value: exit 2, one line naming FILE:LINE, nothing on stdout.
test_bad() {
	local sh n=0 bad=0 what
	while IFS='|' read -r what text; do
		[ -n "$what" ] || continue
		printf '%b\n' "$text" >"$TMPD/bad.uci"
		for sh in $SHELLS; do
			run_uci "$sh" "$TMPD/bad.uci"
			n=$((n + 1))
			if [ "$RC" != 2 ] || [ -s "$TMPD/out" ] ||
				[ "$(wc -l <"$TMPD/err")" != 1 ] || ! grep -q "bad.uci" "$TMPD/err"; then
				bad=$((bad + 1))
				echo "# $what ($sh): exit $RC, $(head -c 200 "$TMPD/err")"
			fi
		done
	done <<'EOF'
unknown section|config firewall\n\toption x 'y'
unknown option|config op25b\n\toption colour 'red'
bad action|config op25b\n\toption action 'accept'
port 0|config op25b\n\tlist port '0'
port 65536|config op25b\n\tlist port '65536'
port words|config op25b\n\tlist port 'smtp'
bad limit|config op25b\n\toption limit '20/fortnight'
bad burst|config op25b\n\toption burst '-1'
bad then|config op25b\n\toption then 'monitor'
bad verdict|config subscriber\n\toption verdict 'maybe'\n\tlist prefix '10.0.0.0/8'
prefix with a word|config subscriber\n\tlist prefix 'everyone'
no prefix|config subscriber\n\toption verdict 'deny'
iface with a slash|config attach\n\toption iface '../eth0'
iface too long|config attach\n\toption iface 'abcdefghijklmnopq'
no iface|config attach\n\toption hook 'tc'
a command in a value|config attach\n\toption iface 'eth0;reboot'
a substitution|config attach\n\toption iface '$(reboot)'
backquotes|config attach\n\toption iface '`reboot`'
two words|config attach\n\toption iface 'eth0 --force'
a control character|config op25b\n\toption action 'drop\001'
outside a section|option action 'drop'
bad hook|config attach\n\toption iface 'eth0'\n\toption hook 'raw'
a pattern with a slash|config watch\n\tlist pattern 'ppp/*'
watch without pattern|config watch\n\toption hook 'tc'
EOF
	check_eq "bad input: $n cases under every shell: exit 2, one line naming the file, nothing written" \
		0 "$bad"
	run_uci dash "$TMPD/nonexistent"
	check_eq "a missing file: exit 2" 2 "$RC"
	run_uci dash "$TMPD"
	check_eq "a directory: exit 2" 2 "$RC"
}

# op25b-uci --capacity: the maps' size, 1024 unless the main section says.
test_capacity() {
	printf "config op25b 'main'\n\toption action 'drop'\n" >"$TMPD/cap"
	check_eq "capacity: 1024 by default" 1024 "$("$UCI" --capacity "$TMPD/cap")"
	printf "\toption capacity '65536'\n" >>"$TMPD/cap"
	check_eq "capacity: as the main section says" 65536 "$("$UCI" --capacity "$TMPD/cap")"
	check "capacity: the policy says nothing of it" "$("$UCI" "$TMPD/cap")" \
		eval '! "$UCI" "$TMPD/cap" | grep -q capacity'
	for bad in 63 16777217 012 1e6 99999999999; do
		sed -i "s/option capacity .*/option capacity '$bad'/" "$TMPD/cap"
		"$UCI" --capacity "$TMPD/cap" >/dev/null 2>"$TMPD/err"
		RC=$?
		check "capacity: '$bad' is refused with one line, exit 2" \
			"exit $RC: $(cat "$TMPD/err")" \
			eval '[ $RC = 2 ] && [ "$(wc -l <"$TMPD/err")" = 1 ] && grep -q "capacity" "$TMPD/err"'
	done
}

# The procd script, its paths made this test's, procd's calls recorded.
test_procd() {
	local init=$TMPD/op25b.init
	mkdir -p "$TMPD/etc" "$TMPD/var"
	cp "$OW/op25b.config" "$TMPD/uci"
	sed -e "s|^PROG=.*|PROG=\"$CTL --pin-dir $PIN\"|" \
		-e "s|/var/etc|$TMPD/var|g; s|/etc/op25b/|$TMPD/etc/|g" \
		-e "s|/usr/libexec/op25b-uci|$UCI|; s|/etc/config/op25b|$TMPD/uci|" \
		-e 's|"\$PROG"|$PROG|g' "$OW/op25b.init" >"$init"
	(
		procd_open_instance() { echo "instance $1" >>"$TMPD/procd"; }
		procd_set_param() { echo "param $*" >>"$TMPD/procd"; }
		procd_close_instance() { :; }
		procd_add_reload_trigger() { echo "trigger $*" >>"$TMPD/procd"; }
		logger() { :; }
		. "$init"
		start_service
		service_triggers
	) >"$TMPD/out" 2>"$TMPD/err"
	check "procd start: the default config applied (attachments waiting for br-lan, wan)" \
		"$(cat "$TMPD/err")" \
		eval '"$CTL" --pin-dir "$PIN" save | grep -q "^deny subscriber 192.168.1.0/24" &&
		      "$CTL" --pin-dir "$PIN" status | grep -q "br-lan.*pending"'
	check "procd start: watch runs as a respawned instance on the translated file" \
		"$(cat "$TMPD/procd")" \
		eval 'grep -q "param command .*watch --config $TMPD/var/op25b.conf --boot" "$TMPD/procd" &&
		      grep -q "param respawn" "$TMPD/procd" && grep -q "trigger op25b" "$TMPD/procd"'
	check "procd start: the last good policy is kept" "missing" \
		test -s "$TMPD/etc/last-good.conf"
	check_eq "procd start: the maps are made with the UCI capacity" 1024 \
		"$("$CTL" --pin-dir "$PIN" -j status | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["tables"]["capacity"])')"
	sed -i "s/option action 'reject'/option action 'monitor'/" "$TMPD/uci"
	( . "$init"; reload_service ) >/dev/null 2>&1
	check_eq "procd reload: the new UCI config is in force" "monitor" \
		"$("$CTL" --pin-dir "$PIN" action 2>/dev/null | head -1)"
	sed -i "s/option action 'monitor'/option action 'bogus'/" "$TMPD/uci"
	( . "$init"; reload_service ) >/dev/null 2>&1
	check_eq "procd reload: a refused UCI config changes nothing" "monitor" \
		"$("$CTL" --pin-dir "$PIN" action 2>/dev/null | head -1)"
	"$CTL" --pin-dir "$PIN" -q detach --all
}

run_tests "$@"
