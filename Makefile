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

CXX ?= g++
CXXSTD := -std=c++20
WARN := -Wall -Wextra -Werror -Wno-missing-field-initializers
INCS := -Iinclude -Isrc -I/usr/include/libxml2 -I/usr/include/postgresql

ifeq ($(BUILD),debug)
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDOPT := -fsanitize=address,undefined
else
  OPT := -O2 -g -DNDEBUG
  LDOPT :=
endif

CXXFLAGS := $(CXXSTD) $(WARN) $(OPT) $(INCS) -MMD -MP
LIBS := -lfcgi -lpq -lxml2 -lssl -lcrypto -lcurl -lpthread

CORE_SRCS := $(shell find src -name '*.cpp' -not -path 'src/bin/*' -not -path 'src/sim/*' | sort)
SIM_SRCS := $(shell find src/sim -name '*.cpp' 2>/dev/null | sort)
UNIT_SRCS := $(shell find tests/unit -name '*.cpp' 2>/dev/null | sort)

CORE_OBJS := $(CORE_SRCS:%.cpp=$(OUT)/obj/%.o) $(OUT)/obj/gen/migrations_data.o
SIM_OBJS := $(SIM_SRCS:%.cpp=$(OUT)/obj/%.o)
UNIT_OBJS := $(UNIT_SRCS:%.cpp=$(OUT)/obj/%.o)

BINS := $(OUT)/orderpayd $(OUT)/orderpay $(OUT)/paysim

.PHONY: all build debug deps run up down test unit integration bench format format-check clean

all: build

build: $(BINS) $(OUT)/unit_tests

debug:
	$(MAKE) -j$(JOBS) BUILD=debug build

$(OUT)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# The SQL migrations are compiled into the binaries (deploy/embed-sql.sh).
$(OUT)/gen/migrations_data.cpp: $(wildcard sql/*.sql sql/paysim/*.sql) deploy/embed-sql.sh
	@mkdir -p $(dir $@)
	bash deploy/embed-sql.sh $@

$(OUT)/obj/gen/migrations_data.o: $(OUT)/gen/migrations_data.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(OUT)/libcore.a: $(CORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(OUT)/libsim.a: $(SIM_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(OUT)/orderpayd: $(OUT)/obj/src/bin/orderpayd.o $(OUT)/libcore.a
	$(CXX) $(LDOPT) -o $@ $^ $(LIBS)

$(OUT)/orderpay: $(OUT)/obj/src/bin/orderpay.o $(OUT)/libcore.a
	$(CXX) $(LDOPT) -o $@ $^ $(LIBS)

$(OUT)/paysim: $(OUT)/obj/src/bin/paysim.o $(OUT)/libsim.a $(OUT)/libcore.a
	$(CXX) $(LDOPT) -o $@ $^ $(LIBS)

$(OUT)/unit_tests: $(UNIT_OBJS) $(OUT)/libsim.a $(OUT)/libcore.a
	$(CXX) $(LDOPT) -o $@ $^ -lgtest -lgtest_main $(LIBS)

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
	$(MAKE) -j$(JOBS) BUILD=release build
	$(MAKE) -j$(JOBS) BUILD=debug build
	build/release/unit_tests --gtest_brief=1
	ASAN_OPTIONS=detect_leaks=1 build/debug/unit_tests --gtest_brief=1
	bash tests/integration/run.sh build/debug

unit: build
	$(OUT)/unit_tests

integration: build
	bash tests/integration/run.sh $(OUT)

bench: deps
	$(MAKE) -j$(JOBS) BUILD=release build
	bash tests/bench/run.sh build/release

format:
	clang-format -i $$(find src include tests -name '*.cpp' -o -name '*.hpp')

format-check:
	clang-format --dry-run --Werror $$(find src include tests -name '*.cpp' -o -name '*.hpp')

clean:
	rm -rf build

# The mains' dependency files too: without them a header change left src/bin/*.o stale, linking
# two layouts of one class into the same binary.
-include $(CORE_OBJS:.o=.d) $(SIM_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(BINS:$(OUT)/%=$(OUT)/obj/src/bin/%.d)
