# orderpay build, stack and test entry points.
#
#   make run     install what is missing, build, start the whole stack in the foreground
#   make test    unit tests (release and ASan/UBSan builds) and integration tests through nginx
#   make up/down the same stack in the background (writes var/stack.env)
#
# BUILD=release (default) or BUILD=debug (AddressSanitizer + UBSan).

BUILD ?= release
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
OUT := build/$(BUILD)
VERSION := $(shell cat VERSION)

# Flags: CPPFLAGS, CXXFLAGS and LDFLAGS come from the environment or the command line (dpkg's
# hardening flags, `make CXXFLAGS=-O3`) and are appended to the flags the build needs, which
# live in OP_* and are never replaced. Only the optimisation level is a default the caller's
# CXXFLAGS overrides. Libraries are found with pkg-config (libfcgi ships no .pc file).
CXX ?= g++
PKG_CONFIG ?= pkg-config
PKGS := libpq libcurl openssl
# libxml2 is linked only where the tests compare our XML parser with it (unit_tests, make fuzz):
# tests/unit/xml_libxml2_reference.cpp. Nothing we ship depends on it.
XML_CFLAGS := $(shell $(PKG_CONFIG) --cflags libxml-2.0 2>/dev/null)
XML_LIBS := $(shell $(PKG_CONFIG) --libs libxml-2.0 2>/dev/null)
# Without the default system directories some .pc files name (libcurl's multiarch dir): as -I or
# -isystem they would reorder the compiler's own search path and break #include_next.
PKG_CFLAGS := $(filter-out -I/usr/include -I/usr/include/%-linux-gnu,$(shell $(PKG_CONFIG) --cflags $(PKGS)))
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS))
# deps, run, up and test install the libraries first and build in a sub-make, which checks again:
# on a new machine `make run` must get as far as installing them.
ifeq ($(PKG_LIBS),)
  ifneq ($(or $(if $(MAKECMDGOALS),,build),$(filter-out deps run up test down,$(MAKECMDGOALS))),)
    $(error pkg-config found none of $(PKGS): run make deps (or deploy/install-deps.sh))
  endif
endif
CXXSTD := -std=c++20
WARN := -Wall -Wextra -Werror -Wno-missing-field-initializers

ifeq ($(BUILD),debug)
  CXXFLAGS ?= -O1 -g
  SAN := -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDOPT := -fsanitize=address,undefined
  NDEBUG :=
else
  CXXFLAGS ?= -O2 -g
  SAN :=
  LDOPT :=
  NDEBUG := -DNDEBUG
endif

OP_CPPFLAGS := -Iinclude -Isrc $(PKG_CFLAGS) $(NDEBUG)
OP_CXXFLAGS := $(CXXSTD) $(WARN) $(SAN) -MMD -MP
COMPILE = $(CXX) $(OP_CPPFLAGS) $(CPPFLAGS) $(OP_CXXFLAGS) $(CXXFLAGS)
LINK = $(CXX) $(LDOPT) $(CXXFLAGS) $(LDFLAGS)
LIBS := -lfcgi $(PKG_LIBS) -lqrencode -lpthread

CORE_SRCS := $(shell find src -name '*.cpp' -not -path 'src/bin/*' -not -path 'src/sim/*' | sort)
SIM_SRCS := $(shell find src/sim -name '*.cpp' 2>/dev/null | sort)
UNIT_SRCS := $(shell find tests/unit -name '*.cpp' 2>/dev/null | sort)

CORE_OBJS := $(CORE_SRCS:%.cpp=$(OUT)/obj/%.o) $(OUT)/obj/gen/migrations_data.o
SIM_OBJS := $(SIM_SRCS:%.cpp=$(OUT)/obj/%.o)
UNIT_OBJS := $(UNIT_SRCS:%.cpp=$(OUT)/obj/%.o)

BINS := $(OUT)/orderpayd $(OUT)/orderpay $(OUT)/paysim

.PHONY: all build bins debug deps run up down test unit integration bench format format-check clean \
        fuzz fuzz-build fuzz-smoke install deb deb-test

all: build

build: $(BINS) $(OUT)/unit_tests

# The three binaries only (no GoogleTest needed): what a package build compiles.
bins: $(BINS)

debug:
	$(MAKE) -j$(JOBS) BUILD=debug build

$(OUT)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(COMPILE) -c $< -o $@

# The version string is compiled into one file only, so a new VERSION rebuilds just that.
$(OUT)/obj/src/core/version.o: src/core/version.cpp VERSION
	@mkdir -p $(dir $@)
	$(COMPILE) -DORDERPAY_VERSION='"$(VERSION)"' -c $< -o $@

# The SQL migrations are compiled into the binaries (deploy/embed-sql.sh).
$(OUT)/gen/migrations_data.cpp: $(wildcard sql/*.sql sql/paysim/*.sql) deploy/embed-sql.sh
	@mkdir -p $(dir $@)
	bash deploy/embed-sql.sh $@

$(OUT)/obj/gen/migrations_data.o: $(OUT)/gen/migrations_data.cpp
	@mkdir -p $(dir $@)
	$(COMPILE) -c $< -o $@

$(OUT)/libcore.a: $(CORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(OUT)/libsim.a: $(SIM_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(OUT)/orderpayd: $(OUT)/obj/src/bin/orderpayd.o $(OUT)/libcore.a
	$(LINK) -o $@ $^ $(LIBS)

$(OUT)/orderpay: $(OUT)/obj/src/bin/orderpay.o $(OUT)/libcore.a
	$(LINK) -o $@ $^ $(LIBS)

$(OUT)/paysim: $(OUT)/obj/src/bin/paysim.o $(OUT)/libsim.a $(OUT)/libcore.a
	$(LINK) -o $@ $^ $(LIBS)

# make bench's floor: nginx -> a responder that does nothing (tests/bench/null_fcgi.cpp).
$(OUT)/null_fcgi: $(OUT)/obj/tests/bench/null_fcgi.o
	$(LINK) -o $@ $^ -lfcgi

# make bench's memory floor: a forked child doing a worker's library calls (libpq, libcurl TLS,
# OpenSSL) with none of orderpay's code (tests/bench/rss_floor.cpp); only those libraries linked.
$(OUT)/rss_floor: $(OUT)/obj/tests/bench/rss_floor.o
	$(LINK) -o $@ $^ $(shell $(PKG_CONFIG) --libs libpq libcurl openssl)

$(UNIT_OBJS): OP_CPPFLAGS += $(XML_CFLAGS)

$(OUT)/unit_tests: $(UNIT_OBJS) $(OUT)/libsim.a $(OUT)/libcore.a
	$(LINK) -o $@ $^ -lgtest -lgtest_main $(LIBS) $(XML_LIBS)

deps:
	@bash deploy/install-deps.sh

run: deps
	$(MAKE) -j$(JOBS) build
	bash deploy/stack.sh run

up: deps
	$(MAKE) -j$(JOBS) build
	bash deploy/stack.sh up

down:
	bash deploy/stack.sh down

# Unit tests run in both builds; the integration suite drives the sanitizer build, so a memory
# error anywhere on a request path fails the run (run.sh checks the logs for sanitizer reports).
test: deps
	bash tests/lint/sql_in_store.sh
	$(MAKE) -j$(JOBS) BUILD=release build
	$(MAKE) -j$(JOBS) BUILD=debug build
	build/release/unit_tests --gtest_brief=1
	ASAN_OPTIONS=detect_leaks=1 build/debug/unit_tests --gtest_brief=1
	$(MAKE) -j$(JOBS) fuzz-smoke
	bash tests/integration/run.sh build/debug

unit: build
	$(OUT)/unit_tests

integration: build
	bash tests/integration/run.sh $(OUT)

bench: deps
	$(MAKE) -j$(JOBS) BUILD=release build build/release/null_fcgi build/release/rss_floor
	bash tests/bench/run.sh build/release

format:
	clang-format -i $$(find src include tests -name '*.cpp' -o -name '*.hpp')

format-check:
	clang-format --dry-run --Werror $$(find src include tests -name '*.cpp' -o -name '*.hpp')

# Fuzzing (tests/fuzz, libFuzzer): one binary per tests/fuzz/<target>_fuzz.cpp in build/fuzz,
# built with clang and ASan/UBSan. Only the library sources the targets call are compiled, into
# build/fuzz/libfuzzcore.a. `make fuzz` runs each target for FUZZ_SECONDS on a scratch copy of
# tests/fuzz/corpus/<target>; `make fuzz-smoke` (the end of `make test`) runs each briefly.
FUZZ_CXX ?= clang++
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_RUNS ?= 20000
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_OUT := build/fuzz
# The Makefile's include paths, third-party ones as system headers (-Werror stays on for ours).
# clang also flags RapidJSON 1.1's member-iterator operator!= (C++20 reversed operators) at each
# loop over an object, in our files; that warning is about the header and is turned off.
FUZZ_INCS := -Iinclude $(patsubst -I%,-isystem %,$(PKG_CFLAGS) $(XML_CFLAGS))
FUZZ_IGNORELIST := tests/fuzz/ubsan-ignorelist.txt
FUZZ_CXXFLAGS := $(CXXSTD) $(WARN) -Wno-ambiguous-reversed-operator $(FUZZ_INCS) \
                 -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
                 -fsanitize-ignorelist=$(FUZZ_IGNORELIST) \
                 -DORDERPAY_FUZZ_KEY_DIR='"$(CURDIR)/tests/fuzz/keys"' -MMD -MP
# Every file of every provider folder (src/providers/<id>/), so a provider's new file can never
# leave the fuzz targets unlinked again, plus the shared code they use.
FUZZ_LIB_SRCS := src/http/form.cpp src/http/json.cpp src/http/xml.cpp src/http/xml_build.cpp src/http/xml_text.cpp src/http/reply.cpp \
                 src/http/errors.cpp src/http/utf8.cpp src/domain/money.cpp src/crypto/digest.cpp \
                 src/crypto/rsa.cpp src/crypto/aead.cpp src/crypto/x509_chain.cpp src/core/log.cpp src/core/metrics.cpp \
                 src/core/config.cpp src/providers/http_client.cpp src/providers/scan_resolve.cpp \
                 src/providers/registry.cpp src/providers/plausible.cpp src/providers/breaker.cpp $(sort $(wildcard src/providers/*/*.cpp)) \
                 tests/unit/xml_libxml2_reference.cpp
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.cpp=$(FUZZ_OUT)/obj/%.o)
FUZZ_TARGETS := $(patsubst tests/fuzz/%_fuzz.cpp,%,$(sort $(wildcard tests/fuzz/*_fuzz.cpp)))
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_OUT)/%)
FUZZ_LIBS := $(XML_LIBS) $(shell $(PKG_CONFIG) --libs libcurl openssl) -lpthread

$(FUZZ_OUT)/obj/src/%.o: src/%.cpp $(FUZZ_IGNORELIST)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

$(FUZZ_OUT)/obj/tests/unit/%.o: tests/unit/%.cpp $(FUZZ_IGNORELIST)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

$(FUZZ_OUT)/obj/tests/fuzz/%.o: tests/fuzz/%.cpp $(FUZZ_IGNORELIST)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer,address,undefined -c $< -o $@

$(FUZZ_OUT)/libfuzzcore.a: $(FUZZ_LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BINS): $(FUZZ_OUT)/%: $(FUZZ_OUT)/obj/tests/fuzz/%_fuzz.o $(FUZZ_OUT)/libfuzzcore.a
	$(FUZZ_CXX) -fsanitize=fuzzer,address,undefined -o $@ $^ $(FUZZ_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	bash tests/fuzz/run.sh $(FUZZ_OUT) -max_total_time=$(FUZZ_SECONDS) -- $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	bash tests/fuzz/run.sh $(FUZZ_OUT) -runs=$(FUZZ_SMOKE_RUNS) -max_total_time=$(FUZZ_SMOKE_SECONDS) \
	    -- $(FUZZ_TARGETS)

clean:
	rm -rf build

# make install DESTDIR= PREFIX=: the binaries of $(OUT), the systemd units rewritten for
# BINDIR and DOCDIR, the nginx site config and FastCGI params, the config example and the docs.
# Nothing is written outside DESTDIR, no user is created and no database touched (the Debian
# package's postinst creates the user; `orderpay migrate` is the operator's step).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
DOCDIR ?= $(DATADIR)/doc/orderpay
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR ?= $(DATADIR)/man
INSTALL ?= install
UNITS := $(sort $(wildcard deploy/systemd/*.service deploy/systemd/*.socket deploy/systemd/*.timer))

install: $(BINS)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DATADIR)/orderpay/nginx \
	    $(DESTDIR)$(DOCDIR)/examples
	$(INSTALL) -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	for u in $(UNITS); do \
	    sed -e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|/usr/local/share/doc/orderpay|$(DOCDIR)|g' \
	        $$u >$(DESTDIR)$(UNITDIR)/$${u##*/} && chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	# The site config serves the OpenAPI document from where this install puts it (a PREFIX of
	# /usr/local left nginx's alias naming /usr/share, where nothing was installed).
	sed -e 's|/usr/share/orderpay/|$(DATADIR)/orderpay/|g' nginx/orderpay.conf \
	    >$(DESTDIR)$(DATADIR)/orderpay/nginx/orderpay.conf && chmod 0644 $(DESTDIR)$(DATADIR)/orderpay/nginx/orderpay.conf
	$(INSTALL) -m 0644 nginx/fastcgi_params.orderpay $(DESTDIR)$(DATADIR)/orderpay/nginx/
	$(INSTALL) -m 0644 api/openapi.yaml $(DESTDIR)$(DATADIR)/orderpay/openapi.yaml
	$(INSTALL) -m 0644 deploy/orderpay.conf.example $(DESTDIR)$(DOCDIR)/examples/orderpay.conf
	$(INSTALL) -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 0644 docs/man/orderpay.1 docs/man/paysim.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 docs/man/orderpayd.8 $(DESTDIR)$(MANDIR)/man8/

# make deb: build/deb/orderpay_$(VERSION)_<arch>.deb with debhelper from a clean copy of the
# tree (dpkg-buildpackage writes next to the source, so never into the worktree's parent),
# then lintian, which must report no errors. Installs debhelper and lintian if missing.
deb:
	bash deploy/build-deb.sh

# Installs the built .deb into a scratch root (dpkg -x) and runs the installed binaries.
deb-test:
	bash tests/packaging/deb_smoke.sh build/deb/orderpay_$(VERSION)_$$(dpkg --print-architecture).deb

# The mains' dependency files too: without them a header change left src/bin/*.o stale, linking
# two layouts of one class into the same binary.
-include $(CORE_OBJS:.o=.d) $(SIM_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(BINS:$(OUT)/%=$(OUT)/obj/src/bin/%.d)
-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_TARGETS:%=$(FUZZ_OUT)/obj/tests/fuzz/%_fuzz.d)
