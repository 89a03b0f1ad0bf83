#!/bin/bash
# perf/run_all.sh - every benchmark suite in turn (`make perf` builds the
# binaries first). Each suite writes its table and plot under perf/results/;
# a failing suite does not stop the others, but the exit status says so.
set -u
cd "$(dirname "$0")/.."
status=0
for suite in perf/tcp/run.sh; do
	echo "== $suite" >&2
	"$suite" || { echo "perf: $suite failed" >&2; status=1; }
done
# The store (issue 3) and SMTP (issue 4) suites.
for suite in perf/store/run.sh perf/smtp/run.sh; do
	echo "== $suite" >&2
	"$suite" || { echo "perf: $suite failed" >&2; status=1; }
done
# The TLS suite (issue 7): Sluice vs Dovecot on 993.
for suite in perf/tls/run.sh; do
	echo "== $suite" >&2
	"$suite" || { echo "perf: $suite failed" >&2; status=1; }
done
exit $status
