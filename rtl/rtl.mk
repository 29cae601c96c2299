# RTL of the SpAtten engine (rtl/): Verilator models for the C++ harnesses, the RTL test suite,
# Verilator lint, the Icarus reset/X test and the iCE40 synthesis flow. See docs/rtl.md.
#
# Each Verilated configuration is generated into $(BUILD)/rtl/<prefix>/ and compiled by
# Verilator's own makefile into <prefix>__ALL.a (never sanitized, see below); the
# Verilator runtime is compiled once per build directory into $(BUILD)/rtl/runtime/.

VERILATOR       ?= verilator
IVERILOG        ?= iverilog
VERILATOR_ROOT_DIR := $(shell $(VERILATOR) --getenv VERILATOR_ROOT 2>/dev/null)
VERILATOR_INC   := $(VERILATOR_ROOT_DIR)/include

RTL_COMMON_SRCS := rtl/common/spk_ram_1r1w.v
RTL_COMMON_INCS := $(wildcard rtl/common/*.vh)  # included by the sources (-Irtl/common)
RTL_TOPK_SRCS   := $(RTL_COMMON_SRCS) rtl/topk/spk_topk_append.v rtl/topk/spk_topk.v
RTL_SOFTMAX_SRCS := $(RTL_COMMON_SRCS) rtl/softmax/spk_softmax_exp.v rtl/softmax/spk_requant.v \
                    rtl/softmax/spk_softmax.v
RTL_LOGIT_SRCS  := rtl/qk/spk_logit.v
RTL_QK_SRCS     := rtl/qk/spk_plane_merge.v rtl/qk/spk_logit.v rtl/qk/spk_qk.v
RTL_PV_SRCS     := $(RTL_COMMON_SRCS) rtl/pv/spk_pv.v
RTL_IMPORTANCE_SRCS := $(RTL_COMMON_SRCS) rtl/importance/spk_importance.v
RTL_FETCH_SRCS  := rtl/fetch/spk_kv_fetch.v
RTL_ENGINE_SRCS := $(sort $(RTL_TOPK_SRCS) $(RTL_SOFTMAX_SRCS) $(RTL_QK_SRCS) $(RTL_PV_SRCS) \
                   $(RTL_FETCH_SRCS) $(RTL_IMPORTANCE_SRCS)) rtl/engine/spk_desc_check.v \
                   rtl/engine/spk_engine.v
RTL_ENGINE_COMPACT_SRCS := $(RTL_COMMON_SRCS) rtl/importance/spk_importance.v \
                           rtl/qk/spk_plane_merge.v rtl/engine/spk_axi_word_reader.v \
                           rtl/engine/spk_mul32.v rtl/engine/spk_desc_check.v \
                           rtl/engine/spk_engine_compact.v
RTL_LINT_WAIVERS := rtl/lint.vlt

# Verilator's fast simulation flags (docs/rtl.md); the models have no delays, hence --no-timing.
RTL_VFLAGS      := --cc --no-timing -O3 --x-assign fast --x-initial fast --noassert --trace-fst \
                   -Wall $(RTL_LINT_WAIVERS)
# Defines that the Verilated headers expect to match the generated model.
RTL_VDEFS       := -DVM_COVERAGE=0 -DVM_SC=0 -DVM_TRACE=1 -DVM_TRACE_FST=1 -DVM_TRACE_VCD=0
# Sanitizer builds (SAN=1): our harness code and the golden model are fully instrumented, but
# the Verilated models and Verilator's runtime are compiled without sanitizers. Instrumenting
# Verilator's generated eval functions (one huge function per model) takes minutes of compile
# time per file, and that code is generated, not ours; Verilator's trace code also uses
# misaligned accesses and negative shifts on purpose, which UBSan would stop on.
RTL_MODEL_OPT   := -O2
RTL_RUNTIME_OBJS := $(patsubst %,$(BUILD)/rtl/runtime/%.o,verilated verilated_fst_c verilated_threads)
RTL_RUNTIME_LIB := $(BUILD)/rtl/runtime/libverilated_rt.a
RTL_MODEL_LIBS  :=

# $(call rtl_model,PREFIX,TOP,SOURCES,PARAMETERS): Verilate TOP with PARAMETERS (-Gname=value)
# into $(BUILD)/rtl/PREFIX/ and build $(BUILD)/rtl/PREFIX/PREFIX__ALL.a.
define rtl_model
$(BUILD)/rtl/$(1)/$(1).mk: $(3) $(RTL_COMMON_INCS) $(RTL_LINT_WAIVERS) rtl/rtl.mk
	@rm -rf $(BUILD)/rtl/$(1)
	@mkdir -p $(BUILD)/rtl/$(1)
	$(VERILATOR) $(RTL_VFLAGS) -Irtl/common --prefix $(1) --top-module $(2) $(4) -Mdir $(BUILD)/rtl/$(1) $(3)
$(BUILD)/rtl/$(1)/$(1).h: $(BUILD)/rtl/$(1)/$(1).mk ;
$(BUILD)/rtl/$(1)/$(1)__ALL.a: $(BUILD)/rtl/$(1)/$(1).mk
	+$(MAKE) --no-print-directory -s -C $(BUILD)/rtl/$(1) -f $(1).mk $(1)__ALL.a CXX="$(CXX)" \
	    OPT_FAST="$(RTL_MODEL_OPT)" OPT_SLOW="-O1" OPT_GLOBAL="-O2" OPT="" USER_CPPFLAGS="-fPIC"
RTL_MODEL_LIBS += $(BUILD)/rtl/$(1)/$(1)__ALL.a
RTL_MODEL_INCS += -I$(BUILD)/rtl/$(1)
RTL_MODEL_HDRS += $(BUILD)/rtl/$(1)/$(1).h
endef

$(BUILD)/rtl/runtime/%.o: $(VERILATOR_INC)/%.cpp
	@mkdir -p $(@D)
	$(CXX) -std=c++17 -O2 -fPIC $(RTL_VDEFS) -isystem $(VERILATOR_INC) \
	    -isystem $(VERILATOR_INC)/vltstd -c -o $@ $<

$(RTL_RUNTIME_LIB): $(RTL_RUNTIME_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# The top-k engine at full SpAtten width, and at an odd P with a non-power-of-two depth.
$(eval $(call rtl_model,Vtopk_p16,spk_topk,$(RTL_TOPK_SRCS),-GW=16 -GNMAX=4096 -GP=16))
$(eval $(call rtl_model,Vtopk_p3,spk_topk,$(RTL_TOPK_SRCS),-GW=12 -GNMAX=4095 -GP=3))
# Datapath blocks.
$(eval $(call rtl_model,Vsoftmax,spk_softmax,$(RTL_SOFTMAX_SRCS),-GNMAX=4096))
$(eval $(call rtl_model,Vlogit,spk_logit,$(RTL_LOGIT_SRCS),))
$(eval $(call rtl_model,Vqk,spk_qk,$(RTL_QK_SRCS),-GDMAX=64 -GM=8))
$(eval $(call rtl_model,Vpv,spk_pv,$(RTL_PV_SRCS),-GDMAX=64 -GM=8))
$(eval $(call rtl_model,Vfetch,spk_kv_fetch,$(RTL_FETCH_SRCS),-GDMAX=64 -GM=8))
$(eval $(call rtl_model,Vimportance,spk_importance,$(RTL_IMPORTANCE_SRCS),-GN=256))
# The engine top (tests/rtl/engine_harness.h assumes these parameters).
$(eval $(call rtl_model,Vengine,spk_engine,$(RTL_ENGINE_SRCS),-GDMAX=64 -GM=8 -GNMAX=512 -GP=8 \
    -GQDEPTH=4 -GNTOK=1024))

# The UP5K build's top (rtl/fpga/spk_engine_ice40_top.v) at its synthesis parameters
# (tests/rtl/ice40_top_harness.h assumes the wrapper's defaults).
RTL_ICE40_TOP_SRCS := $(RTL_ENGINE_COMPACT_SRCS) rtl/fpga/spk_axi_spram.v \
                      rtl/fpga/spk_engine_ice40_top.v
$(eval $(call rtl_model,Vice40top,spk_engine_ice40_top,$(RTL_ICE40_TOP_SRCS),))

# Icarus 4-state reset/X test benches, run by the test suite.
RTL_ICARUS_TOPK := $(BUILD)/rtl/icarus/topk_reset_tb.vvp
$(RTL_ICARUS_TOPK): $(RTL_TOPK_SRCS) tests/rtl/topk_reset_tb.v
	@mkdir -p $(@D)
	$(IVERILOG) -g2005 -Wall -o $@ -s topk_reset_tb $^
RTL_ICARUS_DATAPATH := $(BUILD)/rtl/icarus/datapath_reset_tb.vvp
$(RTL_ICARUS_DATAPATH): $(sort $(RTL_SOFTMAX_SRCS) $(RTL_QK_SRCS) $(RTL_PV_SRCS) \
                        $(RTL_IMPORTANCE_SRCS) $(RTL_FETCH_SRCS)) tests/rtl/datapath_reset_tb.v
	@mkdir -p $(@D)
	$(IVERILOG) -g2005 -Wall -Irtl/common -o $@ -s datapath_reset_tb $^

RTL_ICARUS_ENGINE := $(BUILD)/rtl/icarus/engine_reset_tb.vvp
$(RTL_ICARUS_ENGINE): $(RTL_ENGINE_SRCS) tests/rtl/engine_reset_tb.v
	@mkdir -p $(@D)
	$(IVERILOG) -g2005 -Wall -Irtl/common -o $@ -s engine_reset_tb $^

# Link line shared by the RTL test suite and the harness binaries.
RTL_LINK_LIBS = $(RTL_MODEL_LIBS) $(RTL_RUNTIME_LIB) -lz -lpthread
RTL_HARNESS_CPPFLAGS = $(RTL_VDEFS) -isystem $(VERILATOR_INC) -isystem $(VERILATOR_INC)/vltstd \
    $(patsubst -I%,-isystem %,$(RTL_MODEL_INCS)) -Itests/rtl \
    -DSPK_RTL_ICARUS_TOPK='"$(RTL_ICARUS_TOPK)"' \
    -DSPK_RTL_ICARUS_DATAPATH='"$(RTL_ICARUS_DATAPATH)"' \
    -DSPK_RTL_ICARUS_ENGINE='"$(RTL_ICARUS_ENGINE)"'
$(BUILD)/obj/tests/rtl/%.o: CPPFLAGS += $(RTL_HARNESS_CPPFLAGS)

# Lint: Verilator -Wall on every RTL top with its sources, zero warnings (waivers only in
# rtl/lint.vlt). The register block generated into rtl/regs/ (another area's file) is linted too
# when it exists, so that `make lint` covers all RTL.
RTL_LINT_TOPS := spk_topk spk_topk_ice40_top spk_softmax spk_softmax_ice40_top spk_logit spk_qk \
                 spk_pv spk_importance spk_kv_fetch spk_engine spk_engine_ice40_top
RTL_LINT_SRCS_spk_engine_ice40_top := -Irtl/common $(RTL_ICE40_TOP_SRCS)
RTL_LINT_SRCS_spk_engine := -Irtl/common $(RTL_ENGINE_SRCS)
RTL_LINT_SRCS_spk_kv_fetch := $(RTL_FETCH_SRCS)
RTL_LINT_SRCS_spk_softmax_ice40_top := -Irtl/common $(RTL_SOFTMAX_SRCS) rtl/fpga/spk_softmax_ice40_top.v
RTL_LINT_SRCS_spk_qk := $(RTL_QK_SRCS)
RTL_LINT_SRCS_spk_importance := $(RTL_IMPORTANCE_SRCS)
RTL_LINT_SRCS_spk_pv := $(RTL_PV_SRCS)
RTL_LINT_SRCS_spk_topk := $(RTL_TOPK_SRCS)
RTL_LINT_SRCS_spk_topk_ice40_top := $(RTL_TOPK_SRCS) rtl/fpga/spk_topk_ice40_top.v
RTL_LINT_SRCS_spk_softmax := -Irtl/common $(RTL_SOFTMAX_SRCS)
RTL_LINT_SRCS_spk_logit := $(RTL_LOGIT_SRCS)
ifneq ($(wildcard rtl/regs/spk_csr.v),)
RTL_LINT_TOPS += spk_csr
RTL_LINT_SRCS_spk_csr := -Irtl/regs rtl/regs/spk_csr.v
endif

.PHONY: lint-rtl synth synth-blocks
lint-rtl: ## Verilator -Wall lint of all RTL (zero warnings)
	@$(foreach top,$(RTL_LINT_TOPS),$(VERILATOR) --lint-only -Wall --no-timing \
	    $(RTL_LINT_WAIVERS) --top-module $(top) $(RTL_LINT_SRCS_$(top)) &&) true
	@echo "lint-rtl: clean ($(RTL_LINT_TOPS))"

synth: ## iCE40 UP5K build of the RTL (yosys + nextpnr + icepack + icetime), report in build/synth
	@scripts/synth-ice40.sh $(BUILD)/synth spk_topk_ice40_top
	@scripts/synth-ice40.sh $(BUILD)/synth spk_softmax_ice40_top
	@scripts/synth-ice40.sh $(BUILD)/synth spk_engine_ice40_top

synth-blocks: ## yosys-only iCE40 cell counts of each engine block at the UP5K build's parameters
	@scripts/synth-ice40.sh $(BUILD)/synth blocks

# Area of the two full engines on a 7-series part at the RTL harness's parameters (yosys
# synth_xilinx; docs/rtl.md, "Area on a 7-series part"; make bench records it).
XILINX_PARAMS := DMAX=64 M=8 NMAX=512 P=8 QDEPTH=4 NTOK=1024
.PHONY: synth-xilinx
synth-xilinx: ## yosys synth_xilinx (xc7) of spk_engine and spk_engine_ovl: LUT/FF/DSP/BRAM vs a Zynq-7020 (about 30 min)
	@scripts/synth-xilinx.sh $(BUILD)/xilinx spk_engine "$(XILINX_PARAMS)" $(RTL_ENGINE_SRCS)
	@scripts/synth-xilinx.sh $(BUILD)/xilinx spk_engine_ovl "$(XILINX_PARAMS)" $(RTL_ENGINE_OVL_SRCS)

# ---- The compact engine (rtl/engine/spk_engine_compact.v) -------------------------------------
# spk_engine's port list in a sequential microarchitecture sized for the UP5K (no M, no P): its
# Verilated model (tests/rtl/engine_harness.h assumes these parameters), its lint entry and its
# Icarus reset/X bench (tests/rtl/engine_reset_tb.v compiled with ENGINE_COMPACT: DMAX 8,
# NMAX 16, QDEPTH 2, NTOK 32).
$(eval $(call rtl_model,Vengine_compact,spk_engine_compact,$(RTL_ENGINE_COMPACT_SRCS), \
    -GDMAX=64 -GNMAX=512 -GQDEPTH=4 -GNTOK=1024))
RTL_LINT_TOPS += spk_engine_compact
RTL_LINT_SRCS_spk_engine_compact := -Irtl/common $(RTL_ENGINE_COMPACT_SRCS)
RTL_ICARUS_ENGINE_COMPACT := $(BUILD)/rtl/icarus/engine_compact_reset_tb.vvp
$(RTL_ICARUS_ENGINE_COMPACT): $(RTL_ENGINE_COMPACT_SRCS) tests/rtl/engine_reset_tb.v
	@mkdir -p $(@D)
	$(IVERILOG) -g2005 -Wall -Irtl/common -DENGINE_COMPACT -o $@ -s engine_reset_tb $^
RTL_HARNESS_CPPFLAGS += -DSPK_RTL_ICARUS_ENGINE_COMPACT='"$(RTL_ICARUS_ENGINE_COMPACT)"'

# ---- The prune unit (rtl/prune/spk_prune.v) ---------------------------------------------------
# Cascade pruning (spk_prune_keep_window) on the unit's token and head entries: its Verilated
# model (tests/rtl/prune_harness.h assumes these parameters) and its lint entry.
RTL_PRUNE_SRCS := $(RTL_COMMON_SRCS) rtl/prune/spk_prune.v
$(eval $(call rtl_model,Vprune,spk_prune,$(RTL_PRUNE_SRCS),-GNTOK=256 -GNHEAD=16 -GP=4))
# The prune unit at the engine's bank size, for the RTL plugin (rtl/sim/rtl_prune.cc).
$(eval $(call rtl_model,Vprune_dev,spk_prune,$(RTL_PRUNE_SRCS),-GNTOK=1024 -GNHEAD=16 -GP=4))
RTL_LINT_TOPS += spk_prune
RTL_LINT_SRCS_spk_prune := $(RTL_PRUNE_SRCS)

# ---- The RTL engine plugin (rtl/sim/): $(BUILD)/lib/libspk-rtl.so ----------------------------
# The Verilated spk_engine ("full"), spk_engine_compact ("compact") and spk_engine_ovl ("ovl"),
# behind the C function table of rtl/sim/include/spkrtl/rtl_engine.h, for the driver's `rtl`,
# `rtl-compact` and `rtl-ovl` backends, which dlopen it (programs that never open it need no
# Verilator runtime). It exports one symbol, spk_rtl_api_v1 (version script
# rtl/sim/libspk-rtl.map; its copies of the models and of the Verilator runtime stay private, so
# a program that links its own, like test-rtl, can load it).
# For the integrator: SPK_RTL_PLUGIN (path of the .so; empty without Verilator, and then nothing
# here is built) and SPK_RTL_CPPFLAGS (include path of spkrtl/rtl_engine.h).
# SAN=1: the plugin's own sources (rtl/sim/*.cc) are instrumented like the rest of our code (the
# pattern rule's CXXFLAGS), the Verilated models and the runtime are not (see above). The
# instrumented .so needs the sanitizer runtime of the process that loads it, which every program
# of a SAN=1 build has (LDFLAGS); a build-asan plugin is for build-asan programs only.
SPK_RTL_CPPFLAGS := -Irtl/sim/include
ifneq ($(VERILATOR_ROOT_DIR),)
SPK_RTL_PLUGIN  := $(BUILD)/lib/libspk-rtl.so
SPK_RTL_SRCS    := $(wildcard rtl/sim/*.cc)
SPK_RTL_OBJS    := $(call obj_of,$(SPK_RTL_SRCS))
SPK_RTL_MODELS  := $(BUILD)/rtl/Vengine/Vengine__ALL.a \
                   $(BUILD)/rtl/Vengine_compact/Vengine_compact__ALL.a \
                   $(BUILD)/rtl/Vengine_ovl/Vengine_ovl__ALL.a \
                   $(BUILD)/rtl/Vprune_dev/Vprune_dev__ALL.a
$(SPK_RTL_OBJS): CPPFLAGS += $(RTL_VDEFS) -isystem $(VERILATOR_INC) \
    -isystem $(VERILATOR_INC)/vltstd -isystem $(BUILD)/rtl/Vengine \
    -isystem $(BUILD)/rtl/Vengine_compact -isystem $(BUILD)/rtl/Vengine_ovl \
    -isystem $(BUILD)/rtl/Vprune_dev -Irtl/sim \
    -Irtl/sim/include
$(SPK_RTL_OBJS): CXXFLAGS += -fvisibility=hidden
$(SPK_RTL_OBJS): | $(BUILD)/rtl/Vengine/Vengine.h $(BUILD)/rtl/Vengine_compact/Vengine_compact.h \
    $(BUILD)/rtl/Vengine_ovl/Vengine_ovl.h $(BUILD)/rtl/Vprune_dev/Vprune_dev.h
$(SPK_RTL_PLUGIN): $(SPK_RTL_OBJS) $(SPK_RTL_MODELS) $(RTL_RUNTIME_LIB) rtl/sim/libspk-rtl.map
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -shared -fPIC -Wl,--no-undefined \
	    -Wl,--version-script=rtl/sim/libspk-rtl.map -o $@ $(SPK_RTL_OBJS) $(SPK_RTL_MODELS) \
	    $(RTL_RUNTIME_LIB) -lz -lpthread
ALL_BINS += $(SPK_RTL_PLUGIN)
# `make install` puts it where the rtl backend looks first: $(PREFIX)/lib/spk/ (driver/driver.mk).
install-driver $(SPK_TEST_PREFIX)/lib/pkgconfig/spk.pc: $(SPK_RTL_PLUGIN)
else
SPK_RTL_PLUGIN  :=
endif

# ---- The engine behind the registers (rtl/engine/spk_engine_regs.v) ---------------------------
# spk_engine with the generated register block (rtl/regs/spk_csr.v), its head request read from
# memory as the ABI's descriptor (rtl/regs/spk_abi.vh): Verilated at Vengine's parameters
# (tests/rtl/test_rtl_engine_regs.cc assumes them) and linted.
RTL_ENGINE_REGS_SRCS := $(RTL_ENGINE_SRCS) rtl/regs/spk_csr.v rtl/engine/spk_engine_regs.v
$(eval $(call rtl_model,Vengine_regs,spk_engine_regs,$(RTL_ENGINE_REGS_SRCS),-Irtl/regs \
    -GDMAX=64 -GM=8 -GNMAX=512 -GP=8 -GQDEPTH=4 -GNTOK=1024))
$(BUILD)/rtl/Vengine_regs/Vengine_regs.mk: rtl/regs/spk_abi.vh rtl/regs/spk_regs.vh
RTL_LINT_TOPS += spk_engine_regs
RTL_LINT_SRCS_spk_engine_regs := -Irtl/common -Irtl/regs $(RTL_ENGINE_REGS_SRCS)

# ---- The overlapped engine (rtl/engine/spk_engine_ovl.v) --------------------------------------
# spk_engine's ports and results with its steps overlapped (docs/rtl.md, "Overlapped engine"):
# its Verilated model at Vengine's parameters (tests/rtl/engine_harness.h assumes them) and its
# lint entry.
RTL_ENGINE_OVL_SRCS := $(sort $(RTL_TOPK_SRCS) $(RTL_QK_SRCS) rtl/fetch/spk_kv_fetch_stream.v \
                       $(RTL_IMPORTANCE_SRCS) rtl/softmax/spk_softmax_exp.v \
                       rtl/softmax/spk_requant.v) rtl/softmax/spk_softmax_ovl.v \
                       rtl/pv/spk_pv_ovl.v rtl/engine/spk_desc_check.v rtl/engine/spk_engine_ovl.v
$(eval $(call rtl_model,Vengine_ovl,spk_engine_ovl,$(RTL_ENGINE_OVL_SRCS),-GDMAX=64 -GM=8 \
    -GNMAX=512 -GP=8 -GQDEPTH=4 -GNTOK=1024))
RTL_LINT_TOPS += spk_engine_ovl
RTL_LINT_SRCS_spk_engine_ovl := -Irtl/common $(RTL_ENGINE_OVL_SRCS)
# Its Icarus reset/X bench (tests/rtl/engine_reset_tb.v compiled with ENGINE_OVL, spk_engine's
# bench parameters), run by RtlEngineOvl.ResetLeavesNoXOnOutputs.
RTL_ICARUS_ENGINE_OVL := $(BUILD)/rtl/icarus/engine_ovl_reset_tb.vvp
$(RTL_ICARUS_ENGINE_OVL): $(RTL_ENGINE_OVL_SRCS) tests/rtl/engine_reset_tb.v
	@mkdir -p $(@D)
	$(IVERILOG) -g2005 -Wall -Irtl/common -DENGINE_OVL -o $@ -s engine_reset_tb $^
RTL_HARNESS_CPPFLAGS += -DSPK_RTL_ICARUS_ENGINE_OVL='"$(RTL_ICARUS_ENGINE_OVL)"'
