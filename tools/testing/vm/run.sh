#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh: boot a kernel under QEMU (TCG) with the mbox module loaded and run
# a command inside, or give an interactive shell.
#
#   run.sh [options] [--] [command [args...]]
#
#   -k, --kernel NAME   6.1, 6.12 or debug (default 6.12)
#   -m, --module DIR    directory holding mbox.ko (and mbox_kunit.ko);
#                       default: build it for the kernel (build/<NAME>/module)
#   -a, --add SRC[:DST] add a file or directory to the initramfs, at DST
#                       (default /mbox/bin/<basename>); may repeat
#   -t, --timeout SEC   kill the guest after SEC seconds (default 300)
#   -o, --out DIR       keep console.log and output.log here
#   -i, --interactive   a shell on the console instead of a command
#       --no-module     do not insmod the module
#       --smp N         virtual CPUs (default 2)
#       --no-slab-debug boot a Debian kernel without the slab checking
#                       added for tests (slub_debug, KFENCE): for timing
#       --append ARGS   more kernel command line
#       --icount        time in the guest counts instructions (QEMU
#                       -icount, one host thread): timings that do not
#                       depend on the host's load, for comparing code paths
#
# The words of the command are joined by spaces and run by sh -c (as ssh
# does), as root in /mbox with /mbox/bin in PATH, with its output on
# the second serial port.  Afterwards the guest waits for kmemleak (when the
# kernel has it), unloads the module and powers off.  The exit status is
# the command's; 124 if the guest timed out, 125 if it died or the module
# could not be loaded or unloaded.  The kernel log is in console.log.
set -euo pipefail

top=$(cd "$(dirname "$0")/../../.." && pwd)
here=$top/tools/testing/vm
kname=6.12 moddir= timeout_s=300 out= interactive=0 load=1 smp=2 slabdbg=1 icount=0 extra=
adds=()

while [ $# -gt 0 ]; do
	case "$1" in
	-k|--kernel) kname=$2; shift 2 ;;
	-m|--module) moddir=$2; shift 2 ;;
	-a|--add) adds+=("$2"); shift 2 ;;
	-t|--timeout) timeout_s=$2; shift 2 ;;
	-o|--out) out=$2; shift 2 ;;
	-i|--interactive) interactive=1; shift ;;
	--no-module) load=0; shift ;;
	--smp) smp=$2; shift 2 ;;
	--no-slab-debug) slabdbg=0; shift ;;
	--icount) icount=1; shift ;;
	--append) extra=$2; shift 2 ;;
	--) shift; break ;;
	-h|--help) sed -n '4,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done

bash "$here/deps.sh" vm
eval "$(bash "$here/kernel.sh" "$kname")"
if [ $load -eq 1 ] && [ -z "$moddir" ]; then
	make -s -C "$top" module-build KNAME="$kname" KDIR="$KDIR" >&2
	moddir=$top/build/$kname/module
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mbox-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
[ -n "$out" ] || out=$work
mkdir -p "$out"
root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,mbox/bin,lib/mbox}

# busybox provides the whole userland.
cp /bin/busybox "$root/bin/busybox"
for a in $("$root/bin/busybox" --list); do
	[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
done
install -m 755 "$here/guest-init.sh" "$root/init"
if [ $load -eq 1 ]; then
	cp "$moddir"/mbox*.ko "$root/lib/mbox/"
fi
for a in "${adds[@]}"; do
	src=${a%%:*} dst=/mbox/bin/$(basename "${a%%:*}")
	[ "$a" = "$src" ] || dst=${a#*:}
	mkdir -p "$root$(dirname "$dst")"
	cp -a "$src" "$root$dst"
done
if [ $interactive -eq 1 ]; then
	echo interactive > "$root/mbox/mode"
else
	echo batch > "$root/mbox/mode"
	echo "$*" > "$root/mbox/cmd"
fi
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd"

append="console=ttyS0 panic=-1 oops=panic${extra:+ $extra}"
case "$kname" in
debug)	mem=1024 ;;
# Debian kernels: the checks they can do without a debug build.
*)	mem=512
	[ $slabdbg -eq 0 ] ||
		append="$append slub_debug=FZPU slab_nomerge kfence.sample_interval=10" ;;
esac

accel=tcg,thread=multi
[ $icount -eq 0 ] || accel="tcg,thread=single -icount shift=0,sleep=off"
# shellcheck disable=SC2206 # $accel is words
qemu=(qemu-system-x86_64 -accel $accel -smp "$smp" -m "$mem"
	-nographic -no-reboot -nic none -monitor none
	-kernel "$KERNEL" -initrd "$work/initrd")

if [ $interactive -eq 1 ]; then
	exec "${qemu[@]}" -append "$append" -serial mon:stdio
fi

rc=0
timeout -k 10 "$timeout_s" "${qemu[@]}" -append "$append" \
	-serial "file:$out/console.log" -serial "file:$out/output.log" \
	</dev/null >"$work/qemu.log" 2>&1 || rc=$?
touch "$out/output.log" "$out/console.log"
sed -i 's/\r$//' "$out/output.log" "$out/console.log"
cat "$out/output.log"
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "mbox-vm: TIMEOUT: the guest ($kname) did not finish in ${timeout_s}s; console tail:" >&2
	tail -n 20 "$out/console.log" >&2
	exit 124
fi
status=$(sed -n 's/^mbox-vm: exit \([0-9]*\).*/\1/p' "$out/output.log" | tail -1)
if [ -z "$status" ]; then
	echo "mbox-vm: the guest ($kname) died before finishing; console tail:" >&2
	tail -n 30 "$out/console.log" >&2
	exit 125
fi
grep -q '^mbox-vm: poweroff' "$out/output.log" || exit 125
exit "$status"
