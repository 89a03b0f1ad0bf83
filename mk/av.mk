# av - filter/av against clamscan on the same files and signatures, one CPU
# (perf/av/run.sh; method in perf/av/run.py). Needs Debian's clamav, which
# is not in DEPS_PKGS yet: installed here when missing.
# Writes perf/results/av.{jsonl,md,png}.

.PHONY: perf-av

perf-av: deps $(BUILD)/perf/av/bench_av
	@command -v clamscan >/dev/null || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clamav; }
	perf/av/run.sh
