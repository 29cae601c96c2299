# GoogleTest suites of the control-core simulator, the firmware loader and the host driver.
$(eval $(call gtest_prog,test-iss,$(wildcard tests/iss/*.cc) tests/iss/prog/kernel.c,spkiss))
$(eval $(call gtest_prog,test-driver,$(wildcard tests/driver/*.cc),spk spkcycle spkgolden spkiss,-lelf))

# The driver tests load the firmware ELFs (white-box tests also see driver/src).
$(BUILD)/obj/tests/driver/%.o: CPPFLAGS += -Idriver/src -DSPK_TEST_FW_DIR='"$(abspath $(FW_DIR))"' \
    -DSPK_TEST_ENERGY='"$(abspath sim/configs/energy.cfg)"' \
    -DSPK_TEST_RTL_OVL_PRESET='"$(abspath sim/configs/rtl-ovl.cfg)"'
$(BUILD)/bin/test-driver: $(FIRMWARE_ELFS) $(SPK_RTL_PLUGIN)
# The backend suite runs on rtl and rtl-compact too when the RTL plugin is built (Verilator).
$(BUILD)/obj/tests/driver/%.o: CPPFLAGS += \
    -DSPK_TEST_RTL_PLUGIN='"$(if $(SPK_RTL_PLUGIN),$(abspath $(SPK_RTL_PLUGIN)))"'
# ... and on systemc when the SystemC plugin is built (systemc/systemc.mk).
$(BUILD)/bin/test-driver: $(SPK_SYSTEMC_PLUGIN)
$(BUILD)/obj/tests/driver/%.o: CPPFLAGS += \
    -DSPK_TEST_SYSTEMC_PLUGIN='"$(if $(SPK_SYSTEMC_PLUGIN),$(abspath $(SPK_SYSTEMC_PLUGIN)))"'

# test-iss also runs tests/iss/prog/kernel.c cross-compiled for RV32IM (when the cross compiler
# is installed) and compares it with the same file compiled for the host.
ISS_PROG_BIN := $(BUILD)/iss-test/kernel.bin
$(BUILD)/obj/tests/iss/%.o: CPPFLAGS += -DSPK_ISS_PROG_BIN='"$(abspath $(ISS_PROG_BIN))"'
ifneq ($(shell command -v $(FW_CC) 2>/dev/null),)
$(BUILD)/bin/test-iss: $(ISS_PROG_BIN)
$(ISS_PROG_BIN): tests/iss/prog/kernel.c tests/iss/prog/kernel.h tests/iss/prog/start.S firmware/spk-fw.ld
	@mkdir -p $(@D)
	$(FW_CC) -march=rv32im -mabi=ilp32 -O2 -ffreestanding -fno-builtin -nostdlib -nostartfiles \
	    -fno-tree-loop-distribute-patterns -Wl,-T,firmware/spk-fw.ld -Wl,--no-warn-rwx-segments \
	    -o $(@:.bin=.elf) tests/iss/prog/start.S tests/iss/prog/kernel.c -lgcc
	riscv64-unknown-elf-objcopy -O binary -j .text -j .rodata $(@:.bin=.elf) $@
endif

# The installed library (driver/driver.mk installs into a private prefix for this suite).
$(eval $(call gtest_prog,test-driver-install,$(wildcard tests/driver/install/*.cc),,))
$(BUILD)/bin/test-driver-install: $(SPK_TEST_PREFIX)/lib/pkgconfig/spk.pc $(BUILD)/bin/spk-attn
$(BUILD)/obj/tests/driver/install/%.o: CPPFLAGS += -DSPK_TEST_PREFIX='"$(SPK_TEST_PREFIX)"' \
    -DSPK_TEST_CC='"$(CC)"' -DSPK_TEST_SANFLAGS='"$(SANFLAGS)"' \
    -DSPK_TEST_EXAMPLE='"$(abspath driver/examples/attn_layer.c)"' \
    -DSPK_TEST_CHECK_EXPORTS='"$(abspath driver/check-exports.sh)"' \
    -DSPK_TEST_SPK_ATTN='"$(abspath $(BUILD)/bin/spk-attn)"'

# Threads sharing one device (tests/driver/threads): its own binary, so that `make test-tsan`
# builds and runs it under ThreadSanitizer without the rest of the suite.
$(eval $(call gtest_prog,test-driver-threads,tests/driver/threads/test_threads.cc,spk spkcycle spkgolden spkiss,-lelf -lpthread))
$(BUILD)/obj/tests/driver/threads/%.o: CPPFLAGS += -DSPK_TEST_FW_DIR='"$(abspath $(FW_DIR))"'
$(BUILD)/bin/test-driver-threads: $(FIRMWARE_ELFS)
