#include "spksim/status.h"

const char *spksim_status_str(spksim_status s) {
    switch (s) {
    case SPKSIM_OK:
        return "ok";
    case SPKSIM_E_ARG:
        return "invalid argument";
    case SPKSIM_E_RANGE:
        return "value out of range";
    case SPKSIM_E_NOMEM:
        return "out of memory";
    case SPKSIM_E_IO:
        return "I/O error";
    case SPKSIM_E_FORMAT:
        return "malformed or unsupported file";
    case SPKSIM_E_CAPACITY:
        return "capacity exceeded";
    }
    return "unknown status";
}
