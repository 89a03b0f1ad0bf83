#!/usr/bin/python3
"""report.py - perf/results/imap.jsonl as Markdown (stdout) and a plot.

    report.py imap.jsonl [imap.png]

For each workload: the median over runs of operations/s, MB/s and server
CPU-seconds for Sluice and Dovecot, and the ratios (Sluice / Dovecot for
throughput, Dovecot / Sluice for CPU: above 1 is better for Sluice either
way). Target (issue 6): 2x on every row. A row a server refused as
unsupported says so instead of a figure; a failed run is listed with its
error and left out of the medians. Then every single run."""

import json
import statistics
import sys

ORDER = ["fetch_all", "structure", "search", "store", "sessions", "pop3_retr", "load"]
WHAT = {
    "fetch_all": "SELECT + UID FETCH 1:* (FLAGS BODY.PEEK[])",
    "structure": "UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)",
    "search": "UID SEARCH BODY (one hit)",
    "store": "UID STORE 1:* +FLAGS.SILENT (\\Flagged)",
    "sessions": "50 sessions: LOGIN/EXAMINE/FETCH 1:10/LOGOUT",
    "pop3_retr": "POP3 RETR of every message",
    "load": "APPEND of every message (info, not an issue row)",
}
TARGET = 2.0


def med(rs, key):
    v = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(v) if v else None


def fmt(x):
    if x is None:
        return "-"
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def cpu_row(r):
    reps = r.get("rep_server_cpu_s")
    return dict(r, server_cpu_s=statistics.median(reps)) if reps else r


def reps_note(runs):
    """The header's word on repeated rows (bench.py REPEATABLE)."""
    n = max((len(r.get("rep_seconds", [])) for r in runs), default=0)
    if n < 2:
        return ""
    return (f"The read-only rows (fetch_all, structure, search, pop3_retr) are repeated {n} "
            "times within a run: ops/s and MB/s from the fastest repetition, CPU-seconds the "
            "median of the repetitions (all in imap.jsonl: rep_seconds, rep_server_cpu_s). ")


def clients(runs):
    c = sorted({r.get("client", "bench.py") for r in runs if r.get("workload") != "load"})
    return ", ".join(c)


def main():
    rows = {}
    runs = []
    for line in open(sys.argv[1]):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        runs.append(r)
        rows.setdefault(r["workload"], {}).setdefault(r["server"], []).append(r)

    summary = []
    print("# IMAP/POP3 benchmark (perf/imap): Sluice vs Dovecot 2.3\n")
    revs = sorted({r.get("rev", "?") for r in runs})
    loads = [r["load_avg"] for r in runs if "load_avg" in r]
    hashes = sorted({f"{r['server']}: {r.get('hash', '?')}" for r in runs})
    n = max((r.get("run", 1) for r in runs), default=0)
    print(f"Medians of {n} runs; Sluice at {', '.join(revs)}; load average during runs "
          f"{min(loads, default=0):g}-{max(loads, default=0):g}; password hashes: "
          f"{', '.join(hashes)}. {runs[0].get('messages', '?') if runs else '?'} messages of "
          f"{runs[0].get('size', '?') if runs else '?'} bytes. Ratios: Sluice / Dovecot for "
          "ops/s and MB/s, Dovecot / Sluice for CPU-seconds (above 1 is better for Sluice). "
          f"Target: {TARGET:g}x on every row. "
          f"{reps_note(runs)}Client: {clients(runs)}.\n")
    print("| workload | Sluice ops/s | Dovecot ops/s | ratio | Sluice MB/s | Dovecot MB/s | "
          "Sluice CPU s | Dovecot CPU s | CPU ratio | met? | note |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for w in sorted(rows, key=lambda k: ORDER.index(k) if k in ORDER else 99):
        by = rows[w]
        note = []
        ok = {}
        for srv in ("sluice", "dovecot"):
            rs = by.get(srv, [])
            good = [r for r in rs if r.get("status") not in ("failed", "not supported")]
            bad = [r for r in rs if r.get("status") == "failed"]
            uns = [r for r in rs if r.get("status") == "not supported"]
            if uns:
                note.append(f"{srv}: not supported ({uns[0].get('reply', '')})")
            if bad:
                note.append(f"{srv}: {len(bad)} failed run(s): {bad[0].get('error', '')[:80]}")
            errs = sum(r.get("errors", 0) for r in good)
            if errs:
                note.append(f"{srv}: {errs} session errors")
            ok[srv] = good
        s, d = ok["sluice"], ok["dovecot"]
        so, do = med(s, "ops_per_s"), med(d, "ops_per_s")
        sm, dm = med(s, "mb_per_s"), med(d, "mb_per_s")
        # a repeated row: its CPU is the median of its repetitions (a
        # row's CPU cost hardly depends on others' load, its time does)
        sc, dc = med([cpu_row(r) for r in s], "server_cpu_s"), med([cpu_row(r) for r in d],
                                                                   "server_cpu_s")
        ratio = so / do if so and do else None
        cratio = dc / sc if sc and dc else None
        met = "-"
        if w != "load":
            if ratio is None or cratio is None:
                met = "not supported" if any("not supported" in x for x in note) else "no"
            else:
                met = "yes" if ratio >= TARGET and cratio >= TARGET else "no"
        summary.append((w, ratio, cratio))
        print(f"| {w} | {fmt(so)} | {fmt(do)} | {'-' if ratio is None else f'{ratio:.2f}x'} | "
              f"{fmt(sm)} | {fmt(dm)} | {fmt(sc)} | {fmt(dc)} | "
              f"{'-' if cratio is None else f'{cratio:.2f}x'} | {met} | {'; '.join(note)} |")

    print("\nWorkloads:\n")
    for w in ORDER:
        if w in rows:
            print(f"- `{w}`: {WHAT[w]}")
    print("\n## Every run\n")
    print("| run | server | workload | seconds | ops/s | MB/s | server CPU s | CPU by thread | "
          "client CPU s | others' CPU s | repetitions (s) | load avg | status |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        st = r.get("status", "ok")
        if st == "failed":
            st = "failed: " + r.get("error", "")[:80]
        th = ", ".join(f"{k} {v:.3g}" for k, v in sorted(r.get("server_cpu_threads", {}).items(),
                                                          key=lambda kv: -kv[1]) if v >= 0.001)
        print(f"| {r.get('run', '-')} | {r['server']} | {r['workload']} | {r.get('seconds', '-')} | "
              f"{fmt(r.get('ops_per_s'))} | {fmt(r.get('mb_per_s'))} | {fmt(r.get('server_cpu_s'))} | "
              f"{th or '-'} | {fmt(r.get('client_cpu_s'))} | {fmt(r.get('others_cpu_s'))} | "
              f"{' '.join(f'{x:g}' for x in r.get('rep_seconds', [])) or '-'} | "
              f"{r.get('load_avg', '-')} | {st} |")

    if len(sys.argv) > 2:
        plot(summary, sys.argv[2])


def plot(summary, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [x for x in summary if x[0] != "load"]
    names = [x[0] for x in rows]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    xs = range(len(rows))
    w = 0.38
    thr = [x[1] or 0 for x in rows]
    cpu = [x[2] or 0 for x in rows]
    ax.bar([x - w / 2 for x in xs], thr, w, label="ops/s ratio (Sluice / Dovecot)")
    ax.bar([x + w / 2 for x in xs], cpu, w, label="CPU ratio (Dovecot / Sluice CPU-s)")
    for x, (t, c) in zip(xs, zip(thr, cpu)):
        if not t and not c:
            ax.text(x, 0.1, "not\nsupported", ha="center", fontsize=8)
    ax.axhline(TARGET, ls="--", color="k", lw=1, label=f"target {TARGET:g}x")
    ax.axhline(1, ls=":", color="grey", lw=1)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names)
    ax.set_ylabel("ratio (higher is better for Sluice)")
    ax.set_title("perf/imap: Sluice vs Dovecot 2.3, medians")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
