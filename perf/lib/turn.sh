# perf/lib/turn.sh - sourced by perf/*/run.sh (from the repository root):
# taking turns on a shared box and telling whether the running appliance is
# ours. The caller defines log(), and for wait_turn EXCL_WAIT, QUIET_PCT and
# QUIET_WAIT; appliance_mine reads MY_PID.

BUSY=""
# box_busy: % of all CPUs busy over the next second, whoever uses them.
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

# others: test runs and benchmarks of other sessions that are running now.
others() {
	local l
	# Collected first: a grep running beside pgrep would match itself.
	l=$(pgrep -af 'run_tests\.sh|bench_|iperf3|smtp-source|/fuzz_' 2>/dev/null)
	printf '%s\n' "$l" | grep -oE 'run_tests\.sh|bench_[a-z_]+|iperf3|smtp-source|fuzz_[a-z0-9_]+' |
		sort -u | tr '\n' ' '
}

# hogs: processes using >= 20 % of a CPU right now (fuzzers, compilers of
# other sessions that we do not wait for), recorded with each run.
HOGS=""
hogs() {
	top -bn2 -d 0.5 -w 200 2>/dev/null |
		awk '/^top -/ {n++} n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 20 {print $12}' |
		sort -u | tr '\n' ' '
}

OTHERS=""
# wait_turn: wait (up to EXCL_WAIT s) until no test run or other benchmark
# is running, then (up to QUIET_WAIT s) for the box to be quiet. Sets BUSY
# and OTHERS (what was still running when we started anyway) and HOGS.
wait_turn() {
	local t=0 q=0
	for (( ; ; )); do
		OTHERS=$(others)
		if [ -n "$OTHERS" ] && [ "$t" -lt "$EXCL_WAIT" ]; then
			[ "$t" = 0 ] && log "waiting up to ${EXCL_WAIT}s for: $OTHERS"
			sleep 10
			t=$((t + 10))
			continue
		fi
		BUSY=$(box_busy)
		if [ "$BUSY" -gt "$QUIET_PCT" ] && [ "$q" -lt "$QUIET_WAIT" ]; then
			[ "$q" = 0 ] && log "box is ${BUSY}% busy (other jobs); waiting up to ${QUIET_WAIT}s"
			sleep 1
			q=$((q + 2))
			continue
		fi
		# A test run or benchmark that started while we waited for quiet.
		OTHERS=$(others)
		[ -n "$OTHERS" ] && [ "$t" -lt "$EXCL_WAIT" ] && continue
		HOGS=$(hogs)
		return 0
	done
}

# appliance_busy: someone else's appliance, e2e run or namespace is up.
appliance_busy() {
	scripts/appliance.sh status >/dev/null 2>&1 || pgrep -f "pytest.*tests/e2e" >/dev/null ||
		ip -n sluice link show sluice0 >/dev/null 2>&1
}

# appliance_mine: the running sluiced is the one this script started.
appliance_mine() {
	[ -n "$MY_PID" ] && [ "$(cat /run/sluice/sluiced.pid 2>/dev/null)" = "$MY_PID" ] &&
		kill -0 "$MY_PID" 2>/dev/null
}
