// Moved to rtl/sim/rtl_sim.h (shared with the RTL engine plugin).
#include "../../rtl/sim/rtl_sim.h"
