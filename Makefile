# Sluice - one entry point: deps, all, test, run, start, stop, perf, fuzz, clean.
#
# Folders are libraries and the include paths enforce the layering of
# DESIGN.md: platform <- {netstack, store, filter} <- mta <- mgmt. A header
# that reaches the wrong way does not compile.
#
# VARIANT selects a build tree: release (build/), asan (build/asan/: ASan +
# UBSan), fuzz (build/fuzz/: clang, libFuzzer coverage).

VARIANT ?= release
ifeq ($(VARIANT),release)
BUILD := build
OPT := -O2
else ifeq ($(VARIANT),asan)
BUILD := build/asan
OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else ifeq ($(VARIANT),fuzz)
BUILD := build/fuzz
CC := clang
OPT := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -DSL_FUZZING
else
$(error unknown VARIANT $(VARIANT))
endif
CC ?= gcc

DEPS_PKGS := build-essential pkg-config clang libclang-rt-14-dev dpdk libdpdk-dev \
	libcmocka-dev liblmdb-dev libargon2-dev autoconf automake libtool \
	libhyperscan-dev libpcre2-dev libarchive-dev libmagic-dev clamav-testfiles \
	isync fetchmail \
	python3-pytest python3-scapy python3-matplotlib iperf3 time nftables iproute2 iputils-ping \
	tcpdump procps psmisc netcat-openbsd swaks postfix openssl curl \
	libnet-ssleay-perl libio-socket-ssl-perl

# The reference implementations the benchmarks measure against (make perf).
PERF_PKGS := dovecot-imapd dovecot-pop3d clamav spamassassin spamc spamd rspamd libssl-dev

DPDK_CFLAGS := $(shell pkg-config --cflags libdpdk 2>/dev/null)
DPDK_LIBS := $(shell pkg-config --libs libdpdk 2>/dev/null)
LIBS := $(DPDK_LIBS) -llmdb -largon2 -lhs -lpcre2-8 -larchive -lmagic -lpthread -lm

WARN := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers
CFLAGS_COMMON := -std=gnu11 -g $(OPT) $(WARN) $(DPDK_CFLAGS) -D_GNU_SOURCE -MMD -MP
LDFLAGS_COMMON := $(filter -fsanitize=%,$(OPT))

# Per-folder include paths: the layering.
INC_platform := -Iplatform
INC_netstack := -Iplatform -Inetstack
INC_store := -Iplatform -Istore
INC_filter := -Iplatform -Ifilter
INC_mta := -Iplatform -Inetstack -Istore -Ifilter -Imta
INC_mgmt := -Iplatform -Inetstack -Istore -Ifilter -Imta -Imgmt
INC_tests := $(INC_mgmt) -Itests/unit

LAYERS := platform netstack store filter mta mgmt
src_of = $(shell find $(1) -name '*.c' ! -name '*_main.c' 2>/dev/null | sort)
obj_of = $(patsubst %.c,$(BUILD)/obj/%.o,$(call src_of,$(1)))

# Libraries in link order (users before what they use).
LIB_ORDER := mgmt mta filter store netstack platform
LIBFILES := $(foreach l,$(LIB_ORDER),$(BUILD)/lib$(l).a)

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
UNIT_HELPERS := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
PERF_SRCS := $(sort $(wildcard perf/*/bench_*.c))
PERF_BINS := $(patsubst perf/%.c,$(BUILD)/perf/%,$(PERF_SRCS))

.PHONY: all deps perf-deps test unit-bins fuzz-bins perf-bins crash-test run start stop clean perf fuzz asan check-deps
.DEFAULT_GOAL := all
# Keep objects that pattern chains would otherwise delete as intermediates.
.SECONDARY:

all: $(BUILD)/sluiced $(BUILD)/sluicectl

# lib<layer>.srcs holds the layer's source list and is rewritten only when
# the list changes, so a removed or renamed .c rebuilds the archive too (an
# added one already does, through its new object).
define layer_rules
$(BUILD)/obj/$(1)/%.o: $(1)/%.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS_COMMON) $$(INC_$(1)) -c $$< -o $$@
ifneq ($$(strip $$(file <$(BUILD)/lib$(1).srcs)),$$(strip $$(call src_of,$(1))))
$$(shell mkdir -p $(BUILD))
$$(file >$(BUILD)/lib$(1).srcs,$$(call src_of,$(1)))
endif
$(BUILD)/lib$(1).a: $$(call obj_of,$(1)) $(BUILD)/lib$(1).srcs
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$(filter %.o,$$^)
endef
$(foreach l,$(LAYERS),$(eval $(call layer_rules,$(l))))

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(INC_tests) -c $< -o $@

$(BUILD)/obj/perf/%.o: perf/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(INC_tests) -c $< -o $@

$(BUILD)/perf/%: $(BUILD)/obj/perf/%.o $(LIBFILES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_COMMON) -o $@ $< $(LIBFILES) $(LIBS)

$(BUILD)/sluiced: $(BUILD)/obj/mgmt/sluiced_main.o $(LIBFILES)
	$(CC) $(LDFLAGS_COMMON) -o $@ $< $(LIBFILES) $(LIBS)

$(BUILD)/sluicectl: $(BUILD)/obj/mgmt/sluicectl_main.o $(BUILD)/libplatform.a
	$(CC) $(LDFLAGS_COMMON) -o $@ $< $(BUILD)/libplatform.a $(LIBS)

UNIT_HELPER_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(UNIT_HELPERS))
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(UNIT_HELPER_OBJS) $(LIBFILES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_COMMON) -o $@ $< $(UNIT_HELPER_OBJS) $(LIBFILES) -lcmocka $(LIBS)

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(LIBFILES)
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $< $(LIBFILES) $(LIBS)

unit-bins: $(UNIT_BINS)
fuzz-bins: $(FUZZ_BINS)
perf-bins: $(PERF_BINS)

# deps: install only what is missing; silent and network-free when complete.
deps perf-deps: PKGS = $(if $(filter perf-deps,$@),$(PERF_PKGS),$(DEPS_PKGS))
deps perf-deps:
	@missing=$$(for p in $(PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing:" $$missing; \
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

test: deps
	$(MAKE) all unit-bins
	$(MAKE) VARIANT=asan unit-bins
	$(MAKE) VARIANT=fuzz fuzz-bins
	scripts/run_tests.sh

run: deps all
	scripts/appliance.sh run

start: deps all
	scripts/appliance.sh start

stop:
	scripts/appliance.sh stop

perf: deps perf-deps
	$(MAKE) all perf-bins
	perf/run_all.sh

# crash-test: the store's kill -9 test, many more rounds than make test runs.
crash-test: deps
	$(MAKE) build/tests/test_store_crash
	ST_CRASH_ROUNDS=$${ST_CRASH_ROUNDS:-500} build/tests/test_store_crash

fuzz: deps
	$(MAKE) VARIANT=fuzz fuzz-bins
	FUZZ_SECONDS=$${FUZZ_SECONDS:-300} scripts/run_fuzz.sh

clean:
	rm -rf build

# Extra targets of one subsystem each (for example the filter corpus).
-include $(sort $(wildcard mk/*.mk))

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
