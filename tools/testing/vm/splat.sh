# SPDX-License-Identifier: GPL-2.0
#
# Sourced by check.sh and stress.sh: what counts as a kernel splat in a
# guest's console log, from the module's load onwards.

MBOX_SPLAT_RE='BUG|WARNING:|Oops|UBSAN|KASAN|KFENCE|general protection|Kernel panic'
MBOX_SPLAT_RE+='|unreferenced object|INFO: task .* blocked|circular locking|recursive locking'
MBOX_SPLAT_RE+='|inconsistent lock|suspicious RCU|soft lockup|Call Trace|Objects remaining'
MBOX_SPLAT_RE+='|suspected memory leak'

# mbox_splat CONSOLE: print the first splat and the 12 lines after it;
# nothing if there is none.
mbox_splat() {
	sed -n '/mbox-vm: insmod/,$p' "$1" | grep -E -A12 -m1 "$MBOX_SPLAT_RE" || :
}
