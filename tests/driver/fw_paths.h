// Paths of the firmware ELFs built by firmware/firmware.mk (set by tests/driver.mk).
#ifndef TESTS_DRIVER_FW_PATHS_H
#define TESTS_DRIVER_FW_PATHS_H

#include <string>

#ifndef SPK_TEST_FW_DIR
#error "SPK_TEST_FW_DIR must be set by tests/driver.mk"
#endif

inline std::string fw_path(const char *name) {
    return std::string(SPK_TEST_FW_DIR) + "/" + name;
}

#endif
