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

# SAN=1: our sources are instrumented (the pattern rule's flags), libsystemc is not; the .so
# needs the sanitizer runtime of the program that loads it, as libspk-rtl.so does.
$(SPK_SYSTEMC_PLUGIN): $(SPK_SYSTEMC_OBJS) $(BUILD)/obj/systemc/plugin.o $(SPK_SYSTEMC_LIBDEPS) \
    systemc/libspk-systemc.map
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -shared -fPIC -Wl,--no-undefined \
	    -Wl,--version-script=systemc/libspk-systemc.map -o $@ $(SPK_SYSTEMC_OBJS) \
	    $(BUILD)/obj/systemc/plugin.o $(SPK_SYSTEMC_LIBDEPS) $(SYSTEMC_LIBS) -lelf -lm
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
    $(SPK_SYSTEMC_OBJS) $(SPK_SYSTEMC_LIBDEPS)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -Wl,--export-dynamic-symbol=spk_systemc_platform_v1 -o $@ $(filter %.o,$^) \
	    $(SPK_SYSTEMC_LIBDEPS) $(SYSTEMC_LIBS) -lelf $(LDLIBS)
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
