# tests/golden/test_cli_backends.cc (part of test-golden) runs spk-attn --backend on every backend
# of the build (tests/driver/backends.h); spk-attn loads the firmware next to it and the RTL
# plugin from the build tree.
$(BUILD)/obj/tests/golden/test_cli_backends.o: CPPFLAGS += -Itests/driver \
    -DSPK_TEST_RTL_PLUGIN='"$(if $(SPK_RTL_PLUGIN),$(abspath $(SPK_RTL_PLUGIN)))"' \
    -DSPK_TEST_SYSTEMC_PLUGIN='"$(if $(SPK_SYSTEMC_PLUGIN),$(abspath $(SPK_SYSTEMC_PLUGIN)))"'
$(BUILD)/bin/test-golden: $(BUILD)/bin/spk-attn $(SPK_RTL_PLUGIN) $(SPK_SYSTEMC_PLUGIN)
