# GoogleTest suite of the cycle simulator (tests/cycle/).
$(eval $(call gtest_prog,test-cycle,$(wildcard tests/cycle/*.cc),spkcycle spkgolden))
# test_cli.cc runs spk-sim from the same bin directory.
$(BUILD)/bin/test-cycle: $(BUILD)/bin/spk-sim
