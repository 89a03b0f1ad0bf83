#!/bin/bash
# perf/tls/run.sh - the TLS benchmark of issue 7: Sluice on 993 (implicit
# TLS, over the TAP) against Dovecot 2.3 (OpenSSL) on 993 in a namespace of
# our own over a veth pair, in one run, with the same client
# (build/perf/tls/tlsload, OpenSSL) and the same certificates; writes
# perf/results/tls.{jsonl,md,png}. docs/perf.md ("TLS") explains the method.
#
# Per run (RUNS, 3) and certificate (CERTS, "ecdsa rsa": ECDSA P-256 and
# RSA-2048, self-signed, made once per benchmark with the openssl CLI), Sluice
# then Dovecot, each on a fresh server:
#
#   hs-full     TLS 1.3 full handshakes/s: CONC connections in flight, each
#               connect, handshake, IMAP greeting, close (SECS after WARMUP).
#   hs-resumed  the same, each offering the newest session ticket.
#   idle        IDLE_N connections opened up to the greeting and held; server
#               memory before and after (RSS; Sluice also its stats).
#   bulk        (first certificate only) BULK_COUNT messages of BULK_SIZE
#               APPENDed, then `FETCH 1:* BODY.PEEK[]` timed, with the
#               client's default TLS 1.3 offer and with ChaCha20 only.
#
# Server CPU per operation: Sluice, utime+stime of sluiced (all threads,
# /proc/PID/stat; the worker busy-polls, which is included); Dovecot,
# the cpuacct cgroup its master starts in (every process it forks). Both
# servers run on SERVER_CPU (0: Sluice's worker lcore; Dovecot is pinned
# there with taskset), the client on CLIENT_CPU (1).
#
# The appliance and namespace `sluice` are shared: every stretch that uses
# them runs under `flock /tmp/sluice-netns.lock` (one certificate of one run,
# about a minute), and the appliance is stopped before the lock is released.
#
# Environment: RUNS (3), CERTS ("ecdsa rsa"), IMPLS ("sluice dovecot"),
# SECS (5), WARMUP (1), CONC (16), IDLE_N (1000), IDLE_SETTLE (2),
# BULK_COUNT (200), BULK_SIZE (262144), CLIENT_CPU (1), SERVER_CPU (0),
# PARENT (/var/tmp), LOCK (/tmp/sluice-netns.lock), LOCK_WAIT (1800),
# APPLIANCE_WAIT (900: for an appliance someone else left running to go),
# QUIET_PCT (15), QUIET_WAIT (60), DOVECOT_LOGIN_PROCS (1), PARTS ("crypto
# rounds": the two libraries' cost per operation, and the server rounds),
# KEEP (1: append to tls.jsonl instead of starting it afresh), PROFILE (1: a
# perf profile of each server during run 1's full handshakes, written to
# perf/results/tls.profile-*.txt; such a run's figures go to
# tls-profile.jsonl, not into the report).
#
# crypto: build/perf/tls/bench_tls_crypto (wolfCrypt) and `tlsload crypto`
# (OpenSSL), pinned to SERVER_CPU, CPU time per X25519 key pair + shared
# secret, ECDSA P-256 and RSA-2048 PSS signature, and sealing MB/s: the
# floor under each server's CPU per handshake and per byte.
set -u
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-3}
CERTS=${CERTS:-ecdsa rsa}
IMPLS=${IMPLS:-sluice dovecot}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
CONC=${CONC:-16}
IDLE_N=${IDLE_N:-1000}
IDLE_SETTLE=${IDLE_SETTLE:-2}
BULK_COUNT=${BULK_COUNT:-200}
BULK_SIZE=${BULK_SIZE:-262144}
CLIENT_CPU=${CLIENT_CPU:-1}
SERVER_CPU=${SERVER_CPU:-0}
PARENT=${PARENT:-/var/tmp}
LOCK=${LOCK:-/tmp/sluice-netns.lock}
LOCK_WAIT=${LOCK_WAIT:-1800}
APPLIANCE_WAIT=${APPLIANCE_WAIT:-900}
QUIET_PCT=${QUIET_PCT:-15}
QUIET_WAIT=${QUIET_WAIT:-60}
DOVECOT_LOGIN_PROCS=${DOVECOT_LOGIN_PROCS:-1}
PARTS=${PARTS:-crypto rounds}
KEEP=${KEEP:-0}
OUT=perf/results
RAW=$OUT/tls.jsonl
STATS=$OUT/tls.sluice-stats.txt
if [ "${PROFILE:-0}" = 1 ]; then
	# A profiled run is not a measurement: its figures go elsewhere.
	RAW=$OUT/tls-profile.jsonl
	STATS=/dev/null
fi
PY=/usr/bin/python3
LOAD=build/perf/tls/tlsload

APPLIANCE_IP=198.18.0.2
NS_DOV=sluiceperf-dov
NS_DCL=sluiceperf-dcl
DOV_IP=198.19.3.2
DCL_IP=198.19.3.1
USER_NAME=demo@sluice.test
USER_PASS=demo
CHACHA=TLS_CHACHA20_POLY1305_SHA256

log() { echo "perf/tls: $*" >&2; }

[ -x "$LOAD" ] && [ -x build/perf/tls/bench_tls_crypto ] || { log "build/perf/tls/* not built (make perf-bins)"; exit 1; }
[ -x build/sluiced ] && [ -x build/sluicectl ] || { log "build/sluiced not built (make all)"; exit 1; }
command -v dovecot >/dev/null || { log "dovecot missing (apt-get install dovecot-imapd dovecot-pop3d)"; exit 1; }
command -v openssl >/dev/null || { log "openssl missing"; exit 1; }
[ -d /sys/fs/cgroup/cpuacct ] && CG=/sys/fs/cgroup/cpuacct/sluiceperf-dov.$$ ||
	{ log "no cgroup v1 cpuacct hierarchy for Dovecot's CPU"; exit 1; }
cg_usage_ns() { cat "$CG/cpuacct.usage"; }

TMP=$(mktemp -d "$PARENT/sluiceperf-tls.XXXXXX") || exit 1
chmod 755 "$TMP" # Dovecot's login processes (dovenull) and mail (nobody) live below it
BG_PIDS=()
STARTED_APPLIANCE=0
MY_PID=""
DOV_DIR=""
LOCKED=0
TCK=$(getconf CLK_TCK)

# ---- the box ----

BUSY=0
box_busy() {
	local a b
	a=$(head -n 1 /proc/stat)
	sleep 1
	b=$(head -n 1 /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN {
		n = split(a, x); split(b, y); tot = 0; idle = 0
		for (i = 2; i <= n && i <= 9; i++) { d = y[i] - x[i]; tot += d; if (i == 5 || i == 6) idle += d }
		pct = 0; if (tot > 0) pct = (tot - idle) * 100 / tot
		printf "%d\n", pct + 0.5 }'
}

wait_quiet() {
	local q=0
	BUSY=$(box_busy)
	while [ "$BUSY" -gt "$QUIET_PCT" ] && [ "$q" -lt "$QUIET_WAIT" ]; do
		[ "$q" = 0 ] && log "box is ${BUSY}% busy (other jobs); waiting up to ${QUIET_WAIT}s"
		q=$((q + 1))
		BUSY=$(box_busy)
	done
}

# ---- the shared appliance (under the lock) ----

lock_take() {
	exec 9>>"$LOCK" || return 1
	if ! flock -w "$LOCK_WAIT" 9; then
		exec 9>&-
		log "could not get $LOCK in ${LOCK_WAIT}s"
		return 1
	fi
	LOCKED=1
}

lock_drop() {
	[ "$LOCKED" = 1 ] || return 0
	flock -u 9
	exec 9>&-
	LOCKED=0
}

appliance_mine() {
	[ -n "$MY_PID" ] && [ "$(cat /run/sluice/sluiced.pid 2>/dev/null)" = "$MY_PID" ] &&
		kill -0 "$MY_PID" 2>/dev/null
}

# conf/demo.conf with the store in our temp dir, the certificate of this
# round, and the per-address limits lifted (the whole client is one address,
# as for Dovecot, which has no such limit before login).
sluice_conf() { # CERT KEY STOREDIR
	local c=$1 k=$2 s=$3
	sed -e "s|^\( *path = \).*|\1\"$s\";|" \
		-e "/^imap {/,/^}/s|^\( *max_connections_per_ip = \)[0-9]*;|\14000;\n    max_connections = 4000;\n    timeout_auth = 3min;|" \
		-e "s|^tls {|tls {\n    cert = \"$c\";\n    key = \"$k\";\n    handshakes_per_ip = 256;|" \
		conf/demo.conf >"$TMP/sluice.conf"
	{
		echo "# generated by perf/tls/run.sh from conf/demo.conf"
		cat "$TMP/sluice.conf"
	} >"$TMP/sluice.conf.tmp" && mv "$TMP/sluice.conf.tmp" "$TMP/sluice.conf"
	grep -q "cert = \"$c\"" "$TMP/sluice.conf" && grep -q 'max_connections = 4000' "$TMP/sluice.conf" &&
		grep -q "path = \"$s\"" "$TMP/sluice.conf"
}

appliance_up() { # CERT KEY STOREDIR
	if scripts/appliance.sh status >/dev/null 2>&1; then
		log "an appliance is already running (not ours); not touching it"
		return 1
	fi
	sluice_conf "$@" || { log "cannot make the appliance config"; return 1; }
	CONF="$TMP/sluice.conf" scripts/appliance.sh start >"$TMP/appliance.log" 2>&1 9>&- || {
		tail -n 20 "$TMP/appliance.log" >&2
		return 1
	}
	STARTED_APPLIANCE=1
	MY_PID=$(cat /run/sluice/sluiced.pid 2>/dev/null)
}

appliance_down() {
	if [ "$STARTED_APPLIANCE" = 1 ] && appliance_mine; then
		scripts/appliance.sh stop 9>&-
	fi
	STARTED_APPLIANCE=0
	MY_PID=""
}

# ---- Dovecot in its own namespace ----

veth_up() {
	ip netns add "$NS_DOV" && ip netns add "$NS_DCL" &&
		ip link add sp-dcl netns "$NS_DCL" type veth peer name sp-dov netns "$NS_DOV" &&
		ip -n "$NS_DCL" addr add "$DCL_IP/24" dev sp-dcl &&
		ip -n "$NS_DOV" addr add "$DOV_IP/24" dev sp-dov &&
		ip -n "$NS_DCL" link set lo up && ip -n "$NS_DOV" link set lo up &&
		ip -n "$NS_DCL" link set sp-dcl up && ip -n "$NS_DOV" link set sp-dov up
}

# A private instance: only imaps on 993, the same certificate, users from a
# passwd-file, Maildir under our temp dir. Login processes in "high
# performance" mode (service_count = 0): DOVECOT_LOGIN_PROCS long-lived
# imap-login processes (default 1, the one core Sluice's worker has) hold
# every connection, as Sluice's one worker does. In Debian's default "high
# security" mode (a new process per connection) each connection gets a
# fresh OpenSSL ticket key, so no ticket could ever be resumed.
dov_config() { # DIR CERT KEY
	local d=$1 c=$2 k=$3
	mkdir -p "$d/run" "$d/state" "$d/mail" || return 1
	chown 65534:65534 "$d/mail" || return 1
	echo "$USER_NAME:{PLAIN}$USER_PASS" >"$d/passwd"
	cat >"$d/dovecot.conf" <<EOF
# perf/tls: a private Dovecot instance for the benchmark (deleted after it).
base_dir = $d/run
state_dir = $d/state
instance_name = sluiceperf-tls
listen = $DOV_IP
protocols = imap
log_path = $d/dovecot.log
ssl = required
ssl_cert = <$c
ssl_key = <$k
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$d/mail/%u
}
mail_location = maildir:~/Maildir
mail_max_userip_connections = 4000
default_client_limit = 8000
default_vsz_limit = 1G
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 993
    ssl = yes
  }
  service_count = 0
  process_min_avail = $DOVECOT_LOGIN_PROCS
  process_limit = $DOVECOT_LOGIN_PROCS
  client_limit = 4000
}
service anvil {
  client_limit = 8000
}
EOF
}

dov_start() { # DIR CERT KEY
	local d=$1
	dov_config "$@" || return 1
	mkdir "$CG" || return 1
	echo "$SERVER_CPU" >/dev/null
	(
		echo "$BASHPID" >"$CG/cgroup.procs" &&
			exec ip netns exec "$NS_DOV" taskset -c "$SERVER_CPU" dovecot -c "$d/dovecot.conf"
	) >"$TMP/dovecot-start.log" 2>&1 9>&- || return 1
	DOV_DIR=$d
	for _ in $(seq 1 100); do
		ip netns exec "$NS_DCL" bash -c "exec 3<>/dev/tcp/$DOV_IP/993" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

dov_stop() {
	[ -n "$DOV_DIR" ] || return 0
	timeout 30 doveadm -c "$DOV_DIR/dovecot.conf" stop >/dev/null 2>&1 ||
		kill "$(cat "$DOV_DIR/run/master.pid" 2>/dev/null)" 2>/dev/null
	for _ in $(seq 1 100); do
		[ -z "$(cat "$CG/cgroup.procs" 2>/dev/null)" ] && break
		sleep 0.1
	done
	# Stragglers are ours (they are in our cgroup): end them by pid.
	for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	sleep 0.2
	rmdir "$CG" 2>/dev/null
	DOV_DIR=""
}

cleanup() {
	for p in "${BG_PIDS[@]}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	BG_PIDS=()
	dov_stop
	[ -d "$CG" ] && rmdir "$CG" 2>/dev/null
	ip netns del "$NS_DOV" 2>/dev/null
	ip netns del "$NS_DCL" 2>/dev/null
	appliance_down
	lock_drop
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- measurement ----

ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; } # utime+stime, all threads

# Server CPU in ns: IMPL PID
srv_cpu_ns() {
	if [ "$1" = sluice ]; then
		awk -v t="$TCK" '{printf "%.0f\n", ($14 + $15) * 1e9 / t}' "/proc/$2/stat" 2>/dev/null
	else
		cg_usage_ns
	fi
}


# Resident memory of the server in KiB: sluiced, or every Dovecot process.
srv_rss_kib() { # IMPL PID
	local pids p tot=0 v
	if [ "$1" = sluice ]; then pids=$2; else pids=$(cat "$CG/cgroup.procs" 2>/dev/null); fi
	for p in $pids; do
		v=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$p/status" 2>/dev/null)
		tot=$((tot + ${v:-0}))
	done
	echo "$tot"
}

srv_pss_kib() { # IMPL PID
	local pids p tot=0 v
	if [ "$1" = sluice ]; then pids=$2; else pids=$(cat "$CG/cgroup.procs" 2>/dev/null); fi
	for p in $pids; do
		v=$(awk '$1 == "Pss:" {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
		tot=$((tot + ${v:-0}))
	done
	echo "$tot"
}

# record KVFILE: one JSON line from key=value lines plus the run's context.
record() {
	$PY - "$1" "$BUSY" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW" <<'EOF'
import json, sys
kv, busy, load = sys.argv[1:4]
d = dict(suite="tls")
for line in open(kv):
    k, _, v = line.rstrip("\n").partition("=")
    try:
        d[k] = json.loads(v)
    except ValueError:
        d[k] = v
d["box_busy_pct"] = int(busy or 0)
d["loadavg"] = load
print(json.dumps(d))
EOF
	grep -q '"error"' <(tail -n 1 "$RAW") && log "FAILED: $(tail -n 1 "$RAW")"
}

kv_head() { # KV IMPL CERT RUN TEST
	printf 'impl="%s"\ncert="%s"\nrun=%s\ntest="%s"\n' "$2" "$3" "$4" "$5" >"$1"
}

kv_err() { # KV MESSAGE
	printf 'error=%s\n' "$($PY -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$2")" >>"$1"
}

# client NETNS ARGS...: tlsload pinned to CLIENT_CPU; stdout to $TMP/out.json
client() {
	local ns=$1
	shift
	ip netns exec "$ns" taskset -c "$CLIENT_CPU" "$LOAD" "$@" >"$TMP/out.json" 2>"$TMP/err.txt" 9>&-
}

# PROFILE=1: a CPU profile of the server (perf record, cpu-clock, every
# process of it) during run 1's full handshakes, summarised by library and
# by function in perf/results/tls.profile-IMPL-CERT.txt.
PROF_PID=""
prof_start() { # IMPL PID RUN TEST
	local pids
	[ "${PROFILE:-0}" = 1 ] && [ "$3" = 1 ] && [ "$4" = hs-full ] || return 0
	command -v perf >/dev/null || { log "PROFILE=1 needs perf (linux-perf)"; return 0; }
	if [ "$1" = sluice ]; then pids=$2; else pids=$(paste -sd, "$CG/cgroup.procs"); fi
	perf record -e cpu-clock -F 999 -g -o "$TMP/perf.data" -p "$pids" >/dev/null 2>&1 9>&- &
	PROF_PID=$!
	sleep 0.5
}

prof_stop() { # IMPL CERT
	[ -n "$PROF_PID" ] || return 0
	kill -INT "$PROF_PID" 2>/dev/null
	wait "$PROF_PID" 2>/dev/null
	PROF_PID=""
	{
		echo "# perf/tls: CPU profile of $1 during full TLS 1.3 handshakes ($2), perf record -e cpu-clock"
		echo "## by library"
		perf report -i "$TMP/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null | grep '%' | head -n 15
		echo "## by function (top 40)"
		perf report -i "$TMP/perf.data" --stdio --no-children --sort dso,sym -g none 2>/dev/null | grep '%' | head -n 40
	} >"$OUT/tls.profile-$1-$2.txt"
}

# One handshake measurement: IMPL PID NETNS ADDR CERT RUN TEST [--resume]
hs_test() {
	local impl=$1 pid=$2 ns=$3 addr=$4 cert=$5 run=$6 test=$7 kv=$TMP/kv c0 c1 rc
	shift 7
	kv_head "$kv" "$impl" "$cert" "$run" "$test"
	prof_start "$impl" "$pid" "$run" "$test"
	c0=$(srv_cpu_ns "$impl" "$pid")
	client "$ns" hs --addr "$addr" --port 993 --conc "$CONC" --secs "$SECS" --warmup "$WARMUP" "$@"
	rc=$?
	c1=$(srv_cpu_ns "$impl" "$pid")
	prof_stop "$impl" "$cert"
	echo "client=$(cat "$TMP/out.json" 2>/dev/null | head -n 1)" >>"$kv"
	[ -s "$TMP/out.json" ] || echo "client=null" >>"$kv"
	echo "server_cpu_s=$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')" >>"$kv"
	[ "$rc" = 0 ] || kv_err "$kv" "tlsload exit $rc: $(tail -n 2 "$TMP/err.txt" | tr '\n' ' ')"
	record "$kv"
}

idle_test() { # IMPL PID NETNS ADDR CERT RUN
	local impl=$1 pid=$2 ns=$3 addr=$4 cert=$5 run=$6 kv=$TMP/kv r0 r1 p0 p1 r2 cpid t c0 c1
	kv_head "$kv" "$impl" "$cert" "$run" idle
	sleep 1
	r0=$(srv_rss_kib "$impl" "$pid")
	p0=$(srv_pss_kib "$impl" "$pid")
	[ "$impl" = sluice ] && build/sluicectl show stats >"$TMP/stats0" 2>&1
	c0=$(srv_cpu_ns "$impl" "$pid")
	rm -f "$TMP/ready"
	ip netns exec "$ns" taskset -c "$CLIENT_CPU" "$LOAD" idle --addr "$addr" --port 993 --n "$IDLE_N" \
		--conc "$CONC" --ready "$TMP/ready" --hold 300 >"$TMP/out.json" 2>"$TMP/err.txt" 9>&- &
	cpid=$!
	BG_PIDS+=("$cpid")
	t=0
	while [ ! -f "$TMP/ready" ] && kill -0 "$cpid" 2>/dev/null && [ "$t" -lt 1200 ]; do
		sleep 0.1
		t=$((t + 1))
	done
	if [ -f "$TMP/ready" ]; then
		sleep "$IDLE_SETTLE"
		r1=$(srv_rss_kib "$impl" "$pid")
		p1=$(srv_pss_kib "$impl" "$pid")
		c1=$(srv_cpu_ns "$impl" "$pid")
		if [ "$impl" = sluice ]; then
			build/sluicectl show stats >"$TMP/stats1" 2>&1
			{
				echo "=== sluice $cert run $run: show stats before / with $IDLE_N idle TLS connections"
				diff "$TMP/stats0" "$TMP/stats1"
				build/sluicectl show connections 2>/dev/null | head -n 5
			} >>"$STATS"
		fi
		echo "client=$(head -n 1 "$TMP/out.json")" >>"$kv"
		{
			echo "n=$IDLE_N"
			echo "rss_before_kib=$r0"
			echo "rss_idle_kib=$r1"
			echo "pss_before_kib=$p0"
			echo "pss_idle_kib=$p1"
			echo "open_cpu_s=$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')"
			echo "kib_per_conn=$(awk -v a="$r0" -v b="$r1" -v n="$IDLE_N" 'BEGIN {printf "%.2f", (b - a) / n}')"
			echo "pss_kib_per_conn=$(awk -v a="$p0" -v b="$p1" -v n="$IDLE_N" 'BEGIN {printf "%.2f", (b - a) / n}')"
		} >>"$kv"
		if [ "$impl" = dovecot ]; then
			echo "procs=$(wc -w <"$CG/cgroup.procs")" >>"$kv"
		fi
	else
		kv_err "$kv" "idle connections did not all open: $(tail -n 2 "$TMP/err.txt" | tr '\n' ' ')"
	fi
	kill "$cpid" 2>/dev/null
	wait "$cpid" 2>/dev/null
	BG_PIDS=("${BG_PIDS[@]/$cpid/}")
	sleep 1
	r2=$(srv_rss_kib "$impl" "$pid")
	echo "rss_after_close_kib=$r2" >>"$kv"
	record "$kv"
}

bulk_test() { # IMPL PID NETNS ADDR CERT RUN
	local impl=$1 pid=$2 ns=$3 addr=$4 cert=$5 run=$6 kv=$TMP/kv c0 c1 rc variant
	kv_head "$kv" "$impl" "$cert" "$run" append
	client "$ns" append --addr "$addr" --port 993 --user "$USER_NAME" --pass "$USER_PASS" \
		--count "$BULK_COUNT" --size "$BULK_SIZE" --timeout 120
	rc=$?
	echo "client=$(head -n 1 "$TMP/out.json" 2>/dev/null || echo null)" >>"$kv"
	[ "$rc" = 0 ] || kv_err "$kv" "append: $(tail -n 2 "$TMP/err.txt" | tr '\n' ' ')"
	record "$kv"
	[ "$rc" = 0 ] || return
	for variant in default chacha20; do
		kv_head "$kv" "$impl" "$cert" "$run" "fetch-$variant"
		local extra=()
		[ "$variant" = chacha20 ] && extra=(--ciphers "$CHACHA")
		# Once untimed, so both read their message files from the page cache
		# (Dovecot's Maildir, Sluice's LMDB map).
		client "$ns" fetch --addr "$addr" --port 993 --user "$USER_NAME" --pass "$USER_PASS" "${extra[@]}"
		c0=$(srv_cpu_ns "$impl" "$pid")
			client "$ns" fetch --addr "$addr" --port 993 --user "$USER_NAME" --pass "$USER_PASS" "${extra[@]}"
		rc=$?
		c1=$(srv_cpu_ns "$impl" "$pid")
			echo "client=$(head -n 1 "$TMP/out.json" 2>/dev/null || echo null)" >>"$kv"
		echo "server_cpu_s=$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')" >>"$kv"
		[ "$rc" = 0 ] || kv_err "$kv" "fetch: $(tail -n 2 "$TMP/err.txt" | tr '\n' ' ')"
		record "$kv"
	done
}

all_tests() { # IMPL PID NETNS ADDR CERT RUN
	hs_test "$@" hs-full
	hs_test "$@" hs-resumed --resume
	idle_test "$@"
	if [ "$5" = "${CERTS%% *}" ]; then
		bulk_test "$@"
	fi
}

sluice_round() { # CERT RUN
	local cert=$1 run=$2 kv=$TMP/kv
	wait_quiet
	lock_take || { kv_head "$kv" sluice "$cert" "$run" start; kv_err "$kv" "no lock"; record "$kv"; return; }
	# An appliance someone else started (an e2e run that left it, or one
	# that does not take the lock): give the lock back and wait for it to go.
	local t=0
	while scripts/appliance.sh status >/dev/null 2>&1 && [ "$t" -lt "$APPLIANCE_WAIT" ]; do
		[ "$t" = 0 ] && log "an appliance is running (not ours); waiting up to ${APPLIANCE_WAIT}s"
		lock_drop
		sleep 10
		t=$((t + 10))
		lock_take || { kv_head "$kv" sluice "$cert" "$run" start; kv_err "$kv" "no lock"; record "$kv"; return; }
	done
	rm -rf "$TMP/sluice-store"
	if appliance_up "$TMP/$cert-cert.pem" "$TMP/$cert-key.pem" "$TMP/sluice-store"; then
		all_tests sluice "$MY_PID" sluice "$APPLIANCE_IP" "$cert" "$run"
		{
			echo "=== sluice $cert run $run: end of round"
			build/sluicectl status
			build/sluicectl show stats
		} >>"$STATS" 2>&1
		if ! appliance_mine; then
			kv_head "$kv" sluice "$cert" "$run" appliance
			kv_err "$kv" "the appliance died or was replaced during the round"
			record "$kv"
			tail -n 20 /run/sluice/sluiced.log >&2
		fi
	else
		kv_head "$kv" sluice "$cert" "$run" start
		kv_err "$kv" "appliance did not start"
		record "$kv"
	fi
	appliance_down
	lock_drop
	rm -rf "$TMP/sluice-store"
}

dovecot_round() { # CERT RUN
	local cert=$1 run=$2 kv=$TMP/kv d=$TMP/dovecot mpid
	wait_quiet
	rm -rf "$d"
	if dov_start "$d" "$TMP/$cert-cert.pem" "$TMP/$cert-key.pem"; then
		mpid=$(cat "$d/run/master.pid" 2>/dev/null)
		all_tests dovecot "$mpid" "$NS_DCL" "$DOV_IP" "$cert" "$run"
		cp "$d/dovecot.log" "$TMP/dovecot.log.last" 2>/dev/null
	else
		kv_head "$kv" dovecot "$cert" "$run" start
		kv_err "$kv" "dovecot did not start: $(tail -n 3 "$TMP/dovecot-start.log" "$d/dovecot.log" 2>/dev/null | tr '\n' ' ')"
		record "$kv"
	fi
	dov_stop
	rm -rf "$d"
}

make_certs() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-keyout "$TMP/ecdsa-key.pem" -out "$TMP/ecdsa-cert.pem" -subj /CN=mx.sluice.test \
		-addext subjectAltName=DNS:mx.sluice.test 2>/dev/null &&
		openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
			-keyout "$TMP/rsa-key.pem" -out "$TMP/rsa-cert.pem" -subj /CN=mx.sluice.test \
			-addext subjectAltName=DNS:mx.sluice.test 2>/dev/null &&
		chmod 644 "$TMP"/*-key.pem # Dovecot reads them as root, Sluice too; temp dir only
}

# ---- main ----

crypto_part() {
	local kv=$TMP/kv lib out
	for lib in wolfcrypt openssl; do
		wait_quiet
		if [ "$lib" = wolfcrypt ]; then
			out=$(taskset -c "$SERVER_CPU" build/perf/tls/bench_tls_crypto 1 2>"$TMP/err.txt")
		else
			out=$(taskset -c "$SERVER_CPU" "$LOAD" crypto --secs 1 2>"$TMP/err.txt")
		fi
		printf 'impl="crypto"\ncert="-"\nrun=1\ntest="%s"\nclient=%s\n' "$lib" "${out:-null}" >"$kv"
		[ -n "$out" ] || kv_err "$kv" "$(tail -n 2 "$TMP/err.txt" | tr '\n' ' ')"
		record "$kv"
	done
}

mkdir -p "$OUT"
if [ "$KEEP" != 1 ]; then
	: >"$RAW"
	: >"$STATS"
fi
$PY - >>"$RAW" <<EOF
import json, os, platform, subprocess
def sh(c):
    try: return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception: return ""
print(json.dumps(dict(suite="tls", impl="env", date=sh("date -u +%FT%TZ"), kernel=platform.release(),
                      cpu=sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
                      ncpu=os.cpu_count(), commit=os.environ.get("PERF_COMMIT") or sh("git rev-parse --short HEAD"),
                      runs=$RUNS, secs=$SECS, warmup=$WARMUP, conc=$CONC, idle_n=$IDLE_N,
                      bulk_count=$BULK_COUNT, bulk_size=$BULK_SIZE, client_cpu=$CLIENT_CPU,
                      server_cpu=$SERVER_CPU, dovecot_login_procs=$DOVECOT_LOGIN_PROCS,
                      dovecot=sh("dovecot --version"), openssl=sh("openssl version"),
                      wolfssl=sh("dpkg-query -W -f='\${Version}' libwolfssl35 2>/dev/null || dpkg-query -W -f='\${Version}' libwolfssl-dev"))))
EOF

case " $PARTS " in *" crypto "*) crypto_part ;; esac
case " $PARTS " in *" rounds "*) ;; *) RUNS=0 ;; esac
make_certs || { log "cannot make the test certificates"; exit 1; }
[ "$RUNS" = 0 ] || veth_up || { log "cannot create namespaces $NS_DOV/$NS_DCL"; exit 1; }
for r in $(seq 1 "$RUNS"); do
	for cert in $CERTS; do
		for impl in $IMPLS; do
			log "run $r/$RUNS, $cert: $impl"
			"${impl}_round" "$cert" "$r"
		done
	done
done
cleanup
trap - EXIT

if [ "${PROFILE:-0}" = 1 ]; then
	log "wrote $OUT/tls.profile-*.txt ($RAW: the profiled run's figures)"
	exit 0
fi
$PY perf/tls/report.py "$RAW" "$OUT/tls.md" "$OUT/tls.png" || exit 1
log "wrote $OUT/tls.md and $OUT/tls.png"
