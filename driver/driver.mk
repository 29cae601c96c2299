# libspk, the host driver (static library for the in-tree tools and tests; the shared library
# and `make install-driver` are below).
SPK_DRIVER_SRCS := $(wildcard driver/src/*.c)
# The emulated device behind the model/sim/rtl backends (device/device.mk) is part of libspk.
$(eval $(call c_lib,spk,$(SPK_DRIVER_SRCS) $(wildcard device/*.c)))

# The firmware the driver loads when neither the options nor $SPK_FIRMWARE name one.
$(BUILD)/obj/driver/src/device.o: CPPFLAGS += -DSPK_FW_DEFAULT_PATH='"$(PREFIX)/share/spk/spk-fw.elf"' \
    -DSPK_ENERGY_DEFAULT_PATH='"$(PREFIX)/share/spk/energy.cfg"'

# ---- shared library, self-contained static archive, pkg-config file, install --------------
# The installed libraries carry the golden model, the cycle simulator and the control-core
# simulator inside, so users link -lspk only; the version script exports the public API alone.
SPK_SOVERSION   := 1
SPK_VERSION     := 1.0.0
# (This fragment is read before sim/*.mk and firmware/*.mk, so it names their sources itself.)
SPK_BUNDLED_OBJS := $(call obj_of,$(SPK_DRIVER_SRCS) $(wildcard device/*.c sim/golden/*.c sim/iss/*.c) \
                    $(filter-out sim/cycle/main.c,$(wildcard sim/cycle/*.c)))
SPK_FW_ELF      := $(BUILD)/firmware/spk-fw.elf
SPK_SO          := $(BUILD)/lib/libspk.so.$(SPK_VERSION)
SPK_BUNDLE_A    := $(BUILD)/lib/bundle/libspk.a

$(SPK_SO): $(SPK_BUNDLED_OBJS) driver/libspk.map
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libspk.so.$(SPK_SOVERSION) \
	    -Wl,--version-script=driver/libspk.map -Wl,--no-undefined -o $@ $(SPK_BUNDLED_OBJS) -lelf -lm
	ln -sf libspk.so.$(SPK_VERSION) $(BUILD)/lib/libspk.so.$(SPK_SOVERSION)
	ln -sf libspk.so.$(SPK_VERSION) $(BUILD)/lib/libspk.so

$(SPK_BUNDLE_A): $(SPK_BUNDLED_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

# $(call spk_install_to,ROOT,PREFIX): copy headers, libraries, spk.pc and the firmware under
# ROOT (which is DESTDIR + PREFIX); spk.pc names PREFIX.
define spk_install_to
	install -d $(1)/include/spk $(1)/lib/pkgconfig $(1)/share/spk
	install -m 644 driver/include/spk/spk.h driver/include/spk/regs.h driver/include/spk/fw_abi.h $(1)/include/spk/
	install -m 755 $(SPK_SO) $(1)/lib/
	ln -sf libspk.so.$(SPK_VERSION) $(1)/lib/libspk.so.$(SPK_SOVERSION)
	ln -sf libspk.so.$(SPK_VERSION) $(1)/lib/libspk.so
	install -m 644 $(SPK_BUNDLE_A) $(1)/lib/libspk.a
	install -m 644 $(SPK_FW_ELF) $(1)/share/spk/spk-fw.elf
	install -m 644 sim/configs/energy.cfg $(1)/share/spk/energy.cfg
	$(if $(SPK_RTL_PLUGIN),install -d $(1)/lib/spk && install -m 755 $(SPK_RTL_PLUGIN) $(1)/lib/spk/)
	$(if $(SPK_SYSTEMC_PLUGIN),install -d $(1)/lib/spk && install -m 755 $(SPK_SYSTEMC_PLUGIN) $(1)/lib/spk/)
	sed -e 's|@PREFIX@|$(2)|' -e 's|@VERSION@|$(SPK_VERSION)|' driver/spk.pc.in > $(1)/lib/pkgconfig/spk.pc
endef

.PHONY: install-driver
install-driver: $(SPK_SO) $(SPK_BUNDLE_A) $(SPK_FW_ELF) ## Install libspk (headers, libs, spk.pc, firmware)
	$(call spk_install_to,$(DESTDIR)$(PREFIX),$(PREFIX))

# A private install for the tests (tests/driver.mk): the example builds against it.
SPK_TEST_PREFIX := $(abspath $(BUILD))/spk-install-test
$(SPK_TEST_PREFIX)/lib/pkgconfig/spk.pc: $(SPK_SO) $(SPK_BUNDLE_A) $(SPK_FW_ELF) driver/spk.pc.in \
    driver/include/spk/spk.h sim/configs/energy.cfg
	rm -rf $(SPK_TEST_PREFIX)
	$(call spk_install_to,$(SPK_TEST_PREFIX),$(SPK_TEST_PREFIX))

# The default firmware path is compiled in: rebuild device.o when PREFIX changes.
SPK_PREFIX_STAMP := $(BUILD)/obj/driver/prefix.txt
$(shell mkdir -p $(dir $(SPK_PREFIX_STAMP)); [ "$$(cat $(SPK_PREFIX_STAMP) 2>/dev/null)" = "$(PREFIX)" ] || echo "$(PREFIX)" > $(SPK_PREFIX_STAMP))
$(BUILD)/obj/driver/src/device.o: $(SPK_PREFIX_STAMP)

# ---- fuzzing (`make fuzz`; not part of `all`): the firmware ELF loader, seeded with the firmware
$(eval $(call fuzz_target,fuzz-fw-loader,driver/fuzz/fuzz_fw_load.c driver/src/fw_load.c driver/src/error.c,-Idriver/src -lelf,$(SPK_FW_ELF)))
