# scan - build/sluice-scan, the offline content filter (tools/sluice-scan/,
# docs/filter.md). It links every layer: the filter pipeline, and the LMDB
# store behind the Bayes token counts (mta/bayes_store).

SCAN_BIN := $(BUILD)/sluice-scan

all: $(SCAN_BIN)

$(BUILD)/obj/tools/%.o: tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(INC_mgmt) -c $< -o $@

$(SCAN_BIN): $(BUILD)/obj/tools/sluice-scan/scan_main.o $(LIBFILES)
	$(CC) $(LDFLAGS_COMMON) -o $@ $< $(LIBFILES) $(LIBS)
