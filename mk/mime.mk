# filter/message: the MIME parser benchmark (not part of make test).
#   make msg-bench && build/msg_bench [-n ROUNDS] [-c CHUNK] [FILE...]
.PHONY: msg-bench
msg-bench: $(BUILD)/msg_bench

$(BUILD)/msg_bench: $(BUILD)/obj/filter/message/msg_bench_main.o $(BUILD)/libfilter.a $(BUILD)/libplatform.a
	$(CC) $(LDFLAGS_COMMON) -o $@ $< $(BUILD)/libfilter.a $(BUILD)/libplatform.a $(LIBS)
