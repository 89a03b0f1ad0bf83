"""perf/smtp/procwatch.py - peak memory of a server made of one or many processes.

    /usr/bin/python3 perf/smtp/procwatch.py --cgroup DIR [--interval S] OUT.json
    /usr/bin/python3 perf/smtp/procwatch.py --pid PID [--interval S] OUT.json

Samples the processes of a cgroup (DIR/cgroup.procs: Postfix's master and
every child it forks, which inherit the cgroup) or one process (sluiced)
every INTERVAL seconds (default 0.25) until SIGTERM or SIGINT, then writes
one JSON object to OUT.json:

  hwm_sum_peak_kib  max over samples of the sum of VmHWM (each process's own
                    peak RSS) of the processes alive at that sample: "the sum
                    of its processes' peaks" for the processes that coexist.
                    Pages shared between processes (libc, Postfix's shared
                    libraries) are counted once per process.
  pss_sum_peak_kib  max over samples of the sum of Pss (shared pages divided
                    among their users; read once a second from smaps_rollup):
                    what the server really occupies.
  rss_sum_peak_kib  max over samples of the sum of VmRSS.
  procs_peak        most processes alive at one sample; pids_seen: distinct.
"""
import json
import os
import signal
import sys
import time


def read_kib(pid, fields, path="status"):
    out = {}
    try:
        with open(f"/proc/{pid}/{path}") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in fields:
                    out[k] = int(v.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


def pids_of(args):
    if args["cgroup"]:
        try:
            with open(os.path.join(args["cgroup"], "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []
    return [args["pid"]] if os.path.exists(f"/proc/{args['pid']}") else []


def main():
    args = {"cgroup": None, "pid": None, "interval": 0.25}
    av = sys.argv[1:]
    while av and av[0].startswith("--"):
        k = av.pop(0)[2:]
        args[k] = av.pop(0)
    args["interval"] = float(args["interval"])
    if args["pid"] is not None:
        args["pid"] = int(args["pid"])
    out = av[0]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    res = dict(hwm_sum_peak_kib=0, rss_sum_peak_kib=0, pss_sum_peak_kib=0, procs_peak=0,
               samples=0)
    seen = set()
    last_pss = 0.0
    while not stop:
        pids = pids_of(args)
        hwm = rss = 0
        for p in pids:
            d = read_kib(p, ("VmHWM", "VmRSS"))
            hwm += d.get("VmHWM", 0)
            rss += d.get("VmRSS", 0)
        seen.update(pids)
        res["hwm_sum_peak_kib"] = max(res["hwm_sum_peak_kib"], hwm)
        res["rss_sum_peak_kib"] = max(res["rss_sum_peak_kib"], rss)
        res["procs_peak"] = max(res["procs_peak"], len(pids))
        res["samples"] += 1
        now = time.monotonic()
        if now - last_pss >= 1.0:
            last_pss = now
            pss = sum(read_kib(p, ("Pss",), "smaps_rollup").get("Pss", 0) for p in pids)
            res["pss_sum_peak_kib"] = max(res["pss_sum_peak_kib"], pss)
        time.sleep(args["interval"])
    res["pids_seen"] = len(seen)
    with open(out, "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()
