#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# install.sh: the packaging tests of make check; TAP on stdout.
#
#  - libmbox.so: soname, links, and exactly the symbols of libmbox.map
#    that the library defines, under its version node;
#  - dkms.conf's PACKAGE_VERSION is the VERSION file's;
#  - make install DESTDIR=... for Debian's 6.12 headers installs what
#    tools/testing/install/expected-files lists, and make uninstall
#    removes all of it;
#  - a program built with nothing but cc and pkg-config against that tree,
#    linked to libmbox.so.1, runs in the 6.12 VM;
#  - DKMS, for Debian's 6.1 and 6.12: dkms add, build and install, in
#    trees of their own (no root needed; /var/lib/dkms and /lib/modules
#    untouched), give a module with the kernel's vermagic, signed with a
#    throwaway key; it loads in that kernel's VM, /dev/mbox appears and
#    mboxctl works.
#
#   install.sh [--out DIR] [--kernels "6.1 6.12"]
#
# Progress and logs: DIR (default build/check/install).  Exit status 0
# when every test passed.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
vm=$top/tools/testing/vm
here=$top/tools/testing/install
out=$top/build/check/install
kernels="6.1 6.12"

while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
	--kernels) kernels=$2; shift 2 ;;
	-h|--help) sed -n '4,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

cd "$top" || exit 1
rm -rf "$out" && mkdir -p "$out"

n=0 failed=0
start=$(date +%s)
result() {	# result STATUS NAME [LOG]: one TAP line; a failure shows LOG's tail
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2${3:+ (log: ${3#"$top"/})}"
		[ -z "${3:-}" ] || tail -n 15 "$3" | sed 's/^/# /'
	fi
}
run() {		# run NAME LOG command...: a result from the command's status
	local name=$1 log=$2 t0 rc=0
	shift 2
	t0=$(date +%s)
	"$@" >"$log" 2>&1 || rc=$?
	result $rc "$name ($(($(date +%s) - t0))s)" "$log"
	return $rc
}
bail() { echo "Bail out! $*"; echo "1..$((n + 1))"; exit 1; }

# dkms and pkg-config, besides the build and VM packages.
bash "$vm/deps.sh" build vm kernel dkms pkgconfig >&2 ||
	bail "the install tests need dkms, openssl and pkgconf (deps.sh dkms pkgconfig)"

declare -A KDIR KVER
# shellcheck disable=SC2086 # a list of words
for k in $(printf '%s\n' 6.12 $kernels | sort -u); do
	env=$(bash "$vm/kernel.sh" "$k" 2>"$out/kernel-$k.log") ||
		bail "cannot get kernel $k (log: $out/kernel-$k.log)"
	KDIR[$k]=$(sed -n 's/^KDIR=//p' <<<"$env")
	KVER[$k]=$(sed -n 's/^KVER=//p' <<<"$env")
done
make -s userspace >"$out/userspace.log" 2>&1 || bail "make userspace failed ($out/userspace.log)"

version=$(cat VERSION)
hdr() { sed -n "s/^#define LIBMBOX_$1[^0-9]*\([0-9][0-9]*\).*/\1/p" userspace/include/mbox.h; }
libver=$(hdr MAJOR).$(hdr MINOR).0
soname=libmbox.so.$(hdr MAJOR)

# The shared library: soname, links, and as exports exactly the symbols of
# the map that libmbox.a defines, each with a version node of the map.
check_so() {
	local lib=build/user/lib want got
	readelf -d "$lib/libmbox.so.$libver" | grep -F "Library soname: [$soname]" || return 1
	[ "$(readlink "$lib/$soname")" = "libmbox.so.$libver" ] || return 1
	[ "$(readlink "$lib/libmbox.so")" = "$soname" ] || return 1
	want=$(nm -g --defined-only "$lib/libmbox.a" | awk '$2 == "T" { print $3 }' | sort |
		comm -12 - <(sed -n 's/^[[:space:]]*\(mbox_[a-z0-9_]*\);/\1/p' \
			userspace/lib/libmbox.map | sort))
	got=$(nm -D --defined-only "$lib/libmbox.so.$libver" | awk '$2 != "A" { print $3 }' | sort)
	echo "exported: $(tr '\n' ' ' <<<"$got")"
	! grep -v '@@LIBMBOX_[0-9.]*$' <<<"$got" || { echo "^ not versioned"; return 1; }
	[ "$(cut -d@ -f1 <<<"$got")" = "$want" ] ||
		{ echo "expected: $(tr '\n' ' ' <<<"$want")"; return 1; }
	echo "$(wc -l <<<"$got") of the $(grep -c '^[[:space:]]*mbox_' userspace/lib/libmbox.map)" \
		"symbols of libmbox.map are defined so far"
}
run "libmbox.so.$libver: soname $soname, links, exports" "$out/so.log" check_so

check_version() {
	local conf
	conf=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' dkms.conf)
	echo "VERSION $version, dkms.conf $conf"
	[ -n "$version" ] && [ "$conf" = "$version" ]
}
run "dkms.conf's PACKAGE_VERSION is VERSION ($version)" "$out/version.log" check_version

# make install into a DESTDIR, for the 6.12 headers, from a copy of the
# sources: make install builds the module in place, and the module/ of
# the tree under test is its developer's.
root=$out/root src=$out/src
libmbox_version() {	# MAJOR.MINOR.0, from libmbox's header, as the Makefile
	local v
	v=$(sed -n 's/^#define LIBMBOX_\(MAJOR\|MINOR\)[^0-9]*\([0-9]*\).*/\2/p' \
		"$top/userspace/include/mbox.h" | paste -sd.)
	echo "$v.0"
}
listing() {	# what is installed under $root, as in expected-files
	(cd "$root" && find . ! -type d \( -type l -printf 'l %P -> %l\n' -o \
		-printf '%y %m %P\n' \)) | LC_ALL=C sort
}
check_install() {
	local k=6.12 mandir
	mkdir -p "$src" && tar -C "$top" --exclude=./build --exclude=./.git -cf - . |
		tar -C "$src" -xf - && make -s -C "$src" clean || return 1
	(umask 022 && make -C "$src" install DESTDIR="$root" KDIR="${KDIR[$k]}") || return 1
	{
		sed -e '/^#/d' -e "s/@KVER@/${KVER[$k]}/" -e "s/@LIBVER@/$(libmbox_version)/" \
			"$here/expected-files"
		for mandir in userspace/man/man1 userspace/man/man3 userspace/man/man4; do
			for m in "$mandir"/*."${mandir#userspace/man/man}"; do
				[ -e "$m" ] && echo "f 644 usr/local/share/man/${mandir##*/}/${m##*/}"
			done
		done
	} | LC_ALL=C sort >"$out/install.expected"
	listing | grep -v "^f [0-7]* lib/modules/${KVER[$k]}/modules\." >"$out/install.list"
	diff -u "$out/install.expected" "$out/install.list" || return 1
	# depmod ran: its index has the module.
	grep -x "extra/mbox.ko.xz:" "$root/lib/modules/${KVER[$k]}/modules.dep"
}
run "make install DESTDIR=... installs the expected files" "$out/install.log" check_install

# An outside program: only cc and pkg-config, against the DESTDIR tree.
client=$out/pkgconfig_client
guest=$out/guest-root
check_client() {
	local flags lib dst
	local -x PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root/usr/local/lib/pkgconfig
	[ "$(pkg-config --modversion libmbox)" = "$libver" ] || return 1
	flags=$(pkg-config --cflags --libs libmbox) || return 1
	echo "cc pkgconfig_client.c $flags"
	# shellcheck disable=SC2086 # the flags are words
	cc "$here/pkgconfig_client.c" $flags -o "$client" || return 1
	readelf -d "$client" | grep -F "Shared library: [$soname]" || return 1
	# The guest's files: the program's loader and libraries, at the same
	# paths (libmbox where it was installed), and their ld.so.cache.
	rm -rf "$guest" && mkdir -p "$guest/etc"
	printf '%s\n' /usr/local/lib /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu \
		>"$guest/etc/ld.so.conf"
	LD_LIBRARY_PATH=$root/usr/local/lib ldd "$client" | tee "$out/ldd.txt"
	while read -r lib; do
		dst=${lib#"$root"}
		mkdir -p "$guest$(dirname "$dst")"
		cp "$(readlink -f "$lib")" "$guest$dst" || return 1
	done < <(grep -o '/[^ ]*' "$out/ldd.txt")
	[ -e "$guest/usr/local/lib/$soname" ] || return 1
	ldconfig -X -r "$guest" && [ -s "$guest/etc/ld.so.cache" ]
}
run "pkg-config client built with cc and pkg-config, linked to $soname" \
	"$out/client.log" check_client
client_ok=$?

check_uninstall() {
	make -C "$src" uninstall DESTDIR="$root" KDIR="${KDIR[6.12]}" || return 1
	listing | tee "$out/uninstall.left"
	[ ! -s "$out/uninstall.left" ]
}
run "make uninstall DESTDIR=... leaves no files" "$out/uninstall.log" check_uninstall

# DKMS, in trees of our own.  dkms signs modules where it finds the
# kernel's sign-file, by default with a key it makes in /var/lib/dkms:
# sign_file, mok_signing_key and mok_certificate (framework.conf's
# variables, read from the environment too) point to the headers'
# sign-file and a throwaway key here instead.
dk=$out/dkms
mkdir -p "$dk/dkms" "$dk/modules"
dkms_opts=(-m mbox -v "$version" --dkmstree "$dk/dkms" --sourcetree "$dk/src"
	--installtree "$dk/modules")
export mok_signing_key=$dk/mok.key mok_certificate=$dk/mok.pub
# dkms install insists on uid 0, though it writes nothing but its trees
# here: a user namespace gives it that.
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(unshare --map-root-user)
# Debian's dkms ignores DEST_MODULE_LOCATION: modules go to updates/dkms.
dest=extra
# shellcheck disable=SC1091
case "$(. /etc/os-release && echo "$ID")" in debian|ubuntu) dest=updates/dkms ;; esac
system_state() { ls -A /var/lib/dkms 2>/dev/null; ls -R "/lib/modules/$1" 2>/dev/null; }

dkms_add() {
	make dkms-source DKMS_SRCDIR="$dk/src/mbox-$version" &&
		dkms add "${dkms_opts[@]}"
}
run "dkms add mbox/$version (sources from make dkms-source)" "$dk/add.log" dkms_add

check_build() {	# check_build KERNEL
	local k=$1 ko
	sign_file=${KDIR[$k]}/scripts/sign-file dkms build "${dkms_opts[@]}" \
		-k "${KVER[$k]}" --kernelsourcedir "${KDIR[$k]}" || return 1
	ko=$dk/dkms/mbox/$version/${KVER[$k]}/$(uname -m)/module/mbox.ko
	echo "vermagic: $(modinfo -F vermagic "$ko"); signer: $(modinfo -F signer "$ko")"
	[ "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" = "${KVER[$k]}" ] &&
		[ "$(modinfo -F signer "$ko")" = "DKMS module signing key" ]
}
check_dkms_install() {	# check_dkms_install KERNEL
	local k=$1 before found
	before=$(system_state "${KVER[$k]}")
	mkdir -p "$dk/modules/${KVER[$k]}"
	"${as_root[@]}" dkms install "${dkms_opts[@]}" -k "${KVER[$k]}" \
		--kernelsourcedir "${KDIR[$k]}" --no-depmod || return 1
	found=$(cd "$dk/modules/${KVER[$k]}" && find . -name 'mbox.ko*')
	echo "installed: $found"
	[ "$found" = "./$dest/mbox.ko" ] || return 1
	[ "$(system_state "${KVER[$k]}")" = "$before" ] ||
		{ echo "/var/lib/dkms or /lib/modules/${KVER[$k]} changed"; return 1; }
}
# boot KERNEL: the DKMS module in that kernel's VM (and the client in 6.12)
boot() {
	local k=$1 mod adds=() t0 o log splat
	t0=$(date +%s)
	mod=$dk/boot-$k
	mkdir -p "$mod" "$out/vm-$k"
	log=$out/vm-$k/run.log
	cp "$dk/modules/${KVER[$k]}/$dest/mbox.ko" "$mod/" 2>"$log"
	adds=(--add build/user/bin/mboxctl --add "$here/guest.sh:/mbox/bin/install-guest.sh")
	if [ "$k" = 6.12 ] && [ "$client_ok" -eq 0 ]; then
		adds+=(--add "$client:/mbox/bin/pkgconfig_client")
		while read -r f; do
			adds+=(--add "$guest/$f:/$f")
		done < <(cd "$guest" && find . -type f ! -name ld.so.conf | sed 's|^\./||')
	fi
	MBOX_CACHE=${MBOX_CACHE:-} "$vm/run.sh" --kernel "$k" --module "$mod" --timeout 120 \
		--out "$out/vm-$k" "${adds[@]}" -- install-guest.sh >/dev/null 2>>"$log"
	o=$out/vm-$k/output.log
	touch "$o" "$out/vm-$k/console.log"
	splat=$(sed -n '/mbox-vm: insmod/,$p' "$out/vm-$k/console.log" |
		grep -E -m1 'BUG|WARNING:|Oops|general protection|Kernel panic|Call Trace')
	[ -z "$splat" ] || echo "kernel splat: $splat" >>"$log"
	grep -q '^mbox-vm: insmod ok' "$o" && grep -q '^install-vm: device ok' "$o" &&
		grep -q '^install-vm: mboxctl ok' "$o" && grep -q '^mbox-vm: rmmod ok' "$o" &&
		[ -z "$splat" ]
	result $? "dkms-built mbox.ko loads on ${KVER[$k]}, /dev/mbox, mboxctl version \
($(($(date +%s) - t0))s)" "$o"
	if [ "$k" = 6.12 ]; then
		grep -q '^pkgconfig_client: ok' "$o" && grep -q '^install-vm: client-exit 0' "$o"
		result $? "pkg-config client runs in the 6.12 VM: $(sed -n \
			's/^pkgconfig_client: abi/abi/p' "$o")" "$o"
	fi
}

for k in $kernels; do
	run "dkms build for ${KVER[$k]}: vermagic, signed" "$dk/build-$k.log" check_build "$k"
	run "dkms install for ${KVER[$k]} into $dest/" "$dk/install-$k.log" \
		check_dkms_install "$k"
	boot "$k"
done
case " $kernels " in
*" 6.12 "*) ;;
*) echo "ok $((n += 1)) - pkg-config client in the 6.12 VM # SKIP 6.12 not in --kernels" ;;
esac

echo "1..$n"
echo "install: $((n - failed)) passed, $failed failed in $(($(date +%s) - start))s" >&2
[ "$failed" -eq 0 ]
