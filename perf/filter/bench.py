#!/usr/bin/python3
"""bench - sluice-scan against SpamAssassin 4 (spamd/spamc and the
spamassassin command, network tests off) and rspamd 3.4 (rspamc), in one
run, on the same messages (the training groups: easy-ham-1, hard-ham-1,
spam-1), each server pinned to one CPU.

usage: perf/filter/bench.py [--limit N] [--skip-sa-cmd] [--skip-rspamd]

Writes perf/results/filter.md and perf/results/filter.png: messages/s,
MB/s, CPU seconds, spam recall and ham false-positive rate per tool, and
the ratios to Sluice. Needs the Debian packages spamassassin, spamc and
rspamd (and python3-matplotlib). Traffic stays on 127.0.0.1.

Fairness: sluice-scan runs its rule set without Bayes (no --db), as
SpamAssassin runs without a trained Bayes database and rspamd without Redis
(no Bayes, no fuzzy storage); SpamAssassin and rspamd run with their
network checks off (-L; DNS pointed at a closed local port), so all three
judge by content rules alone. Times are wall clock of the whole batch with
the scanner pinned to CPU 0 and the client, if any, on CPU 1; CPU seconds
are the scanner's own (user + system from /proc). No scanner's start-up is
counted: Sluice's figures are those `sluice-scan --timing` gives for the
scan itself (the whole process, from a warm Hyperscan database cache, and
the cold start go to the notes under the table)."""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CORPUS = os.path.join(ROOT, "build", "corpus")
TRAIN = {"easy-ham-1": 0, "hard-ham-1": 0, "spam-1": 1}
OUT_MD = os.path.join(ROOT, "perf", "results", "filter.md")
OUT_PNG = os.path.join(ROOT, "perf", "results", "filter.png")
WORK = os.path.join(ROOT, "build", "perf-filter")


def messages(limit):
    out = []
    for g, lab in TRAIN.items():
        d = os.path.join(CORPUS, g)
        if not os.path.isdir(d):
            sys.exit("bench: %s missing: run make corpus" % d)
        out += [(os.path.join(d, f), lab) for f in sorted(os.listdir(d)) if f.endswith(".eml")]
    if limit:
        step = max(1, len(out) // limit)
        out = out[::step][:limit]
    return out


def proc_cpu(pid):
    """user+system seconds of PID and its reaped children."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tck = os.sysconf("SC_CLK_TCK")
        return sum(int(x) for x in fields[11:15]) / tck
    except (OSError, IndexError, ValueError):
        return 0.0


def wait_port(port, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return True
        except OSError:
            time.sleep(0.5)
    return False


def rates(results, msgs):
    spam = [r for r, (_, lab) in zip(results, msgs) if lab == 1]
    ham = [r for r, (_, lab) in zip(results, msgs) if lab == 0]
    return (sum(spam) / max(1, len(spam)), sum(ham) / max(1, len(ham)), sum(spam), len(spam),
            sum(ham), len(ham))


SLUICE_STARTUP = {}


def bench_sluice(msgs, listfile):
    """sluice-scan over every message in one process. Its start-up (rule
    compile, libmagic load) is not counted, as spamd's and rspamd's are not:
    wall and CPU are those --timing reports for the scan itself. The whole
    process's figures go to SLUICE_STARTUP for the notes."""
    scan = os.path.join(ROOT, "build", "sluice-scan")
    cache = os.path.join(WORK, "hs-cache")
    paths = [p for p, _ in msgs]
    # A cold start compiles the rules and fills the Hyperscan database
    # cache (--cache); the timed run below starts from it, as a restarted
    # appliance does.
    shutil.rmtree(cache, ignore_errors=True)
    c0 = children_cpu()
    t0 = time.time()
    subprocess.run(["taskset", "-c", "0", scan, "--cache", cache, "rules"], cwd=ROOT,
                   capture_output=True, check=True)
    SLUICE_STARTUP.update(cold_wall=time.time() - t0, cold_cpu=children_cpu() - c0)
    c0 = children_cpu()
    t0 = time.time()
    res = subprocess.run(["taskset", "-c", "0", scan, "--cache", cache, "--timing", "scan"] + paths,
                         cwd=ROOT,
                         capture_output=True, text=True, check=True)
    wall_all = time.time() - t0
    cpu_all = children_cpu() - c0
    m = re.search(r"in ([0-9.]+) s: .*; ([0-9.]+) CPU s", res.stderr)
    if m is None:
        sys.exit("bench: sluice-scan --timing said: %s" % res.stderr.strip())
    wall, cpu = float(m.group(1)), float(m.group(2))
    SLUICE_STARTUP.update(wall_all=wall_all, cpu_all=cpu_all, wall=wall, cpu=cpu)
    verdict = {}
    for line in res.stdout.splitlines():
        path, v, _s, _r = line.split("\t")
        verdict[path] = v in ("spam", "virus", "policy")
    return wall, cpu, [verdict[p] for p in paths]


def children_cpu():
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def bench_spamd(msgs):
    port = 17830
    logf = open(os.path.join(WORK, "spamd.log"), "w")
    spamd = subprocess.Popen(["taskset", "-c", "0", shutil.which("spamd") or "/usr/sbin/spamd", "-L", "--max-children=1",
                              "--min-children=1", "--listen=127.0.0.1:%d" % port,
                              "-u", "nobody", "--syslog=stderr", "--nouser-config",
                              "-H", WORK], stdout=logf, stderr=logf,
                             preexec_fn=os.setsid)
    try:
        if not wait_port(port):
            return None
        # one warm-up message so the child has compiled its rules
        with open(msgs[0][0], "rb") as f:
            subprocess.run(["spamc", "-p", str(port), "-c"], stdin=f, capture_output=True)
        cpu0 = sum(proc_cpu(int(p)) for p in pids_of(spamd.pid))
        t0 = time.time()
        out = []
        for p, _ in msgs:
            with open(p, "rb") as f:
                r = subprocess.run(["taskset", "-c", "1", "spamc", "-p", str(port), "-c",
                                    "-s", "67108864"], stdin=f, capture_output=True, text=True)
            out.append(r.returncode == 1)
        wall = time.time() - t0
        cpu = sum(proc_cpu(int(p)) for p in pids_of(spamd.pid)) - cpu0
        return wall, cpu, out
    finally:
        os.killpg(spamd.pid, signal.SIGTERM)
        spamd.wait(timeout=30)
        logf.close()


def pids_of(root):
    """ROOT and its descendants."""
    pids = [root]
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid in pids or ppid == root:
            pids.append(int(d))
    return pids


def bench_sa_cmd(msgs):
    """The spamassassin command over one mbox of every message (one process,
    rules compiled once)."""
    mbox = os.path.join(WORK, "all.mbox")
    with open(mbox, "wb") as out:
        for p, _ in msgs:
            data = open(p, "rb").read()
            if not data.startswith(b"From "):
                out.write(b"From bench@localhost Thu Jan  1 00:00:00 2002\n")
            out.write(data.replace(b"\nFrom ", b"\n>From "))
            if not data.endswith(b"\n"):
                out.write(b"\n")
            out.write(b"\n")
    c0 = children_cpu()
    t0 = time.time()
    r = subprocess.run(["taskset", "-c", "0", "spamassassin", "-L", "--mbox", "-x",
                        "--cf=add_header all Bench _YESNO_"], stdin=open(mbox, "rb"),
                       capture_output=True)
    wall = time.time() - t0
    cpu = children_cpu() - c0
    flags = []
    for line in r.stdout.split(b"\n"):
        if line.startswith(b"X-Spam-Bench: "):
            flags.append(line.strip().endswith(b"Yes"))
    if len(flags) != len(msgs):
        return None
    return wall, cpu, flags


def bench_rspamd(msgs):
    conf = os.path.join(WORK, "rspamd")
    shutil.rmtree(conf, ignore_errors=True)
    shutil.copytree("/etc/rspamd", conf)
    os.makedirs(os.path.join(WORK, "rspamd-db"), exist_ok=True)
    port = 11433
    with open(os.path.join(conf, "local.d", "worker-normal.inc"), "w") as f:
        f.write('bind_socket = "127.0.0.1:%d";\ncount = 1;\n' % port)
    with open(os.path.join(conf, "local.d", "worker-controller.inc"), "w") as f:
        f.write('bind_socket = "127.0.0.1:11434";\ncount = 1;\n')
    with open(os.path.join(conf, "local.d", "worker-proxy.inc"), "w") as f:
        f.write('bind_socket = "127.0.0.1:11432";\ncount = 1;\n')
    with open(os.path.join(conf, "local.d", "options.inc"), "w") as f:
        f.write('dns { nameserver = ["127.0.0.1:5399"]; timeout = 0.1s; retransmits = 0; }\n'
                'filters = "";\n')
    for mod in ("rbl", "surbl", "dkim", "dkim_signing", "spf", "dmarc", "arc", "asn",
                "fuzzy_check", "greylist", "ratelimit", "replies", "neural", "url_redirector",
                "emails", "phishing", "redis", "history_redis", "mx_check", "dcc", "metadata_exporter"):
        with open(os.path.join(conf, "local.d", mod + ".conf"), "w") as f:
            f.write("enabled = false;\n")
    logf = open(os.path.join(WORK, "rspamd.log"), "w")
    env = dict(os.environ)
    rsp = subprocess.Popen(["taskset", "-c", "0", "rspamd", "-f", "-i", "-c",
                            os.path.join(conf, "rspamd.conf"),
                            "--var=CONFDIR=%s" % conf, "--var=LOCAL_CONFDIR=%s" % conf,
                            "--var=DBDIR=%s" % os.path.join(WORK, "rspamd-db"),
                            "--var=RUNDIR=%s" % os.path.join(WORK, "rspamd-db"),
                            "--var=LOGDIR=%s" % WORK],
                           stdout=logf, stderr=logf, preexec_fn=os.setsid, env=env)
    try:
        if not wait_port(port):
            return None
        paths = [p for p, _ in msgs]
        cpu0 = sum(proc_cpu(p) for p in pids_of(rsp.pid))
        t0 = time.time()
        out = {}
        for i in range(0, len(paths), 500):
            r = subprocess.run(["taskset", "-c", "1", "rspamc", "-h", "127.0.0.1:%d" % port,
                                "-n", "4", "-t", "60"] + paths[i:i + 500],
                               capture_output=True, text=True)
            cur = None
            for line in r.stdout.splitlines():
                if line.startswith("Results for file: "):
                    cur = line[len("Results for file: "):].split(" (")[0]
                elif line.startswith("Action: ") and cur is not None:
                    out[cur] = line[len("Action: "):].strip() in ("reject", "add header",
                                                                   "rewrite subject")
        wall = time.time() - t0
        cpu = sum(proc_cpu(p) for p in pids_of(rsp.pid)) - cpu0
        if len(out) != len(paths):
            return None
        return wall, cpu, [out[p] for p in paths]
    finally:
        os.killpg(rsp.pid, signal.SIGTERM)
        rsp.wait(timeout=30)
        logf.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="messages (0: all 3250)")
    ap.add_argument("--skip-sa-cmd", action="store_true")
    ap.add_argument("--skip-rspamd", action="store_true")
    ap.add_argument("--skip-spamd", action="store_true")
    a = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    os.chmod(WORK, 0o777)
    msgs = messages(a.limit)
    nbytes = sum(os.path.getsize(p) for p, _ in msgs)
    rows = []
    print("bench: %d messages, %.1f MB" % (len(msgs), nbytes / 1e6), flush=True)
    runs = [("Sluice (sluice-scan, rules, no Bayes)", lambda: bench_sluice(msgs, None))]
    if not a.skip_spamd:
        runs.append(("SpamAssassin 4.0.1 spamd/spamc -L", lambda: bench_spamd(msgs)))
    if not a.skip_sa_cmd:
        runs.append(("SpamAssassin 4.0.1 spamassassin -L --mbox", lambda: bench_sa_cmd(msgs)))
    if not a.skip_rspamd:
        runs.append(("rspamd 3.4 (rspamc, network modules off)", lambda: bench_rspamd(msgs)))
    for name, fn in runs:
        print("bench: %s ..." % name, flush=True)
        r = fn()
        if r is None:
            print("bench: %s failed (see %s)" % (name, WORK), flush=True)
            continue
        wall, cpu, flags = r
        rec, fp, ns, ts, nh, th = rates(flags, msgs)
        rows.append((name, len(msgs) / wall, nbytes / wall / 1e6, wall, cpu, rec, fp, ns, ts, nh,
                     th))
        print("bench: %s: %.1f msg/s, %.2f MB/s, recall %.1f %%, fp %.2f %%" %
              (name, len(msgs) / wall, nbytes / wall / 1e6, 100 * rec, 100 * fp), flush=True)
    base = rows[0][1] if rows else 1
    lines = ["# Content filter throughput and accuracy", "",
             "Generated by `perf/filter/bench.py` on %s, %d messages (%.1f MB) of the training "
             "groups easy-ham-1, hard-ham-1 and spam-1. Each scanner pinned to CPU 0 (clients on "
             "CPU 1); no Bayes anywhere, network tests off. Sluice's accuracy here is its rules "
             "alone; with Bayes see filter_cv.md. Wall times are of the whole batch on a shared "
             "2-core box: compare the ratios." % (time.strftime("%Y-%m-%d"), len(msgs),
                                                 nbytes / 1e6), "",
             "| scanner | msg/s | MB/s | wall s | scanner CPU s | msg per CPU s | Sluice is x faster "
             "(msg/s) | x (per CPU s) | spam recall | ham FP |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    base_cpu = (len(msgs) / rows[0][4]) if rows and rows[0][4] else None
    for name, mps, mbs, wall, cpu, rec, fp, ns, ts, nh, th in rows:
        per_cpu = len(msgs) / cpu if cpu else None
        lines.append("| %s | %.1f | %.2f | %.2f | %s | %s | %s | %s | %.1f %% (%d/%d) | "
                     "%.2f %% (%d/%d) |" %
                     (name, mps, mbs, wall, "%.2f" % cpu if cpu is not None else "n/a",
                      "%.1f" % per_cpu if per_cpu else "n/a",
                      "%.1f" % (base / mps) if mps else "n/a",
                      "%.1f" % (base_cpu / per_cpu) if per_cpu and base_cpu else "n/a",
                      100 * rec, ns, ts, 100 * fp, nh, th))
    lines.append("")
    la = os.getloadavg()
    lines.append("Load average at the end of the run: %.2f %.2f %.2f (1, 5, 15 min) on %d CPUs "
                 "shared with other engineers: wall-clock figures are inflated by the load, the "
                 "CPU-second columns much less." % (la[0], la[1], la[2], os.cpu_count() or 0))
    if SLUICE_STARTUP:
        st = SLUICE_STARTUP
        lines.append("")
        lines.append("Sluice's row is the scan alone, as reported by `sluice-scan --timing` "
                     "(spamd's and rspamd's start-up is not counted either). The whole "
                     "sluice-scan process, start-up included (Hyperscan databases read from "
                     "the --cache a cold start filled, libmagic load), took %.2f s wall and "
                     "%.2f CPU s: %.1f msg per CPU s. The cold start that compiled the rules "
                     "and filled the cache (`sluice-scan --cache DIR rules`) took %.2f s wall, "
                     "%.2f CPU s." %
                     (st["wall_all"], st["cpu_all"],
                      len(msgs) / st["cpu_all"] if st["cpu_all"] else 0,
                      st["cold_wall"], st["cold_cpu"]))
    lines.append("")
    os.makedirs(os.path.dirname(OUT_MD), exist_ok=True)
    with open(OUT_MD, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(1, 2, figsize=(11, 4))
        names = [r[0].split(" (")[0] for r in rows]
        ax[0].barh(names, [r[1] for r in rows], color="tab:blue")
        ax[0].set_xscale("log")
        ax[0].set_xlabel("messages/s (log)")
        ax[1].barh(names, [100 * r[5] for r in rows], color="tab:green", label="spam recall %")
        ax[1].barh(names, [-100 * r[6] * 10 for r in rows], color="tab:red",
                   label="ham FP % x10 (left)")
        ax[1].legend(loc="lower right", fontsize=7)
        ax[1].set_yticks([])
        fig.suptitle("Content filter, %d training-group messages, one CPU" % len(msgs))
        fig.tight_layout()
        fig.savefig(OUT_PNG, dpi=90)
    except Exception as e:  # noqa: the table is the result; the plot is a courtesy
        print("bench: no plot: %s" % e)


if __name__ == "__main__":
    main()
