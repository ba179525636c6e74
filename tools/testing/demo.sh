#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boot Debian's 6.12 kernel in QEMU, load mbox and run the
# examples, with their output.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
echo "mbox demo: preparing (packages, kernel, build; the first time takes a few minutes)"
bash tools/testing/vm/deps.sh build vm kernel
make -s userspace
adds=(--add build/user/bin/mboxctl --add userspace/examples/demo.sh)
for c in userspace/examples/*.c; do
	adds+=(--add "build/user/bin/$(basename "$c" .c)")
done
echo "mbox demo: booting Debian's 6.12 kernel in QEMU and loading mbox.ko ..."
# The guest's demo.sh fails if an example does, and so does make demo.
tools/testing/vm/run.sh --kernel 6.12 --timeout 300 "${adds[@]}" -- demo.sh |
	grep -v '^mbox-vm: '
