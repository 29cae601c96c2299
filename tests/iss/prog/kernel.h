/* The shared test workload (kernel.c). */
#ifndef TESTS_ISS_PROG_KERNEL_H
#define TESTS_ISS_PROG_KERNEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

uint32_t spk_iss_kernel(uint32_t seed);

#ifdef __cplusplus
}
#endif

#endif
