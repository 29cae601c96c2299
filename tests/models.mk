# GoogleTest suites of the CPU reference LLM (libspkllm); no download needed.
$(eval $(call gtest_prog,test-models,$(wildcard tests/models/*.cc),spkllm,-lpthread))
