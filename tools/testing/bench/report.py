#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""report.py: mbox_bench's raw lines -> the tables, the targets and a chart.

    report.py OUTPUT_LOG OUTDIR [--png] [--title TEXT] [--host HOST_LOG]

Reads the BENCH* lines that tools/testing/bench/mbox_bench printed (in the
VM's output.log) and writes into OUTDIR:

  results-raw.csv   one row per cell and round, as measured
  results.csv       one row per cell: median, min and max over the rounds
  results.json      the same, with the run's parameters, ratios and targets
  report.rst        the tables (reStructuredText), ratios and targets
  ratios.dat, ratios.gp, ratios.png   the chart of the main ratios (gnuplot)

HOST_LOG (from bench.sh) has a line per 5 s: time, the host's load
average and the number of other VMs running.

Per cell, the value of one round is: for round trips, the mean round trip
time over the measured window (window / round trips) and the p50 and p99
of the round trips timed one by one in it; for the other workloads, the
messages (or calls) per second over the window.  A cell's value is the
median over its rounds, with their min and max.  Ratios are of medians:
for round trips a TIME ratio mbox / baseline (below 1: mbox is faster),
for throughput a RATE ratio mbox / baseline (above 1: mbox is faster).

Python standard library only (it runs with Debian's /usr/bin/python3).
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys

MBOX_RT = ["mbox", "mbox-direct", "mbox-call"]
BASE_RT = ["pipe", "unix-stream", "unix-seqpacket", "posix-mq", "sysv-msg", "eventfd"]
MBOX_ST = ["mbox", "mbox-brecv", "mbox-batch"]
BASE_ST = ["pipe", "unix-stream", "unix-seqpacket", "posix-mq", "sysv-msg"]
BASE_NM = ["pipe", "unix-seqpacket", "posix-mq", "sysv-msg"]
RT_SIZES = [1, 64, 4096]
ST_SIZES = [64, 4096, 65536]
NM = ["1x1", "2x2", "4x4", "8x8", "8x1", "1x8"]
PLACES = ["same", "cross"]
PLACE_TEXT = {"same": "same CPU (all on CPU 0)",
              "cross": "cross CPU (CPU 0 and CPU 1)",
              "free": "unpinned"}


def size_text(n):
    if n >= 1024 and n % 1024 == 0:
        return "%d KiB" % (n // 1024)
    return "%d B" % n


def parse(path):
    meta, mbox, xports, caps, sndbufs, rows, done = {}, {}, [], [], [], [], None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            tag, _, rest = line.partition(" ")
            if not tag.startswith("BENCH"):
                continue
            try:
                obj = json.loads(rest)
            except ValueError:
                continue
            if tag == "BENCH_META":
                meta = obj
            elif tag == "BENCH_MBOX":
                mbox = obj
            elif tag == "BENCH_XPORT":
                xports.append(obj)
            elif tag == "BENCH_CAP":
                caps.append(obj)
            elif tag == "BENCH_SNDBUF":
                sndbufs.append(obj)
            elif tag == "BENCH":
                rows.append(obj)
            elif tag == "BENCH_DONE":
                done = obj
    return meta, mbox, xports, caps, sndbufs, rows, done


def value(row):
    """The value of one round: round trip time in us, or a rate per s."""
    if row["workload"] == "rt":
        return row["rtt_ns"] / 1000.0
    return row["rate"]


def summarise(rows):
    cells = {}
    order = []
    for r in rows:
        name = r["cell"]
        if name not in cells:
            cells[name] = {k: r[k] for k in
                           ("cell", "workload", "transport", "size", "place",
                            "na", "nb", "capacity")}
            cells[name]["rounds"] = []
            cells[name]["errors"] = []
            order.append(name)
        c = cells[name]
        if "error" in r:
            c["errors"].append("round %d: %s" % (r["round"], r["error"]))
            continue
        c["rounds"].append(r)
    out = []
    for name in order:
        c = cells[name]
        rs = c["rounds"]
        c["n"] = len(rs)
        if rs:
            vals = [value(r) for r in rs]
            c["median"] = statistics.median(vals)
            c["min"] = min(vals)
            c["max"] = max(vals)
            c["unit"] = "us" if c["workload"] == "rt" else "per_s"
            if all("vcsw" in r for r in rs):
                c["vcsw"] = statistics.median(r["vcsw"] for r in rs)
                c["ivcsw"] = statistics.median(r["ivcsw"] for r in rs)
            if c["workload"] == "rt" and all("p50_ns" in r for r in rs):
                for q in ("p50", "p90", "p99", "p999", "max"):
                    if all(q + "_ns" in r for r in rs):
                        c[q + "_us"] = statistics.median(r[q + "_ns"] for r in rs) / 1000.0
            if c["workload"] in ("nm", "calls"):
                # Fairness: per round, the least over the most of one side's
                # workers (producers, clients; consumers apart).
                fa = [r["amin"] / r["amax"] if r["amax"] else 0.0 for r in rs]
                fb = [r["bmin"] / r["bmax"] if r["bmax"] else 0.0 for r in rs]
                c["fair_a"] = statistics.median(fa)
                c["fair_a_worst"] = min(fa)
                c["fair_b"] = statistics.median(fb)
                c["fair_b_worst"] = min(fb)
        c["values"] = [value(r) for r in rs]
        del c["rounds"]
        out.append(c)
    return out


def find(cells, workload, transport, size, place, extra=None):
    for c in cells:
        if (c["workload"] == workload and c["transport"] == transport and
                c["size"] == size and c["place"] == place and "median" in c and
                (extra is None or c["cell"].endswith("/" + extra))):
            return c
    return None


def ratio(a, b):
    if not a or not b or not b.get("median"):
        return None
    return a["median"] / b["median"]


def fmt_ratio(r):
    return "--" if r is None else "%.2f" % r


def fmt_rate(v):
    return "%.1f" % (v / 1000.0)


def fmt_cell_rate(c):
    if not c:
        return "--"
    return "%s [%s, %s]" % (fmt_rate(c["median"]), fmt_rate(c["min"]),
                            fmt_rate(c["max"]))


def fmt_cell_rt(c):
    if not c:
        return "--"
    return "%.1f [%.1f, %.1f]" % (c["median"], c["min"], c["max"])


def table(head, rows):
    """A reStructuredText simple table."""
    rows = [[str(x) for x in r] for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(head)]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(str(h).ljust(w) for h, w in zip(head, widths)).rstrip(),
             rule]
    for r in rows:
        lines.append("  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip())
    lines.append(rule)
    return "\n".join(lines) + "\n"


def heading(text, ch):
    return "%s\n%s\n\n" % (text, ch * len(text))


def targets(cells):
    """The targets of issue 9: (name, value, op, limit, met, detail)."""
    out = []

    def rt(t, p="same", s=64):
        return find(cells, "rt", t, s, p)

    def add(name, v, op, limit, detail):
        if v is None:
            met = None
        else:
            met = v <= limit if op == "<=" else v >= limit
        out.append({"target": name, "value": v, "op": op, "limit": limit,
                    "met": met, "detail": detail})

    def rt_detail(a, b):
        if not a or not b:
            return "missing cells"
        return "%.1f us / %.1f us (round trip time)" % (a["median"], b["median"])

    def rate_detail(a, b, unit="msgs/s"):
        if not a or not b:
            return "missing cells"
        return "%s / %s k%s" % (fmt_rate(a["median"]), fmt_rate(b["median"]), unit)

    m, p, q, e = rt("mbox"), rt("pipe"), rt("posix-mq"), find(cells, "rt", "eventfd", 8, "same")
    call = rt("mbox-call")
    add("round trip 64 B: mbox / pipe (time)", ratio(m, p), "<=", 1.0, rt_detail(m, p))
    add("round trip 64 B: mbox / POSIX mq (time)", ratio(m, q), "<=", 1.10, rt_detail(m, q))
    add("call round trip 64 B: mbox call / pipe (time)", ratio(call, p), "<=", 0.90,
        rt_detail(call, p))
    add("call round trip 64 B: mbox call / eventfd (time)", ratio(call, e), "<=", 1.10,
        rt_detail(call, e))
    a, b = (find(cells, "stream", "mbox", 4096, "same"),
            find(cells, "stream", "posix-mq", 4096, "same"))
    add("streaming 4 KiB: mbox / POSIX mq (rate)", ratio(a, b), ">=", 1.0, rate_detail(a, b))
    a, b = (find(cells, "stream", "mbox-brecv", 64, "same"),
            find(cells, "stream", "posix-mq", 64, "same"))
    add("streaming 64 B, batch receive: mbox / POSIX mq (rate)", ratio(a, b), ">=", 2.0,
        rate_detail(a, b))
    a, b = (find(cells, "nm", "mbox", 64, "same", "8x8"),
            find(cells, "nm", "mbox", 64, "same", "1x1"))
    add("8:8 aggregate / 1:1 aggregate, mbox (rate)", ratio(a, b), ">=", 0.8,
        rate_detail(a, b))
    add("8:8 per-producer min / max, mbox (median of rounds)",
        a.get("fair_a") if a else None, ">=", 0.5,
        "worst round %.2f" % a["fair_a_worst"] if a else "missing cells")
    return out


def informational(cells):
    """The same ratios on other placements and for the direct link."""
    rows = []
    for place in PLACES:
        for mt, bt in (("mbox", "pipe"), ("mbox", "posix-mq"), ("mbox-direct", "pipe"),
                       ("mbox-direct", "posix-mq"), ("mbox-call", "pipe")):
            rows.append(("round trip 64 B: %s / %s (time)" % (mt, bt), place,
                         ratio(find(cells, "rt", mt, 64, place),
                               find(cells, "rt", bt, 64, place))))
        rows.append(("round trip 64 B: mbox-call / eventfd (time)", place,
                     ratio(find(cells, "rt", "mbox-call", 64, place),
                           find(cells, "rt", "eventfd", 8, place))))
        rows.append(("N:M 64 B: mbox 8:8 / mbox 1:1 (rate)", place if place == "same" else "free",
                     ratio(find(cells, "nm", "mbox", 64, place if place == "same" else "free",
                                "8x8"),
                           find(cells, "nm", "mbox", 64, place if place == "same" else "free",
                                "1x1"))))
        m = find(cells, "nm", "mbox", 64, place if place == "same" else "free", "8x8")
        rows.append(("N:M 64 B: mbox 8:8 per-producer min / max", place if place == "same"
                     else "free", m.get("fair_a") if m else None))
        rows.append(("streaming 4 KiB: mbox / posix-mq (rate)", place,
                     ratio(find(cells, "stream", "mbox", 4096, place),
                           find(cells, "stream", "posix-mq", 4096, place))))
        for v in ("mbox-brecv", "mbox-batch"):
            rows.append(("streaming 64 B: %s / posix-mq (rate)" % v, place,
                         ratio(find(cells, "stream", v, 64, place),
                               find(cells, "stream", "posix-mq", 64, place))))
    return rows


def chart_data(cells):
    """(label, same, cross) for the time panel and the rate panel."""
    def two(f):
        return [f(p) for p in PLACES]

    time_rows = []
    for mt in MBOX_RT:
        for bt in ("pipe", "posix-mq", "eventfd"):
            if mt == "mbox-direct" and bt == "eventfd":
                continue
            r = two(lambda p: ratio(find(cells, "rt", mt, 64, p),
                                    find(cells, "rt", bt, 8 if bt == "eventfd" else 64, p)))
            time_rows.append(("%s/%s" % (mt.replace("mbox-", ""), bt.replace("posix-", "")), r))
    rate_rows = []
    for size in (64, 4096, 65536):
        for v in MBOX_ST:
            r = two(lambda p: ratio(find(cells, "stream", v, size, p),
                                    find(cells, "stream", "posix-mq", size, p)))
            rate_rows.append(("%s %s/mq" % (v.replace("mbox-", "").replace("mbox", "plain"),
                                            size_text(size).replace(" ", "")), r))
    return time_rows, rate_rows


def write_chart(cells, outdir, title):
    time_rows, rate_rows = chart_data(cells)
    lo, hi = 1.0 / 16, 16.0

    def num(v):
        return "NaN" if v is None else "%.4f" % v

    def clamp(v):
        return None if v is None else min(max(v, lo * 1.01), hi / 1.01)

    def texty(v):  # where the value is written: above the bar, or in it
        return None if v is None else min(clamp(v), hi / 3)

    def lab(v):
        return '""' if v is None else '"%.2f"' % v

    dat = os.path.join(outdir, "ratios.dat")
    with open(dat, "w") as f:
        for block in (time_rows, rate_rows):
            f.write("# label same cross same-drawn cross-drawn same-text cross-text"
                    " same-text-y cross-text-y\n")
            for label, (s, c) in block:
                f.write('"%s" %s %s %s %s %s %s %s %s\n' % (
                    label, num(s), num(c), num(clamp(s)), num(clamp(c)), lab(s), lab(c),
                    num(texty(s)), num(texty(c))))
            f.write("\n\n")
    gp = os.path.join(outdir, "ratios.gp")
    def panel(rows, i, t, y):
        """A histogram of the series that have values (gnuplot fails on
        a plot element without a single valid point)."""
        series = []
        for j, (name, color, dx) in enumerate((("same CPU", "#4477aa", -0.17),
                                                ("cross CPU", "#ee6677", 0.17))):
            if any(pair[j] is not None for _, pair in rows):
                series.append((name, color, dx, 4 + j, 6 + j, 8 + j))
        if not series:
            return 'set title "%s: no results"\nunset key\nplot 1 notitle\nset key\n' % t
        elems = []
        for k, (name, color, dx, col, tcol, ycol) in enumerate(series):
            src = '"%s" index %d' % (dat, i) if k == 0 else '"" index %d' % i
            xt = ":xtic(1)" if k == 0 else ""
            elems.append('%s using %d%s title "%s" lc rgb "%s"' % (src, col, xt, name, color))
        for name, color, dx, col, tcol, ycol in series:
            off = dx if len(series) == 2 else 0
            elems.append('"" index %d using ($0%+.2f):%d:%d with labels rotate by 90 left '
                         'offset 0,0.3 font ",8" notitle' % (i, off, ycol, tcol))
        return 'set title "%s"\nset ylabel "%s"\nplot %s\n' % (t, y, ", \\\n     ".join(elems))

    with open(gp, "w") as f:
        f.write("""set terminal pngcairo size 1400,640 font ",10" noenhanced
set output "%(png)s"
set multiplot layout 1,2 title "%(title)s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set xtics rotate by -40 left
set key top left
set logscale y 2
set yrange [%(lo)g:%(hi)g]
set ytics ("1/16" 0.0625, "1/8" 0.125, "1/4" 0.25, "1/2" 0.5, "1" 1, "2" 2, "4" 4, "8" 8, "16" 16)
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb "black"
""" % {"png": os.path.join(outdir, "ratios.png"), "title": title, "lo": lo, "hi": hi})
        for i, (rows, t, y) in enumerate((
                (time_rows, "Round trip, 64 B: TIME ratio mbox / baseline (below 1: mbox faster)",
                 "time ratio (log scale; clipped at 1/16 and 16)"),
                (rate_rows, "Streaming: RATE ratio mbox / POSIX mq (above 1: mbox faster)",
                 "rate ratio (log scale; clipped at 1/16 and 16)"))):
            f.write(panel(rows, i, t, y))
        f.write("unset multiplot\n")
    try:
        subprocess.run(["gnuplot", gp], check=True)
        return True
    except (OSError, subprocess.CalledProcessError) as e:
        print("report.py: gnuplot: %s" % e, file=sys.stderr)
        return False


def parse_host(path):
    if not path or not os.path.exists(path):
        return None
    waited, samples = 0, []
    with open(path) as f:
        for line in f:
            if line.startswith("# waited"):
                waited = int(line.split()[2])
                continue
            p = line.split()
            if len(p) == 3:
                samples.append((float(p[1]), int(p[2])))
    return {"waited": waited, "samples": len(samples),
            "busy": sum(1 for _, n in samples if n > 0),
            "load_median": statistics.median(l for l, _ in samples) if samples else None,
            "load_max": max(l for l, _ in samples) if samples else None}


def report(meta, mbox, xports, caps, sndbufs, cells, tgts, done, title, host):
    out = []
    w = out.append
    rounds = meta.get("rounds", "?")
    w(heading(title, "="))
    w("Kernel %s, %s CPUs, %s round(s) of %.2f s per cell after %.2f s "
      "of warm-up, streaming capacity %s messages, batches of %s; libmbox %s, "
      "mbox ABI %s%s.%s\n\n" % (
          meta.get("kernel", "?"), meta.get("cpus", "?"), rounds,
          meta.get("secs", 0), meta.get("warmup", 0), meta.get("capacity", "?"),
          meta.get("batch", "?"), meta.get("libmbox", "?"), mbox.get("abi", "?"),
          "" if mbox.get("batch") else " (no batch send/receive)",
          " The run took %.0f s in the guest." % done["secs"] if done else
          " The run did NOT finish."))
    if host:
        w("Host: bench.sh waited %d s for other VMs to end; during the run another "
          "VM was running in %d of %d samples taken 5 s apart; the host's load "
          "average was %s (median), %s at most.\n\n" % (
              host["waited"], host["busy"], host["samples"],
              "--" if host["load_median"] is None else "%.2f" % host["load_median"],
              "--" if host["load_max"] is None else "%.2f" % host["load_max"]))
    w("Values are the median over the rounds, [min, max] beside it.\n\n")

    # Targets.
    w(heading("Targets (same CPU, 64 B unless said)", "-"))
    rows = []
    for t in tgts:
        v = "--" if t["value"] is None else "%.2f" % t["value"]
        met = "n/a" if t["met"] is None else ("met" if t["met"] else "MISSED")
        rows.append((t["target"], v, "%s %.2f" % (t["op"], t["limit"]), met, t["detail"]))
    w(table(("target", "ratio", "want", "result", "numbers"), rows))
    w("\nThe same ratios elsewhere (informational):\n\n")
    w(table(("ratio", "placement", "value"),
            [(a, b, fmt_ratio(c)) for a, b, c in informational(cells)]))
    w("\n")

    # Round trips.
    w(heading("Round trips", "-"))
    w("Round trip time in microseconds (window / round trips), and the p50 / p99 "
      "of single round trips (per round, median over rounds). eventfd moves an "
      "8-byte counter whatever the column.\n\n")
    for place in PLACES:
        w(heading("Round trip time, %s (us, lower is better)" % PLACE_TEXT[place], "~"))
        rows = []
        for t in MBOX_RT + BASE_RT:
            r = [t]
            for s in RT_SIZES:
                c = find(cells, "rt", t, 8 if t == "eventfd" else s, place)
                r.append(fmt_cell_rt(c))
                r.append("%.1f / %.1f" % (c["p50_us"], c["p99_us"])
                         if c and "p50_us" in c else "--")
            rows.append(r)
        head = ["transport"]
        for s in RT_SIZES:
            head += [size_text(s), "p50 / p99"]
        w(table(head, rows))
        w("\n")
        w(heading("Round trip TIME ratios mbox / baseline, %s (below 1: mbox faster)"
                  % PLACE_TEXT[place], "~"))
        rows = []
        for mt in MBOX_RT:
            for s in RT_SIZES:
                m = find(cells, "rt", mt, s, place)
                rows.append([mt, size_text(s)] + [
                    fmt_ratio(ratio(m, find(cells, "rt", bt, 8 if bt == "eventfd" else s,
                                            place))) for bt in BASE_RT])
        w(table(["mbox", "size"] + ["/ " + b for b in BASE_RT], rows))
        w("\n")

    # Streaming.
    w(heading("Streaming", "-"))
    w("One producer, one consumer, %s messages of capacity on every queue; "
      "thousands of messages per second received.\n\n" % meta.get("capacity", "?"))
    for place in PLACES:
        w(heading("Streaming rate, %s (k msgs/s, higher is better)" % PLACE_TEXT[place], "~"))
        rows = []
        for t in MBOX_ST + BASE_ST:
            r = [t]
            for s in ST_SIZES:
                c = find(cells, "stream", t, s, place)
                r.append(fmt_cell_rate(c))
                r.append("%.0f" % (c["median"] * s / 1e6) if c else "--")
            rows.append(r)
        head = ["transport"]
        for s in ST_SIZES:
            head += [size_text(s), "MB/s"]
        w(table(head, rows))
        w("\n")
        w(heading("Streaming RATE ratios mbox / baseline, %s (above 1: mbox faster)"
                  % PLACE_TEXT[place], "~"))
        rows = []
        for mt in MBOX_ST:
            for s in ST_SIZES:
                m = find(cells, "stream", mt, s, place)
                rows.append([mt, size_text(s)] + [
                    fmt_ratio(ratio(m, find(cells, "stream", bt, s, place)))
                    for bt in BASE_ST])
        w(table(["mbox", "size"] + ["/ " + b for b in BASE_ST], rows))
        w("\n")

    # Rendezvous.
    w(heading("Rendezvous: capacity 0 against capacity 1", "-"))
    w("mbox streaming of 64 B messages on a capacity-0 mailbox (each send is a "
      "hand-off to a waiting receiver) and on a capacity-1 mailbox (k msgs/s); "
      "the ratio is a RATE ratio cap0 / cap1.\n\n")
    rows = []
    for place in PLACES:
        a = find(cells, "rdv", "mbox", 64, place, "cap0")
        b = find(cells, "rdv", "mbox", 64, place, "cap1")
        rows.append((place, fmt_cell_rate(a), fmt_cell_rate(b), fmt_ratio(ratio(a, b))))
    w(table(("placement", "capacity 0", "capacity 1", "cap0 / cap1"), rows))
    w("\n")

    # N:M.
    w(heading("N producers : M consumers on one queue (64 B)", "-"))
    w("Aggregate k msgs/s received. Fairness is min / max of the messages each "
      "producer (P) or consumer (C) moved in a round, the median over the rounds "
      "and, in brackets, the worst round. Ratios: RATE ratios (above 1: mbox "
      "faster).\n\n")
    for place in ("same", "free"):
        w(heading("N:M, %s" % PLACE_TEXT[place], "~"))
        rows = []
        one = find(cells, "nm", "mbox", 64, place, "1x1")
        for k in NM:
            m = find(cells, "nm", "mbox", 64, place, k)
            r = [k.replace("x", ":"), fmt_cell_rate(m)]
            r.append("%.2f (%.2f)" % (m["fair_a"], m["fair_a_worst"]) if m else "--")
            r.append("%.2f (%.2f)" % (m["fair_b"], m["fair_b_worst"]) if m else "--")
            r.append(fmt_ratio(ratio(m, one)))
            for bt in BASE_NM:
                b = find(cells, "nm", bt, 64, place, k)
                r.append(fmt_rate(b["median"]) if b else "--")
            rows.append(r)
        w(table(["N:M", "mbox", "P fair", "C fair", "/ mbox 1:1"] + BASE_NM, rows))
        w("\n")
        rows = []
        for k in NM:
            m = find(cells, "nm", "mbox", 64, place, k)
            rows.append([k.replace("x", ":")] + [
                fmt_ratio(ratio(m, find(cells, "nm", bt, 64, place, k))) for bt in BASE_NM]
                + ["%.2f" % find(cells, "nm", bt, 64, place, k)["fair_a"]
                   if find(cells, "nm", bt, 64, place, k) else "--" for bt in BASE_NM])
        w(table(["N:M"] + ["mbox / " + b for b in BASE_NM] + ["P fair " + b for b in BASE_NM],
                rows))
        w("\n")

    # Calls.
    w(heading("Call / reply: clients on one server (64 B)", "-"))
    w("mbox-call: clients call, the server loops on reply-and-receive. The "
      "baseline, sysv-call, is the System V client-server pattern: requests "
      "typed by client on one queue, replies received by type from another. "
      "k calls/s; min / max of the calls per client (median of rounds, worst "
      "round); RATE ratios.\n\n")
    for place in ("same", "free"):
        w(heading("Calls, %s" % PLACE_TEXT[place], "~"))
        one = find(cells, "calls", "mbox-call", 64, place, "1c")
        rows = []
        for k in range(1, 9):
            c = find(cells, "calls", "mbox-call", 64, place, "%dc" % k)
            b = find(cells, "calls", "sysv-call", 64, place, "%dc" % k)
            rows.append((k, fmt_cell_rate(c),
                         "%.2f (%.2f)" % (c["fair_a"], c["fair_a_worst"]) if c else "--",
                         fmt_ratio(ratio(c, one)), fmt_cell_rate(b),
                         "%.2f (%.2f)" % (b["fair_a"], b["fair_a_worst"]) if b else "--",
                         fmt_ratio(ratio(c, b))))
        w(table(("clients", "mbox-call", "min / max", "/ 1 client", "sysv-call",
                 "min / max", "mbox / sysv"), rows))
        w("\n")

    # Tails.
    w(heading("Round trip tails, 64 B", "-"))
    w("Single round trip times in microseconds, per round, median over the "
      "rounds.\n\n")
    rows = []
    for t in MBOX_RT + BASE_RT:
        r = [t]
        for place in PLACES:
            c = find(cells, "rt", t, 8 if t == "eventfd" else 64, place)
            r.append(" / ".join("%.0f" % c[q + "_us"] if c and q + "_us" in c else "--"
                                for q in ("p50", "p90", "p99", "p999", "max")))
        rows.append(r)
    w(table(["transport", "same: p50 / p90 / p99 / p99.9 / max",
             "cross: p50 / p90 / p99 / p99.9 / max"], rows))
    w("\n")

    # Context switches.
    w(heading("Context switches per operation", "-"))
    w("Voluntary + involuntary context switches of all the cell's processes "
      "(from /proc/PID/status) per round trip, message or call, median over "
      "the rounds: 2 per round trip is one sleep on each side.\n\n")
    rows = []
    for t in MBOX_RT + BASE_RT + ["mbox-brecv", "mbox-batch"]:
        r = [t]
        for wl, size in (("rt", 64), ("stream", 64), ("stream", 4096)):
            for place in PLACES:
                c = find(cells, wl, t, 8 if t == "eventfd" else size, place)
                r.append("%.2f + %.2f" % (c["vcsw"], c["ivcsw"]) if c and "vcsw" in c
                         else "--")
        rows.append(r)
    w(table(["transport", "rt 64 B same", "rt 64 B cross", "stream 64 B same",
             "stream 64 B cross", "stream 4 KiB same", "stream 4 KiB cross"], rows))
    w("\n")

    # Capacities.
    w(heading("Queue capacities, as measured", "-"))
    w("Messages a fresh streaming queue took before a non-blocking send failed "
      "(the cells use blocking sends on the same kind of queue).\n\n")
    sb = {(s["transport"], s["size"], s["capacity"]): s["sndbuf"] for s in sndbufs}
    rows = []
    for c in caps:
        k = (c["transport"], c["size"], c["capacity"])
        rows.append((c["transport"], size_text(c["size"]), c["capacity"],
                     c.get("fit", "error: " + c.get("error", "?")),
                     "SO_SNDBUF %d" % sb[k] if k in sb else ""))
    w(table(("queue", "size", "wanted", "took", "set"), rows))
    w("\n")

    errs = [(c["cell"], e) for c in cells for e in c["errors"]]
    short = [c["cell"] for c in cells if c["n"] < (rounds if isinstance(rounds, int) else 0)]
    if errs or short:
        w(heading("Problems", "-"))
        for cell, e in errs:
            w("- %s: %s\n" % (cell, e))
        for cell in short:
            if not any(cell == x for x, _ in errs):
                w("- %s: fewer rounds than asked\n" % cell)
        w("\n")
    return "".join(out)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("outdir")
    ap.add_argument("--png", action="store_true")
    ap.add_argument("--title", default="mbox benchmarks")
    ap.add_argument("--host")
    a = ap.parse_args(argv[1:])
    log, outdir, png, title = a.log, a.outdir, a.png, a.title
    host = parse_host(a.host)
    os.makedirs(outdir, exist_ok=True)
    meta, mbox, xports, caps, sndbufs, rows, done = parse(log)
    if not rows:
        print("report.py: no BENCH lines in %s" % log, file=sys.stderr)
        return 1
    cells = summarise(rows)
    tgts = targets(cells)

    with open(os.path.join(outdir, "results-raw.csv"), "w", newline="") as f:
        keys = ["round", "cell", "workload", "transport", "size", "place", "na", "nb",
                "capacity", "secs", "count", "rate", "rtt_ns", "samples", "p50_ns",
                "p90_ns", "p99_ns", "p999_ns", "max_ns", "amin", "amax", "bmin", "bmax", "vcsw", "ivcsw",
                "error"]
        wr = csv.DictWriter(f, keys, extrasaction="ignore")
        wr.writeheader()
        for r in rows:
            wr.writerow(r)
    with open(os.path.join(outdir, "results.csv"), "w", newline="") as f:
        keys = ["cell", "workload", "transport", "size", "place", "na", "nb", "capacity",
                "unit", "n", "median", "min", "max", "p50_us", "p90_us", "p99_us",
                "p999_us", "max_us", "fair_a",
                "fair_a_worst", "fair_b", "fair_b_worst", "vcsw", "ivcsw"]
        wr = csv.DictWriter(f, keys, extrasaction="ignore")
        wr.writeheader()
        for c in cells:
            wr.writerow({k: ("%.6g" % v if isinstance(v, float) else v)
                         for k, v in c.items()})
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"meta": meta, "mbox": mbox, "transports": xports,
                   "capacities": caps, "sndbufs": sndbufs, "done": done, "host": host,
                   "cells": cells, "targets": tgts,
                   "informational": [{"ratio": a, "place": b, "value": c}
                                     for a, b, c in informational(cells)]},
                  f, indent=1)
        f.write("\n")
    text = report(meta, mbox, xports, caps, sndbufs, cells, tgts, done, title, host)
    with open(os.path.join(outdir, "report.rst"), "w") as f:
        f.write(text)
    if png:
        write_chart(cells, outdir, title)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
