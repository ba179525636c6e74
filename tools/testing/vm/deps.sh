#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages the mbox build and test pipeline needs,
# and only those that are missing.  Usage: deps.sh [group...]
# Groups: build (module + userspace), vm (QEMU and initramfs), kernel (debug
# kernel build), check (checkpatch, sparse, check-syzkaller.sh), dkms,
# pkgconfig, m32 (32-bit selftests), man (groff, for check-man.sh), bench
# (make bench's chart and report).
set -euo pipefail

declare -A GROUP=(
	[build]="gcc make libc6-dev"
	[vm]="qemu-system-x86 busybox-static cpio kmod"
	[kernel]="bc flex bison libelf-dev libssl-dev pahole xz-utils dpkg-dev"
	[check]="sparse perl python3"
	[dkms]="dkms openssl"
	[pkgconfig]="pkgconf"
	[m32]="gcc-multilib libc6-dev-i386"
	[man]="groff-base"
	[bench]="gnuplot-nox python3"
)

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build vm kernel check m32)

want=()
for g in "${groups[@]}"; do
	[ -n "${GROUP[$g]+x}" ] || { echo "deps.sh: unknown group '$g'" >&2; exit 2; }
	for p in ${GROUP[$g]}; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || want+=("$p")
	done
done
[ ${#want[@]} -eq 0 ] && exit 0

echo "mbox: missing Debian packages: ${want[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "mbox: run as root, or install them first:" >&2
	echo "  sudo apt-get install --no-install-recommends ${want[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# apt-cache knows nothing before the first update on a fresh machine.
stamp=/var/lib/apt/periodic/update-success-stamp
lists=$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' 2>/dev/null | head -1)
if [ -z "$lists" ] || [ -n "$(find "${lists}" -mmin +1440 2>/dev/null)" ]; then
	apt-get update -qq
fi
: "$stamp"
apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
echo "mbox: installed ${want[*]}"
