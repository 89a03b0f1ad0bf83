"""perf/store/report.py - turn perf/results/store.jsonl into store.md and store.png.

    /usr/bin/python3 perf/store/report.py RAW.jsonl OUT.md OUT.png [NOTES.md]

One row per (body size, submitters): the median durable appends/s of the
store's group-commit writer and of the plain-LMDB baseline (one transaction
and its fsyncs per message) measured in the same run, their ratio, and the
batch sizes the writer reached. A failed run counts as missing; a cell with
no successful run shows "failed" and its target as not met. NOTES.md, if
given and present, is appended (the hand-written analysis of the run).
"""
import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TARGET_SIZE, TARGET_N, TARGET_RATIO = 4096, 64, 20.0


def load(path):
    env, runs = {}, {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            d = json.loads(line)
            if d.get("mode") == "env":
                env = d
                continue
            runs.setdefault((d["mode"], d["size"], d["submitters"]), []).append(d)
    return env, runs


def ok(runs, key):
    return [r for r in runs.get(key, []) if "error" not in r]


def med(runs, key, field):
    v = [r[field] for r in ok(runs, key) if r.get(field) is not None]
    return statistics.median(v) if v else None


def size_txt(s):
    return f"{s // 1048576} MB" if s >= 1048576 else f"{s // 1024} KB"


def f0(x):
    return "failed" if x is None else f"{x:,.0f}"


def f2(x):
    return "—" if x is None else f"{x:.2f}"


def cells(env, runs):
    sizes = sorted({k[1] for k in runs})
    ns = sorted({k[2] for k in runs})
    out = []
    for s in sizes:
        for n in ns:
            sl = med(runs, ("sluice", s, n), "msgs_per_s")
            lm = med(runs, ("lmdb", s, n), "msgs_per_s")
            ratio = sl / lm if sl is not None and lm else None
            target = s == TARGET_SIZE and n == TARGET_N
            pairs = []
            by_run = {r["run"]: r for r in ok(runs, ("lmdb", s, n))}
            for r in ok(runs, ("sluice", s, n)):
                b = by_run.get(r["run"])
                if b and b["msgs_per_s"]:
                    pairs.append(r["msgs_per_s"] / b["msgs_per_s"])
            out.append(dict(size=s, n=n, sluice=sl, lmdb=lm, ratio=ratio, target=target, pairs=pairs,
                            batch_avg=med(runs, ("sluice", s, n), "batch_avg"),
                            batch_max=max([r.get("batch_max", 0) for r in ok(runs, ("sluice", s, n))],
                                          default=None),
                            writer=med(runs, ("sluice", s, n), "writer_cpu_share"),
                            cpu_sl=med(runs, ("sluice", s, n), "cpu_ms_per_msg"),
                            cpu_lm=med(runs, ("lmdb", s, n), "cpu_ms_per_msg"),
                            disk_sl=med(runs, ("sluice", s, n), "disk_written_per_msg"),
                            disk_lm=med(runs, ("lmdb", s, n), "disk_written_per_msg"),
                            lat_sl=med(runs, ("sluice", s, n), "lat_p50_us_le"),
                            lat_lm=med(runs, ("lmdb", s, n), "lat_p50_us_le"),
                            mib=med(runs, ("sluice", s, n), "mib_per_s"),
                            apply=med(runs, ("sluice", s, n), "apply_ms_per_batch"),
                            commit=med(runs, ("sluice", s, n), "commit_ms_per_batch"),
                            post=med(runs, ("sluice", s, n), "post_ms_per_batch")))
    return out


def write_md(env, runs, out):
    cs = cells(env, runs)
    lines = [
        "# Store benchmark (perf/store)",
        "",
        f"Run {env.get('date', '?')} on commit `{env.get('commit', '?')}`: "
        f"{env.get('ncpu', '?')} CPUs ({env.get('cpu', '?')}), Linux {env.get('kernel', '?')}, "
        f"store on {env.get('disk', '?')} ({env.get('fs', '?')}, under {env.get('parent', '?')}). "
        f"Each figure is the median of {env.get('runs', '?')} runs of {env.get('secs', '?')} s "
        f"after {env.get('warmup', '?')} s of warm-up; baseline and store measured back to back. "
        f"Store submitters keep {env.get('inflight', '?')} requests in flight each. Method: docs/perf.md.",
        "",
        "Durable appends per second: the store's group-commit writer (`st_msg_deliver`, one "
        "transaction per batch) vs plain LMDB with one transaction and its own fsyncs per message. "
        "The ratio is of the medians (the target is judged on it); the ratios of the single runs, "
        "each pair measured seconds apart, show how much the baseline's fsync latency moves.",
        "",
        "| body | submitters | Sluice msgs/s | LMDB 1 txn/msg msgs/s | ratio | ratio of each run (back to back) | batch avg / max | target | met? |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for c in cs:
        tgt = f"ratio >= {TARGET_RATIO:g}" if c["target"] else "(info)"
        if c["target"]:
            met = "**yes**" if c["ratio"] is not None and c["ratio"] >= TARGET_RATIO else "**no**"
        else:
            met = "—"
        bm = c["batch_max"] if c["batch_max"] is not None else "—"
        ratio = "n/a" if c["ratio"] is None else f"{c['ratio']:.1f}x"
        each = ", ".join(f"{x:.1f}" for x in c["pairs"]) or "—"
        lines.append(f"| {size_txt(c['size'])} | {c['n']} | {f0(c['sluice'])} | {f0(c['lmdb'])} | "
                     f"{ratio} | {each} | {f2(c['batch_avg'])} / {bm} | {tgt} | {met} |")
    lines += [
        "",
        "## Where the work goes (medians)",
        "",
        "| body | submitters | Sluice MiB/s | disk bytes written per msg, Sluice / LMDB | "
        "CPU ms per msg, Sluice / LMDB | writer thread busy | writer ms per batch: apply / commit / post | "
        "p50 latency <= us, Sluice / LMDB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cs:
        writer = "—" if c["writer"] is None else f"{c['writer'] * 100:.0f} %"
        lines.append(f"| {size_txt(c['size'])} | {c['n']} | {f2(c['mib'])} | "
                     f"{f0(c['disk_sl'])} / {f0(c['disk_lm'])} | {f2(c['cpu_sl'])} / {f2(c['cpu_lm'])} | "
                     f"{writer} | {f2(c['apply'])} / {f2(c['commit'])} / {f2(c['post'])} | "
                     f"{f0(c['lat_sl'])} / {f0(c['lat_lm'])} |")
    lines += [
        "",
        "Disk bytes are what the block device holding the store wrote during the window "
        "(/proc/diskstats, everyone's writes, journal included) divided by the messages made "
        "durable; CPU is the whole benchmark process (submitters, SHA-256 of each body on the "
        "submitting thread, writer); the writer's busy share is its run time over the window; "
        "latency is submission to completion (log2 buckets, upper bound). The writer's time per "
        "committed batch is split into applying the requests, `mdb_txn_commit` (page writes and "
        "both fdatasyncs) and posting the completions (`st_store_stats`).",
        "",
        "## Every run",
        "",
        "| mode | body | submitters | run | msgs/s | details |",
        "|---|---|---:|---:|---:|---|",
    ]
    keys = sorted(runs, key=lambda k: (k[1], k[2], k[0] != "sluice"))
    for k in keys:
        for d in sorted(runs[k], key=lambda x: x.get("run", 0)):
            if "error" in d:
                lines.append(f"| {k[0]} | {size_txt(k[1])} | {k[2]} | {d.get('run')} | failed | "
                             f"{d['error']} |")
                continue
            det = [f"msgs={d['msgs']}"]
            for f in ("batch_avg", "batch_max", "commits_per_s", "writer_cpu_share", "apply_ms_per_batch",
                      "commit_ms_per_batch", "post_ms_per_batch", "cpu_ms_per_msg",
                      "disk_written_per_msg", "lat_p50_us_le", "lat_p99_us_le", "map_grows", "errors",
                      "box_busy_pct", "loadavg", "others_running", "busy_procs"):
                if d.get(f) not in (None, ""):
                    det.append(f"{f}={d[f]}")
            lines.append(f"| {k[0]} | {size_txt(k[1])} | {k[2]} | {d.get('run')} | "
                         f"{d['msgs_per_s']:,.0f} | {'; '.join(det)} |")
    if any("error" in d for v in runs.values() for d in v):
        lines += ["", "Failed runs are counted as missing; a cell without any successful run is "
                  "reported as failed and its target as not met."]
    # Hand-written analysis kept beside the results (perf/results/store.notes.md).
    notes = sys.argv[4] if len(sys.argv) > 4 else None
    if notes:
        try:
            with open(notes) as f:
                lines += ["", f.read().rstrip()]
        except FileNotFoundError:
            pass
    lines.append("")
    with open(out, "w") as f:
        f.write("\n".join(lines))


def write_png(env, runs, out):
    cs = cells(env, runs)
    sizes = sorted({c["size"] for c in cs})
    fig, axes = plt.subplots(2, len(sizes), figsize=(4.5 * len(sizes), 8), squeeze=False)
    for j, s in enumerate(sizes):
        row = [c for c in cs if c["size"] == s]
        ns = [c["n"] for c in row]
        ax = axes[0][j]
        for mode, color, label in (("sluice", "#1f77b4", "Sluice group commit"),
                                   ("lmdb", "#999999", "LMDB, 1 txn + fsync per msg")):
            ax.plot(ns, [c[mode] or 0 for c in row], "-o", color=color, label=label)
            for n in ns:
                v = [r["msgs_per_s"] for r in ok(runs, (mode, s, n))]
                ax.plot([n] * len(v), v, ".", color="k", ms=4)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(ns)
        ax.set_xticklabels([str(n) for n in ns])
        ax.set_title(f"{size_txt(s)} bodies: durable msgs/s", fontsize=10)
        ax.set_xlabel("submitter threads")
        if j == 0:
            ax.legend(fontsize=8)
        ax = axes[1][j]
        ax.bar([str(n) for n in ns], [c["ratio"] or 0 for c in row], color="#1f77b4")
        for i, c in enumerate(row):
            if c["ratio"] is not None:
                ax.text(i, c["ratio"], f"{c['ratio']:.1f}x\nbatch {c['batch_avg'] or 0:.0f}",
                        ha="center", va="bottom", fontsize=8)
        if s == TARGET_SIZE:
            ax.axhline(TARGET_RATIO, color="red", ls="--", lw=1)
            ax.text(0, TARGET_RATIO, f"target {TARGET_RATIO:g}x at {TARGET_N}", color="red",
                    fontsize=8, va="bottom")
        ax.set_title(f"{size_txt(s)}: ratio Sluice / LMDB (avg batch)", fontsize=10)
        ax.set_xlabel("submitter threads")
        ax.set_ylabel("ratio")
        top = max([c["ratio"] or 0 for c in row] + [TARGET_RATIO if s == TARGET_SIZE else 1])
        ax.set_ylim(0, top * 1.3)
    fig.suptitle("Sluice store: group commit vs one fsync per message (lines: median; dots: runs)",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def main():
    env, runs = load(sys.argv[1])
    write_md(env, runs, sys.argv[2])
    write_png(env, runs, sys.argv[3])


if __name__ == "__main__":
    main()
