# The FPGA board (rtl/fpga/boards/, docs/fpga.md): the Verilated board top behind a pty
# ($(BUILD)/bin/spk-board-sim), the bridge's unit test (test-board), lint entries, and the
# bitstream flow (`make bitstream BOARD=icebreaker`, `make prog`, `make prog-sram`).
#
# This fragment is included before rtl/rtl.mk (the areas' fragments are sorted), so it cannot
# use rtl.mk's macros or its := variables outside recipes: its Verilator rules are written out
# here with rtl.mk's flags (RTL_VFLAGS and the model compile line, expanded when the recipes
# run), and its models stay out of RTL_MODEL_LIBS (test-rtl does not link them).

BOARD           ?= icebreaker
BOARD_DIR       := rtl/fpga/boards/$(BOARD)
BOARD_VROOT     := $(shell verilator --getenv VERILATOR_ROOT 2>/dev/null)
BOARD_ENGINE_SRCS := rtl/common/spk_ram_1r1w.v rtl/importance/spk_importance.v \
                     rtl/qk/spk_plane_merge.v rtl/engine/spk_axi_word_reader.v \
                     rtl/engine/spk_mul32.v rtl/engine/spk_desc_check.v \
                     rtl/engine/spk_engine_compact.v
BOARD_BRIDGE_SRCS := rtl/common/spk_ram_1r1w.v rtl/fpga/spk_uart_rx.v rtl/fpga/spk_uart_tx.v \
                     rtl/fpga/spk_uart_bridge.v
BOARD_SRCS      := $(sort $(BOARD_ENGINE_SRCS) $(BOARD_BRIDGE_SRCS)) rtl/fpga/spk_board_mem.v \
                   rtl/fpga/spk_board_engine.v rtl/fpga/boards/icebreaker/spk_icebreaker_top.v
BOARD_INCS      := rtl/fpga/boards/icebreaker/board_map.vh rtl/regs/spk_abi.vh rtl/regs/spk_regs.vh \
                   $(wildcard rtl/common/*.vh)
BOARD_VINCDIRS  := -Irtl/common -Irtl/regs -Irtl/fpga/boards/icebreaker
# spk-board-sim's parameters (board_map.json, uart.sim): the same top with the PLL bypassed
BOARD_SIM_PARAMS := -DSPK_BOARD_SIM -GCLKS_PER_BIT=4 -GRX_TIMEOUT=20000 -GCLOCK_KHZ=1000 \
                    -GBLINK_BIT=9
# the bridge's unit test: a short timeout so the timeout case takes microseconds
BOARD_BRIDGE_TEST_PARAMS := -GCLKS_PER_BIT=4 -GRX_TIMEOUT=400 -GCLOCK_KHZ=1000

# $(call board_model,PREFIX,TOP,SOURCES,FLAGS): as rtl.mk's rtl_model (same flags), kept apart
define board_model
$(BUILD)/rtl/$(1)/$(1).mk: $(3) $(BOARD_INCS) rtl/lint.vlt rtl/board.mk
	@rm -rf $(BUILD)/rtl/$(1)
	@mkdir -p $(BUILD)/rtl/$(1)
	verilator $$(RTL_VFLAGS) $(BOARD_VINCDIRS) --prefix $(1) --top-module $(2) $(4) \
	    -Mdir $(BUILD)/rtl/$(1) $(3)
$(BUILD)/rtl/$(1)/$(1).h: $(BUILD)/rtl/$(1)/$(1).mk ;
$(BUILD)/rtl/$(1)/$(1)__ALL.a: $(BUILD)/rtl/$(1)/$(1).mk
	+$(MAKE) --no-print-directory -s -C $(BUILD)/rtl/$(1) -f $(1).mk $(1)__ALL.a CXX="$(CXX)" \
	    OPT_FAST="-O2" OPT_SLOW="-O1" OPT_GLOBAL="-O2" OPT="" USER_CPPFLAGS="-fPIC"
endef

ifneq ($(BOARD_VROOT),)
BOARD_VCPPFLAGS := -DVM_COVERAGE=0 -DVM_SC=0 -DVM_TRACE=1 -DVM_TRACE_FST=1 -DVM_TRACE_VCD=0 \
                   -isystem $(BOARD_VROOT)/include -isystem $(BOARD_VROOT)/include/vltstd
BOARD_RT        := $(BUILD)/rtl/runtime/libverilated_rt.a

$(eval $(call board_model,Vboard,spk_icebreaker_top,$(BOARD_SRCS),$(BOARD_SIM_PARAMS)))
$(eval $(call board_model,Vbridge,spk_uart_bridge,$(BOARD_BRIDGE_SRCS),$(BOARD_BRIDGE_TEST_PARAMS)))

# spk-board-sim [--socket PORT]: the Verilated board on a pty (or a TCP port on 127.0.0.1)
BOARD_SIM_SRCS  := rtl/fpga/boards/icebreaker/spk_board_sim.cc
$(call obj_of,$(BOARD_SIM_SRCS)): CPPFLAGS += $(BOARD_VCPPFLAGS) -isystem $(BUILD)/rtl/Vboard
$(call obj_of,$(BOARD_SIM_SRCS)): | $(BUILD)/rtl/Vboard/Vboard.h
$(BUILD)/bin/spk-board-sim: $(call obj_of,$(BOARD_SIM_SRCS)) $(BUILD)/rtl/Vboard/Vboard__ALL.a \
                            $(BOARD_RT)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -o $@ $(call obj_of,$(BOARD_SIM_SRCS)) $(BUILD)/rtl/Vboard/Vboard__ALL.a \
	    $(BOARD_RT) -lz -lpthread $(LDLIBS)
ALL_BINS += $(BUILD)/bin/spk-board-sim

# test-board: the bridge alone (tests/board/test_bridge.cc), bit-serial UART against a C++ bus
# slave; seconds.
BOARD_TEST_SRCS := tests/board/test_bridge.cc
$(eval $(call gtest_prog,test-board,$(BOARD_TEST_SRCS),,$(BUILD)/rtl/Vbridge/Vbridge__ALL.a \
    $(BOARD_RT) -lz -lpthread))
$(call obj_of,$(BOARD_TEST_SRCS)): CPPFLAGS += $(BOARD_VCPPFLAGS) -isystem $(BUILD)/rtl/Vbridge \
    -Irtl/fpga/boards/icebreaker
$(call obj_of,$(BOARD_TEST_SRCS)): | $(BUILD)/rtl/Vbridge/Vbridge.h
$(BUILD)/bin/test-board: $(BUILD)/rtl/Vbridge/Vbridge__ALL.a $(BOARD_RT)

# test-board-engine: the whole board top (Vboard) through its UART pins, head requests against
# the golden model with the RTL suites' cases and checks (tests/rtl/engine_harness.cc, which
# brings the engine models it is compiled with; test-rtl builds them anyway).
BOARD_ENGINE_TEST_SRCS := tests/board/test_board_engine.cc tests/rtl/engine_harness.cc \
                          rtl/sim/axi_mem.cc
BOARD_ENGINE_TEST_LIBS := $(BUILD)/rtl/Vboard/Vboard__ALL.a $(BUILD)/rtl/Vengine/Vengine__ALL.a \
    $(BUILD)/rtl/Vengine_compact/Vengine_compact__ALL.a $(BUILD)/rtl/Vengine_ovl/Vengine_ovl__ALL.a
$(eval $(call gtest_prog,test-board-engine,$(BOARD_ENGINE_TEST_SRCS),spkcycle spkgolden, \
    $(BOARD_ENGINE_TEST_LIBS) $(BOARD_RT) -lz -lpthread))
$(call obj_of,tests/board/test_board_engine.cc): CPPFLAGS += $(BOARD_VCPPFLAGS) \
    -isystem $(BUILD)/rtl/Vboard -isystem $(BUILD)/rtl/Vengine -Itests/rtl -Irtl/sim \
    -Irtl/fpga/boards/icebreaker
$(call obj_of,tests/board/test_board_engine.cc): | $(BUILD)/rtl/Vboard/Vboard.h \
    $(BUILD)/rtl/Vengine/Vengine.h
$(BUILD)/bin/test-board-engine: $(BOARD_ENGINE_TEST_LIBS) $(BOARD_RT)
endif

# Lint: rtl.mk sets RTL_LINT_TOPS with := after this fragment, so the board's tops are linted
# by their own target, which lint-rtl (and so `make lint`) runs first.
BOARD_LINT_TOPS := spk_uart_bridge spk_icebreaker_top
BOARD_LINT_SRCS_spk_uart_bridge := -Irtl/fpga/boards/icebreaker $(BOARD_BRIDGE_SRCS)
BOARD_LINT_SRCS_spk_icebreaker_top := $(BOARD_VINCDIRS) $(BOARD_SRCS) \
    rtl/fpga/boards/icebreaker/lint/SB_PLL40_PAD.v
.PHONY: lint-board
lint-board: ## Verilator -Wall lint of the board RTL (the board top twice: board and sim build)
	@$(foreach top,$(BOARD_LINT_TOPS),verilator --lint-only -Wall --no-timing rtl/lint.vlt \
	    --top-module $(top) $(BOARD_LINT_SRCS_$(top)) &&) true
	@verilator --lint-only -Wall --no-timing rtl/lint.vlt --top-module spk_icebreaker_top \
	    $(BOARD_SIM_PARAMS) $(BOARD_VINCDIRS) $(BOARD_SRCS)
	@echo "lint-board: clean ($(BOARD_LINT_TOPS), spk_icebreaker_top with SPK_BOARD_SIM)"
lint-rtl: lint-board

# ---- bitstream flow (yosys -> nextpnr-ice40 with the board's PCF -> icepack; icetime) ----------
BOARD_OUT       := $(BUILD)/board/$(BOARD)
BOARD_SEEDS     ?= 1 2 3
.PHONY: bitstream prog prog-sram
bitstream: ## FPGA board bitstream (BOARD=icebreaker): yosys, nextpnr + PCF per BOARD_SEEDS, report
	@$(BOARD_DIR)/bitstream.sh $(BOARD_OUT) "$(BOARD_SEEDS)" $(BOARD_SRCS)
prog: ## Flash the board's bitstream into its SPI flash (iceprog)
	@test -f $(BOARD_OUT)/spk_$(BOARD)_top.bin || \
	    { echo "prog: no bitstream, run make bitstream BOARD=$(BOARD)" >&2; exit 1; }
	iceprog $(BOARD_OUT)/spk_$(BOARD)_top.bin
prog-sram: ## Load the bitstream into the FPGA's SRAM only (iceprog -S)
	@test -f $(BOARD_OUT)/spk_$(BOARD)_top.bin || \
	    { echo "prog-sram: no bitstream, run make bitstream BOARD=$(BOARD)" >&2; exit 1; }
	iceprog -S $(BOARD_OUT)/spk_$(BOARD)_top.bin
