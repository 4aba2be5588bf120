#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Run every test suite (or those named: tests/run.sh cli apply), then add
# up their "N passed, N failed" lines. SUITE:TEST runs one test of a shell
# suite alone (tests/run.sh cli:test_help apply:test_layout; the names are
# its test_* functions); a suite named whole as well runs whole. A name that
# is no suite, or no test of its suite, is a failure.
# A suite that ends without such a line, or exits non-zero with no failure
# counted, counts as one failure: a crash is never a pass. A skip fails
# the run under CI=true, except one a suite reports (skip_reported in
# tests/lib.sh), which is listed again before the last line.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
BUILD=${BUILD:-$top/build}
export BUILD
FUZZ_PACKETS=${FUZZ_PACKETS:-200000}
FUZZ_SEED=${FUZZ_SEED:-20261128}
# Every supported compiler but the one the main build used (plain clang is
# Debian 12's clang-14).
MAIN_CLANG=${MAIN_CLANG:-clang}
[ "$MAIN_CLANG" = clang ] && MAIN_CLANG=clang-14
if [ -z "${COMPILERS:-}" ]; then
	COMPILERS=
	for cc in clang-14 clang-16 clang-19; do
		[ "$cc" = "$MAIN_CLANG" ] || COMPILERS+="$cc "
	done
fi

total_pass=0
total_fail=0
total_skip=0
# skips a suite reports (tests/lib.sh, skip_reported): said, not passed,
# and not a failure under CI=true
total_reported=0
log=$(mktemp)
reported_log=$(mktemp)
trap 'rm -f "$log" "$reported_log"' EXIT

# The words on the command line: suites to run whole (ONLY), tests of a
# suite to run alone (TESTS[suite]), and every suite word, to tell the
# ones that matched nothing at the end.
ARGC=$#
ONLY=" "
declare -A TESTS=() NAMED=() MATCHED=()
for arg in "$@"; do
	if [ -z "${arg%%:*}" ]; then
		echo "FAIL - $arg: names no suite"
		total_fail=$((total_fail + 1))
		continue
	fi
	case $arg in
	*:*) TESTS[${arg%%:*}]+=" ${arg#*:}" ;;
	*) ONLY+="$arg " ;;
	esac
	NAMED[${arg%%:*}]=1
done

# run_suite NAME CMD...: CMD, when NAME is one of those asked for (or none
# was); a shell suite gets the tests asked for as its arguments.
run_suite() {
	local name=$1 word rc line p f s tests=()
	shift
	word=${name%% *}
	if [ "$ARGC" -gt 0 ]; then
		[ -n "${NAMED[$word]:-}" ] || return
		MATCHED[$word]=1
		# named whole as well: whole
		[[ $ONLY == *" $word "* ]] || read -ra tests <<<"${TESTS[$word]:-}"
	fi
	if [ ${#tests[@]} -gt 0 ] && [[ $1 != *.sh ]]; then
		echo "FAIL - $name: runs whole only, not ${tests[*]}"
		total_fail=$((total_fail + 1))
		return
	fi
	printf '==> %s\n' "$name${tests[*]:+ (${tests[*]})}"
	"$@" "${tests[@]}" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL - $name: ended (exit $rc) without a summary line"
		total_fail=$((total_fail + 1))
		return
	fi
	p=$(sed -E 's/.*\b([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	s=0
	grep -q skipped <<<"$line" && s=$(sed -E 's/.* ([0-9]+) skipped.*/\1/' <<<"$line")
	grep '^skip (reported) - ' "$log" >>"$reported_log"
	grep -q reported <<<"$line" &&
		total_reported=$((total_reported + $(sed -E 's/.* ([0-9]+) reported.*/\1/' <<<"$line")))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL - $name: exit $rc with no failure counted"
		f=1
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
}

# The same unit tests against objects built by every supported compiler.
compiler_suite() {
	local cc=$1 dir=$BUILD/$1
	if ! command -v "$cc" >/dev/null; then
		if [ "${CI:-}" = true ]; then
			echo "FAIL - $cc: not installed"
			echo "0 passed, 1 failed"
			return 1
		fi
		echo "skip - $cc: not installed"
		echo "0 passed, 0 failed, 1 skipped"
		return 0
	fi
	make -s -C "$top" --no-print-directory CLANG="$cc" BUILD="$dir" \
		"$dir/test_datapath" >/dev/null || {
		echo "FAIL - $cc: build failed"
		echo "0 passed, 1 failed"
		return 1
	}
	"$dir/test_datapath" -q
}

run_suite unit "$BUILD/test_datapath" -q
run_suite engine "$BUILD/test_engine" -q
run_suite fuzz "$BUILD/fuzz" -n "$FUZZ_PACKETS" -s "$FUZZ_SEED" -q
for cc in $COMPILERS; do
	run_suite "unit ($cc)" compiler_suite "$cc"
done
run_suite cli "$here/cli/test_cli.sh"
run_suite policy "$here/cli/test_policy.sh"
run_suite apply "$here/cli/test_apply.sh"
run_suite audit "$here/cli/test_audit.sh"
run_suite deb "$here/cli/test_deb.sh"
run_suite openwrt "$here/cli/test_openwrt.sh"
run_suite e2e "$here/e2e/test_e2e.sh"
run_suite encap "$here/e2e/test_encap.sh"
run_suite limit "$here/e2e/test_limit.sh"
run_suite watch "$here/e2e/test_watch.sh"
run_suite ppp "$here/e2e/test_ppp.sh"
run_suite layers "$here/e2e/test_layers.sh"
run_suite deploy "$here/e2e/test_deploy.sh"
run_suite bigtcp "$here/e2e/test_bigtcp.sh"
run_suite replace "$here/e2e/test_replace.sh"
run_suite events "$here/e2e/test_events.sh"
run_suite cgroup "$here/e2e/test_cgroup.sh"
run_suite flood "$here/e2e/test_flood.sh"
run_suite share "$here/e2e/test_share.sh"

for word in "${!NAMED[@]}"; do
	[ -n "${MATCHED[$word]:-}" ] && continue
	echo "FAIL - $word: no such suite"
	total_fail=$((total_fail + 1))
done

[ "$total_skip" -gt 0 ] && skipped=", $total_skip skipped" || skipped=
[ "$total_reported" -gt 0 ] && skipped+=", $total_reported reported"
echo
grep -h '^skip (reported) - ' "$reported_log" 2>/dev/null
echo "$total_pass passed, $total_fail failed$skipped"
[ "$total_fail" -eq 0 ] || exit 1
[ "${CI:-}" = true ] && [ "$total_skip" -gt 0 ] && exit 1
exit 0
