# The bit-exact datapath model (golden model) and the small utilities the tools share.
GOLDEN_SRCS := $(wildcard sim/golden/*.c)
UTIL_SRCS   := $(wildcard sim/util/*.c)
$(eval $(call c_lib,spkgolden,$(GOLDEN_SRCS)))
$(eval $(call c_lib,spkutil,$(UTIL_SRCS)))
# spk-attn runs the golden model directly or, with --backend, the same layer through libspk on a
# device; it then loads the firmware from $(BUILD)/firmware next to the binary.
$(eval $(call c_prog,spk-attn,sim/tools/spk_attn.c,spk spkcycle spkgolden spkiss spkutil,-lelf -lpthread))
$(BUILD)/bin/spk-attn: $(BUILD)/firmware/spk-fw.elf
$(eval $(call fuzz_target,fuzz-npy,sim/fuzz/fuzz_npy.c sim/util/npy.c))
# Fuzz target of the pruning-state loader (spk_prune_load), seeded from sim/fuzz/corpus/fuzz-prune/.
$(eval $(call fuzz_target,fuzz-prune,sim/fuzz/fuzz_prune.c $(GOLDEN_SRCS),,$(wildcard sim/fuzz/corpus/fuzz-prune/*)))
# The datapath's integer loops (dot products, unpacking, sums) vectorize only under the dynamic
# cost model at -O2; integer arithmetic is exact either way, and no float reduction is reordered
# (that needs -ffast-math, which the kit never uses).
$(call obj_of,$(GOLDEN_SRCS)): CFLAGS += -fvect-cost-model=dynamic
