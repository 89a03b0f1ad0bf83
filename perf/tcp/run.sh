#!/bin/bash
# perf/tcp/run.sh - the TCP benchmarks of issue 2, Sluice and Linux side by
# side in one run; writes perf/results/tcp.{jsonl,md,png}. docs/perf.md
# explains the method and how to read the results.
#
#   (a) bench_pair: two netstack instances on lcores 0 and 1 over rte_rings
#       (MTU 65000), bulk Gbps and new connections/s, against iperf3 and
#       bench_kernel_connect over loopback in a private namespace, pinned
#       to the same two CPUs.
#   (b) one bulk sender (bench_bulk_send) to the appliance's discard service
#       over the TAP, against the same sender to bench_discard_server over a
#       veth pair between two namespaces of our own.
#   (c) idle CPU of sluiced over 10 s with no traffic.
#
# Each measurement runs RUNS times (default 3), Sluice and reference
# interleaved; the report takes medians. Binaries come from `make
# perf-bins` (`make perf` builds them and calls perf/run_all.sh).
#
# Environment: RUNS (3), SECS (5, per measurement), WARMUP (1), CONC (64,
# connections in flight), PORTS (8, listening ports for the conn tests),
# IDLE_SECS (10), PARTS ("a b c"), KEEP (0; 1 = keep the results of the
# parts not in PARTS from the previous run), BIN (build/perf/tcp).
# QUIET_PCT (15) and QUIET_WAIT (60): before each measurement, wait up to
# QUIET_WAIT s for the box to be less than QUIET_PCT % busy (other jobs);
# the busy figure seen is recorded with every run as box_busy_pct.
# RETRIES (2) and DISTURBED_PCT (10): an (a) run during which other jobs
# used more than DISTURBED_PCT % of the box's CPU is repeated, at most
# RETRIES times. APPLIANCE_WAIT (900): see appliance_up.
set -u
cd "$(dirname "$0")/../.."
. perf/lib/turn.sh

RUNS=${RUNS:-3}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
CONC=${CONC:-64}
PORTS=${PORTS:-8}
IDLE_SECS=${IDLE_SECS:-10}
PARTS=${PARTS:-a b c}
BIN=${BIN:-build/perf/tcp}
QUIET_PCT=${QUIET_PCT:-15}
QUIET_WAIT=${QUIET_WAIT:-60}
OUT=perf/results
RAW=$OUT/tcp.jsonl
PY=/usr/bin/python3 # Debian's, with python3-matplotlib
# CPUs: the pair uses EAL lcores 0 and 1; every reference is pinned to the
# same two CPUs. sluiced's worker is lcore 0 (conf/demo.conf default).
CPU_A=0
CPU_B=1

NS_LO=sluiceperf-lo
NS_A=sluiceperf-a
NS_B=sluiceperf-b
VETH_IP_A=198.19.0.1
VETH_IP_B=198.19.0.2
APPLIANCE_IP=198.18.0.2

TMP=$(mktemp -d /tmp/sluiceperf.XXXXXX)
BG_PIDS=()
DISCARD_PID=""
STARTED_APPLIANCE=0

log() { echo "perf/tcp: $*" >&2; }

# wait_quiet: wait (up to QUIET_WAIT s) for the box to be quiet; sets BUSY.
wait_quiet() {
	local t=0
	BUSY=$(box_busy)
	while [ "$BUSY" -gt "$QUIET_PCT" ] && [ "$t" -lt "$QUIET_WAIT" ]; do
		[ "$t" = 0 ] && log "box is ${BUSY}% busy (other jobs); waiting up to ${QUIET_WAIT}s"
		sleep 1
		t=$((t + 2))
		BUSY=$(box_busy)
	done
}

cleanup() {
	for p in "${BG_PIDS[@]}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	BG_PIDS=()
	for ns in "$NS_LO" "$NS_A" "$NS_B"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [ "$STARTED_APPLIANCE" = 1 ] && appliance_mine; then
		scripts/appliance.sh stop
	fi
	STARTED_APPLIANCE=0
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# record BENCH IMPL RUN JSON-or-empty ERRTEXT: append one result line.
record() {
	local bench=$1 impl=$2 run=$3 json=$4 err=${5:-}
	if [ -n "$json" ]; then
		printf '%s\n' "$json" | $PY -c '
import json, sys
d = json.loads(sys.stdin.readline())
d.update(bench=sys.argv[1], impl=sys.argv[2], run=int(sys.argv[3]))
if sys.argv[4]:
    d["box_busy_pct"] = int(sys.argv[4])
print(json.dumps(d))' "$bench" "$impl" "$run" "$BUSY" >>"$RAW"
	else
		$PY -c '
import json, sys
print(json.dumps(dict(suite="tcp", bench=sys.argv[1], impl=sys.argv[2], run=int(sys.argv[3]),
                      error=sys.argv[4])))' "$bench" "$impl" "$run" "${err:-failed}" >>"$RAW"
		log "$bench/$impl run $run FAILED: ${err:-failed}"
	fi
}

# last_json FILE: the last line of FILE that looks like a JSON object.
last_json() { grep '^{' "$1" 2>/dev/null | tail -n 1; }

need_bin() {
	for b in "$@"; do
		[ -x "$BIN/$b" ] || { log "$BIN/$b missing (run make perf-bins)"; return 1; }
	done
}

fresh_lo_ns() {
	ip netns del "$NS_LO" 2>/dev/null
	ip netns add "$NS_LO" && ip -n "$NS_LO" link set lo up
}

# ---- (a) ----
#
# Each *_once function runs one measurement and sets J (its JSON line) or
# ERR. measure() retries a failed run, and a disturbed one: one during
# which other jobs used more than DISTURBED_PCT % of the box's CPU
# (others_pct). Up to RETRIES extra attempts; the last attempt is recorded
# either way, with "attempts" and "disturbed" in its JSON.
RETRIES=${RETRIES:-2}
DISTURBED_PCT=${DISTURBED_PCT:-10}
J="" ERR=""

# disturbed JSON: true when other jobs (or the hypervisor) used more than
# DISTURBED_PCT % of the box's CPU during the measured window (others_pct:
# all busy CPU minus the two sides' own threads minus softirq).
disturbed() {
	printf '%s\n' "$1" | $PY -c '
import json, sys
d = json.loads(sys.stdin.readline())
o = d.get("others_pct")
sys.exit(0 if o is not None and o > float(sys.argv[1]) else 1)' "$DISTURBED_PCT"
}

measure() { # BENCH IMPL RUN FN [args]: run FN until undisturbed, record
	local bench=$1 impl=$2 run=$3 fn=$4 a keep=""
	shift 4
	for a in $(seq 1 $((RETRIES + 1))); do
		J="" ERR=""
		wait_quiet
		"$fn" "$@"
		if [ -z "$J" ]; then
			J=$keep
			[ "$a" -le "$RETRIES" ] && log "$bench/$impl run $run failed ($ERR), again"
			continue
		fi
		if ! disturbed "$J"; then
			J=$(printf '%s\n' "$J" | $PY -c 'import json,sys; d=json.loads(sys.stdin.readline()); d.update(attempts=int(sys.argv[1]), disturbed=False); print(json.dumps(d))' "$a")
			break
		fi
		J=$(printf '%s\n' "$J" | $PY -c 'import json,sys; d=json.loads(sys.stdin.readline()); d.update(attempts=int(sys.argv[1]), disturbed=True); print(json.dumps(d))' "$a")
		keep=$J
		[ "$a" -le "$RETRIES" ] && log "$bench/$impl run $run: disturbed by other jobs, again"
	done
	if [ -n "$J" ]; then record "$bench" "$impl" "$run" "$J"
	else record "$bench" "$impl" "$run" "" "${ERR:-failed}"; fi
}

pair_once() { # MODE [extra args]
	local mode=$1
	shift
	need_bin bench_pair || { ERR="not built"; return; }
	timeout 120 "$BIN/bench_pair" "$mode" --seconds "$SECS" --warmup "$WARMUP" "$@" \
		>"$TMP/out" 2>"$TMP/err"
	J=$(last_json "$TMP/out")
	[ -n "$J" ] || ERR=$(tail -n 3 "$TMP/err" | tr '\n' ' ')
}

# boxstat: "now_s busy_jiffies softirq_jiffies" of the whole box.
boxstat() {
	awk -v now="$(date +%s.%N)" '/^cpu / { print now, $2 + $3 + $4 + $7 + $8 + $9, $8; exit }' /proc/stat
}

# schedstat PID: "run_ns wait_ns" of a process's main thread (0 0 if gone).
schedstat() {
	local run wait rest
	read -r run wait rest 2>/dev/null <"/proc/$1/schedstat" && [ -n "$wait" ] || { echo "0 0"; return; }
	echo "$run $wait"
}

iperf_once() { # one stream over loopback, client on CPU_A, server on CPU_B
	fresh_lo_ns || { ERR="netns"; return; }
	ip netns exec "$NS_LO" iperf3 -s -1 -A "$CPU_B" >"$TMP/iperf_s" 2>&1 &
	local spid=$! tpid cpid s0 c0 s1 c1 b0 b1 i
	BG_PIDS+=("$spid")
	# On a busy box the server can take a while to listen.
	for i in $(seq 1 50); do
		ip netns exec "$NS_LO" ss -Hltn 'sport = :5201' 2>/dev/null | grep -q . && break
		sleep 0.1
	done
	# -O WARMUP: omit the slow-start seconds, as bench_pair's warm-up does.
	ip netns exec "$NS_LO" timeout 120 iperf3 -c 127.0.0.1 -t "$SECS" -O "$WARMUP" \
		-A "$CPU_A" -J >"$TMP/iperf.json" 2>"$TMP/err" &
	tpid=$!
	# Run and run-queue wait of both iperf3 processes and the box's busy
	# and softirq jiffies, from after the omitted warm-up until the
	# client's last sample before it exits (the client is timeout's child).
	sleep "$WARMUP"
	cpid=$(pgrep -n -P "$tpid")
	cpid=${cpid:-$tpid}
	s0=$(schedstat "$spid") c0=$(schedstat "$cpid") b0=$(boxstat)
	s1=$s0 c1=$c0 b1=$b0
	while kill -0 "$cpid" 2>/dev/null; do
		local sn cn bn
		bn=$(boxstat) sn=$(schedstat "$spid") cn=$(schedstat "$cpid")
		[ "$sn" = "0 0" ] || [ "$cn" = "0 0" ] && break
		s1=$sn c1=$cn b1=$bn
		sleep 0.2
	done
	wait "$tpid" 2>/dev/null
	wait "$spid" 2>/dev/null
	BG_PIDS=("${BG_PIDS[@]/$spid/}")
	J=$($PY - "$TMP/iperf.json" "$c0" "$c1" "$s0" "$s1" "$b0" "$b1" "$(getconf CLK_TCK)" 2>"$TMP/pyerr" <<'EOF'
import json, os, sys
try:
    e = json.load(open(sys.argv[1]))["end"]
    (cr0, cw0), (cr1, cw1), (sr0, sw0), (sr1, sw1) = (map(int, a.split()) for a in sys.argv[2:6])
    (t0, busy0, sirq0), (t1, busy1, sirq1) = (map(float, a.split()) for a in sys.argv[6:8])
    tck = float(sys.argv[8])
    win = t1 - t0
    others = ((busy1 - busy0 - sirq1 + sirq0) / tck - (cr1 - cr0 + sr1 - sr0) / 1e9) / (os.cpu_count() * win) * 100 if win > 0 else None
    print(json.dumps(dict(suite="tcp", gbps=round(e["sum_received"]["bits_per_second"] / 1e9, 3),
                          bytes=e["sum_received"]["bytes"], seconds=e["sum_received"]["seconds"],
                          retransmits=e["sum_sent"].get("retransmits"), mtu=65536,
                          cpu=e.get("cpu_utilization_percent"),
                          thread_wait_ms=[round((cw1 - cw0) / 1e6, 1), round((sw1 - sw0) / 1e6, 1)],
                          others_pct=None if others is None else round(max(others, 0), 1))))
except Exception as ex:
    print(f"cannot read iperf3's result: {ex!r}", file=sys.stderr)
EOF
)
	[ -n "$J" ] || ERR="iperf3: $($PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get("error", ""))' "$TMP/iperf.json" 2>/dev/null) $(tail -n 2 "$TMP/err" | tr '\n' ' ') $(cat "$TMP/pyerr")"
	ip netns del "$NS_LO" 2>/dev/null
}

kconn_once() { # CONC
	need_bin bench_kernel_connect || { ERR="not built"; return; }
	fresh_lo_ns || { ERR="netns"; return; }
	ip netns exec "$NS_LO" timeout 120 "$BIN/bench_kernel_connect" --seconds "$SECS" \
		--warmup "$WARMUP" --concurrency "$1" --ports "$PORTS" \
		--client-cpu "$CPU_A" --server-cpu "$CPU_B" >"$TMP/out" 2>"$TMP/err"
	J=$(last_json "$TMP/out")
	[ -n "$J" ] || ERR=$(tail -n 2 "$TMP/err" | tr '\n' ' ')
	ip netns del "$NS_LO" 2>/dev/null
}

part_a() {
	for r in $(seq 1 "$RUNS"); do
		log "(a) run $r/$RUNS: bulk"
		measure pair_bulk sluice "$r" pair_once bulk
		measure loopback_bulk linux "$r" iperf_once
		log "(a) run $r/$RUNS: connections, $CONC in flight"
		measure pair_conn sluice "$r" pair_once conn --concurrency "$CONC" --ports "$PORTS"
		measure loopback_conn linux "$r" kconn_once "$CONC"
		log "(a) run $r/$RUNS: connections, sequential"
		measure pair_conn_seq sluice "$r" pair_once conn --concurrency 1 --ports "$PORTS"
		measure loopback_conn_seq linux "$r" kconn_once 1
	done
}

# ---- (b) and (c) ----

veth_up() {
	ip netns add "$NS_A" && ip netns add "$NS_B" &&
		ip link add sp-veth-a netns "$NS_A" type veth peer name sp-veth-b netns "$NS_B" &&
		ip -n "$NS_A" addr add "$VETH_IP_A/24" dev sp-veth-a &&
		ip -n "$NS_B" addr add "$VETH_IP_B/24" dev sp-veth-b &&
		ip -n "$NS_A" link set lo up && ip -n "$NS_B" link set lo up &&
		ip -n "$NS_A" link set sp-veth-a up && ip -n "$NS_B" link set sp-veth-b up || return 1
	ip netns exec "$NS_B" taskset -c "$CPU_A" "$BIN/bench_discard_server" --port 9 \
		2>"$TMP/discard.log" &
	BG_PIDS+=($!)
	DISCARD_PID=$!
	for _ in $(seq 1 50); do
		ip netns exec "$NS_A" bash -c "exec 3<>/dev/tcp/$VETH_IP_B/9" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# The client runs on CPU_B: sluiced's worker and the kernel discard server
# both sit on CPU_A.
bulk_send_once() { # NETNS ADDR SERVER_PID|@appliance: sets J or ERR
	local c0 c1 w0 w1 spid=$3
	[ "$spid" = @appliance ] && spid=$MY_PID
	c0=$(awk '{print $14 + $15}' "/proc/$spid/stat" 2>/dev/null)
	w0=$(date +%s.%N)
	ip netns exec "$1" taskset -c "$CPU_B" timeout 60 "$BIN/bench_bulk_send" --addr "$2" \
		--port 9 --seconds "$SECS" >"$TMP/out" 2>"$TMP/err"
	local rc=$?
	c1=$(awk '{print $14 + $15}' "/proc/$spid/stat" 2>/dev/null)
	w1=$(date +%s.%N)
	J=$(last_json "$TMP/out")
	[ -n "$J" ] || { ERR="exit $rc: $(tail -n 2 "$TMP/err" | tr '\n' ' ')"; return; }
	# The server's CPU (all its threads) while the client ran, % of one core.
	J=$(printf '%s\n' "$J" | $PY -c '
import json, sys
d = json.loads(sys.stdin.readline())
c0, c1, w0, w1, tck = sys.argv[1:6]
if c0 and c1:
    d["server_cpu_pct"] = round((float(c1) - float(c0)) / float(tck) / (float(w1) - float(w0)) * 100, 1)
print(json.dumps(d))' "$c0" "$c1" "$w0" "$w1" "$(getconf CLK_TCK)")
}

# appliance_ensure: our appliance is running, (re)started if another job
# stopped it.
appliance_ensure() {
	appliance_mine && return 0
	STARTED_APPLIANCE=0 MY_PID=""
	appliance_up
}

# on_appliance BENCH RUN FN [args]: run FN against our appliance; a run
# during which the appliance stopped being ours (the e2e suite restarts it)
# is discarded and repeated, at most RETRIES times.
on_appliance() {
	local bench=$1 run=$2 fn=$3 a rc
	shift 3
	for a in $(seq 1 $((RETRIES + 1))); do
		J="" ERR=""
		appliance_ensure || { ERR="appliance busy with another job or did not start"; break; }
		wait_quiet
		"$fn" "$@"
		rc=$?
		if [ "$rc" != 2 ] && appliance_mine; then
			break
		fi
		J="" ERR="appliance was stopped by another job"
		log "$bench run $run: $ERR; again"
	done
	if [ -n "$J" ]; then record "$bench" sluice "$run" "$J"
	else record "$bench" sluice "$run" "" "$ERR"; fi
}

# The appliance is shared with the e2e suite (tests/e2e), which stops any
# running appliance when it starts and restarts it per config. We wait for
# no appliance and no e2e run, start our own, remember its pid, check before
# and after every measurement that it is still ours, and stop only ours.
MY_PID=""
APPLIANCE_WAIT=${APPLIANCE_WAIT:-900}

appliance_up() {
	local t=0
	while appliance_busy && [ "$t" -lt "$APPLIANCE_WAIT" ]; do
		[ "$t" = 0 ] && log "an appliance or the e2e suite is running; waiting up to ${APPLIANCE_WAIT}s"
		sleep 5
		t=$((t + 5))
	done
	appliance_busy && { log "appliance still in use by someone else"; return 1; }
	[ -x build/sluiced ] && [ -x build/sluicectl ] || { log "build/sluiced not built"; return 1; }
	scripts/appliance.sh start >"$TMP/appliance.log" 2>&1 || {
		cat "$TMP/appliance.log" >&2
		return 1
	}
	STARTED_APPLIANCE=1
	MY_PID=$(cat /run/sluice/sluiced.pid 2>/dev/null)
}

# idle_once: CPU of sluiced (all its threads) over IDLE_SECS with no
# traffic; sets J or ERR; returns 2 if the appliance stopped being ours.
idle_once() {
	local pid=$MY_PID t0 t1 w0 w1 status tck
	tck=$(getconf CLK_TCK)
	sleep 1
	appliance_mine || return 2
	t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	w0=$(date +%s.%N)
	sleep "$IDLE_SECS"
	t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	w1=$(date +%s.%N)
	status=$(build/sluicectl status 2>&1)
	appliance_mine || return 2
	printf '%s\n' "$status" >"$TMP/status"
	J=$($PY - "$t0" "$t1" "$w0" "$w1" "$tck" "$TMP/status" <<'EOF'
import json, sys
t0, t1, w0, w1, tck = (float(x) for x in sys.argv[1:6])
status = open(sys.argv[6]).read()
print(json.dumps(dict(suite="tcp", cpu_pct=round((t1 - t0) / tck / (w1 - w0) * 100, 3),
                      ticks=t1 - t0, seconds=round(w1 - w0, 3), clk_tck=tck,
                      worker_sleeping="sleeping" in status, status=status.strip())))
EOF
)
	[ -n "$J" ] || ERR="could not read sluiced's CPU time"
}

part_bc() {
	local want_b=$1 want_c=$2 r
	need_bin bench_bulk_send bench_discard_server || want_b=0
	# (c) first, on a freshly started appliance, before any traffic.
	if [ "$want_c" = 1 ]; then
		for r in $(seq 1 "$RUNS"); do
			log "(c) run $r/$RUNS: idle CPU over ${IDLE_SECS}s"
			on_appliance idle_cpu "$r" idle_once
		done
	fi
	if [ "$want_b" = 1 ]; then
		veth_up || log "veth setup failed"
		for r in $(seq 1 "$RUNS"); do
			log "(b) run $r/$RUNS"
			J="" ERR=""
			wait_quiet
			bulk_send_once "$NS_A" "$VETH_IP_B" "$DISCARD_PID"
			if [ -n "$J" ]; then record veth_bulk linux "$r" "$J"
			else record veth_bulk linux "$r" "" "$ERR"; fi
			on_appliance tap_bulk "$r" bulk_send_once sluice "$APPLIANCE_IP" @appliance
		done
		appliance_mine && build/sluicectl show stats >"$OUT/tcp_appliance_stats.txt" 2>&1
	fi
}

mkdir -p "$OUT"
if [ "${KEEP:-0}" = 1 ] && [ -f "$RAW" ]; then
	# Re-run only PARTS (e.g. when the e2e suite took the appliance away):
	# keep the other parts' results of the previous run.
	$PY - "$RAW" "$PARTS" <<'EOF'
import json, sys
part_of = {"pair_bulk": "a", "loopback_bulk": "a", "pair_conn": "a", "loopback_conn": "a",
           "pair_conn_seq": "a", "loopback_conn_seq": "a", "tap_bulk": "b", "veth_bulk": "b",
           "idle_cpu": "c"}
parts = sys.argv[2].split()
keep = [l for l in open(sys.argv[1]) if l.strip() and
        part_of.get(json.loads(l).get("bench"), "env") not in parts]
open(sys.argv[1], "w").writelines(keep)
EOF
else
	: >"$RAW"
fi
$PY - >>"$RAW" <<EOF
import json, os, platform, subprocess
def sh(c):
    try: return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception: return ""
print(json.dumps(dict(suite="tcp", bench="env", date=sh("date -u +%FT%TZ"), kernel=platform.release(),
                      cpu=sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
                      ncpu=os.cpu_count(), commit=os.environ.get("PERF_COMMIT") or sh("git rev-parse --short HEAD"),
                      runs=$RUNS, secs=$SECS, warmup=$WARMUP, conc=$CONC, ports=$PORTS,
                      idle_secs=$IDLE_SECS, parts="$PARTS")))
EOF

case " $PARTS " in *" a "*) part_a ;; esac
want_b=0 want_c=0
case " $PARTS " in *" b "*) want_b=1 ;; esac
case " $PARTS " in *" c "*) want_c=1 ;; esac
if [ "$want_b" = 1 ] || [ "$want_c" = 1 ]; then
	part_bc "$want_b" "$want_c"
fi
cleanup
trap - EXIT

$PY perf/tcp/report.py "$RAW" "$OUT/tcp.md" "$OUT/tcp.png" || exit 1
log "wrote $OUT/tcp.md and $OUT/tcp.png"
