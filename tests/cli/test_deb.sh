#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The Debian package: make deb builds it and lintian finds no error; it
# installs with dpkg -i, its op25bctl runs and says the package's version,
# its units are there but neither enabled nor started, the example policy
# is a conffile; dpkg -P takes every file it brought, /etc/op25b too.
#
# All of it in a throwaway root: a mount namespace of the test's own, with
# /usr, /etc and /var overlaid on writable layers under its temp dir.
# dpkg -i and -P change those layers; the host's files and its package
# database never change, and two runs at once do not see each other.
set -u
if [ -z "${OP25B_THROWAWAY_ROOT:-}" ]; then
	OP25B_THROWAWAY_ROOT=1 exec unshare --mount --propagation private "$0" "$@"
fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
top=$(cd "$here/../.." && pwd)

suite_begin dpkg-buildpackage lintian dh unshare

installed() {
	dpkg-query -W -f='${Status}' op25b 2>/dev/null | grep -q 'ok installed'
}

for d in usr etc var; do
	mkdir -p "$TMPD/root/$d/up" "$TMPD/root/$d/work" &&
		mount -t overlay overlay -o "lowerdir=/$d,upperdir=$TMPD/root/$d/up,workdir=$TMPD/root/$d/work" "/$d" ||
		skip_suite "cannot overlay /$d: no throwaway root to install into"
done

# Never touch an op25b the machine had before this test.
if dpkg-query -W -f='${Status}' op25b 2>/dev/null | grep -qv 'not-installed'; then
	skip_suite "an op25b package is installed here already"
fi
OURS=0
purge_ours() {
	[ "$OURS" = 1 ] && dpkg -P op25b >/dev/null 2>&1
	umount /var /etc /usr 2>/dev/null
	cleanup
}
trap purge_ours EXIT

test_deb() {
	local deb ver files f left=0 conf
	make -s -C "$top" BUILD="$BUILD" deb >"$TMPD/make" 2>&1
	check_eq "make deb: exit 0" 0 $?
	deb=$(ls "$BUILD"/deb/op25b_*.deb 2>/dev/null | head -1)
	check "make deb: a .deb" "$(tail -5 "$TMPD/make")" test -f "$deb"
	[ -f "$deb" ] || return
	lintian --fail-on error "$deb" >"$TMPD/lintian" 2>&1
	check "lintian: no error" "$(grep -v 'root privileges' "$TMPD/lintian" | head -5)" \
		eval '! grep -q "^E:" "$TMPD/lintian"'
	check "lintian: no hardening tag (dpkg-buildflags reach the binary)" \
		"$(grep hardening "$TMPD/lintian")" eval '! grep -q hardening "$TMPD/lintian"'
	dpkg-deb -x "$deb" "$TMPD/x"
	check "the binary is linked with BIND_NOW" "$(readelf -d "$TMPD/x/usr/sbin/op25bctl" | grep FLAGS)" \
		eval 'readelf -d "$TMPD/x/usr/sbin/op25bctl" | grep -q BIND_NOW'
	check "the binary uses fortified functions (_chk)" "none" \
		eval 'nm -D "$TMPD/x/usr/sbin/op25bctl" | grep -q "_chk@"'
	for f in README.md.gz DEPLOYMENT.md.gz DESIGN.md.gz examples/ppp.conf; do
		check "docs: /usr/share/doc/op25b/$f" "missing" test -e "$TMPD/x/usr/share/doc/op25b/$f"
	done
	ver=$(dpkg-deb -f "$deb" Version)
	files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub("^\\.", "", $6); print $6 }')

	OURS=1
	dpkg -i "$deb" >"$TMPD/dpkg" 2>&1
	check_eq "dpkg -i: exit 0" 0 $?
	check "op25bctl --version says the package's version ($ver)" \
		"$(/usr/sbin/op25bctl --version 2>&1)" \
		eval '/usr/sbin/op25bctl --version | grep -q "^op25bctl $ver "'

	for f in /usr/lib/systemd/system/op25b.service \
		/usr/lib/systemd/system/op25b-watch.service \
		/usr/share/man/man8/op25bctl.8.gz /usr/share/man/man5/op25b.conf.5.gz \
		/usr/share/bash-completion/completions/op25bctl /etc/op25b/op25b.conf \
		/usr/lib/op25b/ppp/op25b-ppp-hook /usr/lib/op25b/ppp/accel-ppp-ip-up \
		/etc/ppp/ip-up.d/op25b /etc/ppp/ip-down.d/op25b; do
		check "installed: $f" "missing" test -e "$f"
	done
	check "the units are neither enabled nor started" \
		"$(ls /etc/systemd/system/*.target.wants 2>/dev/null | grep op25b)" \
		eval '! ls /etc/systemd/system/*.target.wants 2>/dev/null | grep -q op25b'
	conf=$(dpkg-query -W -f='${Conffiles}' op25b)
	check "the example policy is a conffile" "$conf" \
		eval 'echo "$conf" | grep -q /etc/op25b/op25b.conf'
	CLEAN_PATHS+=("/sys/fs/bpf/op25b-test-deb-$$")
	/usr/sbin/op25bctl --pin-dir "/sys/fs/bpf/op25b-test-deb-$$" apply --dry-run \
		/etc/op25b/op25b.conf >/dev/null 2>"$TMPD/err"
	check_eq "the installed example policy applies" 0 $?
	rm -rf "/sys/fs/bpf/op25b-test-deb-$$"

	dpkg -P op25b >"$TMPD/dpkg" 2>&1
	check_eq "dpkg -P: exit 0" 0 $?
	OURS=0
	for f in $files; do
		[ -e "$f" ] && { left=$((left + 1)); echo "# left behind: $f"; }
	done
	check_eq "dpkg -P leaves none of the package's files" 0 "$left"
	check "dpkg -P removes /etc/op25b" "" eval '[ ! -e /etc/op25b ]'
	check "dpkg knows op25b no more" "$(dpkg-query -W op25b 2>&1)" not installed
}

run_tests "$@"
