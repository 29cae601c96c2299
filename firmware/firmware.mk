# Control-core firmware, cross-compiled for RV32IM (ilp32, freestanding). The SAN=1 build
# reuses the same ELF (sanitizers do not apply to the device side).
FW_CC      ?= riscv64-unknown-elf-gcc
FW_CFLAGS  := -march=rv32im -mabi=ilp32 -std=c11 -Os -g -Wall -Wextra -Werror \
              -ffreestanding -fno-builtin -nostdlib -ffunction-sections -Idriver/include \
              -Ifirmware
FW_LDFLAGS := -nostartfiles -Wl,--gc-sections -Wl,-T,firmware/spk-fw.ld -Wl,--no-warn-rwx-segments
FW_SRCS    := firmware/start.S firmware/main.c firmware/policy.c firmware/info.c
FW_DEPS    := $(FW_SRCS) firmware/spk-fw.ld firmware/mmio.h firmware/policy.h \
              driver/include/spk/regs.h driver/include/spk/fw_abi.h firmware/firmware.mk
FW_DIR     := $(BUILD)/firmware

# $(call fw_elf,NAME,EXTRA_CFLAGS): $(FW_DIR)/NAME.elf from the firmware sources.
define fw_elf
$(FW_DIR)/$(1).elf: $(FW_DEPS)
	@mkdir -p $$(@D)
	$(FW_CC) $(FW_CFLAGS) $(2) -DSPK_FW_BUILD_NAME='"$(1)"' $(FW_LDFLAGS) -o $$@ $(FW_SRCS) -lgcc
endef

$(eval $(call fw_elf,spk-fw,))
# Test builds: one that never completes a layer, one that faults (driver timeout/fault tests).
$(eval $(call fw_elf,spk-fw-hang,-DSPK_FW_TEST_HANG))
$(eval $(call fw_elf,spk-fw-fault,-DSPK_FW_TEST_FAULT))

FIRMWARE_ELFS := $(FW_DIR)/spk-fw.elf $(FW_DIR)/spk-fw-hang.elf $(FW_DIR)/spk-fw-fault.elf
.PHONY: firmware
firmware: $(FIRMWARE_ELFS) ## Build the control-core firmware (build/firmware/spk-fw.elf)
