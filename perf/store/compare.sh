#!/bin/bash
# perf/store/compare.sh - before/after and diagnostic runs of the store
# benchmark, interleaved so that every variant sees the same disk and the
# same neighbours. For a box whose fsync latency moves with other jobs, this
# says more about a change than two runs of run.sh taken an hour apart.
#
#   OLD=/path/to/old/build/perf/store/bench_store perf/store/compare.sh
#
# Each round measures, for 4 KB x 64 submitters: the LMDB baseline, the old
# store (OLD, if given), the current store, and the current store with
# --hash seq (sequential blob ids: no SHA-256 and no random blob-index
# inserts); then for 1 MB x 8 submitters: baseline, old, current. Results
# are appended as JSON lines (with "variant") to OUT (default
# perf/results/store.compare.jsonl), one summary table printed at the end.
# Environment: ROUNDS (3), SECS (5), WARMUP (1), PARENT (/var/tmp),
# BIN (build/perf/store/bench_store), OLD (unset: skip the old store).
set -u
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
PARENT=${PARENT:-/var/tmp}
BIN=${BIN:-build/perf/store/bench_store}
OLD=${OLD:-}
OUT=${OUT:-perf/results/store.compare.jsonl}
PY=/usr/bin/python3

if [ "$(stat -f -c %T "$PARENT" 2>/dev/null)" = tmpfs ]; then
	echo "compare.sh: $PARENT is tmpfs; set PARENT to a directory on disk" >&2
	exit 1
fi
[ -x "$BIN" ] || { echo "compare.sh: $BIN missing (make perf-bins)" >&2; exit 1; }
TMP=$(mktemp -d "$PARENT/sluiceperf-cmp.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

one() { # VARIANT ROUND BINARY ARGS...
	local variant=$1 round=$2 bin=$3 j
	shift 3
	j=$(timeout $((SECS * 4 + 120)) "$bin" --dir "$TMP" --seconds "$SECS" --warmup "$WARMUP" "$@" \
		2>"$TMP/err" | grep '^{' | tail -n 1)
	if [ -z "$j" ]; then
		echo "compare.sh: $variant round $round failed: $(tail -n 2 "$TMP/err" | tr '\n' ' ')" >&2
		return
	fi
	$PY -c 'import json, sys
d = json.loads(sys.argv[1]); d.update(variant=sys.argv[2], round=int(sys.argv[3]),
    loadavg=open("/proc/loadavg").read().split()[0])
print(json.dumps(d))' "$j" "$variant" "$round" >>"$OUT"
	rm -rf "$TMP"/bench_store.*
}

echo "{\"suite\": \"store-compare\", \"mode\": \"env\", \"date\": \"$(date -u +%FT%TZ)\", \"commit\": \"$(git rev-parse --short HEAD)\", \"old\": \"${OLD}\"}" >>"$OUT"
for r in $(seq 1 "$ROUNDS"); do
	echo "compare.sh: round $r/$ROUNDS" >&2
	one lmdb "$r" "$BIN" --mode lmdb --size 4096 --submitters 64
	[ -n "$OLD" ] && one old "$r" "$OLD" --mode sluice --size 4096 --submitters 64
	one new "$r" "$BIN" --mode sluice --size 4096 --submitters 64
	one new-hash-seq "$r" "$BIN" --mode sluice --size 4096 --submitters 64 --hash seq
	one lmdb "$r" "$BIN" --mode lmdb --size 1048576 --submitters 8
	[ -n "$OLD" ] && one old "$r" "$OLD" --mode sluice --size 1048576 --submitters 8
	one new "$r" "$BIN" --mode sluice --size 1048576 --submitters 8
done

$PY - "$OUT" <<'EOF'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("mode") == "env":
        rows = {}  # only the last invocation
        continue
    rows.setdefault((d["size"], d["variant"]), []).append(d)
print("| body | variant | msgs/s (median) | each round | disk bytes/msg | CPU ms/msg |")
print("|---|---|---:|---|---:|---:|")
for (size, var), v in sorted(rows.items()):
    m = statistics.median(x["msgs_per_s"] for x in v)
    each = ", ".join(f"{x['msgs_per_s']:,.0f}" for x in v)
    disk = statistics.median(x["disk_written_per_msg"] for x in v)
    cpu = statistics.median(x["cpu_ms_per_msg"] for x in v)
    body = f"{size // 1048576} MB" if size >= 1048576 else f"{size // 1024} KB"
    print(f"| {body} | {var} | {m:,.0f} | {each} | {disk:,.0f} | {cpu:.3f} |")
EOF
