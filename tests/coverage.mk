# make coverage: RTL (Verilator --coverage: line and toggle) and C (gcov/lcov) coverage of the
# RTL harnesses, the cycle simulator suite and trace replays, built in build-cov/ (never mixed
# with build/). The report goes to docs/coverage.md (per-block line and toggle percentages) and
# build-cov/coverage/ (verilator_coverage annotations, lcov's coverage.info and HTML).
# How: a recursive make with BUILD=build-cov SPK_COVERAGE=1 VERILATOR="verilator --coverage"
# SANFLAGS=--coverage (the flags hook the top Makefile already adds to every compile and link),
# then scripts/regress/coverage.py runs the programs and writes the report.
COV_BUILD ?= build-cov
COV_BINS := bin/rtl-engine bin/rtl-topk bin/rtl-datapath bin/test-cycle bin/spk-sim

ifeq ($(SPK_COVERAGE),1)
# Verilator's coverage runtime, and the harness headers told the models count coverage.
$(RTL_RUNTIME_LIB): $(BUILD)/rtl/runtime/verilated_cov.o
RTL_VDEFS := $(subst -DVM_COVERAGE=0,-DVM_COVERAGE=1,$(RTL_VDEFS))
endif

.PHONY: coverage
coverage: ## RTL (line, toggle) and C (gcov/lcov) coverage in build-cov/ -> docs/coverage.md
	@scripts/bootstrap.sh
	@$(MAKE) --no-print-directory BUILD=$(COV_BUILD) SPK_COVERAGE=1 OPT="-O1 -g" \
	    SANFLAGS=--coverage VERILATOR="$(VERILATOR) --coverage" $(addprefix $(COV_BUILD)/,$(COV_BINS))
	@$(PYTHON) scripts/regress/coverage.py $(COV_BUILD) docs/coverage.md
