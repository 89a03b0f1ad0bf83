#!/bin/bash
# perf/store/run.sh - the store benchmark of issue 3: durable appends/s
# through the group-commit writer (st_msg_deliver) against plain LMDB with
# one transaction and its own fsyncs per message, same data, same disk, in
# one run; writes perf/results/store.{jsonl,md,png}. docs/perf.md explains
# the method and how to read the results.
#
# For each run (RUNS, default 3), each body size (SIZES: 4 KB, 64 KB, 1 MB)
# and each number of submitter threads (SUBMITTERS: 1 8 64 256), the LMDB
# baseline and the store are measured back to back by build/perf/store/
# bench_store, each in a fresh directory under a temp dir on the real disk
# (PARENT, default /var/tmp; never tmpfs), deleted afterwards. The report
# takes medians.
#
# Environment: RUNS (3), SECS (5, per measurement), WARMUP (1), INFLIGHT (4
# requests in flight per store submitter), SIZES, SUBMITTERS, PARENT
# (/var/tmp), BIN (build/perf/store), QUIET_PCT (15) and QUIET_WAIT (60):
# before each measurement wait up to QUIET_WAIT s for the box to be less
# than QUIET_PCT % busy; EXCL_WAIT (1800): before each measurement wait up
# to that long while a test run (run_tests.sh) or another benchmark
# (bench_*, iperf3, smtp-source) is running. What was seen is recorded with
# every run (box_busy_pct, loadavg, others).
set -u
cd "$(dirname "$0")/../.."
. perf/lib/turn.sh

RUNS=${RUNS:-3}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
INFLIGHT=${INFLIGHT:-4}
SIZES=${SIZES:-4096 65536 1048576}
SUBMITTERS=${SUBMITTERS:-1 8 64 256}
PARENT=${PARENT:-/var/tmp}
BIN=${BIN:-build/perf/store}
QUIET_PCT=${QUIET_PCT:-15}
QUIET_WAIT=${QUIET_WAIT:-60}
EXCL_WAIT=${EXCL_WAIT:-1800}
OUT=perf/results
RAW=$OUT/store.jsonl
PY=/usr/bin/python3 # Debian's, with python3-matplotlib

log() { echo "perf/store: $*" >&2; }

if [ "$(stat -f -c %T "$PARENT" 2>/dev/null)" = tmpfs ]; then
	log "$PARENT is tmpfs: fsync would cost nothing there; set PARENT to a directory on disk"
	exit 1
fi
TMP=$(mktemp -d "$PARENT/sluiceperf-store.XXXXXX") || exit 1

cleanup() {
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# record JSON-or-empty MODE SIZE N RUN ERRTEXT: append one result line.
record() {
	local json=$1 mode=$2 size=$3 n=$4 run=$5 err=${6:-}
	$PY - "$json" "$mode" "$size" "$n" "$run" "$BUSY" "$(cut -d' ' -f1-3 /proc/loadavg)" \
		"$OTHERS" "$err" "$HOGS" >>"$RAW" <<'EOF'
import json, sys
js, mode, size, n, run, busy, load, others, err, hogs = sys.argv[1:11]
d = json.loads(js) if js else dict(suite="store", mode=mode, size=int(size), submitters=int(n),
                                   error=err or "failed")
d.update(run=int(run), box_busy_pct=int(busy) if busy else None, loadavg=load)
if others.strip():
    d["others_running"] = others.strip()
if hogs.strip():
    d["busy_procs"] = hogs.strip()
print(json.dumps(d))
EOF
	[ -n "$json" ] || log "$mode size=$size n=$n run $run FAILED: ${err:-failed}"
}

measure() { # MODE SIZE N RUN
	local mode=$1 size=$2 n=$3 run=$4 j
	wait_turn
	timeout $((SECS * 4 + 120)) "$BIN/bench_store" --mode "$mode" --dir "$TMP" --size "$size" \
		--submitters "$n" --inflight "$INFLIGHT" --seconds "$SECS" --warmup "$WARMUP" \
		>"$TMP/out" 2>"$TMP/err"
	local rc=$?
	j=$(grep '^{' "$TMP/out" | tail -n 1)
	if [ -n "$j" ]; then
		record "$j" "$mode" "$size" "$n" "$run"
	else
		record "" "$mode" "$size" "$n" "$run" "exit $rc: $(tail -n 3 "$TMP/err" | tr '\n' ' ')"
	fi
	rm -rf "$TMP"/bench_store.* # after a crash or timeout
}

[ -x "$BIN/bench_store" ] || { log "$BIN/bench_store missing (run make perf-bins)"; exit 1; }
mkdir -p "$OUT"
: >"$RAW"
$PY - >>"$RAW" <<EOF
import json, os, platform, subprocess
def sh(c):
    try: return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception: return ""
print(json.dumps(dict(suite="store", mode="env", date=sh("date -u +%FT%TZ"), kernel=platform.release(),
                      cpu=sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
                      ncpu=os.cpu_count(), commit=os.environ.get("PERF_COMMIT") or sh("git rev-parse --short HEAD"),
                      runs=$RUNS, secs=$SECS, warmup=$WARMUP, inflight=$INFLIGHT,
                      disk=sh("df -P $PARENT | awk 'NR==2{print \$1}'"),
                      fs=sh("findmnt -no FSTYPE -T $PARENT"), parent="$PARENT")))
EOF

for r in $(seq 1 "$RUNS"); do
	for size in $SIZES; do
		for n in $SUBMITTERS; do
			log "run $r/$RUNS: ${size} B, $n submitters: lmdb, then sluice"
			measure lmdb "$size" "$n" "$r"
			measure sluice "$size" "$n" "$r"
		done
	done
done
cleanup
trap - EXIT

$PY perf/store/report.py "$RAW" "$OUT/store.md" "$OUT/store.png" "$OUT/store.notes.md" || exit 1
log "wrote $OUT/store.md and $OUT/store.png"
