# spatten-kit top-level build.
#
# Everything is built out of tree into $(BUILD) (binaries in $(BUILD)/bin, libraries in
# $(BUILD)/lib). Each area of the kit contributes a make fragment (`*/*.mk`) that registers its
# libraries, programs and test binaries with the macros below; this file only holds the
# conventions and the top-level targets. `make help` lists the targets.

SHELL      := /bin/bash
BUILD      ?= build
SAN        ?= 0
PREFIX     ?= /usr/local
DESTDIR    ?=
PYTHON     ?= /usr/bin/python3
SHARED_DATA ?= ../shared/data
CC         ?= gcc
CXX        ?= g++
AR         ?= ar

# -ffp-contract=off: the golden model's float->fixed conversions must not change with FMA
# contraction, or the host and device sides of the bit-exactness contract would drift apart.
OPT        ?= -O2 -g
CPPFLAGS   += -MMD -MP -D_POSIX_C_SOURCE=200809L -Isim/include -Idriver/include -Imodels/include \
              -Idevice/include
CFLAGS     += -std=c11 $(OPT) -Wall -Wextra -Werror -ffp-contract=off -fPIC
CXXFLAGS   += -std=c++17 $(OPT) -Wall -Wextra -Werror -ffp-contract=off -fPIC
LDFLAGS    +=
LDLIBS     += -lm
GTEST_LIBS := $(shell pkg-config --libs gtest gtest_main 2>/dev/null || echo -lgtest_main -lgtest -lpthread)

ifeq ($(SAN),1)
SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
# SAN=thread: ThreadSanitizer (make test-tsan)
ifeq ($(SAN),thread)
SANFLAGS   := -fsanitize=thread -fno-omit-frame-pointer
endif
CFLAGS     += $(SANFLAGS)
CXXFLAGS   += $(SANFLAGS)
LDFLAGS    += $(SANFLAGS)

.DEFAULT_GOAL := all
ALL_LIBS   :=
ALL_BINS   :=
TEST_BINS  :=
LINT_C_SRCS :=

# ---- build macros used by the fragments -----------------------------------------------------
obj_of = $(patsubst %,$(BUILD)/obj/%.o,$(basename $(1)))

# $(call c_lib,NAME,SOURCES): static library $(BUILD)/lib/libNAME.a
define c_lib
$(BUILD)/lib/lib$(1).a: $(call obj_of,$(2))
	@mkdir -p $$(@D)
	@rm -f $$@
	$(AR) rcs $$@ $$^
ALL_LIBS += $(BUILD)/lib/lib$(1).a
LINT_C_SRCS += $(filter %.c,$(2))
endef

# $(call c_prog,NAME,SOURCES,LIBS,EXTRA_LDLIBS): program $(BUILD)/bin/NAME linked with
# the static libraries LIBS (names without lib prefix, dependents first).
define c_prog
$(BUILD)/bin/$(1): $(call obj_of,$(2)) $(foreach l,$(3),$(BUILD)/lib/lib$(l).a)
	@mkdir -p $$(@D)
	$(CC) $(LDFLAGS) -o $$@ $(call obj_of,$(2)) $(foreach l,$(3),$(BUILD)/lib/lib$(l).a) $(4) $(LDLIBS)
ALL_BINS += $(BUILD)/bin/$(1)
LINT_C_SRCS += $(filter %.c,$(2))
endef

# $(call gtest_prog,NAME,SOURCES,LIBS,EXTRA_LDLIBS): GoogleTest binary run by `make test`.
define gtest_prog
$(BUILD)/bin/$(1): $(call obj_of,$(2)) $(foreach l,$(3),$(BUILD)/lib/lib$(l).a)
	@mkdir -p $$(@D)
	$(CXX) $(LDFLAGS) -o $$@ $(call obj_of,$(2)) $(foreach l,$(3),$(BUILD)/lib/lib$(l).a) $(4) $(GTEST_LIBS) $(LDLIBS)
TEST_BINS += $(BUILD)/bin/$(1)
endef

# $(call fuzz_target,NAME,SOURCES,EXTRA_FLAGS,SEED_FILES): libFuzzer binary build-fuzz/NAME
# (clang, ASan+UBSan) run by `make fuzz`, its corpus seeded with SEED_FILES. Fuzz targets are
# not part of `all`: they need clang's fuzzer runtime.
FUZZ_BINS :=
define fuzz_target
build-fuzz/$(1): $(2) $(4)
	@mkdir -p $$(@D) build-fuzz/corpus/$(1)
	$(if $(4),cp $(4) build-fuzz/corpus/$(1)/)
	clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -D_POSIX_C_SOURCE=200809L \
	    -Isim/include -Idriver/include -Imodels/include -o $$@ $(2) $(3) -lm
FUZZ_BINS += build-fuzz/$(1)
endef

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<

# ---- the areas ------------------------------------------------------------------------------
include $(sort $(wildcard sim/*.mk sim/*/*.mk models/*.mk driver/*.mk device/*.mk firmware/*.mk \
    rtl/*.mk systemc/*.mk tests/*.mk))

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- top-level targets ----------------------------------------------------------------------
.PHONY: all test test-run test-tsan fuzz-run demo study study-long bench lint format install clean help bootstrap fuzz \
        check-llm-backends

all: $(ALL_LIBS) $(ALL_BINS) $(TEST_BINS) ## Build libraries, tools and test binaries into build/

bootstrap: ## Install the kit's dependencies (apt + pip); quiet when already satisfied
	@scripts/bootstrap.sh

test: bootstrap ## Build and run every test suite, then again under ASan+UBSan (build-asan/), then the threads test under TSan
	@$(MAKE) --no-print-directory test-run
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT="-O1 -g" test-run
	@$(MAKE) --no-print-directory test-tsan

test-tsan: ## Threads sharing a device, under ThreadSanitizer (build-tsan/; any race fails)
	@$(MAKE) --no-print-directory BUILD=build-tsan SAN=thread OPT="-O1 -g" \
	    build-tsan/bin/test-driver-threads
	@for b in model sim; do \
	    TSAN_OPTIONS="halt_on_error=1 exitcode=66" SPK_TEST_BACKENDS=$$b \
	        build-tsan/bin/test-driver-threads >build-tsan/threads-$$b.log 2>&1 || \
	        { tail -n 40 build-tsan/threads-$$b.log; echo "test-tsan: $$b FAILED"; exit 1; }; \
	    echo "test-tsan: $$b clean ($$(grep -c '^\[       OK' build-tsan/threads-$$b.log) tests)"; \
	done

test-run: $(TEST_BINS) $(ALL_BINS)
	@scripts/run-tests.sh $(BUILD) $(TEST_BINS)

DEMO_PROMPT ?= The history of the city began in the Middle Ages, when
demo: bootstrap ## Generate text with the default model while attention runs on the simulated accelerator
	@scripts/bootstrap.sh --model
	@$(MAKE) --no-print-directory $(BUILD)/bin/spk-llm $(BUILD)/firmware/spk-fw.elf
	@echo "== spk-llm generate --backend sim --spatten paper (64 tokens, seed 1)"
	@$(BUILD)/bin/spk-llm generate --backend sim --spatten paper -n 64 --seed 1 -p "$(DEMO_PROMPT)"

study: bootstrap ## The whole accuracy vs DRAM study: ctx 256 (scripts/study.sh) and long context (scripts/study-long.sh) -> docs/results.md, docs/results-long.md
	@scripts/bootstrap.sh --model
	@$(MAKE) --no-print-directory $(BUILD)/bin/spk-llm $(BUILD)/firmware/spk-fw.elf
	@scripts/study.sh $(wildcard $(SHARED_DATA)/wikitext2/wiki.test.part-a.txt)
	@scripts/study-long.sh $(wildcard $(SHARED_DATA)/wikitext2/wiki.test.part-a.txt)

study-long: bootstrap ## Long-context study (scripts/study-long.sh: ctx 2048 on 3 chunks and the ctx 8192 check) -> docs/results-long.md
	@scripts/bootstrap.sh --model
	@$(MAKE) --no-print-directory $(BUILD)/bin/spk-llm $(BUILD)/firmware/spk-fw.elf
	@scripts/study-long.sh $(wildcard $(SHARED_DATA)/wikitext2/wiki.test.part-a.txt)

check-llm-backends: bootstrap all ## The real model on every backend: greedy text identical to model
	@scripts/check-llm-backends.sh

bench: bootstrap all ## Run the benchmarks and record them in docs/benchmarks.md
	@scripts/bench.sh $(SHARED_DATA)

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' '*.cc' '*.cpp' 2>/dev/null)

lint: lint-rtl ## clang-format check and cppcheck on all C/C++ sources (plus Verilator lint of the RTL)
	@clang-format --dry-run --Werror $(FORMAT_SRCS)
	@cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,performance,portability \
	    --inline-suppr --suppress=missingIncludeSystem -Isim/include -Idriver/include \
	    -Imodels/include -Idevice/include -Idevice -Irtl/sim/include $(sort $(LINT_C_SRCS))
	@echo "lint: clean"

format: ## Reformat all C/C++ sources with clang-format
	@clang-format -i $(FORMAT_SRCS)

install: install-driver ## Install libspk (headers, libraries, spk.pc, firmware) under $(DESTDIR)$(PREFIX)

FUZZ_SECONDS ?= 60
fuzz: ## Run every parser fuzz target for FUZZ_SECONDS each (bootstraps clang with libFuzzer)
	@scripts/bootstrap.sh --fuzz
	@$(MAKE) --no-print-directory fuzz-run

fuzz-run: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
	    name=$$(basename $$f); mkdir -p build-fuzz/corpus/$$name; \
	    echo "== $$name ($(FUZZ_SECONDS) s, log build-fuzz/$$name.log)"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build-fuzz/corpus/$$name \
	        >build-fuzz/$$name.log 2>&1 || { tail -n 30 build-fuzz/$$name.log; exit 1; }; \
	    grep -E '^stat::number_of_executed_units' build-fuzz/$$name.log; \
	done

clean: ## Remove build/, build-asan/ and build-fuzz/
	rm -rf build build-asan build-fuzz

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort -u | \
	    awk 'BEGIN {FS = ":.*## "} {printf "  %-10s %s\n", $$1, $$2}'
