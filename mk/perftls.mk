# perftls - build/perf/tls/tlsload, the OpenSSL client of perf/tls (issue 7).
# It is not a bench_*.c: it links OpenSSL (libssl-dev) and none of Sluice's
# libraries, so the client is the same program against Sluice and Dovecot.

TLSLOAD_BIN := $(BUILD)/perf/tls/tlsload

perf-bins: $(TLSLOAD_BIN)

$(TLSLOAD_BIN): perf/tls/tlsload.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -g -O2 $(WARN) -D_GNU_SOURCE -o $@ $< -lssl -lcrypto
