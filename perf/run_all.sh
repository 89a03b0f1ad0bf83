#!/bin/bash
# perf/run_all.sh - every benchmark suite in turn (`make perf` builds the
# binaries first). Each suite writes its table and plot under perf/results/;
# a failing suite does not stop the others, but the exit status says so.
# Suites that use the network namespace without taking its lock themselves
# (tcp, smtp) run under /tmp/sluice-netns.lock here; tls and imap take it
# per measurement so that tests can run in between.
set -u
cd "$(dirname "$0")/.."
NETNS_LOCK=/tmp/sluice-netns.lock
status=0
run() {
	echo "== $*" >&2
	"$@" || { echo "perf: $* failed" >&2; status=1; }
}
run flock "$NETNS_LOCK" perf/tcp/run.sh     # issue 1: TCP stack vs the kernel
run perf/store/run.sh                       # issue 3: LMDB store
run flock "$NETNS_LOCK" perf/smtp/run.sh    # issue 4: SMTP vs Postfix
run perf/tls/run.sh                         # issue 7: TLS vs Dovecot on 993
run perf/imap/run.sh                        # issue 6: IMAP/POP3 vs Dovecot
run /usr/bin/python3 perf/filter/bench.py --limit 650  # issue 5: filter vs SpamAssassin, rspamd
run perf/av/run.sh                          # issue 5: viruses vs clamscan
exit $status
