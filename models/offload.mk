# Attention offload of the reference LLM through libspk (issue 7): the spkllm_attn_ops backend
# over the driver, the SpAtten option set and the accelerator report (libspkllm_offload).
# Programs that use it link: spkllm_offload spkllm spk spkcycle spkgolden spkiss, and -lelf.
OFFLOAD_SRCS := $(wildcard models/offload/*.c)
$(eval $(call c_lib,spkllm_offload,$(OFFLOAD_SRCS)))
OFFLOAD_LIBS := spkllm_offload spkllm spk spkcycle spkgolden spkiss spkutil
