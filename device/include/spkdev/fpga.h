/**
 * @file fpga.h
 * @brief The `fpga` engine of the emulated device: head requests and the importance bank on a
 * board behind the UART bridge (device/engine_fpga.c, docs/device.md "The headless split").
 *
 * What the backend and the tools need beyond the engine interface: the link failure behind a
 * failed operation (so that the host reports SPK_E_IO or SPK_E_TIMEOUT naming the port and the
 * frame instead of a generic engine error) and the link's counters.
 */
#ifndef SPKDEV_FPGA_H
#define SPKDEV_FPGA_H

#include <stddef.h>
#include <stdint.h>

#include "spkdev/emu.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Counters of an fpga engine. */
typedef struct spkdev_fpga_stats {
    uint64_t tx_bytes;      /**< bytes sent over the link (frames, retries included) */
    uint64_t rx_bytes;      /**< bytes received */
    uint64_t frames;        /**< requests sent */
    uint64_t retries;       /**< requests sent again (NAK, lost response on a repeatable frame) */
    uint64_t resyncs;       /**< resynchronisations */
    uint64_t staged_bytes;  /**< payload written into board memory (descriptors, operands) */
    uint64_t skipped_bytes; /**< operand bytes not sent because the board already held them */
    uint64_t requests;      /**< head requests run on the board */
} spkdev_fpga_stats;

/** @brief Why the last engine operation on the board failed. */
typedef enum spkdev_fpga_fail {
    SPKDEV_FPGA_OK = 0,
    SPKDEV_FPGA_IO = 1,      /**< the link failed (port, peer, frames): SPK_E_IO */
    SPKDEV_FPGA_TIMEOUT = 2, /**< no response, or a board that stays busy: SPK_E_TIMEOUT */
    SPKDEV_FPGA_LIMIT = 3,   /**< beyond the board's limits (DMAX, NMAX, NHEAD, memory) */
    SPKDEV_FPGA_REFUSED = 4, /**< the board's engine refused the request (ENG_STATUS.ERROR) */
} spkdev_fpga_fail;

/**
 * @brief The failure behind the last failed engine operation of @p dev, if any, with its
 * message in @p msg; the failure is then cleared. SPKDEV_FPGA_OK for devices without a board.
 */
spkdev_fpga_fail spkdev_fpga_take_failure(spkdev *dev, char *msg, size_t len);
/** @brief Counters of @p dev's board link; -1 when @p dev has no board. */
int spkdev_fpga_get_stats(spkdev *dev, spkdev_fpga_stats *s);
/** @brief Kind of the last failed open of an fpga engine in this thread (SPKDEV_FPGA_OK: the
 * options were refused, not the link). */
spkdev_fpga_fail spkdev_fpga_open_failure(void);

#ifdef __cplusplus
}
#endif

#endif
