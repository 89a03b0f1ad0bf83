#!/bin/bash
# appliance.sh - run, start or stop the appliance on a TAP in namespace
# `sluice` (the network contract of DESIGN.md: appliance 198.18.0.2, kernel
# side 198.18.0.1).
#
#   scripts/appliance.sh run|start|stop|status
#
# Environment: CONF (default conf/demo.conf), SLUICED (default
# build/sluiced), NETNS (default sluice), RUNDIR (default /run/sluice).
set -u
cd "$(dirname "$0")/.."
CONF=${CONF:-conf/demo.conf}
SLUICED=${SLUICED:-build/sluiced}
NETNS=${NETNS:-sluice}
RUNDIR=${RUNDIR:-/run/sluice}
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

launch() {
	[ -x "$SLUICED" ] || die "$SLUICED not built (run make)"
	is_running && die "already running (pid $(cat "$PIDFILE")); make stop first"
	mkdir -p "$RUNDIR"
	"$SLUICED" --config "$CONF" --check-config >/dev/null || exit 1
	setup_netns
	ip netns exec "$NETNS" "$SLUICED" --config "$CONF" </dev/null >"$LOG" 2>&1 &
	echo $! >"$PIDFILE"
	if ! configure_tap || ! wait_ready; then
		echo "appliance: did not come up; log follows:" >&2
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
