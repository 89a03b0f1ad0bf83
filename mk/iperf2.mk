# iperf2 - build/perf/imap/mailget, the C bulk-read client of perf/imap
# (POP3 RETR of every message and the SELECT + FETCH 1:* BODY.PEEK[] row;
# bench.py runs it). It links none of Sluice's libraries: the same client
# against Sluice and Dovecot. Part of `all`, since perf/imap/run.sh needs it
# next to sluiced.

MAILGET_BIN := $(BUILD)/perf/imap/mailget

all: $(MAILGET_BIN)
perf-bins: $(MAILGET_BIN)

$(MAILGET_BIN): perf/imap/mailget.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -g -O2 $(WARN) -D_GNU_SOURCE -o $@ $<
