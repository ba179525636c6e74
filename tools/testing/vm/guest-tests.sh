#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the VM (see run.sh): every selftest in /mbox/tests, then the
# KUnit module when there is one.  Each block is framed by "mbox-vm:" lines
# that check.sh reads.

for t in /mbox/tests/*; do
	[ -x "$t" ] || continue
	name=${t##*/}
	echo "mbox-vm: program $name"
	timeout 600 "$t"
	echo "mbox-vm: program-exit $name $?"
done

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
