#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: mbox against pipes, UNIX sockets, POSIX mq, System V msg and
# eventfd (Documentation/benchmarks.rst).
#
#   bench.sh [--rounds N] [--quick] [--filter REGEX] [--kernel NAME] [--icount]
#
# Boots one kernel (default Debian's 6.12) once under QEMU with 2 vCPUs,
# without the stock kernels' slab checks (run.sh --no-slab-debug: a run.sh
# without it is reported as a problem), and runs mbox_bench there:
# every cell (workload x transport x size x placement) once per round,
# rounds interleaved (default 5; --quick: 2 rounds of short cells, to
# try things; --filter: only the cells whose name matches, see
# "build/user/bench/mbox_bench -l").  Then tools/testing/bench/report.py
# turns the results into build/bench/: report.rst (tables, ratios,
# targets), results.csv, results-raw.csv, results.json and ratios.png.
# --icount boots with QEMU's instruction counting (run.sh --icount, where
# it has it): guest time that does not depend on the host's load, but the
# two vCPUs take turns on one host thread.
# Fails if the guest did not finish, a cell failed in every round, or the
# kernel logged a splat; numbers never fail it.
#
# Under TCG each vCPU is a host thread: another VM on the host (make check)
# slows the guest down, and cross-CPU round trips by milliseconds.  So it
# first waits for other QEMU processes to end (BENCH_WAIT seconds, 600),
# and records the host's load and the other VMs every 5 s in host.log,
# which the report summarises.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
vm=$top/tools/testing/vm
. "$vm/splat.sh"
rounds=5 quick=0 filter= kname=6.12 icount= wait_max=${BENCH_WAIT:-600}

while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) rounds=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	--filter) filter=$2; shift 2 ;;
	--kernel) kname=$2; shift 2 ;;
	--icount) icount=--icount; shift ;;
	-h|--help) sed -n '4,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
case $rounds in ''|*[!0-9]*|0) echo "bench.sh: --rounds wants a number > 0" >&2; exit 2 ;; esac
if [ "$quick" -eq 1 ] && [ "$rounds" -eq 5 ]; then
	rounds=2
fi
[ "$rounds" -ge 5 ] || echo "mbox bench: $rounds rounds: fewer than the 5 a full run needs"

cd "$top"
if [ -n "$icount" ] && ! "$vm/run.sh" --help | grep -q -- --icount; then
	echo "bench.sh: this run.sh has no --icount" >&2
	exit 2
fi
# slub_debug stores a stack trace at every allocation and free: it would
# slow down the transports that allocate per message and not the others.
nodebug=--no-slab-debug
if ! "$vm/run.sh" --help | grep -q -- --no-slab-debug; then
	echo "mbox bench: run.sh has no --no-slab-debug: slub_debug stays on, which is unfair to" \
		"mbox, POSIX mq and System V msg"
	nodebug=
fi
out=build/bench
rm -rf "$out" && mkdir -p "$out"
start=$(date +%s)
bash "$vm/deps.sh" build vm kernel bench || exit 1
eval "$(bash "$vm/kernel.sh" "$kname" 2>"$out/kernel.log")" || {
	echo "bench.sh: cannot get kernel $kname ($out/kernel.log)"; exit 1; }
make -s userspace >"$out/build.log" 2>&1 || { tail -n 20 "$out/build.log"; exit 1; }
make -s module-build KNAME="$kname" KDIR="$KDIR" >>"$out/build.log" 2>&1 || {
	tail -n 20 "$out/build.log"; exit 1; }

bin=build/user/bench/mbox_bench
args="-r $rounds"
[ "$quick" -eq 1 ] && args+=" -q"
[ -n "$filter" ] && args+=" -f '${filter//\'/\'\\\'\'}'"
if [ -n "$filter" ]; then
	ncells=$("$bin" -l -f "$filter" | wc -l)
else
	ncells=$("$bin" -l | wc -l)
fi
[ "$ncells" -gt 0 ] || { echo "bench.sh: no cell matches '$filter'"; exit 2; }
# TCG: about 0.8 s per cell and round (0.35 s quick), plus calibration.
per=$([ "$quick" -eq 1 ] && echo 35 || echo 80)
tmo=$((ncells * rounds * per / 100 * 2 + 600))
echo "mbox bench: $kname, $ncells cells x $rounds rounds$([ "$quick" -eq 1 ] && echo ', quick')" \
	"(guest timeout ${tmo}s); logs in $out"

# Other VMs (QEMU processes not ours): wait for them to end.
others() {	# others [OUR_QEMU_PID]
	pgrep -x qemu-system-x86 | grep -vx "${1:-0}" | wc -l
}
waited=0
while [ "$(others)" -gt 0 ] && [ $waited -lt "$wait_max" ]; do
	[ $waited -eq 0 ] && echo "mbox bench: $(others) other VM(s) running: waiting up to ${wait_max}s (BENCH_WAIT)"
	sleep 10
	waited=$((waited + 10))
done
[ "$(others)" -gt 0 ] && echo "mbox bench: other VMs still running: measuring anyway (see the report's host section)"
echo "# waited $waited s for other VMs" >"$out/host.log"

# The guest writes its output.log as it goes: show the rounds go by,
# and sample the host.
"$vm/run.sh" --kernel "$kname" --module "build/$kname/module" --smp 2 \
	$nodebug $icount --timeout "$tmo" --out "$out/vm" \
	--add "$bin:/mbox/bin/mbox_bench" -- "mbox_bench $args" \
	>/dev/null 2>"$out/run.log" &
pid=$!
seen=0
while kill -0 $pid 2>/dev/null; do
	sleep 5
	ours=$(pgrep -P "$(pgrep -P $pid -x timeout | head -1)" -x qemu-system-x86 2>/dev/null | head -1)
	echo "$(date +%s) $(cut -d' ' -f1 /proc/loadavg) $(others "$ours")" >>"$out/host.log"
	if [ -f "$out/vm/output.log" ]; then
		n=$(grep -c '^mbox_bench: round' "$out/vm/output.log")
		if [ "$n" -gt "$seen" ]; then
			grep '^mbox_bench: round' "$out/vm/output.log" | sed -n "$((seen + 1)),\$p" |
				sed 's/^mbox_bench:/  /'
			seen=$n
		fi
	fi
done
wait $pid
rc=$?

problems=()
log=$out/vm/output.log
[ -f "$log" ] || problems+=("no output from the guest")
[ $rc -eq 124 ] && problems+=("the guest timed out after ${tmo}s")
[ -f "$log" ] && ! grep -q '^BENCH_DONE' "$log" && problems+=("mbox_bench did not finish")
[ $rc -ne 0 ] && [ $rc -ne 124 ] && problems+=("the VM run failed ($rc, see $out/run.log)")
splat=$(mbox_splat "$out/vm/console.log")
[ -n "$splat" ] && problems+=("kernel splat: ${splat%%$'\n'*}")
[ -n "$nodebug" ] || problems+=("the kernel ran with slub_debug (run.sh has no --no-slab-debug)")

if [ -f "$log" ] && grep -q '^BENCH ' "$log"; then
	grep '^mbox_bench: ' "$log" | grep -v '^mbox_bench: round' | sed 's/^/  guest: /'
	/usr/bin/python3 tools/testing/bench/report.py "$log" "$out" --png --host "$out/host.log" \
		--title "mbox benchmarks: $(sed -n 's/^BENCH_META.*"kernel":"\([^"]*\)".*/\1/p' "$log") under QEMU TCG, 2 vCPUs" \
		>/dev/null || problems+=("report.py failed")
	[ -f "$out/report.rst" ] && cat "$out/report.rst"
	# A cell that failed in every round is a broken harness, not a number.
	dead=$(/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(c["cell"] for c in d["cells"] if c["n"] == 0))' "$out/results.json" 2>/dev/null)
	[ -n "$dead" ] && problems+=("cells with no result: $dead")
fi

echo "mbox bench: took $(($(date +%s) - start))s; report: $out/report.rst, chart: $out/ratios.png"
for p in "${problems[@]}"; do echo "  problem: $p"; done
[ ${#problems[@]} -eq 0 ]
