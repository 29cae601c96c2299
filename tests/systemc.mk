# The TLM-level suite of the SystemC device (systemc/, docs/systemc.md): its own binary with a
# plain main (SystemC's main is not used), built where systemc/check-systemc.sh passes.
ifneq ($(SPK_SYSTEMC_PLUGIN),)
$(eval $(call gtest_prog,test-systemc,$(wildcard tests/systemc/*.cc) $(SPK_SYSTEMC_SRCS),spk spkcycle spkgolden spkiss,$(SPK_SC_RTL_LIBS) $(SYSTEMC_LIBS) $(if $(SPK_SC_RTL),-lz -lpthread -ldl) -lelf))
$(BUILD)/bin/test-systemc: $(SPK_SC_RTL_LIBS)
$(BUILD)/obj/tests/systemc/%.o: CPPFLAGS += -DSPK_TEST_FW_DIR='"$(abspath $(FW_DIR))"'
$(BUILD)/bin/test-systemc: $(FIRMWARE_ELFS)
endif
# The backend suite (tests/driver/backends.h) runs on systemc-rtl where the --sc engine is built.
ifneq ($(SPK_SC_RTL),)
$(BUILD)/obj/tests/driver/%.o: CPPFLAGS += -DSPK_TEST_SYSTEMC_RTL=1
endif
$(BUILD)/obj/tests/systemc/%.o: CPPFLAGS += $(SPK_RTL_CPPFLAGS) $(if $(SPK_SC_RTL),-DSPK_SC_RTL=1)
