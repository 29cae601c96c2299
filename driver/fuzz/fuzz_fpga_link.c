/* libFuzzer target of the board bridge protocol's decoders (device/fpga_link.c): the response
 * decoder the host runs on whatever arrives from the port, and the request decoder of the test
 * peer. Input: byte 0 the command the host sent, byte 1 its length, then the received bytes.
 * Checked: never a read past the input, a size that covers the frame, data only for good reads,
 * and an encoded response decodes back to itself. Build and run (issue #17 asks for it):
 *   make build-fuzz/fuzz-fpga-link && build-fuzz/fuzz-fpga-link -max_total_time=60 \
 *       build-fuzz/corpus/fuzz-fpga-link */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fpga_link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    const uint8_t cmd = data[0], len = data[1];
    const uint8_t *rx = data + 2;
    const size_t n = size - 2;
    /* The decoder sees the bytes in a buffer of exactly n bytes (ASan catches any overread). */
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return 0;
    memcpy(buf, rx, n);
    uint8_t status = 0xee;
    uint32_t words[SPK_LINK_MAX_WORDS];
    size_t used = 0;
    const spk_link_verdict v = spk_link_decode_response(buf, n, cmd, len, &status, words, &used);
    if (v == SPK_LINK_FRAME) {
        if (used > n || used < 3 || status > SPK_LINK_ST_BUS) abort();
        /* A frame re-encodes to the same bytes. */
        uint8_t again[SPK_LINK_MAX_FRAME];
        const int reads = status == SPK_LINK_ST_OK && spk_link_cmd_reads(cmd);
        const size_t m = spk_link_encode_response(again, status, len, reads ? words : NULL);
        if (m != used || memcmp(again, buf, m)) abort();
    }
    if (v == SPK_LINK_NEED && used <= n && n > 0 && buf[0] <= SPK_LINK_ST_BUS) abort();
    spk_link_request rq;
    const spk_link_verdict r = spk_link_decode_request(buf, n, &rq, &used);
    if (r == SPK_LINK_FRAME) {
        uint8_t again[SPK_LINK_MAX_FRAME];
        const size_t m = spk_link_encode(again, rq.cmd, rq.len, rq.word_addr, rq.data);
        /* Valid commands re-encode to the same frame. */
        if (m && (m != used || memcmp(again, buf, m))) abort();
    }
    free(buf);
    return 0;
}
