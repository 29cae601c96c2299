# GoogleTest suites of the golden model and the tool utilities.
$(eval $(call gtest_prog,test-golden,$(wildcard tests/golden/*.cc),spkutil spkgolden))
