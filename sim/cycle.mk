# The cycle-level simulator (issue 3): library libspkcycle and the spk-sim trace-replay tool.
CYCLE_SRCS := $(filter-out sim/cycle/main.c,$(wildcard sim/cycle/*.c))
$(eval $(call c_lib,spkcycle,$(CYCLE_SRCS)))
$(eval $(call c_prog,spk-sim,sim/cycle/main.c,spkcycle spkutil spkgolden))
# Fuzz targets (`make fuzz`; not part of `all`) of the trace CSV reader and the configuration and
# energy file loaders, seeded from sim/fuzz/corpus/<target>/ (docs/development.md, "Fuzzing").
$(eval $(call fuzz_target,fuzz-trace,sim/fuzz/fuzz_trace.c sim/cycle/trace.c,,$(wildcard sim/fuzz/corpus/fuzz-trace/*)))
$(eval $(call fuzz_target,fuzz-config,sim/fuzz/fuzz_config.c sim/cycle/config.c,,$(wildcard sim/fuzz/corpus/fuzz-config/*)))
$(eval $(call fuzz_target,fuzz-energy,sim/fuzz/fuzz_energy.c sim/cycle/energy.c,,$(wildcard sim/fuzz/corpus/fuzz-energy/*)))
