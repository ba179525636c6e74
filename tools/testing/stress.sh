#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make stress: the long reliability run (Documentation/testing.rst).
#
#   stress.sh [--seconds N] [--kernel NAME] [--seed S]
#
# Boots one kernel (default: the debug kernel, with KASAN, lockdep,
# kmemleak, UBSAN and fault injection) and runs, in one boot, stress_test
# for N seconds (default 600) and then the other reliability suites with
# their counts scaled to the duration: lifetime_test, fuzz_test and
# fault_test.  Prints their figures and "mbox stress: N passed, M failed";
# fails on any failed test, missing result, kernel splat or kmemleak
# report.  Logs are in build/stress/.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
vm=$top/tools/testing/vm
. "$vm/splat.sh"
secs=600 kname=debug seed=

while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) secs=$2; shift 2 ;;
	--kernel) kname=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	-h|--help) sed -n '4,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "stress.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
case $secs in ''|*[!0-9]*) echo "stress.sh: --seconds wants a number" >&2; exit 2 ;; esac

cd "$top"
out=build/stress
rm -rf "$out" && mkdir -p "$out"
bash "$vm/deps.sh" build vm kernel || exit 1
eval "$(bash "$vm/kernel.sh" "$kname" 2>"$out/kernel.log")" || {
	echo "stress.sh: cannot get kernel $kname ($out/kernel.log)"; exit 1; }
make -s userspace selftests || exit 1
rm -rf "build/$kname"
"$vm/build-module.sh" "$kname" "$KDIR" >"$out/build.log" 2>&1 || {
	tail -n 20 "$out/build.log"; exit 1; }

# The suites, in this order, with their counts scaled: one unit a minute.
scale=$(( secs / 60 > 1 ? secs / 60 : 1 ))
progs="stress_test"
for p in lifetime_test fuzz_test fault_test; do
	[ -x "build/user/selftests/$p" ] && progs+=" $p"
done
adds=(--add "$vm/guest-tests.sh:/mbox/bin/guest-tests.sh")
for p in $progs; do adds+=(--add "build/user/selftests/$p:/mbox/tests/$p"); done
env="MBOX_PROGRAM_TIMEOUT=$((secs + 900)) MBOX_STRESS_SECONDS=$secs"
env+=" MBOX_LIFETIME_ROUNDS=$scale MBOX_FUZZ_COUNT=$((2000 * scale))"
[ -n "$seed" ] && env+=" MBOX_STRESS_SEED=$seed"

rest=${progs#stress_test}
echo "mbox stress: $kname: stress_test for ${secs}s, then:${rest:- nothing else}${rest:+ (scaled x$scale)}"
start=$(date +%s)
rc=0
"$vm/run.sh" --kernel "$kname" --module "build/$kname/module" \
	--timeout $((2 * secs + 1800)) --out "$out" "${adds[@]}" \
	-- "$env guest-tests.sh" >/dev/null 2>"$out/run.log" || rc=$?

passed=0 failed=0 problems=()
if [ -f "$out/output.log" ]; then
	passed=$(grep -c '^ok ' "$out/output.log")
	failed=$(grep -c '^not ok ' "$out/output.log")
	grep -E '^# (stress|lifetime|fuzz|fault)' "$out/output.log"
	grep '^not ok ' "$out/output.log" | sed 's/^/  /'
	for p in $progs; do
		grep -q "^mbox-vm: program-exit $p 0 " "$out/output.log" ||
			problems+=("$p did not finish cleanly")
	done
	grep -q '^mbox-vm: kmemleak-begin' "$out/output.log" &&
		problems+=("kmemleak found leaks (see $out/output.log)")
	grep -q '^mbox-vm: rmmod ok' "$out/output.log" ||
		problems+=("the module was not unloaded cleanly")
else
	problems+=("no output from the guest")
fi
[ $rc -eq 124 ] && problems+=("the guest timed out")
splat=$(mbox_splat "$out/console.log")
[ -n "$splat" ] && problems+=("kernel splat: ${splat%%$'\n'*}")

echo "mbox stress: logs in $out; took $(($(date +%s) - start))s"
for p in "${problems[@]}"; do echo "  problem: $p"; done
failed=$((failed + ${#problems[@]}))
echo "mbox stress: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
