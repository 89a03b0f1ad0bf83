#!/bin/bash
# perf/tls/hsprof.sh - Sluice alone: server CPU per TLS 1.3 handshake, and
# where it goes. A development tool beside perf/tls/run.sh (which is the
# measurement against Dovecot): it starts the shared appliance with a fresh
# certificate on 993, runs `tlsload hs` (full, or --resume), reads sluiced's
# utime+stime around it, and with PERF=1 records a call-graph profile of
# sluiced during the run and summarises it.
#
#   flock /tmp/sluice-perf.lock perf/tls/hsprof.sh
#
# It takes /tmp/sluice-netns.lock itself, for the whole run.
# Environment: CERT (rsa | ecdsa, default rsa), RESUME (0 | 1), SECS (5),
# WARMUP (1), CONC (16), CLIENT_CPU (1), PERF (0 | 1), IDLE_SLEEP (the
# worker's dataplane.idle_sleep, e.g. 50us; default: conf/demo.conf's), OUTDIR (a temp dir;
# perf.data, report.txt and stats.txt are kept there), LOCK.
set -u
cd "$(dirname "$0")/../.."

CERT=${CERT:-rsa}
RESUME=${RESUME:-0}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
CONC=${CONC:-16}
CLIENT_CPU=${CLIENT_CPU:-1}
PERF=${PERF:-0}
IDLE_SLEEP=${IDLE_SLEEP:-}
LOCK=${LOCK:-/tmp/sluice-netns.lock}
OUTDIR=${OUTDIR:-$(mktemp -d /var/tmp/sluice-hsprof.XXXXXX)}
LOAD=build/perf/tls/tlsload
TCK=$(getconf CLK_TCK)

log() { echo "hsprof: $*" >&2; }

[ -x "$LOAD" ] && [ -x build/sluiced ] || { log "build first: make all perf-bins"; exit 1; }
mkdir -p "$OUTDIR"
case $CERT in
rsa) newkey=(-newkey rsa:2048) ;;
ecdsa) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
*) log "CERT is rsa or ecdsa"; exit 1 ;;
esac
openssl req -x509 "${newkey[@]}" -nodes -days 30 -keyout "$OUTDIR/key.pem" \
	-out "$OUTDIR/cert.pem" -subj /CN=mx.sluice.test -addext subjectAltName=DNS:mx.sluice.test \
	2>/dev/null || { log "openssl req failed"; exit 1; }
rm -rf "$OUTDIR/store"
sed -e "s|^\( *path = \).*|\1\"$OUTDIR/store\";|" \
	-e "/^imap {/,/^}/s|^\( *max_connections_per_ip = \)[0-9]*;|\14000;\n    max_connections = 4000;|" \
	-e "s|^tls {|tls {\n    cert = \"$OUTDIR/cert.pem\";\n    key = \"$OUTDIR/key.pem\";\n    handshakes_per_ip = 256;|" \
	conf/demo.conf >"$OUTDIR/sluice.conf"
if [ -n "$IDLE_SLEEP" ]; then
	sed -i "s|^\( *idle_sleep = \).*;|\1$IDLE_SLEEP;|" "$OUTDIR/sluice.conf"
	grep -q "idle_sleep = $IDLE_SLEEP;" "$OUTDIR/sluice.conf" || { log "cannot set idle_sleep"; exit 1; }
fi

exec 9>>"$LOCK"
flock -w 1800 9 || { log "no $LOCK"; exit 1; }
if scripts/appliance.sh status >/dev/null 2>&1; then
	log "an appliance is already running (not ours)"
	exit 1
fi
CONF="$OUTDIR/sluice.conf" scripts/appliance.sh start >"$OUTDIR/appliance.log" 2>&1 9>&- ||
	{ tail -n 20 "$OUTDIR/appliance.log" >&2; exit 1; }
PID=$(cat /run/sluice/sluiced.pid)
trap 'scripts/appliance.sh stop >/dev/null 2>&1 9>&-' EXIT

cpu_ns() { awk -v t="$TCK" '{printf "%.0f\n", ($14 + $15) * 1e9 / t}' "/proc/$PID/stat"; }
extra=()
[ "$RESUME" = 1 ] && extra=(--resume)
build/sluicectl show stats >"$OUTDIR/stats0.txt" 2>&1
PP=""
if [ "$PERF" = 1 ]; then
	perf record -e cpu-clock -F 1999 -g -o "$OUTDIR/perf.data" -p "$PID" >/dev/null 2>&1 9>&- &
	PP=$!
	sleep 0.3
fi
c0=$(cpu_ns)
ip netns exec sluice taskset -c "$CLIENT_CPU" "$LOAD" hs --addr 198.18.0.2 --port 993 \
	--conc "$CONC" --secs "$SECS" --warmup "$WARMUP" "${extra[@]}" >"$OUTDIR/out.json" 2>"$OUTDIR/err.txt" 9>&-
rc=$?
c1=$(cpu_ns)
[ -n "$PP" ] && { kill -INT "$PP"; wait "$PP"; }
build/sluicectl show stats >"$OUTDIR/stats1.txt" 2>&1
build/sluicectl status >"$OUTDIR/status.txt" 2>&1
[ "$rc" = 0 ] || { log "tlsload failed ($rc)"; exit 1; }
/usr/bin/python3 - "$OUTDIR/out.json" "$c0" "$c1" "$CERT" "$RESUME" <<'EOF'
import json, sys
d = json.loads(open(sys.argv[1]).readline())
cpu = (int(sys.argv[3]) - int(sys.argv[2])) / 1e9
tot = d["ok_total"]  # the server's CPU covers the warm-up too
print(f"cert={sys.argv[4]} resume={sys.argv[5]} client={json.dumps(d)}")
print(f"resumed share {d['resumed'] / max(d['ok'], 1):.3f}; "
      f"server CPU {cpu:.3f} s for {tot} handshakes: {cpu * 1000 / max(tot, 1):.3f} ms each, "
      f"{tot / cpu if cpu else 0:.0f} hs/CPU-s")
EOF
if [ "$PERF" = 1 ]; then
	perf report -i "$OUTDIR/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null |
		grep '%' | head -n 12 >"$OUTDIR/report.txt"
	perf report -i "$OUTDIR/perf.data" --stdio --no-children --sort dso,sym -g none 2>/dev/null |
		grep '%' | head -n 60 >>"$OUTDIR/report.txt"
	log "profile: $OUTDIR/report.txt"
fi
log "outputs in $OUTDIR"
