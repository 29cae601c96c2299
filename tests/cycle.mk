# GoogleTest suite of the cycle simulator (tests/cycle/).
$(eval $(call gtest_prog,test-cycle,$(wildcard tests/cycle/*.cc),spkcycle spkgolden))
