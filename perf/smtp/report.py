"""perf/smtp/report.py - turn perf/results/smtp.jsonl into smtp.md and smtp.png.

    /usr/bin/python3 perf/smtp/report.py RAW.jsonl OUT.md OUT.png

For each session count: the median messages/s until the last 250
(smtp-source's elapsed time), server CPU-seconds per 1000 messages, and peak
resident memory, Sluice vs Postfix of the same run, with their ratios and the
targets of issue 4 (>= 3x Postfix's messages/s; <= 1/5 of its CPU per
message). A failed run counts as missing; a metric without any successful run
shows "failed" and its target as not met.
"""
import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# (key, label, unit, how the ratio reads, target kind, target)
METRICS = [
    ("msgs_per_s", "messages/s until the last 250", "msg/s", "Sluice / Postfix", "ge", 3.0),
    ("cpu_per_1000", "server CPU-seconds per 1000 messages", "CPU s", "Sluice / Postfix", "le", 0.2),
    ("mem_peak_mib", "peak resident memory", "MiB", "Sluice / Postfix", None, None),
]


def load(path):
    env, runs = {}, {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            d = json.loads(line)
            if d.get("impl") == "env":
                env = d
                continue
            if "error" not in d:
                n = d.get("msgs") or 1
                d["cpu_per_1000"] = d["server_cpu_s"] * 1000.0 / n
                d["mem_peak_mib"] = d["mem_peak_kib"] / 1024.0
                if "server_cpu_to_last_250_s" in d:
                    d["cpu_per_1000_to_250"] = d["server_cpu_to_last_250_s"] * 1000.0 / n
                if "client_cpu_s" in d:
                    d["client_cpu_per_1000"] = d["client_cpu_s"] * 1000.0 / n
                pw = d.get("procwatch") or {}
                if pw.get("pss_sum_peak_kib"):
                    d["pss_peak_mib"] = pw["pss_sum_peak_kib"] / 1024.0
            runs.setdefault((d["impl"], d["sessions"]), []).append(d)
    return env, runs


def vals(runs, key, field):
    return [r[field] for r in runs.get(key, []) if "error" not in r and r.get(field) is not None]


def med(runs, key, field):
    v = vals(runs, key, field)
    return statistics.median(v) if v else None


def fmt(x, unit):
    if x is None:
        return "failed"
    if unit == "msg/s":
        return f"{x:,.0f}"
    if unit == "MiB":
        return f"{x:,.1f}"
    return f"{x:.2f}"


def judge(kind, tgt, ratio):
    if kind is None:
        return "(info)", "—"
    txt = f"ratio >= {tgt:g}" if kind == "ge" else f"ratio <= {tgt:g} (1/{1 / tgt:g})"
    if ratio is None:
        return txt, "**no**"
    ok = ratio >= tgt if kind == "ge" else ratio <= tgt
    return txt, "**yes**" if ok else "**no**"


def sessions_of(runs):
    return sorted({k[1] for k in runs})


def write_md(env, runs, out):
    lines = [
        "# SMTP benchmark (perf/smtp)",
        "",
        f"Run {env.get('date', '?')} on commit `{env.get('commit', '?')}`: "
        f"{env.get('ncpu', '?')} CPUs ({env.get('cpu', '?')}), Linux {env.get('kernel', '?')}, "
        f"Postfix {env.get('postfix', '?')}; store and Postfix queue/Maildir on {env.get('disk', '?')} "
        f"({env.get('fs', '?')}, under {env.get('parent', '?')}). `smtp-source -s SESSIONS -m "
        f"{env.get('msgs', '?')} -l {env.get('size', '?')}` (one message per connection, pinned to "
        f"CPU {env.get('client_cpu', '?')}) against Sluice over the TAP and Postfix over a veth pair; "
        f"each figure is the median of {env.get('runs', '?')} runs, Sluice and Postfix interleaved, "
        "each on a fresh server. Method: docs/perf.md.",
        "",
        "| sessions | metric | Sluice | Postfix | ratio | target | met? |",
        "|---:|---|---:|---:|---:|---|---|",
    ]
    for s in sessions_of(runs):
        for field, label, unit, _, kind, tgt in METRICS:
            a, b = med(runs, ("sluice", s), field), med(runs, ("postfix", s), field)
            ratio = a / b if a is not None and b else None
            ttxt, met = judge(kind, tgt, ratio)
            rtxt = "n/a" if ratio is None else (f"{ratio:.2f}x" if ratio >= 1 else f"{ratio:.3f}x")
            lines.append(f"| {s} | {label} [{unit}] | {fmt(a, unit)} | {fmt(b, unit)} | {rtxt} | "
                         f"{ttxt} | {met} |")
    lines += [
        "",
        "CPU: Sluice is utime+stime of `sluiced` (every thread: the busy-polling worker lcore, the "
        "store writer, the control thread) from /proc/PID/stat, from the start of the load to the "
        "last 250, when every message is committed in the store. Postfix is the cpuacct cgroup its "
        "master was started in (master and every process it forked, exited ones included), from the "
        "start of the load until the last message is in the Maildir: its 250 only means \"queued\". "
        "Memory: VmHWM of sluiced; for Postfix the largest sum, over samples every 0.25 s, of the "
        "VmHWM of its processes alive at that moment.",
        "",
        "## Details (medians)",
        "",
        "| sessions | | Sluice | Postfix |",
        "|---:|---|---:|---:|",
    ]
    for s in sessions_of(runs):
        for field, label, unit in (
            ("elapsed_s", "smtp-source elapsed (s)", "s"),
            ("delivered_after_s", "Postfix: last message in the Maildir after (s)", "s"),
            ("cpu_per_1000_to_250", "Postfix: CPU s per 1000 msgs until the last 250 only", "s"),
            ("client_cpu_per_1000", "smtp-source CPU s per 1000 msgs", "s"),
            ("pss_peak_mib", "peak sum of Pss (shared pages counted once) [MiB]", "MiB"),
            ("store_batch_avg", "Sluice store: avg requests per commit", "s"),
            ("store_batch_max", "Sluice store: largest commit", "s"),
        ):
            a, b = med(runs, ("sluice", s), field), med(runs, ("postfix", s), field)
            if a is None and b is None:
                continue
            fa = "—" if a is None else fmt(a, unit)
            fb = "—" if b is None else fmt(b, unit)
            lines.append(f"| {s} | {label} | {fa} | {fb} |")
        th = {}
        for r in runs.get(("sluice", s), []):
            for k, v in (r.get("threads_cpu_s") or {}).items():
                th.setdefault(k, []).append(v)
        if th:
            parts = ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in
                              sorted(th.items(), key=lambda kv: -statistics.median(kv[1])))
            lines.append(f"| {s} | Sluice CPU s by thread (whole run) | {parts} | |")
    lines += ["", "## Every run", "", "| impl | sessions | run | msgs/s | CPU s / 1000 | peak MiB | details |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for key in sorted(runs, key=lambda k: (k[1], k[0] != "sluice")):
        for d in sorted(runs[key], key=lambda x: x.get("run", 0)):
            if "error" in d:
                lines.append(f"| {key[0]} | {key[1]} | {d.get('run')} | failed | | | {d['error']} |")
                continue
            det = []
            for f in ("elapsed_s", "delivered", "server_cpu_s", "server_cpu_to_last_250_s",
                      "delivered_after_s", "client_cpu_s", "store_batch_avg", "store_batch_max",
                      "threads_cpu_s", "warnings", "io_stall_some_ms", "io_stall_full_ms", "log_gap_max_s",
                      "box_busy_pct", "loadavg", "others_running", "busy_procs"):
                if d.get(f) not in (None, ""):
                    det.append(f"{f}={d[f]}")
            lines.append(f"| {key[0]} | {key[1]} | {d.get('run')} | {d['msgs_per_s']:,.0f} | "
                         f"{d['cpu_per_1000']:.2f} | {d['mem_peak_mib']:.1f} | {'; '.join(det)} |")
    if any("error" in d for v in runs.values() for d in v):
        lines += ["", "Failed runs are counted as missing; a metric without any successful run is "
                  "reported as failed and its target as not met."]
    lines.append("")
    with open(out, "w") as f:
        f.write("\n".join(lines))


def write_png(env, runs, out):
    ss = sessions_of(runs)
    fig, axes = plt.subplots(1, len(METRICS), figsize=(5 * len(METRICS), 4.5))
    w = 0.38
    for ax, (field, label, unit, _, kind, tgt) in zip(axes, METRICS):
        for i, s in enumerate(ss):
            for j, (impl, color) in enumerate((("sluice", "#1f77b4"), ("postfix", "#999999"))):
                x = i + (j - 0.5) * w
                m = med(runs, (impl, s), field)
                ax.bar(x, m or 0, w, color=color, label=impl.capitalize() if i == 0 else None)
                v = vals(runs, (impl, s), field)
                ax.plot([x] * len(v), v, "k.", ms=5)
            a, b = med(runs, ("sluice", s), field), med(runs, ("postfix", s), field)
            if a is not None and b:
                top = max(a, b)
                ax.text(i, top * 1.04, f"{a / b:.2f}x", ha="center", fontsize=9)
                if kind is not None:
                    # the target expressed as a Sluice value: a dashed mark over Sluice's bar
                    ax.plot([i - w, i], [b * tgt, b * tgt], "r--", lw=1.2)
        ax.set_xticks(range(len(ss)))
        ax.set_xticklabels([f"{s} sessions" for s in ss])
        sub = "" if kind is None else (f" (target {'>=' if kind == 'ge' else '<='} {tgt:g}x, red dashes)")
        ax.set_title(f"{label}{sub}", fontsize=9)
        ax.set_ylabel(unit)
        ymax = ax.get_ylim()[1]
        ax.set_ylim(0, ymax * 1.1)
        ax.legend(fontsize=8)
    fig.suptitle("Sluice vs Postfix 3.7, smtp-source 4 KB messages (bars: median; dots: runs)",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def main():
    env, runs = load(sys.argv[1])
    write_md(env, runs, sys.argv[2])
    write_png(env, runs, sys.argv[3])


if __name__ == "__main__":
    main()
