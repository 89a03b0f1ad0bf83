#!/bin/bash
# perf/imap/run.sh - issue 6's IMAP benchmark: the same account (MESSAGES
# messages of SIZE bytes, loaded with APPEND) and the same client
# (perf/imap/bench.py) against Sluice over the TAP (namespace `sluice`,
# 198.18.0.2:143) and against Dovecot 2.3 (Debian) over a veth pair between
# two namespaces of our own (sluiceperf-dvs 198.19.4.1 <-> sluiceperf-dvc
# 198.19.4.2), in one run. Results: perf/results/imap.jsonl (one line per
# workload and server) and perf/results/imap.md (ratios).
#
# Needs root, dovecot-imapd (Debian), a built tree (build/sluiced). Uses the
# shared namespace `sluice` under flock /tmp/sluice-netns.lock. Bounded: every
# client has timeouts; Dovecot and the namespaces are removed on exit.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
MESSAGES=${MESSAGES:-5000}
SIZE=${SIZE:-4096}
CLIENTS=${CLIENTS:-50}
ROUNDS=${ROUNDS:-4}
OUT=${OUT:-$ROOT/perf/results}
PY=/usr/bin/python3
NS_S=sluiceperf-dvs
NS_C=sluiceperf-dvc
D=$(mktemp -d /tmp/sluice-imap-perf.XXXXXX)
DV_PID=
log() { echo "perf/imap: $*" >&2; }

cleanup() {
	[ -n "$DV_PID" ] && kill "$DV_PID" 2>/dev/null
	sleep 0.5
	ip netns pids "$NS_S" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT

mkdir -p "$OUT"
JSONL=$OUT/imap.jsonl
[ "${1:-}" = "--sluice" ] || : >"$JSONL"

# ---- Sluice -------------------------------------------------------------
USER_S="bench-$(date +%s)@sluice.test"
PASS_S="pw-$RANDOM$RANDOM"
run_sluice() {
	if [ ! -S /run/sluice/sluiced.sock ]; then
		CONF=$ROOT/conf/demo.conf scripts/appliance.sh start >&2 || return 1
	fi
	local pid
	pid=$(cat /run/sluice/sluiced.pid)
	echo "$PASS_S" | build/sluicectl user add "$USER_S" --password-stdin >&2 || return 1
	ip netns exec sluice "$PY" perf/imap/bench.py --host 198.18.0.2 --port 143 \
		--user "$USER_S" --password "$PASS_S" --name sluice --pids "$pid" \
		--messages "$MESSAGES" --size "$SIZE" --clients "$CLIENTS" --rounds "$ROUNDS" \
		>>"$JSONL"
	build/sluicectl user del "$USER_S" >&2 || true
}
if [ "${1:-}" = "--sluice" ]; then
	# the part that uses the shared namespace, under its lock (see below)
	run_sluice || log "sluice run failed"
	exit 0
fi
log "sluice: $MESSAGES x $SIZE B"
export MESSAGES SIZE CLIENTS ROUNDS OUT
flock /tmp/sluice-netns.lock "$0" --sluice

# ---- Dovecot ------------------------------------------------------------
ip netns add "$NS_S" && ip netns add "$NS_C" &&
	ip link add sp-dvc netns "$NS_C" type veth peer name sp-dvs netns "$NS_S" &&
	ip -n "$NS_S" addr add 198.19.4.1/24 dev sp-dvs && ip -n "$NS_S" link set sp-dvs up &&
	ip -n "$NS_S" link set lo up &&
	ip -n "$NS_C" addr add 198.19.4.2/24 dev sp-dvc && ip -n "$NS_C" link set sp-dvc up &&
	ip -n "$NS_C" link set lo up || { log "cannot create $NS_S/$NS_C"; exit 1; }
USER_D=bench@example.net
PASS_D="pw-$RANDOM$RANDOM"
mkdir -p "$D/run" "$D/state" "$D/mail" "$D/home"
chown 65534:65534 "$D/mail" "$D/home"
chmod 755 "$D"
# the same password hash family as Sluice's store (argon2id)
HASH=$(doveadm pw -s ARGON2ID -p "$PASS_D" 2>/dev/null || doveadm pw -s SHA512-CRYPT -p "$PASS_D")
echo "$USER_D:$HASH" >"$D/passwd"
cat >"$D/dovecot.conf" <<EOF
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
protocols = imap
listen = 198.19.4.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:$D/mail/%u
passdb {
  driver = passwd-file
  args = $D/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$D/home/%u
}
service imap-login {
  process_min_avail = 2
}
EOF
ip netns exec "$NS_S" dovecot -F -c "$D/dovecot.conf" &
DV_PID=$!
for _ in $(seq 50); do
	ip netns exec "$NS_C" bash -c "exec 3<>/dev/tcp/198.19.4.1/143" 2>/dev/null && break
	sleep 0.2
done
log "dovecot: $MESSAGES x $SIZE B"
ip netns exec "$NS_C" timeout 1800 "$PY" perf/imap/bench.py --host 198.19.4.1 --port 143 \
	--user "$USER_D" --password "$PASS_D" --name dovecot --pids "$DV_PID" \
	--messages "$MESSAGES" --size "$SIZE" --clients "$CLIENTS" --rounds "$ROUNDS" \
	>>"$JSONL" || log "dovecot run failed (log: $(tail -3 "$D/dovecot.log" 2>/dev/null))"

"$PY" perf/imap/report.py "$JSONL" >"$OUT/imap.md" && cat "$OUT/imap.md"
