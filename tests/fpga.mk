# The host side of the board (docs/fpga.md, "Host side"): the link codec, the fault-injecting
# pty peer spk-fake-board (the golden datapath behind the bridge protocol), spk-fpga selftest
# and the backend suite on fpga:PTY, against spk-fake-board and, when rtl/board.mk built it,
# the Verilated board spk-board-sim.
$(eval $(call c_prog,spk-fake-board,tests/fpga/fake_board.c,spk spkcycle spkgolden spkiss,-lelf))
$(BUILD)/obj/tests/fpga/fake_board.o: CPPFLAGS += -Idevice

$(eval $(call gtest_prog,test-fpga,$(wildcard tests/fpga/*.cc),spk spkcycle spkgolden spkiss,-lelf))
$(BUILD)/obj/tests/fpga/%.o: CPPFLAGS += -Idevice \
    -DSPK_TEST_BIN_DIR='"$(abspath $(BUILD))/bin"' -DSPK_TEST_FW_DIR='"$(abspath $(FW_DIR))"'
$(BUILD)/bin/test-fpga: $(BUILD)/bin/spk-fake-board $(BUILD)/bin/spk-fpga $(BUILD)/bin/test-driver \
    $(FIRMWARE_ELFS) $(filter %/spk-board-sim,$(ALL_BINS))
