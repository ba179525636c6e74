#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kernel.sh NAME: make sure the kernel NAME is in the cache and print where it
# is, as shell assignments: KVER=, KDIR= (to build modules against) and
# KERNEL= (the bzImage to boot).
#
#   6.1, 6.12  Debian's current kernels, fetched with apt-get download and
#              unpacked with dpkg -x; never installed on the host.
#   debug      built from Debian's linux-source-6.12 with KUnit, KASAN,
#              lockdep, kmemleak, UBSAN and fault injection (debug.config),
#              cached by a hash of the config fragment and source version.
#   source     only unpack linux-source-6.12; print its directory.
#   tools      only extract the kselftest harness and checkpatch from it;
#              print the directory that holds them.
#
# The cache is $MBOX_CACHE (default ~/.cache/mbox).  Progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${MBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mbox}
mkdir -p "$cache/debs"

log() { echo "mbox: $*" >&2; }
die() { echo "mbox: $*" >&2; exit 1; }

apt_ready() {
	# A fresh machine's apt knows no packages until its first update.
	apt-cache show linux-image-amd64 >/dev/null 2>&1 && return
	[ "$(id -u)" -eq 0 ] || die "apt has no package lists; run 'apt-get update' as root"
	apt-get update -qq >&2
}

# dep PKG REGEX: the first dependency of PKG whose name matches REGEX
dep() {
	apt-cache depends "$1" 2>/dev/null |
		sed -n 's/^ *|\{0,1\}Depends: //p' | grep -E -m1 "$2" || true
}

download() {	# download PKG... into the deb cache, skipping what is there
	local p need=() opt=()
	for p in "$@"; do
		ls "$cache/debs/${p}_"*.deb >/dev/null 2>&1 || need+=("$p")
	done
	[ ${#need[@]} -eq 0 ] && return
	log "downloading ${need[*]}"
	# As root, apt's _apt sandbox user cannot write into our cache.
	[ "$(id -u)" -ne 0 ] || opt=(-o APT::Sandbox::User=root)
	(cd "$cache/debs" && apt-get download -qq "${opt[@]}" "${need[@]}" >&2) ||
		die "apt-get download ${need[*]} failed"
}

stock() {	# stock META: Debian's kernel behind meta package META
	local meta=$1 img abi dir hdr common kbuild p

	apt_ready
	img=$(dep "$meta" '^linux-image-[0-9]')
	[ -n "$img" ] || die "cannot resolve $meta with apt-cache"
	abi=${img#linux-image-}
	abi=${abi%-unsigned}
	dir=$cache/stock/$abi
	if [ ! -f "$dir/.done" ]; then
		hdr=linux-headers-$abi
		common=$(dep "$hdr" '^linux-headers-.*-common$')
		kbuild=$(dep "$hdr" '^linux-kbuild-')
		[ -n "$common" ] && [ -n "$kbuild" ] ||
			die "cannot resolve the dependencies of $hdr"
		download "$img" "$hdr" "$common" "$kbuild"
		rm -rf "$dir" && mkdir -p "$dir/root"
		for p in "$img" "$hdr" "$common" "$kbuild"; do
			dpkg -x "$(ls "$cache/debs/${p}_"*.deb | tail -1)" "$dir/root"
		done
		# Keep the kernel image, drop the modules tree (not needed).
		cp "$dir/root/boot/vmlinuz-$abi" "$dir/vmlinuz"
		rm -rf "$dir/root/lib/modules" "$dir/root/boot"
		# The headers' Makefile includes its -common tree by absolute
		# path: point it into the extraction.
		sed -i "s|/usr/src/|$dir/root/usr/src/|g" \
			"$dir/root/usr/src/$hdr/Makefile"
		touch "$dir/.done"
		log "kernel $abi ready in $dir"
	fi
	echo "KVER=$abi"
	echo "KDIR=$dir/root/usr/src/linux-headers-$abi"
	echo "KERNEL=$dir/vmlinuz"
}

source_deb() {	# set deb and ver to the linux-source-6.12 package, fetched
	apt_ready
	download linux-source-6.12
	deb=$(ls "$cache/debs/linux-source-6.12_"*.deb | tail -1)
	ver=$(dpkg-deb -f "$deb" Version)
}

source_tree() {	# unpack linux-source-6.12 once; print its directory
	local deb ver dir
	source_deb
	dir=$cache/src/$ver
	if [ ! -f "$dir/.done" ]; then
		log "unpacking linux-source-6.12 $ver"
		rm -rf "$dir" && mkdir -p "$dir"
		dpkg-deb --fsys-tarfile "$deb" |
			tar -x -C "$dir" --wildcards '*/linux-source-6.12.tar.xz'
		tar -xf "$dir"/usr/src/linux-source-6.12.tar.xz -C "$dir"
		rm -rf "$dir/usr"
		touch "$dir/.done"
	fi
	echo "$dir/linux-source-6.12"
}

tools() {	# the few files of linux-source-6.12 used outside a kernel build
	local deb ver dir
	source_deb
	dir=$cache/tools/$ver
	if [ ! -f "$dir/.done" ]; then
		log "extracting the kselftest harness and checkpatch from linux-source-6.12"
		rm -rf "$dir" && mkdir -p "$dir"
		dpkg-deb --fsys-tarfile "$deb" |
			tar -xO --wildcards '*/linux-source-6.12.tar.xz' |
			tar -xJ -C "$dir" --strip-components=1 --wildcards \
				'*/tools/testing/selftests/kselftest_harness.h' \
				'*/tools/testing/selftests/kselftest.h' \
				'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
				'*/scripts/const_structs.checkpatch'
		touch "$dir/.done"
	fi
	echo "$dir"
}

debug() {
	local src frag hash dir
	src=$(source_tree)
	frag=$here/debug.config
	hash=$( (cat "$frag"; basename "$(dirname "$src")"; gcc --version | head -1) |
		sha256sum | cut -c1-12)
	dir=$cache/debug/$hash
	if [ ! -f "$dir/.done" ]; then
		log "building the debug kernel in $dir (about 6 minutes on 2 cores)"
		rm -rf "$dir" && mkdir -p "$dir"
		make -s -C "$src" O="$dir" tinyconfig >&2
		KCONFIG_CONFIG="$dir/.config" "$src/scripts/kconfig/merge_config.sh" \
			-m -O "$dir" "$dir/.config" "$frag" >/dev/null
		make -s -C "$src" O="$dir" olddefconfig >&2
		# Every option of the fragment must have survived olddefconfig.
		local miss
		miss=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$frag" | while read -r l; do
			grep -qx "$l" "$dir/.config" || echo "$l"; done)
		[ -z "$miss" ] || die "debug.config options dropped by kconfig: $miss"
		make -s -C "$src" O="$dir" -j"$(nproc)" bzImage modules >&2 ||
			die "debug kernel build failed"
		touch "$dir/.done"
	fi
	echo "KVER=$(cat "$dir/include/config/kernel.release")"
	echo "KDIR=$dir"
	echo "KERNEL=$dir/arch/x86/boot/bzImage"
	echo "KSRC=$src"
}

# One fetch or build at a time per cache: concurrent runs wait here.
exec 9>"$cache/.lock"
flock 9

case "${1:-}" in
6.1)	stock linux-image-amd64 ;;
6.12)	stock linux-image-6.12-amd64 ;;
debug)	debug ;;
source)	source_tree ;;
tools)	tools ;;
*)	echo "usage: $0 6.1|6.12|debug|source|tools" >&2; exit 2 ;;
esac
