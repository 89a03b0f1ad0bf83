# wolfssl - Sluice's own build of wolfSSL (docs/tls.md, "Why we build wolfSSL").
#
# Debian's libwolfssl 5.5.4 is built without wolfSSL's x86-64 assembly, which
# makes ECDSA 3x, RSA 3x and AES-GCM 20x slower than the same source built
# with it. We build that same source - Debian's upstream tarball plus Debian's
# patches from the bookworm security update, applied in series order - with
# the assembly turned on, and link it statically into every program of every
# VARIANT (release, asan, fuzz), the unit tests and the perf tools.
#
# The library is built once per configuration, with gcc, into
# build/third_party/wolfssl (headers + libwolfssl.a), whatever VARIANT asks:
# the stamp's name carries a hash of everything that shapes the build, so a
# change to the flags or the patches rebuilds it, and nothing else does.
# Tarballs in build/third_party/dl are reused (checked, never refetched), so
# a prepared tree builds offline; the only host ever contacted is
# deb.debian.org. Needs autoconf, automake, libtool (DEPS_PKGS).
#
#   make wolfssl            build and install the library (all does it too)
#   make wolfssl-check      link checks: one library, our headers, no libwolfssl.so
#   make wolfssl-cpucheck   the crypto bench under qemu on CPUs without AVX2 /
#                           AES-NI (needs qemu-user; not part of make test)

WOLFSSL_VERSION := 5.5.4
WOLFSSL_DEBREV := 5.5.4-2+deb12u3
WOLFSSL_ORIG := wolfssl_$(WOLFSSL_VERSION).orig.tar.gz
WOLFSSL_ORIG_URL := http://deb.debian.org/debian/pool/main/w/wolfssl/$(WOLFSSL_ORIG)
WOLFSSL_ORIG_SHA256 := b7ee150e49def77c765bc02aac92ddeb0bebefd4cb12aa263d8f95e405221fb8
WOLFSSL_DEBIAN := wolfssl_$(WOLFSSL_DEBREV).debian.tar.xz
WOLFSSL_DEBIAN_URL := http://deb.debian.org/debian-security/pool/updates/main/w/wolfssl/$(WOLFSSL_DEBIAN)
# From bookworm-security's Sources (Package: wolfssl, Checksums-Sha256).
WOLFSSL_DEBIAN_SHA256 := 79565eb855d557eb062cb88b033b6fe96e2a6e598236021b81b9840bef5ab6f4

# WOLFSSL_TP=/some/dir shares one build between several work trees.
WOLFSSL_TP ?= build/third_party
WOLFSSL_DL := $(WOLFSSL_TP)/dl
WOLFSSL_SRCDIR := $(WOLFSSL_TP)/src/wolfssl-$(WOLFSSL_DEBREV)
WOLFSSL_PREFIX := $(abspath $(WOLFSSL_TP))/wolfssl
WOLFSSL_INC := $(WOLFSSL_PREFIX)/include
WOLFSSL_LIB := $(WOLFSSL_PREFIX)/lib/libwolfssl.a

# What Sluice uses (netstack/ns_tls*, tests, filter/av's digests): TLS 1.2 and
# 1.3 (the servers refuse older versions themselves; the library keeps them
# so test_tls's TLS 1.1 client can check that refusal), stateless tickets, SNI, P-256/384/521 and X25519, RSA with
# PSS, certificate and key generation with extensions, the OpenSSL-compat
# calls (set_options, set_max_proto_version, X509 names, the servername
# callback: in 5.5.4 servername_callback, get_servername and set_SSL_CTX
# are compiled only with OPENSSL_ALL or one of the server-integration
# switches; HAVE_LIGHTY alone is the lightest of them - settings.h turns it
# into OPENSSL_EXTRA and KEEP_PEER_CERT, without OPENSSL_ALL's SESSION_CERTS
# that made Debian's WOLFSSL_SESSION 37.5 KB; configure's --enable-lighty
# would add OPENSSL_ALL and drop TLS 1.0/1.1), subjectAltName in generated certificates (WOLFSSL_ALT_NAMES), HKDF. What makes it fast: intelasm (AES-NI + PCLMUL GCM, AVX1/
# AVX2 ChaCha20, Poly1305 and SHA-2, chosen per CPU at run time by CPUID),
# single-precision maths with x86-64 assembly for P-256/384/521 and RSA/DH
# up to 4096 bits (BMI2/ADX variants chosen at run time), and the assembly
# X25519. SLUICE_WOLFSSL=1 is recorded in options.h: ns_tls_private.h refuses
# to compile against any other wolfSSL headers (Debian's, in /usr/include).
# anon, NULL, RC4 and CCM are compiled in (as in Debian's build) only so that
# test_tls's client can offer them and check that our servers refuse them:
# ns_tls.c's suite list never names them.
# --enable-pkcallbacks (HAVE_PK_CALLBACKS): the seam through which
# netstack/ns_tls_rsa*.c signs with an RSA-2048 key on CPUs with AVX-512
# IFMA (docs/tls.md, "The RSA-2048 signature"). A context with no callback
# registered behaves as before: wolfSSL uses its own code.
WOLFSSL_CONFIGURE := --enable-static --disable-shared --with-pic \
	--disable-examples --enable-crypttests --disable-benchmark \
	--disable-dependency-tracking --enable-reproducible-build \
	--enable-tls13 --enable-session-ticket --enable-sni \
	--enable-supportedcurves --enable-ecc --enable-curve25519 --enable-hkdf \
	--enable-certgen --enable-keygen --enable-certext --enable-opensslextra \
	--enable-anon --enable-nullcipher --enable-arc4 --enable-aesccm \
	--enable-intelasm --enable-sp=yes,4096 --enable-sp-asm --enable-sp-math-all \
	--enable-harden --enable-pkcallbacks
WOLFSSL_CFLAGS := -O2 -g -DSLUICE_WOLFSSL=1 -DWOLFSSL_ALT_NAMES -DHAVE_LIGHTY
# Hardening for the compile only (not recorded in options.h, so our ASan and
# fuzz builds do not inherit _FORTIFY_SOURCE).
WOLFSSL_MAKE_CFLAGS := $(WOLFSSL_CFLAGS) -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
	-fcf-protection
WOLFSSL_JOBS ?= 2

WOLFSSL_KEY := $(shell printf '%s|' '$(WOLFSSL_DEBREV)' '$(WOLFSSL_ORIG_SHA256)' \
	'$(WOLFSSL_DEBIAN_SHA256)' '$(WOLFSSL_CONFIGURE)' '$(WOLFSSL_MAKE_CFLAGS)' \
	| sha256sum | cut -c1-16)
WOLFSSL_STAMP := $(WOLFSSL_PREFIX)/.built-$(WOLFSSL_KEY)

# Our headers come first (-isystem: searched before /usr/include, and their
# warnings are wolfSSL's); the archive goes before every other library.
CFLAGS_COMMON += -isystem $(WOLFSSL_INC)
LIBS := $(WOLFSSL_LIB) $(LIBS)

.PHONY: wolfssl wolfssl-fetch wolfssl-check wolfssl-cpucheck
wolfssl: $(WOLFSSL_STAMP)
wolfssl-fetch: $(WOLFSSL_DL)/$(WOLFSSL_ORIG) $(WOLFSSL_DL)/$(WOLFSSL_DEBIAN)

# Every object may include wolfSSL headers: build the library first, and
# recompile when it changes (-MMD leaves -isystem headers out of the .d
# files, so without this an object would keep an old options.h's layouts).
# Every program links it.
$(foreach l,$(LAYERS),$(call obj_of,$(l))) \
$(patsubst %.c,$(BUILD)/obj/%.o,$(UNIT_SRCS) $(UNIT_HELPERS) $(FUZZ_SRCS) $(PERF_SRCS)) \
$(BUILD)/obj/mgmt/sluiced_main.o $(BUILD)/obj/mgmt/sluicectl_main.o: $(WOLFSSL_STAMP)
$(BUILD)/sluiced $(BUILD)/sluicectl $(UNIT_BINS) $(FUZZ_BINS) $(PERF_BINS): $(WOLFSSL_STAMP)

# fetch: kept if present and its checksum matches; a bad or partial file is
# fetched again. The checksum is checked on every build either way.
define wolfssl_fetch
$(WOLFSSL_DL)/$(1):
	@mkdir -p $$(dir $$@)
	@if [ -f $$@ ] && echo '$(3)  $$@' | sha256sum -c --status; then :; else \
		echo "wolfssl: fetching $(2)"; \
		curl -fsSL --retry 3 --connect-timeout 20 -o $$@.part '$(2)' && mv $$@.part $$@; \
	fi
	@echo '$(3)  $$@' | sha256sum -c --status || \
		{ echo "wolfssl: $$@: sha256 is not $(3)"; rm -f $$@; exit 1; }
endef
$(eval $(call wolfssl_fetch,$(WOLFSSL_ORIG),$(WOLFSSL_ORIG_URL),$(WOLFSSL_ORIG_SHA256)))
$(eval $(call wolfssl_fetch,$(WOLFSSL_DEBIAN),$(WOLFSSL_DEBIAN_URL),$(WOLFSSL_DEBIAN_SHA256)))

# wolfCrypt's self-test runs on the build machine before anything is
# installed. One test needs a fix first: with P-521 compiled in it signs a
# 66-byte "digest", which Debian's CVE-2026-5194 patch now refuses (digests
# over WC_MAX_DIGEST_SIZE); a sed caps the test's size at that (test.c only;
# the library is untouched).
# Build in a fresh tree, install into a temporary prefix and move it into
# place last, so an interrupted build never leaves a tree that looks ready.
# The sub-make gets an empty MAKEFLAGS: our VARIANT/CC must not leak into it.
$(WOLFSSL_STAMP): $(WOLFSSL_DL)/$(WOLFSSL_ORIG) $(WOLFSSL_DL)/$(WOLFSSL_DEBIAN)
	@for t in autoreconf libtoolize patch; do command -v $$t >/dev/null || \
		{ echo "wolfssl: $$t missing: make deps (autoconf automake libtool patch)"; exit 1; }; done
	@echo "wolfssl: building $(WOLFSSL_DEBREV) with the x86-64 assembly (a few minutes, once)"
	@set -e; \
	printf '%s  %s\n' $(WOLFSSL_ORIG_SHA256) $(WOLFSSL_DL)/$(WOLFSSL_ORIG) \
		$(WOLFSSL_DEBIAN_SHA256) $(WOLFSSL_DL)/$(WOLFSSL_DEBIAN) | sha256sum -c --quiet || \
		{ echo "wolfssl: a tarball in $(WOLFSSL_DL) does not match its pinned sha256: delete it and run make again"; \
		  exit 1; }; \
	rm -rf $(WOLFSSL_SRCDIR) $(WOLFSSL_PREFIX).tmp; mkdir -p $(WOLFSSL_SRCDIR); \
	tar -xzf $(WOLFSSL_DL)/$(WOLFSSL_ORIG) -C $(WOLFSSL_SRCDIR) --strip-components=1; \
	tar -xJf $(WOLFSSL_DL)/$(WOLFSSL_DEBIAN) -C $(WOLFSSL_SRCDIR); \
	cd $(WOLFSSL_SRCDIR); \
	for p in $$(grep -v '^#' debian/patches/series); do \
		patch -p1 -s --batch --no-backup-if-mismatch < debian/patches/$$p || \
			{ echo "wolfssl: Debian patch $$p does not apply"; exit 1; }; done; \
	echo "wolfssl: $$(grep -vc '^#' debian/patches/series) Debian patches applied"; \
	sed -i 's/^\(#define ECC_DIGEST_SIZE *\)MAX_ECC_BYTES$$/\1(MAX_ECC_BYTES < WC_MAX_DIGEST_SIZE ? MAX_ECC_BYTES : WC_MAX_DIGEST_SIZE)/' \
		wolfcrypt/test/test.c; \
	grep -q '^#define ECC_DIGEST_SIZE *(MAX_ECC_BYTES <' wolfcrypt/test/test.c; \
	sh ./autogen.sh > autoreconf.log 2>&1 || { cat autoreconf.log; exit 1; }; \
	./configure -q --prefix=$(WOLFSSL_PREFIX).tmp $(WOLFSSL_CONFIGURE) CC=gcc \
		CFLAGS='$(WOLFSSL_CFLAGS)' > configure.log 2>&1 || { tail -30 configure.log; exit 1; }; \
	MAKEFLAGS= MFLAGS= make -j$(WOLFSSL_JOBS) CFLAGS='$(WOLFSSL_MAKE_CFLAGS)' > build.log 2>&1 || \
		{ grep -B2 -A8 'error' build.log | head -60; exit 1; }; \
	echo "wolfssl: wolfCrypt's self-test (wolfcrypt/test/testwolfcrypt)"; \
	./wolfcrypt/test/testwolfcrypt > selftest.log 2>&1 || { tail -30 selftest.log; exit 1; }; \
	MAKEFLAGS= MFLAGS= make install > install.log 2>&1 || { tail -30 install.log; exit 1; }; \
	grep -q '^#define SLUICE_WOLFSSL' $(WOLFSSL_PREFIX).tmp/include/wolfssl/options.h; \
	cd - >/dev/null; rm -rf $(WOLFSSL_PREFIX); mv $(WOLFSSL_PREFIX).tmp $(WOLFSSL_PREFIX); \
	sed -i 's|$(WOLFSSL_PREFIX).tmp|$(WOLFSSL_PREFIX)|g' $(WOLFSSL_PREFIX)/lib/pkgconfig/wolfssl.pc \
		$(WOLFSSL_PREFIX)/bin/wolfssl-config; \
	touch $@
	@echo "wolfssl: installed in $(WOLFSSL_PREFIX)"

# One library everywhere: every wolfSSL-using object was compiled against our
# options.h, and no program loads a shared libwolfssl.
wolfssl-check: $(WOLFSSL_STAMP) $(BUILD)/sluiced $(UNIT_BINS) $(PERF_BINS)
	@set -e; \
	hdr=$$(echo '#include <wolfssl/options.h>' | $(CC) $(filter-out -MMD -MP,$(CFLAGS_COMMON)) -E -H -x c - 2>&1 >/dev/null | \
		grep -m1 'wolfssl/options.h' | sed 's/^\.* *//'); \
	case $$hdr in $(WOLFSSL_INC)/*) ;; *) echo "wolfssl-check: options.h resolves to $$hdr"; exit 1;; esac; \
	for b in $(BUILD)/sluiced $(UNIT_BINS) $(PERF_BINS); do \
		if readelf -d $$b | grep -q 'NEEDED.*libwolfssl'; then echo "wolfssl-check: $$b loads libwolfssl.so"; exit 1; fi; \
	done; \
	echo "wolfssl-check: ok ($$hdr; no program loads libwolfssl.so)"

# The image may boot on any x86-64 that DPDK's -march=corei7 allows. intelasm
# picks AVX2/BMI2/ADX code by CPUID at run time; this runs wolfCrypt's
# known-answer tests and our TLS unit tests on CPUs qemu-user emulates
# without those instructions: Haswell has AVX2/BMI2 (no ADX), Westmere AES-NI
# and PCLMUL but no AVX at all, Nehalem no AES-NI either (the C fallbacks).
# A wrong answer fails it, and so does an AES-NI instruction on Nehalem
# (qemu 7.2 raises SIGILL for it). qemu's TCG does execute AVX2 even on a
# model without it, so what this shows for AVX2 is that the code CPUID picks
# when a CPU reports none gives the right answers. Not part of make test
# (about a minute; needs qemu-user).
WOLFSSL_CPUS ?= Haswell Westmere Nehalem
wolfssl-cpucheck: $(WOLFSSL_STAMP) $(BUILD)/tests/test_tls
	@command -v qemu-x86_64 >/dev/null || { echo "wolfssl-cpucheck: needs qemu-user"; exit 1; }
	@set -e; for cpu in $(WOLFSSL_CPUS); do \
		log=$(abspath $(BUILD))/wolfssl-cpucheck-$$cpu.log; \
		(cd $(WOLFSSL_SRCDIR) && qemu-x86_64 -cpu $$cpu ./wolfcrypt/test/testwolfcrypt) > $$log 2>&1 || \
			{ tail -20 $$log; echo "wolfssl-cpucheck: $$cpu: testwolfcrypt failed"; exit 1; }; \
		qemu-x86_64 -cpu $$cpu $(BUILD)/tests/test_tls >> $$log 2>&1 || \
			{ tail -20 $$log; echo "wolfssl-cpucheck: $$cpu: test_tls failed"; exit 1; }; \
		echo "wolfssl-cpucheck: -cpu $$cpu: testwolfcrypt and test_tls pass"; \
	done
