#include "spkllm/status.h"

const char *spkllm_status_str(spkllm_status status) {
    switch (status) {
    case SPKLLM_OK:
        return "ok";
    case SPKLLM_ERR_IO:
        return "I/O error";
    case SPKLLM_ERR_FORMAT:
        return "malformed file";
    case SPKLLM_ERR_UNSUPPORTED:
        return "unsupported";
    case SPKLLM_ERR_NOMEM:
        return "out of memory";
    case SPKLLM_ERR_ARG:
        return "bad argument";
    case SPKLLM_ERR_NOT_FOUND:
        return "not found";
    }
    return "unknown status";
}
