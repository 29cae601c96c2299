/* libFuzzer target for the GGUF reader: any input must be accepted or refused with a message,
 * never read out of bounds. On success every key, string array and tensor is walked so that
 * the validated pointers are actually dereferenced.
 * Build: make build-fuzz/fuzz-gguf (needs clang); `make fuzz` runs it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spkllm/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* Copy so that ASan sees the exact end of the buffer. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    spkllm_gguf g;
    char err[256];
    if (spkllm_gguf_open_memory(buf, size, &g, err, sizeof err) == SPKLLM_OK) {
        volatile uint64_t sink = 0;
        for (uint64_t i = 0; i < g.n_kv; i++) {
            const spkllm_gguf_kv *kv = &g.kv[i];
            sink += (uint8_t)kv->key.ptr[kv->key.len - 1];
            if (kv->type == SPKLLM_GGUF_ARRAY && kv->arr_type == SPKLLM_GGUF_STRING) {
                const uint8_t *cur = kv->arr_data;
                for (uint64_t j = 0; j < kv->arr_len; j++) {
                    spkllm_str s = spkllm_gguf_next_str(&cur);
                    if (s.len) sink += (uint8_t)s.ptr[s.len - 1];
                }
            } else if (kv->type == SPKLLM_GGUF_ARRAY && kv->arr_bytes) {
                sink += kv->arr_data[kv->arr_bytes - 1];
            }
        }
        for (uint64_t i = 0; i < g.n_tensors; i++) {
            const spkllm_gguf_tensor *t = &g.tensors[i];
            if (t->n_bytes) sink += ((const uint8_t *)t->data)[t->n_bytes - 1];
        }
        (void)sink;
        spkllm_gguf_close(&g);
    } else if (!err[0]) {
        abort(); /* a refusal must say why */
    }
    free(buf);
    return 0;
}
