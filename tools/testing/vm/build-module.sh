#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-module.sh NAME KDIR [kbuild args...]: build the module against KDIR
# in build/NAME, a tree of links to the sources, so that builds for several
# kernels never share object files.  Prints nothing but kbuild's errors.
set -euo pipefail

top=$(cd "$(dirname "$0")/../../.." && pwd)
name=$1 kdir=$2
shift 2
[ -n "$name" ] && [ -d "$kdir" ] || { echo "usage: $0 NAME KDIR" >&2; exit 2; }

out=$top/build/$name
mkdir -p "$out/module"
ln -sfn "$top/uapi" "$out/uapi"
ln -sf "$top/Kbuild" "$out/Kbuild"
# Links for every source of module/, and none for a file that went away.
find "$out/module" -maxdepth 1 -type l ! -exec test -e {} \; -delete
for f in "$top"/module/*.[ch] "$top"/module/Kbuild; do
	ln -sf "$f" "$out/module/$(basename "$f")"
done
make -s -C "$kdir" M="$out" "$@" modules
