# GoogleTest suite of the attention offload (models/offload): the tiny GGUF model of
# tests/models runs with attention on every libspk backend of the build (tests/driver/backends.h:
# model, sim, and rtl, rtl-compact, systemc when their plugins are built); no download needed.
$(eval $(call gtest_prog,test-offload,$(wildcard tests/offload/*.cc) tests/models/tiny_model.cc \
    tests/models/gguf_writer.cc,$(OFFLOAD_LIBS),-lelf -lpthread))
$(BUILD)/obj/tests/offload/%.o: CPPFLAGS += -Itests/models -Itests/driver \
    -DSPK_TEST_RTL_PLUGIN='"$(if $(SPK_RTL_PLUGIN),$(abspath $(SPK_RTL_PLUGIN)))"' \
    -DSPK_TEST_SYSTEMC_PLUGIN='"$(if $(SPK_SYSTEMC_PLUGIN),$(abspath $(SPK_SYSTEMC_PLUGIN)))"'
$(BUILD)/bin/test-offload: $(SPK_RTL_PLUGIN) $(SPK_SYSTEMC_PLUGIN)
# The backend finds the firmware next to the binary ($(BUILD)/firmware) and the energy constants.
$(BUILD)/bin/test-offload: $(FIRMWARE_ELFS)
# test_cli.cc runs spk-llm itself, and spk-sim on the device traces it writes.
$(BUILD)/obj/tests/offload/test_cli.o: CPPFLAGS += -DSPK_TEST_SPK_LLM='"$(abspath $(BUILD)/bin/spk-llm)"' \
    -DSPK_TEST_SPK_SIM='"$(abspath $(BUILD)/bin/spk-sim)"'
$(BUILD)/bin/test-offload: $(BUILD)/bin/spk-llm $(BUILD)/bin/spk-sim
