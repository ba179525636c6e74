#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-man.sh: the man pages under userspace/man stay complete and clean.
#
#  1. every function that libmbox exports (userspace/lib/libmbox.map, and
#     every mbox_* function the public header declares) has its page,
#     userspace/man/man3/<name>.3 (a page of its own or a .so link);
#  2. every page formats without a single warning under
#     "groff -man -ww -z" (groff-base; installed by deps.sh if missing);
#  3. every libmbox(3)/mbox_*(3)/mbox(4) page that a page refers to
#     exists;
#  4. if mandoc is installed, "mandoc -Tlint" finds nothing at warning
#     level or above (but the .so of the link pages); skipped otherwise.
#
# Prints one line per check and last "man: N passed, M failed" (and
# ", K skipped"); exits non-zero if a check failed.  Runs standalone from
# anywhere: bash tools/testing/check-man.sh
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
man=$top/userspace/man
map=$top/userspace/lib/libmbox.map
header=$top/userspace/include/mbox.h
passed=0 failed=0 skipped=0

pass() { passed=$((passed + 1)); echo "  PASS: $1"; }
fail() {	# fail NAME, with the details on stdin
	failed=$((failed + 1))
	echo "  FAIL: $1"
	sed 's/^/    /'
}
skip() { skipped=$((skipped + 1)); echo "  SKIP: $1"; }

if ! command -v groff >/dev/null; then
	if ! bash "$top/tools/testing/vm/deps.sh" man || ! command -v groff >/dev/null; then
		echo "man: groff is missing and could not be installed"
		echo "man: 0 passed, 1 failed"
		exit 1
	fi
fi

cd "$man" || { echo "man: no $man"; echo "man: 0 passed, 1 failed"; exit 1; }
pages=$(find . -name '*.[1-8]' | sed 's|^\./||' | sort)

# 1. A page for every exported function.
funcs=$( {
	sed -n '/global:/,/local:/s/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);.*/\1/p' "$map"
	sed -n 's/^[a-z].*[ *]\(mbox_[a-z0-9_]*\)(.*/\1/p' "$header"
} | sort -u)
missing=
for f in $funcs; do
	[ -f "man3/$f.3" ] || missing+="man3/$f.3 "
done
nfuncs=$(echo "$funcs" | wc -w)
if [ "$nfuncs" -eq 0 ]; then
	fail "a page per exported function" <<<"no function found in $map"
elif [ -n "$missing" ]; then
	fail "a page per exported function" <<<"missing: $missing"
else
	pass "a page per exported function ($nfuncs functions)"
fi

# 2. groff finds nothing to warn about.  From $man, so that .so finds
# its target as man(1) does.
log=$(for p in $pages; do
	groff -man -ww -z "$p" 2>&1 | sed "s|^|$p: |"
done)
if [ -n "$log" ]; then
	fail "groff -man -ww -z" <<<"$log"
else
	pass "groff -man -ww -z ($(echo "$pages" | wc -w) pages)"
fi

# 3. Cross references to this project's pages point to pages that exist.
log=$(for p in $pages; do
	sed -n 's/^\.BR \(libmbox\|mbox\|mbox_[a-z0-9_]*\) (\([34]\)).*/\1.\2/p' "$p" |
	while read -r ref; do
		[ -f "man${ref##*.}/$ref" ] || echo "$p: refers to ${ref%.*}(${ref##*.}), which has no page"
	done
done)
if [ -n "$log" ]; then
	fail "cross references" <<<"$log"
else
	pass "cross references"
fi

# 4. mandoc's stricter lint, where mandoc is installed.
if command -v mandoc >/dev/null; then
	log=$(for p in $pages; do
		mandoc -Tlint -W warning "$p" 2>&1 | grep -v ': WARNING: \.so is fragile'
	done)
	if [ -n "$log" ]; then
		fail "mandoc -Tlint" <<<"$log"
	else
		pass "mandoc -Tlint"
	fi
else
	skip "mandoc -Tlint (mandoc is not installed)"
fi

echo "man: $passed passed, $failed failed$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")"
[ "$failed" -eq 0 ]
