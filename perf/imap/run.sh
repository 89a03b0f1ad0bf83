#!/bin/bash
# perf/imap/run.sh - issue 6's IMAP/POP3 benchmark: the same account
# (MESSAGES messages of SIZE bytes, loaded with APPEND), the same client
# (perf/imap/bench.py) and the same workloads against Sluice over the TAP
# (namespace `sluice`, 198.18.0.2) and against Dovecot 2.3 (Debian) over a
# veth pair between two namespaces of our own (sluiceperf-dvs 198.19.4.1 <->
# sluiceperf-dvc 198.19.4.2), RUNS times, interleaved. Results:
# perf/results/imap.jsonl (one line per workload, server and run),
# imap.md (medians, ratios, every run) and imap.png (report.py).
#
# Fairness (docs/perf.md, IMAP section):
# - Both servers on SERVER_CPU (0: Sluice's worker lcore; Dovecot's master
#   under taskset, all its processes inherit it), the client on CLIENT_CPU.
# - Server CPU: sluiced's utime+stime (all threads); Dovecot's cpuacct
#   cgroup (master, login, auth, anvil, log, imap/pop3, exited ones too).
# - Durable on both: Sluice's LMDB commits with fsync; Dovecot with
#   mail_fsync = optimized (its default) on the same ext4 file system.
# - The same password hash: argon2id with Sluice's store parameters
#   (t=2, m=19456 KiB, p=1), made with libargon2 and checked by Dovecot's
#   libsodium ({ARGON2ID}); HASH=cheap gives both the cheapest argon2id
#   (t=1, m=8 KiB), to show what a login costs besides the hash.
# - Dovecot's login processes in high-performance mode (service_count = 0,
#   one long-lived imap-login and pop3-login), the fastest configuration
#   its documentation gives; imap/pop3 processes are Debian's default.
#
# Knobs: RUNS (3), MESSAGES (5000), SIZE (4096), CLIENTS (50), ROUNDS (4),
# WINDOW (64 pipelined POP3 RETRs), REPEAT (5: repetitions of each
# read-only row per run, the fastest kept; others' builds share the box),
# CLIENT (c: fetch_all and pop3_retr
# with perf/imap/mailget; python: with bench.py's readers), IMPLS ("sluice dovecot"), WORKLOADS
# (all), SERVER_CPU (0), CLIENT_CPU (1), HASH (argon2id|cheap), PROFILE (1:
# perf record, 999 Hz, of sluiced during each Sluice workload, summarised
# by thread, library and function into OUT/imap.profile-sluice-WORKLOAD.txt;
# perf's sampling costs a few per cent, so give such a run its own OUT),
# KEEP (1: append to imap.jsonl),
# BIN (build: the directory of sluiced and sluicectl), REV (the commit
# they were built from; default HEAD), LOCK_WAIT (1800 s), APPLIANCE_WAIT (900 s), PARENT (/var/tmp), LOCK_HELD
# (1: the caller holds /tmp/sluice-netns.lock for the whole run, e.g.
# `flock /tmp/sluice-perf.lock flock /tmp/sluice-netns.lock env LOCK_HELD=1
# perf/imap/run.sh`; by default the script takes it only around each Sluice
# run, which leaves the namespace to others while Dovecot is measured).
#
# Needs root, dovecot-imapd + dovecot-pop3d, a built tree (make all). The
# appliance is ours for each Sluice run: started from build/sluiced with a
# store in our temp dir under flock /tmp/sluice-netns.lock, stopped before
# the lock is released. Bounded: client timeouts, `timeout` on each run.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
RUNS=${RUNS:-3}
MESSAGES=${MESSAGES:-5000}
SIZE=${SIZE:-4096}
CLIENTS=${CLIENTS:-50}
ROUNDS=${ROUNDS:-4}
WINDOW=${WINDOW:-64}
REPEAT=${REPEAT:-5}
IMPLS=${IMPLS:-sluice dovecot}
WORKLOADS=${WORKLOADS:-load,fetch_all,structure,search,store,sessions,pop3_retr}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
HASH=${HASH:-argon2id}
PROFILE=${PROFILE:-0}
KEEP=${KEEP:-0}
LOCK=/tmp/sluice-netns.lock
LOCK_WAIT=${LOCK_WAIT:-1800}
LOCK_HELD=${LOCK_HELD:-0}
APPLIANCE_WAIT=${APPLIANCE_WAIT:-900}
PARENT=${PARENT:-/var/tmp}
OUT=${OUT:-$ROOT/perf/results}
PY=/usr/bin/python3
NS_S=sluiceperf-dvs
NS_C=sluiceperf-dvc
DV_IP=198.19.4.1
APPLIANCE_IP=198.18.0.2
log() { echo "perf/imap: $*" >&2; }

# BIN: where sluiced and sluicectl are (default build/); a copy elsewhere
# lets the tree be rebuilt while a long run goes on
BIN=${BIN:-build}
[ -x "$BIN/sluiced" ] && [ -x "$BIN/sluicectl" ] || { log "$BIN/sluiced not built (make all)"; exit 1; }
export SLUICED=$BIN/sluiced SLUICECTL=$BIN/sluicectl
# CLIENT=c (default): fetch_all and pop3_retr read with the C client
# ($BIN/perf/imap/mailget, built by make all); CLIENT=python: bench.py's
# own readers, which bound those rows (kept to show the difference)
CLIENT=${CLIENT:-c}
MAILGET_OPT=()
if [ "$CLIENT" = c ]; then
	[ -x "$BIN/perf/imap/mailget" ] || { log "$BIN/perf/imap/mailget not built (make all)"; exit 1; }
	MAILGET_OPT=(--mailget "$(realpath "$BIN/perf/imap/mailget")")
fi
command -v dovecot >/dev/null || { log "dovecot missing (make perf-deps)"; exit 1; }
[ -d /sys/fs/cgroup/cpuacct ] || { log "no cgroup v1 cpuacct hierarchy for Dovecot's CPU"; exit 1; }
CG=/sys/fs/cgroup/cpuacct/sluiceperf-imap.$$
TMP=$(mktemp -d "$PARENT/sluiceperf-imap.XXXXXX") || exit 1
chmod 755 "$TMP" # Dovecot's login (dovenull) and mail (nobody) processes live below it
STARTED_APPLIANCE=0
MY_PID=
DOV_DIR=
LOCKED=0
REV=${REV:-$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- mta netstack store platform || echo +dirty)}

mkdir -p "$OUT"
JSONL=$OUT/imap.jsonl
[ "$KEEP" = 1 ] || : >"$JSONL"

# ---- locks and the shared appliance ----

lock_take() {
	[ "$LOCK_HELD" = 1 ] && return 0
	exec 9>>"$LOCK" || return 1
	flock -w "$LOCK_WAIT" 9 || { exec 9>&-; log "could not get $LOCK in ${LOCK_WAIT}s"; return 1; }
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

# conf/demo.conf with the store in our temp dir and the per-address limits
# lifted to what the 50-session row needs (the whole client is one address;
# Dovecot's mail_max_userip_connections is lifted the same way).
sluice_conf() { # STOREDIR
	local a2="\1\"$1\";"
	# HASH=cheap: the cheapest argon2id on both sides (see argon2_hash)
	[ "$HASH" = cheap ] && a2="$a2\n    argon2_iterations = 1;\n    argon2_memory = 8k;"
	sed -e "s|^\( *path = \).*|$a2|" \
		-e "/^imap {/,/^}/s|^\( *max_connections_per_ip = \)[0-9]*;|\1400;|" \
		-e "/^pop3 {/,/^}/s|^\( *max_connections_per_ip = \)[0-9]*;|\1400;|" \
		conf/demo.conf >"$TMP/sluice.conf"
	grep -q "path = \"$1\"" "$TMP/sluice.conf"
}

appliance_up() { # STOREDIR
	local t=0
	while scripts/appliance.sh status >/dev/null 2>&1; do
		[ "$t" -ge "$APPLIANCE_WAIT" ] && { log "an appliance is running (not ours); gave up"; return 1; }
		[ "$t" = 0 ] && log "an appliance is running (not ours); waiting up to ${APPLIANCE_WAIT}s"
		lock_drop
		sleep 10
		t=$((t + 10))
		lock_take || return 1
	done
	sluice_conf "$1" || { log "cannot make the appliance config"; return 1; }
	CONF="$TMP/sluice.conf" scripts/appliance.sh start >"$TMP/appliance.log" 2>&1 9>&- || {
		tail -n 20 "$TMP/appliance.log" >&2
		return 1
	}
	STARTED_APPLIANCE=1
	MY_PID=$(cat /run/sluice/sluiced.pid 2>/dev/null)
}

appliance_down() {
	if [ "$STARTED_APPLIANCE" = 1 ] && appliance_mine; then
		scripts/appliance.sh stop >/dev/null 2>&1 9>&-
	fi
	STARTED_APPLIANCE=0
	MY_PID=
}

# ---- Dovecot in namespaces of our own ----

veth_up() {
	ip netns add "$NS_S" && ip netns add "$NS_C" &&
		ip link add sp-dvc netns "$NS_C" type veth peer name sp-dvs netns "$NS_S" &&
		ip -n "$NS_S" addr add "$DV_IP/24" dev sp-dvs && ip -n "$NS_S" link set sp-dvs up &&
		ip -n "$NS_S" link set lo up &&
		ip -n "$NS_C" addr add 198.19.4.2/24 dev sp-dvc && ip -n "$NS_C" link set sp-dvc up &&
		ip -n "$NS_C" link set lo up
}

# An argon2id hash with Sluice's store parameters (store/st_env.c:
# t_cost 2, m_cost 19456 KiB, parallelism 1; 16-byte salt, 32-byte hash);
# with HASH=cheap the cheapest argon2id (t_cost 1, m_cost 8 KiB), which
# Sluice's store is then configured to use too.
argon2_hash() { # PASSWORD
	"$PY" - "$1" "$HASH" <<'EOF'
import ctypes, os, sys
lib = ctypes.CDLL("libargon2.so.1")
z, u32, p = ctypes.c_size_t, ctypes.c_uint32, ctypes.c_void_p
lib.argon2id_hash_encoded.argtypes = [u32, u32, u32, p, z, p, z, z, ctypes.c_char_p, z]
pw = sys.argv[1].encode()
salt = os.urandom(16)
out = ctypes.create_string_buffer(256)
t, m = (1, 8) if sys.argv[2] == "cheap" else (2, 19456)
rc = lib.argon2id_hash_encoded(t, m, 1, pw, len(pw), salt, 16, 32, out, 256)
if rc != 0:
    sys.exit(f"argon2id_hash_encoded: {rc}")
print(out.value.decode())
EOF
}

dov_start() { # DIR USER PASS
	local d=$1 h
	mkdir -p "$d/run" "$d/state" "$d/mail" || return 1
	chown 65534:65534 "$d/mail" || return 1
	h="{ARGON2ID}$(argon2_hash "$3")" || return 1
	echo "$2:$h" >"$d/passwd"
	cat >"$d/dovecot.conf" <<EOF
# perf/imap: a private Dovecot instance for the benchmark (deleted after it).
base_dir = $d/run
state_dir = $d/state
instance_name = sluiceperf-imap
listen = $DV_IP
protocols = imap pop3
log_path = $d/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = username_format=%u $d/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$d/mail/%u
}
mail_location = maildir:~/Maildir
# durable, as deployed: Dovecot's default (fsync after saves and flag changes)
mail_fsync = optimized
mail_max_userip_connections = 400
default_vsz_limit = 1G
service imap-login {
  service_count = 0
  process_min_avail = 1
  process_limit = 1
  client_limit = 1000
}
service pop3-login {
  service_count = 0
  process_min_avail = 1
  process_limit = 1
  client_limit = 1000
}
EOF
	mkdir "$CG" || return 1
	(
		echo "$BASHPID" >"$CG/cgroup.procs" &&
			exec ip netns exec "$NS_S" taskset -c "$SERVER_CPU" dovecot -c "$d/dovecot.conf"
	) >"$TMP/dovecot-start.log" 2>&1 9>&- || { cat "$TMP/dovecot-start.log" >&2; return 1; }
	DOV_DIR=$d
	for _ in $(seq 1 100); do
		ip netns exec "$NS_C" bash -c "exec 3<>/dev/tcp/$DV_IP/143" 2>/dev/null && return 0
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
	for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done # ours: in our cgroup
	sleep 0.2
	rmdir "$CG" 2>/dev/null
	DOV_DIR=
}

cleanup() {
	dov_stop
	[ -d "$CG" ] && rmdir "$CG" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	appliance_down
	lock_drop
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- runs ----

extra() { # IMPL RUN
	printf '{"run": %d, "rev": "%s", "hash": "%s", "load_avg": %s, "messages": %d, "size": %d}' \
		"$2" "$REV" "$([ "$HASH" = cheap ] && echo "argon2id t=1 m=8KiB" || echo "argon2id t=2 m=19MiB")" \
		"$(cut -d' ' -f1 /proc/loadavg)" "$MESSAGES" "$SIZE"
}

bench() { # NS IMPL HOST USER PASS RUN [bench.py options]
	local ns=$1 impl=$2 host=$3 user=$4 pass=$5 run=$6
	shift 6
	ip netns exec "$ns" timeout 1800 taskset -c "$CLIENT_CPU" "$PY" perf/imap/bench.py \
		--host "$host" --user "$user" --password "$pass" --name "$impl" \
		--messages "$MESSAGES" --size "$SIZE" --clients "$CLIENTS" --rounds "$ROUNDS" \
		--window "$WINDOW" --repeat "$REPEAT" --workloads "$WORKLOADS" --extra "$(extra "$impl" "$run")" \
		"${MAILGET_OPT[@]}" "$@" \
		>>"$JSONL" 9>&- || log "$impl run $run: bench.py failed"
}

sluice_run() { # RUN
	local run=$1 user pass f w
	lock_take || return 1
	rm -rf "$TMP/sluice-store"
	if appliance_up "$TMP/sluice-store"; then
		user="bench@sluice.test"
		pass="pw-$RANDOM$RANDOM"
		echo "$pass" | "$SLUICECTL" user add "$user" --password-stdin >&2 9>&- || log "cannot add $user"
		log "sluice run $run: $MESSAGES x $SIZE B (load avg $(cut -d' ' -f1-3 /proc/loadavg))"
		if [ "$PROFILE" = 1 ]; then
			mkdir -p "$TMP/prof"
			bench sluice sluice "$APPLIANCE_IP" "$user" "$pass" "$run" --pids "$MY_PID" \
				--perf-dir "$TMP/prof"
			for f in "$TMP"/prof/*.data; do
				w=$(basename "$f" .data)
				perf report -i "$f" --sort comm,dso,sym --percent-limit 0.5 --stdio \
					>"$OUT/imap.profile-$w.txt" 2>/dev/null
			done
			rm -rf "$TMP/prof"
		else
			bench sluice sluice "$APPLIANCE_IP" "$user" "$pass" "$run" --pids "$MY_PID"
		fi
		appliance_mine || { log "the appliance died during run $run"; tail -n 20 /run/sluice/sluiced.log >&2; }
	fi
	appliance_down
	lock_drop
	rm -rf "$TMP/sluice-store"
}

dovecot_run() { # RUN
	local run=$1 pass="pw-$RANDOM$RANDOM"
	rm -rf "$TMP/dovecot"
	dov_start "$TMP/dovecot" bench@example.net "$pass" || { log "dovecot did not start"; dov_stop; return 1; }
	log "dovecot run $run: $MESSAGES x $SIZE B (load avg $(cut -d' ' -f1-3 /proc/loadavg))"
	# `ip netns exec` mounts a sysfs of the namespace's own, without the
	# cgroup tree: the client reads the usage through a descriptor opened here
	bench "$NS_C" dovecot "$DV_IP" bench@example.net "$pass" "$run" --cpu-file /proc/self/fd/8 \
		8<"$CG/cpuacct.usage"
	grep -i -E "error|fatal|panic" "$TMP/dovecot/dovecot.log" | tail -3 >&2
	dov_stop
	rm -rf "$TMP/dovecot"
}

case " $IMPLS " in *" dovecot "*) veth_up || { log "cannot create $NS_S/$NS_C"; exit 1; } ;; esac
for run in $(seq 1 "$RUNS"); do
	for impl in $IMPLS; do
		"${impl}_run" "$run"
	done
done

"$PY" perf/imap/report.py "$JSONL" "$OUT/imap.png" >"$OUT/imap.md" && cat "$OUT/imap.md"
