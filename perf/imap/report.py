#!/usr/bin/python3
"""report.py - perf/results/imap.jsonl as a Markdown table: each workload's
operations/s, MB/s and server CPU-seconds for Sluice and Dovecot, and the
ratios (Sluice / Dovecot for throughput, Dovecot / Sluice for CPU: above 1
is better for Sluice either way). Target (issue 6): 2x on every row."""

import json
import sys


def main():
    rows = {}
    for line in open(sys.argv[1]):
        line = line.strip()
        if line:
            r = json.loads(line)
            rows.setdefault(r["workload"], {})[r["server"]] = r
    print("| workload | Sluice ops/s | Dovecot ops/s | ratio | Sluice MB/s | Dovecot MB/s | "
          "Sluice CPU s | Dovecot CPU s | CPU ratio | note |")
    print("|---|---|---|---|---|---|---|---|---|---|")

    def fmt(x):
        return "-" if x is None else f"{x:g}"
    for w, by in rows.items():
        s, d = by.get("sluice", {}), by.get("dovecot", {})
        so, do = s.get("ops_per_s"), d.get("ops_per_s")
        ratio = f"{so / do:.2f}x" if so and do else "-"
        sc, dc = s.get("server_cpu_s"), d.get("server_cpu_s")
        cratio = f"{dc / sc:.2f}x" if sc and dc else "-"
        note = "; ".join(f"{k}: {v['status']}" for k, v in by.items() if "status" in v)
        note += "; ".join(f"{k}: {v['errors']} errors" for k, v in by.items() if v.get("errors"))
        print(f"| {w} | {fmt(so)} | {fmt(do)} | {ratio} | {fmt(s.get('mb_per_s'))} | "
              f"{fmt(d.get('mb_per_s'))} | {fmt(sc)} | {fmt(dc)} | {cratio} | {note} |")


if __name__ == "__main__":
    main()
