# Regressions, sweeps and the Slurm launcher (scripts/spk-regress, scripts/spk-sweep,
# scripts/regress/; docs/regressions.md). The runner's own unit tests (tests/regress/) run
# in `make test`, once (in the plain build's pass, not again under the sanitizers).
REGRESSION ?= smoke
REGRESS_ARGS ?=
SWEEP ?= tests/regress/sweeps/sim-grid.json
SWEEP_ARGS ?=
REGRESS_JOBS ?= 2

.PHONY: regress sweep test-slurm regress-selftest
regress: ## Run a named regression: make regress REGRESSION=smoke|nightly|rtl|backends [REGRESS_ARGS=...]
	@$(PYTHON) scripts/spk-regress $(REGRESSION) --build $(BUILD) -j $(REGRESS_JOBS) $(REGRESS_ARGS)

sweep: ## Run a sweep spec: make sweep SWEEP=tests/regress/sweeps/sim-grid.json [SWEEP_ARGS=...]
	@$(PYTHON) scripts/spk-sweep $(SWEEP) --build $(BUILD) -j $(REGRESS_JOBS) $(SWEEP_ARGS)

test-slurm: $(BUILD)/bin/spk-sim $(BUILD)/bin/rtl-datapath ## A real one-node Slurm: sweep + regression via slurm equal local (root)
	@scripts/test-slurm.sh $(BUILD)

regress-selftest: ## The runner's unit tests (tests/regress/test_regress.py, seconds)
	@cd tests/regress && $(PYTHON) -m unittest -q test_regress 2>&1 | tail -n 25; \
	    exit $${PIPESTATUS[0]}

ifeq ($(SAN),0)
test-run: regress-selftest
endif
