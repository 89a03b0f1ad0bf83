#!/bin/bash
# perf/av/run.sh - filter/av against clamscan, same files, same signatures,
# one CPU; writes perf/results/av.{jsonl,md,png}. Needs build/perf/av/bench_av
# (make perf-bins) and Debian's clamav. The method is in perf/av/run.py.
set -u
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 perf/av/run.py "$@"
