/**
 * @file fpga_link.h
 * @brief The host end of the board's UART bridge (docs/fpga.md, "Protocol"; board map
 * rtl/fpga/boards/icebreaker/board_map.json): the frame codec and a port (a tty, a pty path or
 * socket://HOST:PORT) with bounded reads, retries where the protocol allows them and resync.
 *
 * Frames are LiteX UARTBone's (cmd, len, big-endian word address, big-endian data) with a
 * CRC-16/CCITT-FALSE after every request and a response to every request (status, read data,
 * CRC). The codec functions are pure (no I/O) so that the fuzz target and the fault-injecting
 * test peer use exactly what the link uses.
 */
#ifndef SPKDEV_FPGA_LINK_H
#define SPKDEV_FPGA_LINK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @name Protocol constants (the board map's "protocol" block) */
/**@{*/
#define SPK_LINK_CMD_WRITE 0x01u       /**< write burst, incrementing address */
#define SPK_LINK_CMD_READ 0x02u        /**< read burst, incrementing address */
#define SPK_LINK_CMD_WRITE_FIXED 0x03u /**< write burst, one address */
#define SPK_LINK_CMD_READ_FIXED 0x04u  /**< read burst, one address */
#define SPK_LINK_ST_OK 0x00u           /**< done */
#define SPK_LINK_ST_CRC 0x01u          /**< request CRC mismatch: discarded, nothing written */
#define SPK_LINK_ST_CMD 0x02u          /**< unknown command */
#define SPK_LINK_ST_LEN 0x03u          /**< bad length (0) */
#define SPK_LINK_ST_BUS 0x04u          /**< an address of the burst not mapped or not writable */
#define SPK_LINK_MAX_WORDS 255u        /**< words per frame */
/** Largest request: cmd, len, address, 255 words, CRC. */
#define SPK_LINK_MAX_FRAME (1u + 1u + 4u + 4u * SPK_LINK_MAX_WORDS + 2u)
/**@}*/

/** @brief CRC-16/CCITT-FALSE (poly 0x1021, not reflected, xorout 0) of @p n bytes, continuing
 * from @p crc (0xFFFF to start). "123456789" gives 0x29B1. */
uint16_t spk_link_crc16(uint16_t crc, const uint8_t *p, size_t n);

/** @brief Whether @p cmd is a read command. */
int spk_link_cmd_reads(uint8_t cmd);

/**
 * @brief Encode a request into @p buf (at least SPK_LINK_MAX_FRAME bytes): @p len words
 * (1..255) at word address @p word_addr; @p data (len words) for writes, ignored for reads.
 * Returns the frame's size, or 0 for a length or command outside the protocol.
 */
size_t spk_link_encode(uint8_t *buf, uint8_t cmd, uint8_t len, uint32_t word_addr,
                       const uint32_t *data);

/** @brief Decoder verdicts (spk_link_decode_response, spk_link_decode_request). */
typedef enum spk_link_verdict {
    SPK_LINK_NEED = 0,    /**< incomplete: more bytes needed */
    SPK_LINK_FRAME = 1,   /**< a complete, well-formed frame */
    SPK_LINK_BAD_CRC = 2, /**< complete, but the CRC does not match */
    SPK_LINK_GARBAGE = 3, /**< not a frame of the protocol (unknown status code) */
} spk_link_verdict;

/**
 * @brief Decode the response to a request (@p cmd, @p len) from the @p n bytes received so far.
 * On SPK_LINK_FRAME *status is the status byte and, for a successful read, @p data (len words)
 * holds the data; *used is the frame's size (on SPK_LINK_NEED: the size known so far to be
 * needed). Never reads past @p n.
 */
spk_link_verdict spk_link_decode_response(const uint8_t *buf, size_t n, uint8_t cmd, uint8_t len,
                                          uint8_t *status, uint32_t *data, size_t *used);

/** @brief A decoded request (the peer's side). */
typedef struct spk_link_request {
    uint8_t cmd, len;
    uint32_t word_addr;
    uint32_t data[SPK_LINK_MAX_WORDS]; /**< write data */
} spk_link_request;

/**
 * @brief Decode a request from @p n bytes (the board's side, for the test peer). Unknown
 * commands and length 0 are still framed by the 2-byte header + address + CRC of a read, as the
 * bridge frames them; *used is the frame size. Returns NEED, FRAME or BAD_CRC.
 */
spk_link_verdict spk_link_decode_request(const uint8_t *buf, size_t n, spk_link_request *req,
                                         size_t *used);

/** @brief Encode a response: @p status, then for a successful read @p len words of @p data. */
size_t spk_link_encode_response(uint8_t *buf, uint8_t status, uint8_t len, const uint32_t *data);

/** @brief Link failures (what the driver turns into SPK_E_IO / SPK_E_TIMEOUT). */
typedef enum spk_link_fail {
    SPK_LINK_OK = 0,
    SPK_LINK_E_IO = 1,      /**< the port failed, the peer closed, a refused or lost frame */
    SPK_LINK_E_TIMEOUT = 2, /**< no (complete) response within the timeout, after retries */
} spk_link_fail;

/** @brief How to open a port. */
typedef struct spk_link_options {
    const char *port;    /**< /dev/ttyUSB1, a pty path, or socket://HOST:PORT */
    uint32_t baud;       /**< tty baud rate (0: 115200); ignored on sockets */
    uint32_t timeout_ms; /**< bound on every response (0: 1000) */
    uint32_t retries;    /**< extra attempts where the protocol allows them (0: none) */
    uint32_t resync_ms;  /**< quiet time that outlasts the board's receive timeout (0: 50) */
} spk_link_options;

/** @brief Counters of one link. */
typedef struct spk_link_counters {
    uint64_t tx_bytes, rx_bytes; /**< bytes written to / read from the port */
    uint64_t frames;             /**< requests sent (retries included) */
    uint64_t retries;            /**< requests sent again */
    uint64_t resyncs;            /**< resynchronisations */
} spk_link_counters;

typedef struct spk_link spk_link;

/** @brief Open @p o->port. NULL with a message naming the port in @p err on failure. */
spk_link *spk_link_open(const spk_link_options *o, char *err, size_t err_len);
/** @brief Close (NULL is fine). */
void spk_link_close(spk_link *l);

/**
 * @brief Write @p n words from @p src to byte address @p addr (4-aligned), in frames of at most
 * 255 words. @p side_effect: the write starts something (ENG_CMD) and is not sent again when its
 * response is lost. 0, or -1 with spk_link_error() set.
 */
int spk_link_write(spk_link *l, uint32_t addr, const uint32_t *src, uint32_t n, int side_effect);
/** @brief Read @p n words at byte address @p addr into @p dst. 0, or -1. */
int spk_link_read(spk_link *l, uint32_t addr, uint32_t *dst, uint32_t n);
/** @brief One word. */
int spk_link_read32(spk_link *l, uint32_t addr, uint32_t *value);
/** @brief Wait out the board's receive timeout, drop what arrived, read BOARD_ID. 0, or -1. */
int spk_link_resync(spk_link *l);

/** @brief The last failure (SPK_LINK_OK after success). */
spk_link_fail spk_link_failure(const spk_link *l);
/** @brief Its message: names the port and the frame (command, address, length). */
const char *spk_link_error(const spk_link *l);
/** @brief Record a failure of a caller (for example a board that stays busy). */
void spk_link_set_error(spk_link *l, spk_link_fail kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** @brief Counters. */
void spk_link_get_stats(const spk_link *l, spk_link_counters *s);
/** @brief The port name. */
const char *spk_link_port(const spk_link *l);
/** @brief The response timeout in ms. */
uint32_t spk_link_timeout_ms(const spk_link *l);

#ifdef __cplusplus
}
#endif

#endif
