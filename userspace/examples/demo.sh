#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the VM: a tour of mbox through the examples in
# userspace/examples, each with a header and its output.
#
#   demo.sh          what make demo shows; exits 1 if an example failed
#   demo.sh --tap    what make check counts: TAP, one result per example,
#                    its output as "# " comments.  check.sh installs this
#                    script as /mbox/tests/examples, and run as "examples"
#                    it speaks TAP too.
#
# An example passes if it exits 0 within 60 s and prints the line given
# for it below (a grep pattern).

tap=0
[ "${1:-}" = --tap ] && tap=1
[ "${0##*/}" = examples ] && tap=1

# name|what it shows|a line its output must have
examples='hello_mailbox|two processes talk through a mailbox|synchronous send taken by pid [0-9]* (the child)
prodcons|producers and consumers on a bounded mailbox|all 60 items consumed exactly once
arith_service|client-server: four clients call an arithmetic server|answered 12 calls, 3 from each of the 4 clients
rendezvous|a rendezvous: a mailbox of capacity 0|"bye" was taken by pid [0-9]* (my parent)
direct|direct messages between processes, by pid and by pidfd|send(B, by pidfd) after B exited: No such process
event_loop|one epoll over three mailboxes and a direct queue|epoll_wait: nothing more to report'

out=/tmp/mbox-example.out
n=$(echo "$examples" | grep -c .)
i=0 failed=0

if [ $tap -eq 1 ]; then
	echo "1..$n"
else
	echo
	echo "== mbox is loaded: /dev/mbox is its device =="
	ls -l /dev/mbox
	echo
	echo "== ask the module which ABI and features it has =="
	echo "\$ mboxctl version"
	mboxctl version || failed=$((failed + 1))
fi

while IFS='|' read -r name title expect; do
	i=$((i + 1))
	timeout 60 "$name" >"$out" 2>&1 </dev/null
	rc=$?
	why=
	if [ $rc -ne 0 ]; then
		why="exit status $rc"
	elif ! grep -q -e "$expect" "$out"; then
		why="no line matching '$expect'"
	fi
	[ -z "$why" ] || failed=$((failed + 1))

	if [ $tap -eq 1 ]; then
		if [ -z "$why" ]; then
			echo "ok $i $name"
		else
			echo "not ok $i $name: $why"
		fi
		sed 's/^/# /' "$out"
	else
		echo
		echo "== $title =="
		echo "\$ $name"
		cat "$out"
		[ -z "$why" ] || echo "demo: $name FAILED: $why"
	fi
done <<EOF
$examples
EOF
rm -f "$out"

if [ $tap -eq 0 ]; then
	echo
	if [ $failed -eq 0 ]; then
		echo "demo: all $n examples ran"
	else
		echo "demo: $failed FAILED"
	fi
fi
[ $failed -eq 0 ]
