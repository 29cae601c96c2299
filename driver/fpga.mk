# spk-fpga, the bring-up tool of the board behind the UART bridge (docs/fpga.md, "Host side"),
# and the libFuzzer target of the bridge protocol's decoders (device/fpga_link.c).
$(eval $(call c_prog,spk-fpga,driver/tools/spk_fpga.c,spk spkcycle spkgolden spkiss,-lelf))
$(BUILD)/obj/driver/tools/spk_fpga.o: CPPFLAGS += -Idevice

$(eval $(call fuzz_target,fuzz-fpga-link,driver/fuzz/fuzz_fpga_link.c device/fpga_link.c,-Idevice -Idevice/include,$(wildcard driver/fuzz/corpus/fuzz-fpga-link/*)))
