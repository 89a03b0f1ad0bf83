# bayes - 5-fold cross-validation of the Bayes classifier on the corpus's
# training groups (build/corpus from `make corpus`), plus an LMDB learn and
# score pass in a scratch store and the folds again on LMDB stores expired
# to half their tokens; Markdown to perf/results/bayes_cv.md.
# eval_bayes is built by the generic perf/% rule (it is not a bench_*, so
# `make perf` does not run it).

.PHONY: bayes-eval

bayes-eval: corpus $(BUILD)/perf/bayes/eval_bayes
	rm -rf $(BUILD)/bayes-eval-db
	$(BUILD)/perf/bayes/eval_bayes --lmdb $(BUILD)/bayes-eval-db --expire 0.5 \
		--out perf/results/bayes_cv.md build/corpus
	rm -rf $(BUILD)/bayes-eval-db
	@cat perf/results/bayes_cv.md
