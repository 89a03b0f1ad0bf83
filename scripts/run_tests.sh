#!/bin/bash
# run_tests.sh - run every test suite and print one summary line:
#   N passed, N failed
# Unit tests (release and ASan+UBSan builds), short fuzz runs, then the
# end-to-end suite over the TAP. Each cmocka test case, fuzz harness and
# pytest test counts once. Exit status is non-zero on any failure.
# E2E=0 skips the end-to-end suite; FUZZ_SECONDS sets each fuzz run.
set -u
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
PY=/usr/bin/python3
passed=0
failed=0
failures=()
LOGDIR=build/test-logs
mkdir -p "$LOGDIR"

record() { # name status(0=pass)
	if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi
}

run_unit() { # binary label
	local bin=$1 label=$2 log="$LOGDIR/$2.log" ok notok rc
	mkdir -p "$(dirname "$log")"
	echo "== $label"
	CMOCKA_MESSAGE_OUTPUT=TAP timeout 900 "$bin" >"$log" 2>&1
	rc=$?
	ok=$(grep -c '^ok ' "$log")
	notok=$(grep -c '^not ok ' "$log")
	passed=$((passed + ok))
	failed=$((failed + notok))
	grep '^not ok ' "$log" | sed "s|^|   $label: |"
	for t in $(grep '^not ok ' "$log" | sed 's/^not ok [0-9]* - //'); do failures+=("$label:$t"); done
	if [ $rc -ne 0 ] && [ "$notok" -eq 0 ]; then
		# crashed or timed out outside any test case
		record "$label (exit $rc)" 1
		tail -n 20 "$log" | sed 's/^/   /'
	fi
	echo "   $ok passed, $notok failed (exit $rc)"
}

for bin in build/tests/test_*; do
	[ -x "$bin" ] && run_unit "$bin" "unit/$(basename "$bin")"
done
for bin in build/asan/tests/test_*; do
	[ -x "$bin" ] && ASAN_OPTIONS=detect_leaks=1 WIRE_SEEDS=${ASAN_WIRE_SEEDS:-10} \
		run_unit "$bin" "asan/$(basename "$bin")"
done

for bin in build/fuzz/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin" | sed 's/^fuzz_//')
	corpus="build/fuzz-corpus/$name"
	mkdir -p "$corpus"
	[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$corpus/"
	echo "== fuzz/$name (${FUZZ_SECONDS}s)"
	rm -f "$LOGDIR/fuzz_$name"-crash-* "$LOGDIR/fuzz_$name"-leak-* "$LOGDIR/fuzz_$name"-timeout-* \
		"$LOGDIR/fuzz_$name"-oom-*
	if timeout $((FUZZ_SECONDS + 120)) "$bin" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=4096 -print_final_stats=1 \
		-artifact_prefix="$LOGDIR/fuzz_$name-" "$corpus" >"$LOGDIR/fuzz_$name.log" 2>&1; then
		record "fuzz/$name" 0
		echo "   passed ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$LOGDIR/fuzz_$name.log" | awk '{print $2}') execs)"
	else
		rc=$?
		tail -n 30 "$LOGDIR/fuzz_$name.log" | sed 's/^/   /'
		# The summary at the end says why, with the input when it is small,
		# because only the end of a CI log may be seen.
		why=$(grep -m1 -E '^(SUMMARY|==[0-9]+==ERROR|ERROR:)' "$LOGDIR/fuzz_$name.log" | cut -c1-200)
		record "fuzz/$name (exit $rc${why:+: $why})" 1
		for a in "$LOGDIR/fuzz_$name"-*; do
			[ -f "$a" ] && [ "$(stat -c %s "$a")" -le 3000 ] &&
				failures+=("  $(basename "$a") base64: $(base64 -w0 "$a")")
		done
	fi
done

if [ "${E2E:-1}" != 0 ] && [ -d tests/e2e ] && ls tests/e2e/test_*.py >/dev/null 2>&1; then
	echo "== e2e (pytest)"
	$PY -m pytest tests/e2e -v -p no:cacheprovider --junitxml="$LOGDIR/e2e.xml" 2>&1 |
		tee "$LOGDIR/e2e.log" | grep -E 'PASSED|FAILED|ERROR|SKIPPED|passed|failed' | sed 's/^/   /'
	if [ -f "$LOGDIR/e2e.xml" ]; then
		read -r t f e s < <($PY - "$LOGDIR/e2e.xml" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
suites = [r] if r.tag == 'testsuite' else r.findall('testsuite')
tot = lambda k: sum(int(s.get(k, 0)) for s in suites)
print(tot('tests'), tot('failures'), tot('errors'), tot('skipped'))
PYEOF
)
		passed=$((passed + t - f - e - s))
		failed=$((failed + f + e))
		[ $((f + e)) -gt 0 ] && failures+=("e2e: $((f + e)) failed (see $LOGDIR/e2e.log)")
	else
		record "e2e (pytest did not run)" 1
	fi
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
