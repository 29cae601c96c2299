# The TLM-level suite of the SystemC device (systemc/, docs/systemc.md): its own binary with a
# plain main (SystemC's main is not used), built where systemc/check-systemc.sh passes.
ifneq ($(SPK_SYSTEMC_PLUGIN),)
$(eval $(call gtest_prog,test-systemc,$(wildcard tests/systemc/*.cc) $(SPK_SYSTEMC_SRCS),spk spkcycle spkgolden spkiss,$(SYSTEMC_LIBS) -lelf))
$(BUILD)/obj/tests/systemc/%.o: CPPFLAGS += -DSPK_TEST_FW_DIR='"$(abspath $(FW_DIR))"'
$(BUILD)/bin/test-systemc: $(FIRMWARE_ELFS)
endif
