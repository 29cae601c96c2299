# RTL test suite and harness binaries (Verilated models and link line come from rtl/rtl.mk).
RTL_TEST_SRCS := tests/rtl/test_rtl_topk.cc tests/rtl/topk_check.cc tests/rtl/test_rtl_icarus.cc \
                 tests/rtl/test_rtl_datapath.cc tests/rtl/datapath_harness.cc tests/rtl/test_rtl_pv.cc tests/rtl/pv_harness.cc \
                 tests/rtl/test_rtl_importance.cc tests/rtl/importance_harness.cc \
                 tests/rtl/test_rtl_qk.cc tests/rtl/qk_harness.cc \
                 tests/rtl/test_rtl_fetch.cc tests/rtl/fetch_harness.cc \
                 tests/rtl/test_rtl_engine.cc tests/rtl/engine_harness.cc \
                 tests/rtl/test_rtl_engine_cycles.cc tests/rtl/test_rtl_engine_compact.cc \
                 tests/rtl/test_rtl_prune.cc tests/rtl/prune_harness.cc \
                 tests/rtl/test_rtl_ice40.cc tests/rtl/ice40_top_harness.cc \
                 tests/rtl/test_rtl_plugin.cc rtl/sim/axi_mem.cc \
                 tests/rtl/test_rtl_engine_regs.cc tests/rtl/test_rtl_engine_ovl.cc
$(eval $(call gtest_prog,test-rtl,$(RTL_TEST_SRCS),spkcycle spkgolden,$(RTL_LINK_LIBS)))
$(BUILD)/bin/test-rtl: $(RTL_MODEL_LIBS) $(RTL_RUNTIME_LIB) $(RTL_ICARUS_TOPK) \
                       $(RTL_ICARUS_DATAPATH) $(RTL_ICARUS_ENGINE) $(RTL_ICARUS_ENGINE_COMPACT) \
                       $(RTL_ICARUS_ENGINE_OVL)

# rtl-topk --seed N --cases M [--config p16|p3] [--trace FILE.fst]
RTL_TOPK_MAIN_SRCS := tests/rtl/harness/rtl_topk_main.cc tests/rtl/topk_check.cc
$(BUILD)/bin/rtl-topk: $(call obj_of,$(RTL_TOPK_MAIN_SRCS)) $(BUILD)/lib/libspkgolden.a \
                       $(RTL_MODEL_LIBS) $(RTL_RUNTIME_LIB)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -o $@ $(call obj_of,$(RTL_TOPK_MAIN_SRCS)) $(BUILD)/lib/libspkgolden.a \
	    $(RTL_LINK_LIBS) $(LDLIBS)
ALL_BINS += $(BUILD)/bin/rtl-topk

# rtl-datapath --block softmax|logit|qk|pv|importance|fetch --seed N --cases M [--trace FILE.fst]
RTL_DATAPATH_MAIN_SRCS := tests/rtl/harness/rtl_datapath_main.cc tests/rtl/datapath_harness.cc \
                          tests/rtl/pv_harness.cc tests/rtl/importance_harness.cc \
                          tests/rtl/qk_harness.cc tests/rtl/fetch_harness.cc
$(BUILD)/bin/rtl-datapath: $(call obj_of,$(RTL_DATAPATH_MAIN_SRCS)) $(BUILD)/lib/libspkgolden.a \
                           $(RTL_MODEL_LIBS) $(RTL_RUNTIME_LIB)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -o $@ $(call obj_of,$(RTL_DATAPATH_MAIN_SRCS)) $(BUILD)/lib/libspkgolden.a \
	    $(RTL_LINK_LIBS) $(LDLIBS)
ALL_BINS += $(BUILD)/bin/rtl-datapath

# rtl-engine --seed N --cases M [--engine full|compact] [--memory stall|fixed|cycles]
#            [--trace FILE.fst]
RTL_ENGINE_MAIN_SRCS := tests/rtl/harness/rtl_engine_main.cc tests/rtl/engine_harness.cc \
                        rtl/sim/axi_mem.cc
$(BUILD)/bin/rtl-engine: $(call obj_of,$(RTL_ENGINE_MAIN_SRCS)) $(BUILD)/lib/libspkcycle.a \
                         $(BUILD)/lib/libspkgolden.a $(RTL_MODEL_LIBS) $(RTL_RUNTIME_LIB)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -o $@ $(call obj_of,$(RTL_ENGINE_MAIN_SRCS)) $(BUILD)/lib/libspkcycle.a \
	    $(BUILD)/lib/libspkgolden.a \
	    $(RTL_LINK_LIBS) $(LDLIBS)
ALL_BINS += $(BUILD)/bin/rtl-engine

# The harness sources include the generated model headers.
$(call obj_of,$(sort $(RTL_TEST_SRCS) $(RTL_TOPK_MAIN_SRCS) $(RTL_DATAPATH_MAIN_SRCS) \
    $(RTL_ENGINE_MAIN_SRCS))): | \
    $(RTL_MODEL_HDRS)

# ---- The RTL engine plugin's suite (tests/rtl/test_rtl_plugin.cc, in RTL_TEST_SRCS above) -----
# (The engine harness serves its AXI reads with the plugin's rtl/sim/axi_mem.cc, also listed.)
# It dlopens $(SPK_RTL_PLUGIN) (rtl/rtl.mk) by its absolute path; without Verilator the path is
# empty and its tests skip.
$(BUILD)/obj/tests/rtl/test_rtl_plugin.o: CPPFLAGS += $(SPK_RTL_CPPFLAGS) \
    -DSPK_RTL_PLUGIN_PATH='"$(if $(SPK_RTL_PLUGIN),$(abspath $(SPK_RTL_PLUGIN)))"'
$(BUILD)/bin/test-rtl: $(SPK_RTL_PLUGIN)
