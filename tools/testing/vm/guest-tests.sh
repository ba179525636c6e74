#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the VM (see run.sh): every selftest in /mbox/tests, then
# those named as arguments again as an unprivileged user, then the KUnit
# module when there is one.  Each block is framed by "mbox-vm:" lines
# that check.sh reads.
#
#   guest-tests.sh [NAME...]
#
# Each program may run MBOX_PROGRAM_TIMEOUT seconds (default 600); its
# "program-exit" line gives its exit status and how long it took.

tmo=${MBOX_PROGRAM_TIMEOUT:-600}

for t in /mbox/tests/*; do
	[ -x "$t" ] || continue
	name=${t##*/}
	echo "mbox-vm: program $name"
	t0=$(date +%s)
	timeout "$tmo" "$t"
	echo "mbox-vm: program-exit $name $? $(($(date +%s) - t0))s"
done

# The unprivileged run: each NAME as "NAME-user", by mboxtest (uid and gid
# 2000, no capabilities; the tests' other users are nobody and 1000),
# with root's mailboxes of mbox_util.h's MBOX_ROOT_* to be refused by.
if [ $# -gt 0 ]; then
	echo 'mboxtest:x:2000:2000:mbox tests:/tmp:/bin/sh' >>/etc/passwd
	echo 'mboxtest:x:2000:' >>/etc/group
	mboxctl create --mode 0600 /mbox-selftest-root-0600 >/dev/null
	mboxctl create --mode 0622 /mbox-selftest-root-0622 >/dev/null
	for name in "$@"; do
		echo "mbox-vm: program $name-user"
		t0=$(date +%s)
		timeout "$tmo" su -s /bin/sh mboxtest -c "exec /mbox/tests/$name"
		echo "mbox-vm: program-exit $name-user $? $(($(date +%s) - t0))s"
	done
	mboxctl destroy /mbox-selftest-root-0600 /mbox-selftest-root-0622
fi

if [ -e /lib/mbox/mbox_kunit.ko ]; then
	echo "mbox-vm: kunit"
	if insmod /lib/mbox/mbox_kunit.ko; then
		for r in /sys/kernel/debug/kunit/mbox*/results; do
			cat "$r"
		done
	else
		echo "mbox-vm: kunit insmod FAILED"
	fi
	echo "mbox-vm: kunit-end"
fi
exit 0
