# The emulated device (device/): register file, device DRAM, control core and engine front-end,
# with the engine implementations model, sim and rtl (the last loads rtl/sim's plugin at run
# time, so nothing here links Verilator). Its objects go into libspk (driver/driver.mk), which
# is where the emulated backends live.
SPK_DEVICE_SRCS := $(wildcard device/*.c)
$(call obj_of,$(SPK_DEVICE_SRCS)): CPPFLAGS += -Idevice -Irtl/sim/include
# Where engine_rtl.c looks for the RTL plugin after $SPK_RTL_PLUGIN: the installed one, then
# this build tree's (rtl/rtl.mk builds it when Verilator is present).
$(BUILD)/obj/device/engine_rtl.o: CPPFLAGS += \
    -DSPK_RTL_PLUGIN_DEFAULT='"$(PREFIX)/lib/spk/libspk-rtl.so"' \
    -DSPK_RTL_PLUGIN_BUILD='"$(abspath $(BUILD))/lib/libspk-rtl.so"'
$(BUILD)/obj/device/engine_rtl.o: $(SPK_PREFIX_STAMP)
