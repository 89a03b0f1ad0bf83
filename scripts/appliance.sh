#!/bin/bash
# appliance.sh - run, start or stop the appliance on a TAP in namespace
# `sluice` (the network contract of DESIGN.md: appliance 198.18.0.2, kernel
# side 198.18.0.1).
#
#   scripts/appliance.sh run|start|stop|status
#
# Environment: CONF (default conf/demo.conf), SLUICED (default
# build/sluiced), NETNS (default sluice), RUNDIR (default /run/sluice),
# DEMO_DOMAIN / DEMO_USER / DEMO_PASSWORD (default sluice.test,
# demo@sluice.test, demo: provisioned at start, with postmaster@DOMAIN as an
# alias of the user, when the config has a store and they are absent;
# DEMO_DOMAIN= skips it).
set -u
cd "$(dirname "$0")/.."
CONF=${CONF:-conf/demo.conf}
SLUICED=${SLUICED:-build/sluiced}
NETNS=${NETNS:-sluice}
RUNDIR=${RUNDIR:-/run/sluice}
SLUICECTL=${SLUICECTL:-build/sluicectl}
DEMO_DOMAIN=${DEMO_DOMAIN-sluice.test}
DEMO_USER=${DEMO_USER:-demo@$DEMO_DOMAIN}
DEMO_PASSWORD=${DEMO_PASSWORD:-demo}
TAP=sluice0
APPLIANCE_IP=198.18.0.2
KERNEL_CIDR=198.18.0.1/24
PIDFILE=$RUNDIR/sluiced.pid
LOG=$RUNDIR/sluiced.log
CREATED_NS=$RUNDIR/created-netns

die() { echo "appliance: $*" >&2; exit 1; }

is_running() {
	[ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

setup_netns() {
	if ! ip netns list | grep -qw "^$NETNS"; then
		ip netns add "$NETNS" || die "cannot create namespace $NETNS"
		touch "$CREATED_NS"
	fi
	ip -n "$NETNS" link set lo up
}

# Wait for the TAP that DPDK creates, then give the kernel side its address.
configure_tap() {
	for _ in $(seq 1 200); do
		if ip -n "$NETNS" link show "$TAP" >/dev/null 2>&1; then
			ip -n "$NETNS" addr replace "$KERNEL_CIDR" dev "$TAP"
			ip -n "$NETNS" link set "$TAP" up
			return 0
		fi
		is_running || return 1
		sleep 0.05
	done
	return 1
}

wait_ready() {
	for _ in $(seq 1 300); do
		is_running || return 1
		if build/sluicectl status >/dev/null 2>&1 &&
			ip netns exec "$NETNS" ping -c1 -W1 "$APPLIANCE_IP" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# The demo domain and user, created only if absent (idempotent). Skipped
# when the daemon has no store.
provision() {
	[ -n "$DEMO_DOMAIN" ] || return 0
	domains=$("$SLUICECTL" domain list 2>/dev/null) || return 0
	if ! printf '%s\n' "$domains" | grep -qx "$DEMO_DOMAIN"; then
		"$SLUICECTL" domain add "$DEMO_DOMAIN" >/dev/null || return 1
	fi
	if ! "$SLUICECTL" user list "$DEMO_DOMAIN" | awk '{print $1}' | grep -qx "$DEMO_USER"; then
		printf '%s\n' "$DEMO_PASSWORD" |
			"$SLUICECTL" user add "$DEMO_USER" --password-stdin >/dev/null || return 1
	fi
	# RFC 5321 §4.5.1: postmaster must exist.
	if ! "$SLUICECTL" alias list | grep -q "^postmaster@$DEMO_DOMAIN -> "; then
		"$SLUICECTL" alias add "postmaster@$DEMO_DOMAIN" "$DEMO_USER" >/dev/null || return 1
	fi
	return 0
}

launch() {
	[ -x "$SLUICED" ] || die "$SLUICED not built (run make)"
	is_running && die "already running (pid $(cat "$PIDFILE")); make stop first"
	mkdir -p "$RUNDIR" /var/lib/sluice
	"$SLUICED" --config "$CONF" --check-config >/dev/null || exit 1
	setup_netns
	# The daemon must not keep descriptors it inherited (a caller's
	# `flock LOCK scripts/appliance.sh start` would stay locked while it runs).
	(
		for fd in $(ls /proc/$BASHPID/fd); do
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec ip netns exec "$NETNS" "$SLUICED" --config "$CONF" </dev/null >"$LOG" 2>&1
	) &
	echo $! >"$PIDFILE"
	if ! configure_tap || ! wait_ready; then
		echo "appliance: did not come up; log follows:" >&2
		tail -n 30 "$LOG" >&2
		stop
		exit 1
	fi
	if ! provision; then
		echo "appliance: could not provision $DEMO_USER; log follows:" >&2
		tail -n 30 "$LOG" >&2
		stop
		exit 1
	fi
}

stop() {
	if is_running; then
		pid=$(cat "$PIDFILE")
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$PIDFILE"
	if [ -f "$CREATED_NS" ]; then
		ip netns del "$NETNS" 2>/dev/null
		rm -f "$CREATED_NS"
	fi
}

banner() {
	cat <<EOT
Sluice is up: appliance $APPLIANCE_IP on TAP $TAP in namespace '$NETNS' (log: $LOG).
Try it:
  ip netns exec $NETNS ping -c3 $APPLIANCE_IP
  echo hello | ip netns exec $NETNS nc -q1 $APPLIANCE_IP 7      # TCP echo
  build/sluicectl status
  build/sluicectl show interfaces | show connections | show stats
EOT
	"$SLUICECTL" domain list >/dev/null 2>&1 || return 0
	cat <<EOT
Mail (domain $DEMO_DOMAIN, user $DEMO_USER, password "$DEMO_PASSWORD"):
  send one to the MX (port 25):
    ip netns exec $NETNS swaks --server $APPLIANCE_IP --from alice@example.org --to $DEMO_USER
  submit one with AUTH (port 587; plaintext AUTH is allowed there in the demo only):
    ip netns exec $NETNS swaks --server $APPLIANCE_IP --port 587 --auth PLAIN \\
        --auth-user $DEMO_USER --auth-password $DEMO_PASSWORD --from $DEMO_USER --to $DEMO_USER
  read it with a client (IMAP 143/993, POP3 110/995; plaintext login on 143/110 in the demo only):
    ip netns exec $NETNS curl -s --user $DEMO_USER:$DEMO_PASSWORD imap://$APPLIANCE_IP/INBOX -X 'FETCH 1 BODY[]'
    ip netns exec $NETNS curl -sk --user $DEMO_USER:$DEMO_PASSWORD pop3s://$APPLIANCE_IP/1
  read it back:
    build/sluicectl mailbox list $DEMO_USER
    build/sluicectl message list $DEMO_USER INBOX
    build/sluicectl message get $DEMO_USER INBOX 1
  manage: build/sluicectl help   (domain, user, alias, mailbox, message, backup)
EOT
}

case "${1:-}" in
start)
	launch
	banner
	;;
run)
	launch
	banner
	echo "Ctrl-C stops it."
	trap 'stop; exit 0' INT TERM
	while is_running; do sleep 0.5; done
	echo "appliance: sluiced exited; log follows:" >&2
	tail -n 20 "$LOG" >&2
	stop
	;;
stop)
	stop
	;;
status)
	is_running && echo "running (pid $(cat "$PIDFILE"))" || { echo "not running"; exit 1; }
	;;
*)
	echo "usage: $0 run|start|stop|status" >&2
	exit 2
	;;
esac
