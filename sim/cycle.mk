# The cycle-level simulator (issue 3): library libspkcycle and the spk-sim trace-replay tool.
CYCLE_SRCS := $(filter-out sim/cycle/main.c,$(wildcard sim/cycle/*.c))
$(eval $(call c_lib,spkcycle,$(CYCLE_SRCS)))
$(eval $(call c_prog,spk-sim,sim/cycle/main.c,spkcycle spkutil spkgolden))
