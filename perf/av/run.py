"""perf/av/run.py - filter/av against clamscan on the same files and the same
signatures, single core; writes perf/results/av.{jsonl,md,png}.

    /usr/bin/python3 perf/av/run.py      (perf/av/run.sh is the entry point)

Corpus (built in a temp dir, deleted afterwards): Debian's clamav-testfiles,
plain files from /usr/share/doc, compressed man pages, ELF libraries under
20 MB, and zip / tar.gz archives of documentation made here. Signatures:
(a) tests/data/av/sigs, Sluice's own test signatures; (b) the same plus a
seeded synthetic set (hashes, body and logical signatures that match
nothing real) so that the matchers carry a database of some size.

Each tool runs RUNS times per signature set, alternating, pinned to one CPU
with taskset: `bench_av --db DIR --no-policy --list LIST` and `clamscan
--no-summary -d DIR -f LIST`. Time is wall-clock for the whole process;
"scan" subtracts the same tool's run on a one-file list (start-up and
signature loading). Detections are compared file by file (clamscan's
".UNOFFICIAL" suffix removed). Environment: RUNS (3), CPU (1), MAX_FILES
(3000), SYNTH (10000 synthetic signatures of each kind, 1000 logical).
"""
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH = os.path.join(ROOT, "build/perf/av/bench_av")
SIGS = os.path.join(ROOT, "tests/data/av/sigs")
OUT = os.path.join(ROOT, "perf/results")
RUNS = int(os.environ.get("RUNS", "3"))
CPU = os.environ.get("CPU", "1")
MAX_FILES = int(os.environ.get("MAX_FILES", "3000"))
SYNTH = int(os.environ.get("SYNTH", "10000"))


def log(*a):
    print("perf/av:", *a, file=sys.stderr, flush=True)


def gather(tmp):
    """Copy the corpus into tmp/corpus; return the list of paths."""
    dst = os.path.join(tmp, "corpus")
    os.makedirs(dst)
    picked = []

    def take(path, sub):
        if not os.path.isfile(path) or os.path.islink(path):
            return
        size = os.path.getsize(path)
        if size == 0 or size > 20 << 20:
            return
        d = os.path.join(dst, sub)
        os.makedirs(d, exist_ok=True)
        out = os.path.join(d, "%05d_%s" % (len(picked), os.path.basename(path)))
        shutil.copyfile(path, out)
        picked.append(out)

    for f in sorted(os.listdir("/usr/share/clamav-testfiles")):
        take(os.path.join("/usr/share/clamav-testfiles", f), "testfiles")
    docs = []
    for dirpath, _, files in sorted(os.walk("/usr/share/doc")):
        for f in sorted(files):
            docs.append(os.path.join(dirpath, f))
    man = sorted(os.path.join("/usr/share/man/man1", f) for f in os.listdir("/usr/share/man/man1"))
    libs = sorted(os.path.join("/usr/lib/x86_64-linux-gnu", f) for f in os.listdir("/usr/lib/x86_64-linux-gnu")
                  if ".so" in f)
    budget = MAX_FILES - len(picked) - 60
    for group, share in ((docs, 0.5), (man, 0.3), (libs, 0.2)):
        for p in group[: int(budget * share)]:
            take(p, "clean")
    # archives of documentation, made here
    plain = [p for p in docs if os.path.isfile(p) and not p.endswith(".gz")][:600]
    adir = os.path.join(dst, "archives")
    os.makedirs(adir)
    for i in range(30):
        chunk = plain[i * 20:(i + 1) * 20]
        z = os.path.join(adir, "docs%02d.zip" % i)
        with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in chunk:
                zf.write(p, os.path.relpath(p, "/usr/share/doc"))
        picked.append(z)
        t = os.path.join(adir, "docs%02d.tar.gz" % i)
        with tarfile.open(t, "w:gz") as tf:
            for p in chunk:
                tf.add(p, os.path.relpath(p, "/usr/share/doc"))
        picked.append(t)
    return picked


def synth_sigs(dst):
    """Copy our test signatures and add a seeded synthetic set."""
    shutil.copytree(SIGS, dst)
    os.remove(os.path.join(dst, "README"))
    rnd = random.Random(5)
    hexb = lambda n: "".join("%02x" % rnd.randrange(256) for _ in range(n))
    with open(os.path.join(dst, "synth.hdb"), "w") as f:
        for i in range(SYNTH):
            f.write("%s:%d:Synth.Md5.%d\n" % (hexb(16), rnd.randrange(100, 5 << 20), i))
    with open(os.path.join(dst, "synth.hsb"), "w") as f:
        for i in range(SYNTH):
            f.write("%s:%d:Synth.Sha256.%d\n" % (hexb(32), rnd.randrange(100, 5 << 20), i))
    with open(os.path.join(dst, "synth.ndb"), "w") as f:
        for i in range(SYNTH):
            body = hexb(rnd.randrange(6, 12))
            r = rnd.random()
            if r < 0.2:
                body += "??" + hexb(4)
            elif r < 0.3:
                body += "{2-8}" + hexb(4)
            elif r < 0.35:
                body += "*" + hexb(5)
            elif r < 0.4:
                body += "(%s|%s)%s" % (hexb(1), hexb(1), hexb(3))
            f.write("Synth.Body.%d:0:*:%s\n" % (i, body))
    with open(os.path.join(dst, "synth.ldb"), "w") as f:
        for i in range(SYNTH // 10):
            f.write("Synth.Logical.%d;Engine:51-255,Target:0;0&(1|2);%s;%s;%s\n" % (i, hexb(6), hexb(6), hexb(7)))


def run(cmd, out_path):
    t0 = time.monotonic()
    before = os.times()
    with open(out_path, "w") as out:
        p = subprocess.run(["taskset", "-c", CPU] + cmd, stdout=out, stderr=subprocess.PIPE, text=True)
    after = os.times()
    wall = time.monotonic() - t0
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return p.returncode, wall, cpu, p.stderr


def parse_ours(path):
    res = {}
    with open(path) as f:
        for line in f:
            p, verdict, name = line.rstrip("\n").split("\t")
            res[p] = name if verdict in ("infected", "limits") else ""
    return res


def parse_clam(path):
    res = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if ": " not in line:
                continue
            p, rest = line.rsplit(": ", 1)
            if rest.endswith(" FOUND"):
                name = rest[: -len(" FOUND")]
                res[p] = name[: -len(".UNOFFICIAL")] if name.endswith(".UNOFFICIAL") else name
            else:
                res[p] = ""
    return res


def measure(tool, db, lst, one, tmp):
    if tool == "sluice":
        full = [BENCH, "--db", db, "--no-policy", "--list", lst]
        small = [BENCH, "--db", db, "--no-policy", "--list", one]
    else:
        full = ["clamscan", "--no-summary", "-d", db, "-f", lst]
        small = ["clamscan", "--no-summary", "-d", db, "-f", one]
    out = os.path.join(tmp, "%s.out" % tool)
    rc0, w0, c0, _ = run(small, out + ".one")
    rc, w, c, err = run(full, out)
    # clamscan exits 1 when it found something, 2 on error
    ok = rc in (0, 1) if tool == "clamscan" else rc == 0
    if not ok:
        raise RuntimeError("%s failed (%d): %s" % (tool, rc, err[-500:]))
    det = parse_ours(out) if tool == "sluice" else parse_clam(out)
    return {"wall_s": w, "cpu_s": c, "startup_wall_s": w0, "startup_cpu_s": c0, "det": det}


def main():
    for need in (BENCH, shutil.which("clamscan") or "/nonexistent", shutil.which("taskset") or "/nonexistent"):
        if not os.path.exists(need):
            log("missing", need, "(make perf-bins; apt-get install clamav)")
            return 1
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="sluiceperf-av.")
    try:
        files = gather(tmp)
        total = sum(os.path.getsize(p) for p in files)
        lst = os.path.join(tmp, "list.txt")
        with open(lst, "w") as f:
            f.write("\n".join(files) + "\n")
        one = os.path.join(tmp, "one.txt")
        with open(one, "w") as f:
            f.write(files[-1] + "\n")
        big = os.path.join(tmp, "sigs-synth")
        synth_sigs(big)
        sets = {"test sigs": SIGS, "test + synthetic": big}
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        clamver = subprocess.run(["clamscan", "--version"], capture_output=True, text=True).stdout.strip()
        rows = []
        env = {"mode": "env", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": commit,
               "files": len(files), "bytes": total, "clamscan": clamver, "runs": RUNS, "cpu": CPU,
               "synth": SYNTH, "nproc": os.cpu_count()}
        log("%d files, %.1f MB; %s" % (len(files), total / 1e6, clamver))
        for setname, db in sets.items():
            for r in range(RUNS):
                for tool in (("sluice", "clamscan") if r % 2 == 0 else ("clamscan", "sluice")):
                    m = measure(tool, db, lst, one, tmp)
                    row = {"mode": tool, "sigs": setname, "run": r}
                    row.update({k: v for k, v in m.items() if k != "det"})
                    if r == 0:
                        row["det"] = m["det"]
                    rows.append(row)
                    log("%s / %s run %d: %.2f s wall, %.2f s cpu" % (setname, tool, r, m["wall_s"], m["cpu_s"]))
        with open(os.path.join(OUT, "av.jsonl"), "w") as f:
            f.write(json.dumps(env) + "\n")
            for row in rows:
                f.write(json.dumps(row) + "\n")
        report(env, rows, os.path.join(OUT, "av.md"), os.path.join(OUT, "av.png"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def short(p):
    return os.path.basename(p).split("_", 1)[1] if "_" in os.path.basename(p) else os.path.basename(p)


def report(env, rows, md_path, png_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = []
    for r in rows:
        if r["sigs"] not in sets:
            sets.append(r["sigs"])
    lines = ["# Virus scanning benchmark (perf/av)", ""]
    lines.append("Run %s on commit `%s`: %d files, %.1f MB (clamav-testfiles, /usr/share/doc, man pages, ELF "
                 "libraries, 60 zip/tar.gz archives of docs); one CPU (taskset -c %s of %d); %d runs each, "
                 "medians; %s. `sluice` is build/perf/av/bench_av (filter/av, policy off: clamscan has none)."
                 % (env["time"], env["commit"], env["files"], env["bytes"] / 1e6, env["cpu"], env["nproc"],
                    env["runs"], env["clamscan"]))
    lines.append("")
    lines.append("Scan time is the whole run minus the same tool's run on a one-file list (start-up and "
                 "signature loading), so files/s and MB/s are scanning alone.")
    lines.append("")
    lines.append("On a shared 2-core box the wall-clock figures move with other users' load; the CPU "
                 "seconds (user + system of the tool's process, start-up run subtracted the same way) are "
                 "the steadier comparison.")
    lines.append("")
    lines.append("| signatures | tool | wall s | start-up s | scan s | files/s | MB/s | scan CPU s | "
                 "speed-up (wall) | speed-up (CPU) |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    perf = {}
    for s in sets:
        for tool in ("sluice", "clamscan"):
            rr = [r for r in rows if r["sigs"] == s and r["mode"] == tool]
            wall = statistics.median(r["wall_s"] for r in rr)
            start = statistics.median(r["startup_wall_s"] for r in rr)
            cpu = statistics.median(r["cpu_s"] - r["startup_cpu_s"] for r in rr)
            scan = max(wall - start, 1e-6)
            perf[(s, tool)] = (wall, start, scan, max(cpu, 1e-6))
        for tool in ("sluice", "clamscan"):
            wall, start, scan, cpu = perf[(s, tool)]
            sp = perf[(s, "clamscan")][2] / scan
            spc = perf[(s, "clamscan")][3] / cpu
            lines.append("| %s | %s | %.2f | %.2f | %.2f | %.0f | %.1f | %.2f | %s | %s |"
                         % (s, tool, wall, start, scan, env["files"] / scan, env["bytes"] / 1e6 / scan, cpu,
                            "%.1fx" % sp if tool == "sluice" else "", "%.1fx" % spc if tool == "sluice" else ""))
    lines.append("")
    for s in sets:
        ours = next(r["det"] for r in rows if r["sigs"] == s and r["mode"] == "sluice" and "det" in r)
        theirs = next(r["det"] for r in rows if r["sigs"] == s and r["mode"] == "clamscan" and "det" in r)
        both = sorted(p for p in ours if ours[p] and theirs.get(p) and ours[p] == theirs[p])
        diff = sorted(p for p in set(ours) | set(theirs) if (ours.get(p) or "") != (theirs.get(p) or ""))
        lines.append("## Detections with %s" % s)
        lines.append("")
        lines.append("Same verdict and name on %d of %d files; detected by both with the same name: %d; "
                     "detected by clamscan only: %d; by sluice only: %d; different names: %d."
                     % (env["files"] - len(diff), env["files"], len(both),
                        sum(1 for p in diff if theirs.get(p) and not ours.get(p)),
                        sum(1 for p in diff if ours.get(p) and not theirs.get(p)),
                        sum(1 for p in diff if ours.get(p) and theirs.get(p))))
        lines.append("")
        if diff:
            lines.append("| file | sluice | clamscan |")
            lines.append("|---|---|---|")
            for p in diff:
                lines.append("| %s | %s | %s |" % (short(p), ours.get(p) or "clean", theirs.get(p) or "clean"))
            lines.append("")
    lines.append("The containers, encodings and PE packers filter/av opens, their limits, and the variants "
                 "it does not open yet are listed in docs/filter-av.md.")
    with open(md_path, "w") as f:
        f.write("\n".join(lines) + "\n")

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    x = range(len(sets))
    for ax, (idx, label) in zip(axes, ((2, "files/s (scan only)"), (2, "MB/s (scan only)"))):
        for j, tool in enumerate(("sluice", "clamscan")):
            vals = [(env["files"] if "files" in label else env["bytes"] / 1e6) / perf[(s, tool)][idx] for s in sets]
            ax.bar([i + j * 0.4 for i in x], vals, width=0.4, label=tool)
        ax.set_xticks([i + 0.2 for i in x])
        ax.set_xticklabels(sets)
        ax.set_ylabel(label)
        ax.legend()
    fig.suptitle("filter/av vs clamscan, one CPU, %d files / %.0f MB" % (env["files"], env["bytes"] / 1e6))
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--report":
        with open(os.path.join(OUT, "av.jsonl")) as f:
            data = [json.loads(l) for l in f if l.strip()]
        report(data[0], data[1:], os.path.join(OUT, "av.md"), os.path.join(OUT, "av.png"))
        sys.exit(0)
    sys.exit(main())
