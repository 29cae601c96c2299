# The SystemC TLM-2.0 model of the device (systemc/, docs/systemc.md): the plugin
# $(BUILD)/lib/libspk-systemc.so behind libspk's `systemc` backend, and the example virtual
# platform $(BUILD)/bin/spk-vp (`make vp`). libspk itself never links SystemC.
# systemc/check-systemc.sh first compiles and links a one-line sc_main with our C++ flags; when
# that fails (SystemC missing, or a C++ standard other than libsystemc's) nothing here is built,
# SPK_SYSTEMC_PLUGIN is empty and the message says why (once per build directory and flags).
# For the integrator: SPK_SYSTEMC_PLUGIN (path of the .so, or empty), SPK_SYSTEMC_SRCS (the
# model's sources, for programs that instantiate the device themselves), SYSTEMC_CFLAGS/LIBS.
SPK_SYSTEMC_CHECK := $(shell systemc/check-systemc.sh $(BUILD)/obj/systemc/check '$(CXX)' \
    $(CXXFLAGS) 2>&1)
SPK_SYSTEMC_SRCS := systemc/spk_tlm_device.cc systemc/spk_tlm_host.cc systemc/spk_tlm_platform.cc
SPK_SYSTEMC_LIBDEPS := $(BUILD)/lib/libspk.a $(BUILD)/lib/libspkcycle.a \
    $(BUILD)/lib/libspkgolden.a $(BUILD)/lib/libspkiss.a

# Where backend_systemc.c looks for the plugin after $SPK_SYSTEMC_PLUGIN: the installed one,
# then this build tree's.
$(BUILD)/obj/driver/src/backend_systemc.o: CPPFLAGS += -Isystemc -Idriver/src \
    -DSPK_SYSTEMC_PLUGIN_DEFAULT='"$(PREFIX)/lib/spk/libspk-systemc.so"' \
    -DSPK_SYSTEMC_PLUGIN_BUILD='"$(abspath $(BUILD))/lib/libspk-systemc.so"'
$(BUILD)/obj/driver/src/backend_systemc.o: $(SPK_PREFIX_STAMP)

.PHONY: vp
ifeq ($(SPK_SYSTEMC_CHECK),ok)
SYSTEMC_CFLAGS := $(shell pkg-config --cflags systemc)
SYSTEMC_LIBS   := $(shell pkg-config --libs systemc)
SPK_SYSTEMC_PLUGIN := $(BUILD)/lib/libspk-systemc.so
SPK_SYSTEMC_OBJS := $(call obj_of,$(SPK_SYSTEMC_SRCS))
$(call obj_of,$(wildcard systemc/*.cc systemc/vp/*.cc tests/systemc/*.cc)): CPPFLAGS += \
    -Isystemc -Idriver/src $(SYSTEMC_CFLAGS)
# Only the entry symbols leave the plugin (and the example platform's one export).
$(call obj_of,$(wildcard systemc/*.cc systemc/vp/*.cc)): CXXFLAGS += -fvisibility=hidden

# ---- systemc-rtl: the engine Verilated with `verilator --sc` (systemc/spk_sc_rtl_engine.h) ----
# Where Verilator is present too: spk_engine at Vengine's parameters as an sc_module
# (Vengine_sc), its own Verilator runtime compiled with VM_SC=1 (the plugin's copy; libspk-rtl.so
# keeps its VM_SC=0 copy private), and systemc/spk_sc_rtl_engine.cc. The plugin then also
# exports spk_rtl_api_v1 (the table the device's `rtl` engine loads it through, see
# docs/systemc.md) and dlopens libspk-rtl.so for the prune unit.
ifneq ($(VERILATOR_ROOT_DIR),)
SPK_SC_RTL := 1
SPK_SC_RTL_DIR := $(BUILD)/rtl/Vengine_sc
SPK_SC_RTL_VDEFS := -DVM_COVERAGE=0 -DVM_SC=1 -DVM_TRACE=0 -DVM_TRACE_FST=0 -DVM_TRACE_VCD=0
SPK_SC_RTL_RUNTIME_OBJS := $(patsubst %,$(BUILD)/rtl/runtime_sc/%.o,verilated verilated_threads)
SPK_SC_RTL_RUNTIME := $(BUILD)/rtl/runtime_sc/libverilated_sc.a
$(SPK_SC_RTL_DIR)/Vengine_sc.mk: $(RTL_ENGINE_SRCS) $(RTL_LINT_WAIVERS) systemc/systemc.mk
	@rm -rf $(SPK_SC_RTL_DIR)
	@mkdir -p $(SPK_SC_RTL_DIR)
	$(VERILATOR) --sc --no-timing -O3 --x-assign fast --x-initial fast --noassert -Wall \
	    $(RTL_LINT_WAIVERS) -Irtl/common --prefix Vengine_sc --top-module spk_engine \
	    -GDMAX=64 -GM=8 -GNMAX=512 -GP=8 -GQDEPTH=4 -GNTOK=1024 -Mdir $(SPK_SC_RTL_DIR) \
	    $(RTL_ENGINE_SRCS)
$(SPK_SC_RTL_DIR)/Vengine_sc.h: $(SPK_SC_RTL_DIR)/Vengine_sc.mk ;
$(SPK_SC_RTL_DIR)/Vengine_sc__ALL.a: $(SPK_SC_RTL_DIR)/Vengine_sc.mk
	+$(MAKE) --no-print-directory -s -C $(SPK_SC_RTL_DIR) -f Vengine_sc.mk Vengine_sc__ALL.a \
	    CXX="$(CXX)" OPT_FAST="$(RTL_MODEL_OPT)" OPT_SLOW="-O1" OPT_GLOBAL="-O2" OPT="" \
	    USER_CPPFLAGS="-fPIC -std=c++17 $(SYSTEMC_CFLAGS)"
$(BUILD)/rtl/runtime_sc/%.o: $(VERILATOR_INC)/%.cpp
	@mkdir -p $(@D)
	$(CXX) -std=c++17 -O2 -fPIC $(SPK_SC_RTL_VDEFS) $(SYSTEMC_CFLAGS) -isystem $(VERILATOR_INC) \
	    -isystem $(VERILATOR_INC)/vltstd -c -o $@ $<
$(SPK_SC_RTL_RUNTIME): $(SPK_SC_RTL_RUNTIME_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^
SPK_SC_RTL_OBJ := $(BUILD)/obj/systemc/rtl/spk_sc_rtl_engine.o $(BUILD)/obj/systemc/rtl/axi_mem.o
$(SPK_SC_RTL_OBJ): CPPFLAGS += $(SPK_SC_RTL_VDEFS) -isystem $(VERILATOR_INC) \
    -isystem $(VERILATOR_INC)/vltstd $(SYSTEMC_CFLAGS) -isystem $(SPK_SC_RTL_DIR) -Isystemc -Irtl/sim $(SPK_RTL_CPPFLAGS) \
    -Idevice -DSPK_SC_RTL_PLUGIN_DEFAULT='"$(PREFIX)/lib/spk/libspk-rtl.so"' \
    -DSPK_SC_RTL_PLUGIN_BUILD='"$(abspath $(BUILD))/lib/libspk-rtl.so"'
$(SPK_SC_RTL_OBJ): CXXFLAGS += -fvisibility=hidden
$(SPK_SC_RTL_OBJ): | $(SPK_SC_RTL_DIR)/Vengine_sc.h
$(BUILD)/obj/systemc/rtl/axi_mem.o: rtl/sim/axi_mem.cc
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<
SPK_SC_RTL_LIBS := $(SPK_SC_RTL_OBJ) $(SPK_SC_RTL_DIR)/Vengine_sc__ALL.a $(SPK_SC_RTL_RUNTIME)
# The device and platform objects know the engine only through this define.
$(call obj_of,$(SPK_SYSTEMC_SRCS) systemc/plugin.cc): CPPFLAGS += -DSPK_SC_RTL=1
else
SPK_SC_RTL :=
SPK_SC_RTL_LIBS :=
endif

# SAN=1: our sources are instrumented (the pattern rule's flags), libsystemc is not; the .so
# needs the sanitizer runtime of the program that loads it, as libspk-rtl.so does.
$(SPK_SYSTEMC_PLUGIN): $(SPK_SYSTEMC_OBJS) $(BUILD)/obj/systemc/plugin.o $(SPK_SYSTEMC_LIBDEPS) \
    $(SPK_SC_RTL_LIBS) systemc/libspk-systemc.map
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -shared -fPIC -Wl,--no-undefined -Wl,-soname,libspk-systemc.so \
	    -Wl,--version-script=systemc/libspk-systemc.map -o $@ $(SPK_SYSTEMC_OBJS) \
	    $(BUILD)/obj/systemc/plugin.o $(SPK_SC_RTL_LIBS) $(SPK_SYSTEMC_LIBDEPS) $(SYSTEMC_LIBS) \
	    $(if $(SPK_SC_RTL),-lz -lpthread -ldl) -lelf -lm
ALL_BINS += $(SPK_SYSTEMC_PLUGIN)
# `make install` puts it next to the RTL plugin, $(PREFIX)/lib/spk/ (driver/driver.mk).
install-driver $(SPK_TEST_PREFIX)/lib/pkgconfig/spk.pc: $(SPK_SYSTEMC_PLUGIN)

# The example virtual platform: memory, router, one device and a CPU thread that runs the
# driver example (driver/examples/attn_layer.c, its main renamed) through libspk's `systemc`
# backend on the platform's bus.
SPK_VP := $(BUILD)/bin/spk-vp
$(BUILD)/obj/systemc/vp/attn_layer.o: driver/examples/attn_layer.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Dmain=spk_vp_program_main -c -o $@ $<
$(BUILD)/obj/systemc/vp/spk_vp.o: CPPFLAGS += \
    -DSPK_VP_FIRMWARE='"$(abspath $(BUILD))/firmware/spk-fw.elf"' \
    -DSPK_VP_ENERGY='"$(abspath sim/configs/energy.cfg)"'
$(SPK_VP): $(BUILD)/obj/systemc/vp/spk_vp.o $(BUILD)/obj/systemc/vp/attn_layer.o \
    $(SPK_SYSTEMC_OBJS) $(SPK_SC_RTL_LIBS) $(SPK_SYSTEMC_LIBDEPS)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -Wl,--export-dynamic-symbol=spk_systemc_platform_v1 -o $@ $(filter %.o,$^) \
	    $(filter %.a,$(SPK_SC_RTL_LIBS)) $(SPK_SYSTEMC_LIBDEPS) $(SYSTEMC_LIBS) \
	    $(if $(SPK_SC_RTL),-lz -lpthread -ldl) -lelf $(LDLIBS)
ALL_BINS += $(SPK_VP)

# make vp: the layer on the platform, then the same program and inputs on `model` (no SystemC);
# the output files must be byte-identical and the traffic counters equal.
SPK_VP_DIR := $(BUILD)/vp
SPK_VP_ARGS := -c -t 0.75
vp: $(SPK_VP) $(BUILD)/firmware/spk-fw.elf ## Run the SystemC virtual platform (one layer via libspk), compare with model
	@mkdir -p $(SPK_VP_DIR)
	@SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 $(SPK_VP) --inputs $(SPK_VP_DIR)
	SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 $(SPK_VP) -b systemc $(SPK_VP_ARGS) -o $(SPK_VP_DIR)/out-systemc.npy \
	    $(SPK_VP_DIR)/q.npy $(SPK_VP_DIR)/k.npy $(SPK_VP_DIR)/v.npy | tee $(SPK_VP_DIR)/systemc.txt
	@SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 $(SPK_VP) -b model $(SPK_VP_ARGS) -o $(SPK_VP_DIR)/out-model.npy \
	    $(SPK_VP_DIR)/q.npy $(SPK_VP_DIR)/k.npy $(SPK_VP_DIR)/v.npy >$(SPK_VP_DIR)/model.txt
	@cmp $(SPK_VP_DIR)/out-systemc.npy $(SPK_VP_DIR)/out-model.npy
	@f='^(heads_computed|tokens_alive|requests|keys_fetched|values_fetched|requant_requests|dram_bytes|core_cycles|core_instret|tokens_kept|heads_kept|output_fnv1a) '; \
	    diff <(grep -E "$$f" $(SPK_VP_DIR)/systemc.txt) <(grep -E "$$f" $(SPK_VP_DIR)/model.txt) && \
	    echo "vp: output and counters identical to model ($(SPK_VP_DIR)/)"
else
SPK_SYSTEMC_PLUGIN :=
ifneq ($(filter no:%,$(SPK_SYSTEMC_CHECK)),)
ifneq ($(findstring not installed,$(SPK_SYSTEMC_CHECK)),not installed)
$(warning systemc/: not built: $(SPK_SYSTEMC_CHECK))
endif
endif
vp:
	@echo "vp: SystemC unavailable ($(SPK_SYSTEMC_CHECK))" >&2; exit 1
endif
