#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: the whole mbox test pipeline.
#
#  1. installs the Debian packages it lacks, fetches Debian's 6.1 and 6.12
#     kernels and builds the debug kernel (all cached in $MBOX_CACHE);
#  2. builds libmbox, mboxctl and the selftests (64- and 32-bit), and the
#     module for each kernel;
#  3. runs checkpatch.pl --strict and sparse (C=2, warnings fatal);
#  4. boots each kernel under QEMU, loads the module, runs the selftests
#     as root and again as an unprivileged user (and KUnit on the debug
#     kernel), unloads it, and fails on any kernel splat, kmemleak report,
#     missing result or timeout;
#  5. runs the packaging tests (tools/testing/install.sh): make install and
#     uninstall, a pkg-config client, DKMS on Debian's 6.1 and 6.12;
#  6. prints a line per kernel and last "mbox: N passed, M failed".
#
# Environment: MBOX_KERNELS (default "6.1 6.12 debug"), MBOX_CACHE,
# MBOX_VM_TIMEOUT (seconds per boot, default 900).
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
vm=$top/tools/testing/vm
. "$vm/splat.sh"
out=$top/build/check
kernels=${MBOX_KERNELS:-6.1 6.12 debug}
vm_timeout=${MBOX_VM_TIMEOUT:-900}
passed=0 failed=0 skipped=0
problems=()

cd "$top"
rm -rf "$out" && mkdir -p "$out"
start=$(date +%s)
step() { printf 'mbox: [%4ds] %s\n' $(($(date +%s) - start)) "$*"; }
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); problems+=("$*"); echo "  FAIL: $*"; }
# A result that is not a test of its own but must hold (a build, a check).
gate() {	# gate NAME LOG command...
	local name=$1 log=$2
	shift 2
	if "$@" >"$log" 2>&1; then
		pass
	else
		fail "$name (see $log)"
		tail -n 15 "$log" | sed 's/^/    /'
		return 1
	fi
}

step "installing missing packages"
bash "$vm/deps.sh" build vm kernel check m32 man dkms pkgconfig || exit 1

declare -A KDIR KERNEL
for k in $kernels; do
	step "kernel $k"
	[ "$k" = debug ] && step "  (a first debug build takes about 6 minutes; it is cached)"
	if ! bash "$vm/kernel.sh" "$k" >"$out/kernel-$k.env" 2>"$out/kernel-$k.log"; then
		tail -n 20 "$out/kernel-$k.log"
		echo "mbox: cannot get kernel $k (log: $out/kernel-$k.log)"
		echo "mbox: 0 passed, 1 failed"
		exit 1
	fi
	KDIR[$k]=$(sed -n 's/^KDIR=//p' "$out/kernel-$k.env")
	KERNEL[$k]=$(sed -n 's/^KERNEL=//p' "$out/kernel-$k.env")
done

step "building libmbox, mboxctl and the selftests"
gate "userspace build" "$out/userspace.log" make -s userspace selftests
tests=$(ls build/user/selftests/ 2>/dev/null)
step "building the selftests as 32-bit programs (compat ioctl)"
gate "32-bit selftests build" "$out/userspace32.log" make -s selftests32
tests32=$(ls build/user32/selftests/ 2>/dev/null)

step "checkpatch --strict"
tools=$(bash "$vm/kernel.sh" tools 2>/dev/null)
gate checkpatch "$out/checkpatch.log" perl "$tools/scripts/checkpatch.pl" \
	--strict --no-tree --quiet --show-types -f module/*.[ch] uapi/linux/mbox.h

step "man pages (one per function, groff clean)"
gate "man pages" "$out/man.log" bash tools/testing/check-man.sh
step "syzkaller description (constants, every ioctl and flag, struct layouts)"
gate "syzkaller description" "$out/syzkaller.log" bash tools/testing/check-syzkaller.sh

if [ -n "${KDIR[debug]:-}" ]; then
	step "sparse (C=2) against the debug kernel"
	rm -rf build/sparse
	gate sparse "$out/sparse.log" bash -c \
		'"$0" sparse "$1" C=2 CHECK="sparse -Wsparse-error" &&
		 ! grep -E "warning|error" "$2"' \
		"$vm/build-module.sh" "${KDIR[debug]}" "$out/sparse.log"
fi

# parse KERNEL OUTPUT CONSOLE PROGRAMS: count the results of one boot
parse() {
	local k=$1 output=$2 console=$3 want=$4 p=0 f=0 s=0 line

	# Results: the selftests' TAP lines and KUnit's test-case lines.
	eval "$(awk -v k="$k" -v tests="$want" '
		function problem(msg) { bad[++nb] = msg; f++ }
		BEGIN { n = split(tests, want, /[ \n]+/) }
		/^mbox-vm: program / { prog = $3; plan[prog] = -1; got[prog] = 0; inp = 1; next }
		/^mbox-vm: program-exit / { code[$3] = $4; inp = 0; next }
		/^mbox-vm: kunit$/ { ink = 1; kunit = 1; next }
		/^mbox-vm: kunit-end/ { ink = 0; next }
		/^mbox-vm: kunit insmod FAILED/ { problem("the KUnit module did not load") }
		inp && /^1\.\.[0-9]+/ { plan[prog] = substr($1, 4) + 0 }
		inp && /^(not )?ok [0-9]+ / {
			got[prog]++
			if ($1 == "not") { problem(prog ": " $0); nok[prog]++ }
			else if ($0 ~ /# SKIP/) s++
			else p++
		}
		ink && /^    (not )?ok [0-9]+ / {
			kcases++
			if ($1 == "not") problem("kunit: " $0)
			else if ($0 ~ /# SKIP/) s++
			else p++
		}
		END {
			for (i = 1; i <= n; i++) {
				t = want[i]
				if (t == "") continue
				if (!(t in plan)) { problem(t ": did not run"); continue }
				if (plan[t] < 0 || got[t] < plan[t])
					problem(t ": missing results (" got[t] " of " plan[t] ")")
				if (code[t] == "") problem(t ": did not finish")
				else if (code[t] != 0 && !nok[t])
					problem(t ": exit status " code[t] " with no failed test")
			}
			if (k == "debug" && (!kunit || kcases == 0))
				problem("KUnit: no results")
			printf "p=%d f=%d s=%d\n", p, f, s
			for (i = 1; i <= nb; i++) {
				gsub(/'\''/, "", bad[i])
				printf "problems+=('\''%s: %s'\'')\n", k, bad[i]
			}
		}' "$output")"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))

	# Kernel splats from the module's load onwards.
	line=$(mbox_splat "$console")
	if [ -n "$line" ]; then
		f=$((f + 1)); failed=$((failed + 1))
		problems+=("$k: kernel splat: ${line%%$'\n'*}")
		echo "  kernel splat (full log: $console):"
		echo "$line" | sed 's/^/    /'
	fi
	if grep -q '^mbox-vm: kmemleak-begin' "$output"; then
		f=$((f + 1)); failed=$((failed + 1))
		problems+=("$k: kmemleak found leaks")
		echo "  kmemleak report:"
		sed -n '/^mbox-vm: kmemleak-begin/,/^mbox-vm: kmemleak-end/p' "$output" |
			head -n 30 | sed 's/^/    /'
	fi
	if ! grep -q '^mbox-vm: rmmod ok' "$output"; then
		f=$((f + 1)); failed=$((failed + 1))
		problems+=("$k: the module was not unloaded cleanly")
	fi
	echo "  $k: $p passed, $f failed$([ "$s" -gt 0 ] && echo ", $s skipped")"
}

adds=(--add build/user/bin/mboxctl)	# for mboxctl_test.sh
for t in $tests; do adds+=(--add "build/user/selftests/$t:/mbox/tests/$t"); done
# The 32-bit selftests run as "<name>-m32", but for those of m32_skip:
# races and load, which the 32-bit ABI does not change (testing.rst).
m32_skip="lifetime_test stress_test"
for t in $tests32; do
	[[ " $m32_skip " = *" $t "* ]] && continue
	adds+=(--add "build/user32/selftests/$t:/mbox/tests/$t-m32")
	tests+=" $t-m32"
done
adds+=(--add "$vm/guest-tests.sh:/mbox/bin/guest-tests.sh")
# The examples, as one more TAP program: demo.sh run as "examples".
for c in userspace/examples/*.c; do adds+=(--add "build/user/bin/$(basename "$c" .c)"); done
adds+=(--add userspace/examples/demo.sh:/mbox/tests/examples)
tests+=" examples"
# The unprivileged run (testing.rst): every program but the 32-bit
# copies again as "<name>-user" (guest-tests.sh), on the debug kernel
# without those of user_skip_debug.
user_tests=$(for t in $tests; do [[ $t = *-m32 ]] || echo "$t"; done)
user_skip_debug="prodcons_test lifetime_test stress_test"

for k in $kernels; do
	step "module for $k"
	rm -rf "build/$k"
	gate "module build for $k" "$out/build-$k.log" \
		"$vm/build-module.sh" "$k" "${KDIR[$k]}" || continue
	step "tests on $k (QEMU)"
	mkdir -p "$out/$k"
	users= want=$tests
	for t in $user_tests; do
		[ "$k" = debug ] && [[ " $user_skip_debug " = *" $t "* ]] && continue
		users+=" $t" want+=" $t-user"
	done
	rc=0
	MBOX_CACHE=${MBOX_CACHE:-} "$vm/run.sh" --kernel "$k" --module "build/$k/module" \
		--timeout "$vm_timeout" --out "$out/$k" "${adds[@]}" -- guest-tests.sh \
		$users >/dev/null 2>"$out/$k/run.log" || rc=$?
	if [ $rc -eq 124 ]; then
		fail "$k: TIMEOUT: the guest hung (no poweroff within ${vm_timeout}s)"
		tail -n 15 "$out/$k/console.log" | sed 's/^/    /'
	elif [ $rc -eq 125 ]; then
		fail "$k: the guest died, or the module failed to load or unload"
		cat "$out/$k/run.log" | tail -n 30 | sed 's/^/    /'
	fi
	[ -f "$out/$k/output.log" ] &&
		parse "$k" "$out/$k/output.log" "$out/$k/console.log" "$want"
done

# tap NAME TAP-LOG STATUS: count the results of a TAP script
tap() {
	local name=$1 log=$2 rc=$3 p=0 f=0 s=0 plan=-1 got line
	while IFS= read -r line; do
		case $line in
		"not ok "*) f=$((f + 1)); problems+=("$name: $line") ;;
		"ok "*"# SKIP"*) s=$((s + 1)) ;;
		"ok "*) p=$((p + 1)) ;;
		"1.."*) plan=${line#1..} ;;
		"Bail out!"*) f=$((f + 1)); problems+=("$name: $line") ;;
		esac
	done <"$log"
	got=$((p + f + s))
	if [ "$plan" -lt 0 ]; then
		f=$((f + 1)); problems+=("$name: did not finish ($got results, no plan)")
	elif [ "$got" -lt "$plan" ]; then
		f=$((f + 1)); problems+=("$name: missing results ($got of $plan)")
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=$((f + 1)); problems+=("$name: exit status $rc with no failed test")
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	# The failures and what the script said about them.
	awk '/^not ok|^Bail/ { show = 1; print; next } /^ok / { show = 0 }
		show && /^#/' "$log" | sed 's/^/    /'
	echo "  $name: $p passed, $f failed$([ "$s" -gt 0 ] && echo ", $s skipped")"
}

step "install, pkg-config and DKMS (tools/testing/install.sh)"
rc=0
MBOX_CACHE=${MBOX_CACHE:-} tools/testing/install.sh --out "$out/install" \
	>"$out/install.tap" 2>"$out/install.err" || rc=$?
tap install "$out/install.tap" $rc

elapsed=$(($(date +%s) - start))
echo
if [ ${#problems[@]} -gt 0 ]; then
	echo "mbox: problems:"
	printf '  %s\n' "${problems[@]}"
fi
echo "mbox: logs in build/check; took ${elapsed}s"
echo "mbox: $passed passed, $failed failed$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")"
[ "$failed" -eq 0 ] && [ ${#problems[@]} -eq 0 ]
