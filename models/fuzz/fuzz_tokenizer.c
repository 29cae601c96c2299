/* libFuzzer target for the tokenizer with a real vocabulary: any bytes must tokenize without
 * error, and valid UTF-8 must decode back to itself. The vocabulary comes from the GGUF named by
 * $SPK_MODEL (e.g. the default SmolLM2 model). Build: make fuzz-tokenizer (needs clang). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spkllm/gguf.h"
#include "spkllm/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static spkllm_gguf file;
static spkllm_tokenizer *tok;
static int byte_has_token[256]; /* some vocabularies (SmolLM2) lack a few byte tokens */

/* GPT-2's byte -> code point map, encoded as UTF-8 into out; returns the length. */
static size_t byte_char(int b, char *out) {
    int cp = b, printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    if (!printable) {
        cp = 256;
        for (int x = 0; x < b; x++)
            cp += !((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174);
    }
    if (cp < 0x80) return out[0] = (char)cp, 1;
    out[0] = (char)(0xc0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
}

static int valid_utf8(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n) return 0;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80) return 0;
        i += len;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok) {
        const char *path = getenv("SPK_MODEL");
        char err[256];
        if (!path || spkllm_gguf_open(path, &file, err, sizeof err) ||
            spkllm_tokenizer_load(&file, &tok, err, sizeof err)) {
            fprintf(stderr, "fuzz_tokenizer: set SPK_MODEL to a GGUF with a gpt2 tokenizer\n");
            abort();
        }
        for (int b = 0; b < 256; b++) {
            char s[4] = {0};
            byte_char(b, s);
            byte_has_token[b] = spkllm_tokenizer_find(tok, s) >= 0;
        }
    }
    int32_t *ids;
    size_t n;
    if (spkllm_tokenize(tok, (const char *)data, size, 0, &ids, &n)) abort();
    char *back = malloc(4 * size + 16);
    size_t len = 0;
    for (size_t i = 0; back && i < n; i++)
        len += spkllm_token_to_piece(tok, ids[i], back + len, 4 * size + 16 - len, 0);
    int representable = valid_utf8(data, size);
    for (size_t i = 0; i < size && representable; i++) representable = byte_has_token[data[i]];
    if (back && representable && (len != size || memcmp(back, data, size) != 0)) abort();
    free(back);
    free(ids);
    return 0;
}
