#!/bin/bash
# perf/smtp/run.sh - the SMTP benchmark of issue 4: Postfix's smtp-source
# (4 KB messages, 20 and 100 sessions, 20,000 messages) against Sluice over
# the TAP and against Postfix 3.7 (Debian) delivering to Maildir with its
# durable queue, over a veth pair between two namespaces of our own, in one
# run; writes perf/results/smtp.{jsonl,md,png}. docs/perf.md explains the
# method and how to read the results.
#
# Per run (RUNS, default 3) and session count (SESSIONS, "20 100"), Sluice
# then Postfix, each on a fresh server:
#
#   Sluice:  scripts/appliance.sh start with conf/demo.conf, except that the
#            store lives in our temp dir on the real disk and
#            max_connections_per_ip is 1000 (the whole client is one
#            address; Postfix exempts it through mynetworks); it provisions
#            demo@sluice.test. smtp-source runs in namespace `sluice` against
#            198.18.0.2:25. CPU: utime+stime of sluiced (all threads) from
#            /proc/PID/stat; memory: its VmHWM. Stopped afterwards.
#   Postfix: a separate instance (config_directory, queue_directory,
#            data_directory under our temp dir) in namespace sluiceperf-pfx,
#            inet_interfaces 198.19.2.2, virtual(8) delivery of sluice.test
#            to Maildir/, queue and delivery fsyncs as shipped. smtp-source
#            runs in namespace sluiceperf-pfc (198.19.2.1) over a veth pair.
#            The master is started inside a cpuacct cgroup of our own, so
#            every process it forks (smtpd, cleanup, qmgr, trivial-rewrite,
#            virtual, ...) is accounted there, exited ones included: CPU is
#            the cgroup's usage from the start of the load until the last
#            message is in the Maildir (Sluice's 250 means "in the mailbox";
#            Postfix's means "in the queue"). Memory: procwatch.py sums the
#            VmHWM of the processes alive at each sample.
#
# The client is the same binary with the same arguments, pinned to CPU
# CLIENT_CPU (1): sluiced's worker lcore sits on CPU 0.
#
# Environment: RUNS (3), SESSIONS ("20 100"), MSGS (20000), SIZE (4096),
# CLIENT_CPU (1), PARENT (/var/tmp), QUIET_PCT (15), QUIET_WAIT (60),
# EXCL_WAIT (1800): before each measurement wait that long at most while a
# test run or another benchmark runs; APPLIANCE_WAIT (1800): for the shared
# appliance namespace to be free. DRAIN_WAIT (600): Postfix delivery (given
# up after 60 s without progress). CLIENT_TIMEOUT (900): smtp-source.
# IMPLS ("sluice postfix"): which sides to run (one alone for diagnosis).
set -u
cd "$(dirname "$0")/../.."
. perf/lib/turn.sh

RUNS=${RUNS:-3}
SESSIONS=${SESSIONS:-20 100}
MSGS=${MSGS:-20000}
SIZE=${SIZE:-4096}
CLIENT_CPU=${CLIENT_CPU:-1}
PARENT=${PARENT:-/var/tmp}
QUIET_PCT=${QUIET_PCT:-15}
QUIET_WAIT=${QUIET_WAIT:-60}
EXCL_WAIT=${EXCL_WAIT:-1800}
APPLIANCE_WAIT=${APPLIANCE_WAIT:-1800}
DRAIN_WAIT=${DRAIN_WAIT:-600}
IMPLS=${IMPLS:-sluice postfix}
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-900}
OUT=perf/results
RAW=$OUT/smtp.jsonl
STATS=$OUT/smtp.sluice-stats.txt
PY=/usr/bin/python3 # Debian's, with python3-matplotlib

APPLIANCE_IP=198.18.0.2
NS_PFX=sluiceperf-pfx
NS_PFC=sluiceperf-pfc
PFX_IP=198.19.2.2
PFC_IP=198.19.2.1
RCPT=demo@sluice.test
SENDER=load@example.org

log() { echo "perf/smtp: $*" >&2; }

command -v smtp-source >/dev/null || { log "smtp-source missing (make deps: postfix)"; exit 1; }
command -v postfix >/dev/null || { log "postfix missing (make deps)"; exit 1; }
[ -x build/sluiced ] && [ -x build/sluicectl ] || { log "build/sluiced not built (make all)"; exit 1; }
if [ "$(findmnt -no FSTYPE -T "$PARENT" 2>/dev/null)" = tmpfs ]; then
	log "$PARENT is tmpfs: fsync would cost nothing there; set PARENT to a directory on disk"
	exit 1
fi

# CPU accounting for Postfix: a cgroup of our own (v1 cpuacct, else v2).
if [ -d /sys/fs/cgroup/cpuacct ] && [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then
	CG=/sys/fs/cgroup/cpuacct/sluiceperf-pfx.$$
	cg_usage_ns() { cat "$CG/cpuacct.usage"; }
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	CG=/sys/fs/cgroup/sluiceperf-pfx.$$
	cg_usage_ns() { awk '$1 == "usage_usec" {print $2 * 1000}' "$CG/cpu.stat"; }
else
	log "no cgroup file system for accounting Postfix's CPU"
	exit 1
fi

TMP=$(mktemp -d "$PARENT/sluiceperf-smtp.XXXXXX") || exit 1
chmod 755 "$TMP" # virtual(8) delivers as nobody below it
BG_PIDS=()
STARTED_APPLIANCE=0
MY_PID=""
PFX_DIR=""

# ---- the appliance (shared with tests/e2e and perf/tcp; perf/lib/turn.sh) ----

# Our appliance config: conf/demo.conf with the store in our temp dir, no
# per-address session limit below the client's 100 sessions plus the ones
# still closing, and the content filter off: Postfix runs without one, so
# both sides do the same work (perf/filter measures the filter).
make_conf() { # STOREDIR
	sed -e "s|^\( *path = \).*|\1\"$1\";|" \
		-e "s|^\( *max_connections_per_ip = \)[0-9]*;|\11000;|" \
		-e "/^filter {/,/^}/ s|^\( *enabled = \)true;|\1false;|" conf/demo.conf >"$TMP/sluice.conf"
	grep -q "path = \"$1\"" "$TMP/sluice.conf" || return 1
}

appliance_up() { # STOREDIR
	local t=0
	while appliance_busy && [ "$t" -lt "$APPLIANCE_WAIT" ]; do
		[ "$t" = 0 ] && log "an appliance or the e2e suite is running; waiting up to ${APPLIANCE_WAIT}s"
		sleep 5
		t=$((t + 5))
	done
	appliance_busy && { log "appliance still in use by someone else"; return 1; }
	make_conf "$1" || { log "cannot make the appliance config"; return 1; }
	CONF="$TMP/sluice.conf" scripts/appliance.sh start >"$TMP/appliance.log" 2>&1 || {
		tail -n 20 "$TMP/appliance.log" >&2
		return 1
	}
	STARTED_APPLIANCE=1
	MY_PID=$(cat /run/sluice/sluiced.pid 2>/dev/null)
}

appliance_down() {
	if [ "$STARTED_APPLIANCE" = 1 ] && appliance_mine; then
		scripts/appliance.sh stop
	fi
	STARTED_APPLIANCE=0
	MY_PID=""
}

# ---- Postfix in its own namespace ----

veth_up() {
	ip netns add "$NS_PFX" && ip netns add "$NS_PFC" &&
		ip link add sp-pfc netns "$NS_PFC" type veth peer name sp-pfx netns "$NS_PFX" &&
		ip -n "$NS_PFC" addr add "$PFC_IP/24" dev sp-pfc &&
		ip -n "$NS_PFX" addr add "$PFX_IP/24" dev sp-pfx &&
		ip -n "$NS_PFC" link set lo up && ip -n "$NS_PFX" link set lo up &&
		ip -n "$NS_PFC" link set sp-pfc up && ip -n "$NS_PFX" link set sp-pfx up
}

# A fresh instance under DIR: everything not set here is Postfix's default
# (compatibility_level 3.6), in particular the fsync of every queue file by
# cleanup(8) before the 250 and of every Maildir file by virtual(8).
pfx_config() { # DIR
	local d=$1
	mkdir -p "$d/etc" "$d/spool" "$d/data" "$d/vmail" || return 1
	chown postfix "$d/data" && chown 65534:65534 "$d/vmail" || return 1
	cp /etc/postfix/master.cf "$d/etc/master.cf" || return 1
	[ -f /etc/postfix/dynamicmaps.cf ] && cp /etc/postfix/dynamicmaps.cf "$d/etc/"
	cat >"$d/etc/main.cf" <<EOF
# perf/smtp: a private Postfix instance for the benchmark (deleted after it).
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
maillog_file = $d/maillog
myhostname = pfx.sluice.test
mydomain = sluice.test
myorigin = \$myhostname
mydestination = localhost
inet_interfaces = $PFX_IP
inet_protocols = ipv4
# The benchmark client is trusted, as Sluice's per-address limit is lifted:
# no anvil connection-count limit (50 per client by default).
mynetworks = 127.0.0.0/8 $PFC_IP/32
alias_maps =
alias_database =
# No DNS in the namespace, and Sluice does no reverse lookup either.
smtpd_peername_lookup = no
virtual_mailbox_domains = sluice.test
virtual_mailbox_base = $d/vmail
virtual_mailbox_maps = static:demo/Maildir/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
# postlogd kills itself when one write to maillog_file takes more than 10 s
# (the default); every Postfix process then blocks sending its next log
# line to the dead postlogd's socket, the master included, and the instance
# deadlocks. An fsync-heavy load on this VM's disk (ext4 with discard) has
# stalled a write that long. A stall should slow Postfix, not wedge it.
postlogd_watchdog_timeout = 600s
EOF
	# Debian chroots most services into the queue directory, which then
	# needs copies of /etc files; the chroot costs nothing per message.
	postconf -c "$d/etc" -F '*/*/chroot = n'
}

pfx_start() { # DIR
	local d=$1
	mkdir "$CG" || return 1
	# The subshell joins the cgroup, then becomes `postfix start`: the
	# master and all it forks stay in the cgroup.
	(
		echo "$BASHPID" >"$CG/cgroup.procs" &&
			exec ip netns exec "$NS_PFX" postfix -c "$d/etc" start
	) >"$TMP/postfix-start.log" 2>&1 || return 1
	PFX_DIR=$d
	for _ in $(seq 1 100); do
		ip netns exec "$NS_PFC" bash -c "exec 3<>/dev/tcp/$PFX_IP/25" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

pfx_stop() {
	[ -n "$PFX_DIR" ] || return 0
	timeout 30 ip netns exec "$NS_PFX" postfix -c "$PFX_DIR/etc" stop >/dev/null 2>&1
	for _ in $(seq 1 100); do
		[ -z "$(cat "$CG/cgroup.procs" 2>/dev/null)" ] && break
		sleep 0.1
	done
	# Stragglers are ours (they are in our cgroup): end them by pid.
	for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	sleep 0.2
	rmdir "$CG" 2>/dev/null
	PFX_DIR=""
}

cleanup() {
	for p in "${BG_PIDS[@]}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	BG_PIDS=()
	pfx_stop
	[ -d "$CG" ] && rmdir "$CG" 2>/dev/null
	ip netns del "$NS_PFX" 2>/dev/null
	ip netns del "$NS_PFC" 2>/dev/null
	appliance_down
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- measurement pieces ----

# io_psi: total µs some / all tasks were stalled on I/O since boot
# (/proc/pressure/io), "0 0" without PSI.
io_psi() {
	awk '$1 == "some" || $1 == "full" {sub("total=", "", $5); printf "%s ", $5}' /proc/pressure/io 2>/dev/null ||
		echo "0 0"
}

# psi_kv BEFORE AFTER: the I/O stall during the measurement, in ms.
psi_kv() {
	set -- $1 $2
	[ $# -ge 4 ] || return 0
	echo "io_stall_some_ms=$((($3 - $1) / 1000))"
	echo "io_stall_full_ms=$((($4 - $2) / 1000))"
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; } # utime+stime, all threads

# Per-thread CPU ticks of PID grouped by thread name, as JSON.
thread_ticks() {
	$PY - "$1" <<'EOF'
import json, os, sys
pid, out = sys.argv[1], {}
for t in os.listdir(f"/proc/{pid}/task"):
    try:
        s = open(f"/proc/{pid}/task/{t}/stat").read()
    except OSError:
        continue
    comm = s[s.index("(") + 1:s.rindex(")")]
    f = s[s.rindex(")") + 2:].split()
    out[comm] = out.get(comm, 0) + int(f[11]) + int(f[12])
print(json.dumps(out))
EOF
}

watch_start() { # ARGS...: procwatch.py in the background
	$PY perf/smtp/procwatch.py "$@" "$TMP/mem.json" &
	WATCH_PID=$!
	BG_PIDS+=("$WATCH_PID")
}

watch_stop() {
	kill "$WATCH_PID" 2>/dev/null
	wait "$WATCH_PID" 2>/dev/null
	BG_PIDS=("${BG_PIDS[@]/$WATCH_PID/}")
}

# run_client NETNS ADDR SESSIONS: smtp-source, timed; sets ELAPSED (s), RC.
run_client() {
	local ns=$1 addr=$2 s=$3 t0 t1
	t0=$(date +%s%N)
	ip netns exec "$ns" taskset -c "$CLIENT_CPU" /usr/bin/time -f '%e %U %S' -o "$TMP/client.time" \
		timeout "$CLIENT_TIMEOUT" smtp-source -s "$s" -m "$MSGS" -l "$SIZE" -f "$SENDER" -t "$RCPT" "$addr:25" \
		>"$TMP/client.out" 2>"$TMP/client.err"
	RC=$?
	t1=$(date +%s%N)
	ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
}

# record IMPL SESSIONS RUN JSON-FIELDS-FILE: one result line from key=value
# lines (numbers or JSON), plus what was seen on the box.
record() {
	local impl=$1 s=$2 run=$3 kv=$4
	$PY - "$impl" "$s" "$run" "$BUSY" "$(cut -d' ' -f1-3 /proc/loadavg)" "$OTHERS" "$kv" "$HOGS" \
		>>"$RAW" <<'EOF'
import json, sys
impl, s, run, busy, load, others, kv, hogs = sys.argv[1:9]
d = dict(suite="smtp", impl=impl, sessions=int(s), run=int(run))
for line in open(kv):
    k, _, v = line.rstrip("\n").partition("=")
    try:
        d[k] = json.loads(v)
    except ValueError:
        d[k] = v
if busy:
    d["box_busy_pct"] = int(busy)
d["loadavg"] = load
if others.strip():
    d["others_running"] = others.strip()
if hogs.strip():
    d["busy_procs"] = hogs.strip()
if "error" not in d and d.get("delivered") != d.get("msgs"):
    d["error"] = f"{d.get('delivered')} of {d.get('msgs')} messages in the mailbox"
print(json.dumps(d))
EOF
	grep -q '"error"' <(tail -n 1 "$RAW") && log "$impl $s sessions run $run FAILED: $(tail -n 1 "$RAW")"
}

client_kv() { # append the client's figures to KV file $1
	local kv=$1
	{
		echo "msgs=$MSGS"
		echo "size=$SIZE"
		echo "elapsed_s=$ELAPSED"
		echo "msgs_per_s=$(awk -v n="$MSGS" -v e="$ELAPSED" 'BEGIN {printf "%.1f", n / e}')"
		read -r ce cu cs <"$TMP/client.time" 2>/dev/null &&
			echo "client_cpu_s=$(awk -v u="$cu" -v s="$cs" 'BEGIN {printf "%.2f", u + s}')"
		if [ "$RC" != 0 ]; then
			echo "error=\"smtp-source exit $RC: $(tail -n 2 "$TMP/client.err" | tr '\n"\\' '   ')\""
		fi
	} >>"$kv"
}

sluice_run() { # SESSIONS RUN
	local s=$1 run=$2 kv=$TMP/kv pid c0 c1 th0 th1 st0 st1 hwm n tck store=$TMP/sluice-store io0 io1
	: >"$kv"
	wait_turn
	rm -rf "$store"
	if ! appliance_up "$store"; then
		echo 'error="appliance did not start"' >"$kv"
		record sluice "$s" "$run" "$kv"
		return
	fi
	pid=$MY_PID
	tck=$(getconf CLK_TCK)
	# One connection first, as Postfix's readiness probe makes one.
	ip netns exec sluice bash -c "exec 3<>/dev/tcp/$APPLIANCE_IP/25" 2>/dev/null
	sleep 0.5
	st0=$(build/sluicectl store status 2>/dev/null | awk '$1 == "requests:" || $1 == "batches:" {printf "%s ", $2}')
	th0=$(thread_ticks "$pid")
	watch_start --pid "$pid"
	io0=$(io_psi)
	c0=$(ticks "$pid")
	run_client sluice "$APPLIANCE_IP" "$s"
	c1=$(ticks "$pid")
	io1=$(io_psi)
	th1=$(thread_ticks "$pid")
	watch_stop
	hwm=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$pid/status" 2>/dev/null)
	st1=$(build/sluicectl store status 2>/dev/null | awk '$1 == "requests:" || $1 == "batches:" || $1 == "batch_max:" {printf "%s ", $2}')
	n=$(build/sluicectl mailbox list "$RCPT" 2>/dev/null | awk '$1 == "INBOX" {print $2}')
	{
		echo "=== sluice, $s sessions, run $run"
		build/sluicectl status
		build/sluicectl show stats
		build/sluicectl store status
	} >>"$STATS" 2>&1
	client_kv "$kv"
	{
		echo "delivered=${n:-0}"
		echo "server_cpu_s=$(awk -v a="$c0" -v b="$c1" -v t="$tck" 'BEGIN {printf "%.2f", (b - a) / t}')"
		echo "cpu_basis=\"utime+stime of sluiced (/proc/PID/stat), start of load to last 250\""
		echo "mem_peak_kib=${hwm:-0}"
		echo "mem_basis=\"VmHWM of sluiced\""
		psi_kv "$io0" "$io1"
		echo "procwatch=$(cat "$TMP/mem.json" 2>/dev/null || echo null)"
		echo "threads_cpu_s=$($PY -c '
import json, sys
a, b, t = json.loads(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3])
print(json.dumps({k: round((v - a.get(k, 0)) / t, 2) for k, v in b.items() if v - a.get(k, 0) > 0}))' "$th0" "$th1" "$tck")"
		set -- $st0 $st1
		[ $# -ge 5 ] && echo "store_batches=$(($4 - $2))" &&
			echo "store_batch_avg=$(awk -v r="$(($3 - $1))" -v b="$(($4 - $2))" 'BEGIN {printf "%.1f", b ? r / b : 0}')" &&
			echo "store_batch_max=$5"
	} >>"$kv"
	if ! appliance_mine; then
		echo 'error="appliance was replaced by another job during the run"' >>"$kv"
	fi
	record sluice "$s" "$run" "$kv"
	appliance_down
	rm -rf "$store"
}

postfix_run() { # SESSIONS RUN
	local s=$1 run=$2 kv=$TMP/kv d=$TMP/postfix c0 c250 c1 tdel n t q io0 io1
	: >"$kv"
	wait_turn
	rm -rf "$d"
	if ! pfx_config "$d" || ! pfx_start "$d"; then
		echo "error=\"postfix did not start: $(tail -n 2 "$TMP/postfix-start.log" "$d/maillog" 2>/dev/null | tr '\n"\\' '   ')\"" >"$kv"
		record postfix "$s" "$run" "$kv"
		pfx_stop
		return
	fi
	sleep 0.5
	watch_start --cgroup "$CG"
	io0=$(io_psi)
	c0=$(cg_usage_ns)
	run_client "$NS_PFC" "$PFX_IP" "$s"
	c250=$(cg_usage_ns)
	# Wait until the queue is empty and every message is in the Maildir
	# (given up after DRAIN_WAIT s, or 60 s without a new delivery).
	local last=-1 still=0
	t=0
	while [ "$t" -lt "$((DRAIN_WAIT * 10))" ] && [ "$still" -lt 600 ]; do
		q=$(find "$d/spool/incoming" "$d/spool/active" "$d/spool/deferred" -type f 2>/dev/null | head -n 1)
		if [ -z "$q" ]; then
			n=$(find "$d/vmail/demo/Maildir/new" -type f 2>/dev/null | wc -l)
			[ "$n" -ge "$MSGS" ] && break
		fi
		if [ $((t % 50)) = 0 ]; then
			n=$(find "$d/vmail/demo/Maildir/new" -type f 2>/dev/null | wc -l)
			[ "$n" = "$last" ] && still=$((still + 50)) || still=0
			last=$n
		fi
		sleep 0.1
		t=$((t + 1))
	done
	c1=$(cg_usage_ns)
	io1=$(io_psi)
	tdel=$(awk -v e="$ELAPSED" -v t="$t" 'BEGIN {printf "%.1f", e + t / 10}')
	watch_stop
	n=$(find "$d/vmail/demo/Maildir/new" -type f 2>/dev/null | wc -l)
	client_kv "$kv"
	{
		echo "delivered=$n"
		echo "server_cpu_s=$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", (b - a) / 1e9}')"
		echo "server_cpu_to_last_250_s=$(awk -v a="$c0" -v b="$c250" 'BEGIN {printf "%.2f", (b - a) / 1e9}')"
		echo "cpu_basis=\"cpuacct cgroup of the postfix master and all its children, start of load until the last message is in the Maildir\""
		echo "delivered_after_s=$tdel"
		echo "mem_peak_kib=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["hwm_sum_peak_kib"])' "$TMP/mem.json" 2>/dev/null || echo 0)"
		echo "mem_basis=\"max over samples of the sum of VmHWM of the postfix processes alive\""
		echo "procwatch=$(cat "$TMP/mem.json" 2>/dev/null || echo null)"
		echo "warnings=$(grep -cE 'warning|fatal|panic|error' "$d/maillog" 2>/dev/null)"
		psi_kv "$io0" "$io1"
		# The longest silence in the log during the load: a stalled disk.
		echo "log_gap_max_s=$(awk '/postfix\/smtpd/ {split($3, a, ":"); t = a[1] * 3600 + a[2] * 60 + a[3];
			if (p != "" && t - p > g) g = t - p; p = t} END {print g + 0}' "$d/maillog" 2>/dev/null)"
	} >>"$kv"
	cp "$d/maillog" "$TMP/maillog.last" 2>/dev/null
	record postfix "$s" "$run" "$kv"
	pfx_stop
	rm -rf "$d"
}

# ---- main ----

mkdir -p "$OUT"
: >"$RAW"
: >"$STATS"
$PY - >>"$RAW" <<EOF
import json, os, platform, subprocess
def sh(c):
    try: return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception: return ""
print(json.dumps(dict(suite="smtp", impl="env", date=sh("date -u +%FT%TZ"), kernel=platform.release(),
                      cpu=sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
                      ncpu=os.cpu_count(), commit=os.environ.get("PERF_COMMIT") or sh("git rev-parse --short HEAD"),
                      runs=$RUNS, msgs=$MSGS, size=$SIZE, client_cpu=$CLIENT_CPU,
                      postfix=sh("postconf -d -h mail_version"),
                      disk=sh("df -P $PARENT | awk 'NR==2{print \$1}'"),
                      fs=sh("findmnt -no FSTYPE -T $PARENT"), parent="$PARENT")))
EOF

veth_up || { log "cannot create namespaces $NS_PFX/$NS_PFC"; exit 1; }
for r in $(seq 1 "$RUNS"); do
	for s in $SESSIONS; do
		for impl in $IMPLS; do
			log "run $r/$RUNS, $s sessions: $impl"
			"${impl}_run" "$s" "$r"
		done
	done
done
cleanup
trap - EXIT

$PY perf/smtp/report.py "$RAW" "$OUT/smtp.md" "$OUT/smtp.png" || exit 1
log "wrote $OUT/smtp.md and $OUT/smtp.png"
