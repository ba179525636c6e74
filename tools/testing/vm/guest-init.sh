#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the mbox test VM (busybox).  Mounts what tests need, loads the
# module, runs /mbox/cmd (or a shell), checks for leaks, unloads the module
# and powers off.  Lines starting "mbox-vm: " on the output port are read
# by run.sh; everything else is the command's output.

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mkdir -p /dev/pts /dev/shm /sys/fs/cgroup
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
export PATH=/mbox/bin:/bin:/sbin HOME=/tmp
mkdir -p /etc
echo 'root:x:0:0:root:/tmp:/bin/sh' >/etc/passwd
echo 'nobody:x:65534:65534:nobody:/tmp:/bin/sh' >>/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' >/etc/group
hostname mbox-vm
cd /mbox || exit 1

mode=$(cat /mbox/mode)
if [ "$mode" = batch ]; then
	exec >/dev/ttyS1 2>&1
fi
say() { echo "mbox-vm: $*"; }
kmsg() { echo "mbox-vm: $*" >/dev/kmsg; }

say "boot $(uname -r)"
rc=0
if ls /lib/mbox/mbox.ko >/dev/null 2>&1; then
	kmsg "insmod"
	if insmod /lib/mbox/mbox.ko; then
		say "insmod ok"
	else
		say "insmod FAILED"
		rc=125
	fi
fi

if [ "$mode" = batch ]; then
	if [ $rc -eq 0 ]; then
		sh -c "$(cat /mbox/cmd)"
		rc=$?
	fi
else
	echo "mbox VM: $(uname -r); mbox.ko loaded; 'poweroff -f' to leave."
	setsid cttyhack sh -l
fi

if grep -q '^mbox ' /proc/modules; then
	rmmod mbox_kunit 2>/dev/null
	if rmmod mbox; then
		say "rmmod ok"
	else
		say "rmmod FAILED"
		[ $rc -ne 0 ] || rc=125
	fi
fi
if [ -e /sys/kernel/debug/kmemleak ]; then
	# After rmmod, whatever the module did not free is unreferenced.
	# kmemleak ignores objects younger than ~5 s and needs two scans.
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	echo scan >/sys/kernel/debug/kmemleak
	# (debugfs files have no size: read it, do not test it with -s)
	leaks=$(cat /sys/kernel/debug/kmemleak)
	if [ -n "$leaks" ]; then
		say "kmemleak-begin"
		echo "$leaks"
		say "kmemleak-end"
	else
		say "kmemleak clean"
	fi
fi

kmsg "done"
say "exit $rc"
say "poweroff"
sync
poweroff -f
