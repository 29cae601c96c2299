# The CPU reference LLM: GGUF reader, llama forward pass, BPE tokenizer (libspkllm) and spk-llm.
LLM_SRCS := $(filter-out models/tools/%,$(wildcard models/*.c))
$(eval $(call c_lib,spkllm,$(LLM_SRCS)))
# spk-llm also offloads attention through libspk (models/offload.mk, docs/offload.md); the
# accelerator backends load the firmware from $(BUILD)/firmware next to the binary.
$(eval $(call c_prog,spk-llm,models/tools/spk_llm.c,spkllm_offload spkllm spk spkcycle spkgolden spkiss spkutil,-lpthread -lelf))
$(BUILD)/bin/spk-llm: $(BUILD)/firmware/spk-fw.elf

# libFuzzer target for the GGUF reader (clang; not part of `make all`), run by `make fuzz`:
#   make build-fuzz/fuzz-gguf && build-fuzz/fuzz-gguf -max_total_time=60 build-fuzz/corpus/fuzz-gguf
FUZZ_CC ?= clang
GGUF_FUZZ_SRCS := models/fuzz/fuzz_gguf.c models/gguf.c models/status.c
ifneq ($(value fuzz_target),)
$(eval $(call fuzz_target,fuzz-gguf,$(GGUF_FUZZ_SRCS),,models/fuzz/seed-minimal.gguf))
else
build-fuzz/fuzz-gguf: $(GGUF_FUZZ_SRCS)
	@mkdir -p build-fuzz/corpus/fuzz-gguf && cp models/fuzz/seed-minimal.gguf build-fuzz/corpus/fuzz-gguf/
	$(FUZZ_CC) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -D_POSIX_C_SOURCE=200809L \
	    -Imodels/include -o $@ $(GGUF_FUZZ_SRCS)
endif

# Tokenizer fuzzing with a real vocabulary (needs the model, so not part of `make fuzz`):
#   make fuzz-tokenizer && SPK_MODEL=~/.cache/spatten-kit/SmolLM2-135M-Instruct.Q4_1.gguf \
#       build-fuzz/fuzz-tokenizer -max_total_time=60
.PHONY: fuzz-tokenizer
fuzz-tokenizer: ## Build the libFuzzer target for the tokenizer (needs clang; run with SPK_MODEL)
	@mkdir -p build-fuzz
	$(FUZZ_CC) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -D_POSIX_C_SOURCE=200809L \
	    -Imodels/include -o build-fuzz/fuzz-tokenizer models/fuzz/fuzz_tokenizer.c \
	    models/gguf.c models/status.c models/tokenizer.c models/unicode_tables.c

# Side-by-side speed against llama.cpp (builds the peer on first use; needs the default model).
.PHONY: bench-llm
bench-llm: $(BUILD)/bin/spk-llm ## spk-llm vs llama.cpp: prompt and generation tokens/s, peak RSS
	@scripts/peer-llamacpp.sh compare $(BUILD)/bin/spk-llm
