"""perf/tcp/report.py - turn perf/results/tcp.jsonl into tcp.md and tcp.png.

    /usr/bin/python3 perf/tcp/report.py RAW.jsonl OUT.md OUT.png

Every row compares the median of the Sluice runs with the median of the
reference runs of the same run (ratios, not absolute numbers, are what is
stable on a shared box). A run that failed counts as missing; a metric with
no successful run shows "failed" and its target as not met.
"""
import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# (key, label, sluice bench, reference bench, value field, unit,
#  target kind, target value, target text)
ROWS = [
    ("a_bulk", "(a) bulk throughput, 1 connection", "pair_bulk", "loopback_bulk", "gbps",
     "Gbit/s", "ratio_ge", 1.0, "ratio >= 1.0"),
    ("a_conn", "(a) new connections/s, {conc} in flight", "pair_conn", "loopback_conn",
     "conns_per_s", "conn/s", "ratio_ge", 3.0, "ratio >= 3.0"),
    ("a_conn_seq", "(a) new connections/s, sequential (1 in flight)", "pair_conn_seq",
     "loopback_conn_seq", "conns_per_s", "conn/s", None, None, "(info)"),
    ("a_bulk_cpu", "(a) bulk, per CPU-second of work (both sides)", "pair_bulk", "loopback_bulk",
     "gbps_per_cpu", "Gbit/s per CPU", None, None, "(info)"),
    ("a_conn_cpu", "(a) new connections, {conc} in flight, per CPU-second of work", "pair_conn",
     "loopback_conn", "conns_per_cpu", "conn/s per CPU", None, None, "(info)"),
    ("b_bulk", "(b) bulk over TAP vs veth, 1 connection, MTU 1500", "tap_bulk", "veth_bulk",
     "gbps", "Gbit/s", None, None, "(info)"),
    ("c_idle", "(c) idle CPU of sluiced, % of one core", "idle_cpu", None, "cpu_pct", "%",
     "abs_lt", 2.0, "< 2 %"),
]

REF_NAME = {
    "loopback_bulk": "Linux loopback, iperf3",
    "loopback_conn": "Linux loopback, bench_kernel_connect",
    "loopback_conn_seq": "Linux loopback, bench_kernel_connect",
    "veth_bulk": "Linux veth, bench_discard_server",
}


def load(path):
    env, runs = {}, {}
    envs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            d = json.loads(line)
            if d.get("bench") == "env":
                envs.append(d)
                env = envs[0]
                continue
            add_per_cpu(d)
            runs.setdefault(d["bench"], []).append(d)
    env["all"] = envs
    return env, runs


def add_per_cpu(d):
    """Throughput per CPU-second of work on both sides: for Sluice the time
    the two lcores spent in loop turns that moved a frame (busy-poll idle
    excluded; the lcore_busy_share bench_pair reports), for
    bench_kernel_connect its two threads' run time, for iperf3 its own CPU
    figures (client + server). Much less sensitive than the raw rate to CPU
    taken by other jobs, and the fair measure of how much work a connection
    or a byte costs each stack."""
    cpu = None
    if "lcore_busy_share" in d:
        cpu = sum(d["lcore_busy_share"])
    elif "lcore_cpu_share" in d:
        cpu = sum(d["lcore_cpu_share"])
    elif "thread_cpu_share" in d:
        cpu = sum(d["thread_cpu_share"])
    elif isinstance(d.get("cpu"), dict):
        cpu = (d["cpu"].get("host_total", 0) + d["cpu"].get("remote_total", 0)) / 100
    if not cpu:
        return
    if "gbps" in d:
        d["gbps_per_cpu"] = round(d["gbps"] / cpu, 3)
    if "conns_per_s" in d:
        d["conns_per_cpu"] = round(d["conns_per_s"] / cpu, 1)


def values(runs, bench, field):
    return [r[field] for r in runs.get(bench, []) if "error" not in r and field in r]


def errors(runs, bench):
    return [r["error"] for r in runs.get(bench, []) if "error" in r]


def med(v):
    return statistics.median(v) if v else None


def fmt(x, unit):
    if x is None:
        return "failed"
    if unit.startswith("conn/s"):
        return f"{x:,.0f}"
    if unit == "%":
        return f"{x:.2f}"
    return f"{x:.2f}"


def evaluate(row, s, r):
    _, _, _, ref, _, _, kind, tgt, _ = row
    ratio = s / r if s is not None and r not in (None, 0) else None
    if kind is None:
        met = "—"
    elif kind == "ratio_ge":
        met = "**yes**" if ratio is not None and ratio >= tgt else "**no**"
    else:
        met = "**yes**" if s is not None and s < tgt else "**no**"
    return ratio, met


DETAIL_KEYS = ("mss", "mtu", "concurrency", "ports", "errors", "connect_fail", "retransmits",
               "ring_drops", "server_accepts", "worker_sleeping", "confirmed", "server_cpu_pct", "box_busy_pct",
               "srtt_us", "others_pct", "lcore_busy_share", "lcore_cpu_share", "lcore_wait_ms", "thread_cpu_share", "thread_wait_ms", "cpu",
               "gbps_per_cpu", "conns_per_cpu", "attempts", "disturbed")


def run_lines(runs, bench, field):
    out = []
    for d in runs.get(bench, []):
        if "error" in d:
            out.append(f"| {bench} | {d['impl']} | {d['run']} | failed | {d['error']} |")
            continue
        det = []
        for k in DETAIL_KEYS:
            if k in d and d[k] is not None:
                v = d[k]
                if k == "cpu" and isinstance(v, dict):
                    v = f"host {v.get('host_total', 0):.0f}% / remote {v.get('remote_total', 0):.0f}%"
                det.append(f"{k}={v}")
        for side in ("client", "server"):
            st = d.get(side)
            if isinstance(st, dict):
                det.append(f"{side}: retx={st.get('tcp_retransmits')} "
                           f"fast_retx={st.get('tcp_fast_retransmits', '?')} "
                           f"rto={st.get('tcp_rto_expired')} dup_rx={st.get('tcp_dup_segs', '?')} "
                           f"rst_tx={st.get('tcp_rst_tx')} "
                           f"tw={st.get('tcp_time_wait_current')} "
                           f"tw_recycled={st.get('tcp_time_wait_recycled')}")
        out.append(f"| {bench} | {d['impl']} | {d['run']} | {d[field]} | {'; '.join(det)} |")
    return out


def write_md(env, runs, out):
    conc = env.get("conc", "?")
    lines = [
        "# TCP benchmarks (perf/tcp)",
        "",
        f"Run {env.get('date', '?')} on commit `{env.get('commit', '?')}`: "
        f"{env.get('ncpu', '?')} CPUs ({env.get('cpu', '?')}), Linux {env.get('kernel', '?')}. "
        f"Each figure is the median of {env.get('runs', '?')} runs of "
        f"{env.get('secs', '?')} s (after {env.get('warmup', '?')} s of warm-up for (a)); "
        "Sluice and reference runs are interleaved. Method: docs/perf.md.",
        "",
    ]
    if len(env.get("all", [])) > 1:
        # A later partial run (KEEP=1 PARTS=...) replaced those parts.
        when = {}
        for e in env["all"]:
            for part in e.get("parts", "a b c").split():
                when[part] = f"{e.get('date', '?')} on `{e.get('commit', '?')}`"
        lines[-1:-1] = ["Parts were run separately (each part's Sluice and reference runs are "
                        "still side by side, in the same invocation): " +
                        "; ".join(f"({p}) {w}" for p, w in sorted(when.items())) + "."]
    lines += [
        "| metric | Sluice | reference | ratio | target | met? |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row in ROWS:
        key, label, sb, rb, field, unit, kind, tgt, ttext = row
        s = med(values(runs, sb, field))
        r = med(values(runs, rb, field)) if rb else None
        ratio, met = evaluate(row, s, r)
        lbl = label.format(conc=conc)
        ref_txt = f"{fmt(r, unit)} ({REF_NAME[rb]})" if rb else "—"
        ratio_txt = f"{ratio:.2f}x" if ratio is not None else ("—" if rb is None else "n/a")
        lines.append(f"| {lbl} [{unit}] | {fmt(s, unit)} | {ref_txt} | {ratio_txt} | {ttext} | {met} |")
    lines += ["", "## Every run", "", "| bench | impl | run | value | details |", "|---|---|---:|---:|---|"]
    seen = []
    for row in ROWS:
        for b in (row[2], row[3]):
            if b is not None and b not in seen:
                seen.append(b)
                lines += run_lines(runs, b, row[4])
    errs = [(b, e) for b in runs for e in errors(runs, b)]
    if errs:
        lines += ["", "Failed runs are counted as missing; a metric without any successful run is "
                  "reported as failed and its target as not met."]
    lines.append("")
    with open(out, "w") as f:
        f.write("\n".join(lines))


def write_png(env, runs, out):
    ncols = 4
    nrows = (len(ROWS) + ncols - 1) // ncols
    fig, grid = plt.subplots(nrows, ncols, figsize=(4 * ncols, 4.2 * nrows), squeeze=False)
    axes = [ax for r in grid for ax in r]
    for ax in axes[len(ROWS):]:
        ax.axis("off")
    conc = env.get("conc", "?")
    for ax, row in zip(axes, ROWS):
        key, label, sb, rb, field, unit, kind, tgt, ttext = row
        names, meds, pts = [], [], []
        for name, b in (("Sluice", sb), ("Linux", rb)):
            if b is None:
                continue
            v = values(runs, b, field)
            names.append(name)
            meds.append(med(v) or 0)
            pts.append(v)
        colors = ["#1f77b4", "#999999"][: len(names)]
        ax.bar(names, meds, color=colors)
        for i, v in enumerate(pts):
            ax.plot([i] * len(v), v, "k.", ms=6)
        s = med(values(runs, sb, field))
        r = med(values(runs, rb, field)) if rb else None
        ratio, met = evaluate(row, s, r)
        title = label.format(conc=conc).replace(", ", "\n", 1)
        sub = f"ratio {ratio:.2f}x" if ratio is not None else ("" if rb is None else "failed")
        if kind == "abs_lt":
            ax.axhline(tgt, color="red", ls="--", lw=1)
            sub = f"{fmt(s, unit)} % (target < {tgt:g} %)" if s is not None else "failed"
        elif kind == "ratio_ge" and r:
            ax.axhline(r * tgt, color="red", ls="--", lw=1)
            sub += f" (target {tgt:g}x, dashed)"
        ax.set_title(f"{title}\n{sub}", fontsize=9)
        ax.set_ylabel(unit)
    fig.suptitle("Sluice TCP vs Linux (bars: median; dots: runs)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def main():
    env, runs = load(sys.argv[1])
    write_md(env, runs, sys.argv[2])
    write_png(env, runs, sys.argv[3])


if __name__ == "__main__":
    main()
