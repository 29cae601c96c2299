/**
 * @file tokenizer.h
 * @brief Byte-level BPE tokenizer read from GGUF metadata (`tokenizer.ggml.*`).
 *
 * Supports `tokenizer.ggml.model = gpt2` with the GPT-2 byte-to-unicode map and merges applied by
 * rank. Pre-tokenizers: `smollm` (every \p{N} code point split off alone, then the GPT-2
 * pattern) and `default`/`gpt2` (the GPT-2 pattern only). Control tokens are matched in the text
 * only when asked (parse_special); user-defined tokens always. A BOS token is added only when the
 * file sets `tokenizer.ggml.add_bos_token`.
 */
#ifndef SPKLLM_TOKENIZER_H
#define SPKLLM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "spkllm/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spkllm_tokenizer spkllm_tokenizer;

/**
 * Builds the tokenizer from @p g's metadata; @p g must outlive it (strings are borrowed).
 * Refused (SPKLLM_ERR_FORMAT): a token type outside 1..6, a BOS/EOS id that is not a token, and
 * a vocabulary whose size differs from the rows of `token_embd.weight`/`output.weight`.
 */
spkllm_status spkllm_tokenizer_load(const spkllm_gguf *g, spkllm_tokenizer **out, char *err,
                                    size_t err_len);

/** Frees the tokenizer (NULL allowed). */
void spkllm_tokenizer_free(spkllm_tokenizer *t);

/** Vocabulary size. */
int spkllm_tokenizer_n_vocab(const spkllm_tokenizer *t);
/** End-of-sequence token id, or -1. */
int32_t spkllm_tokenizer_eos(const spkllm_tokenizer *t);
/** Beginning-of-sequence token id, or -1. */
int32_t spkllm_tokenizer_bos(const spkllm_tokenizer *t);
/** @return the id of the token whose text is exactly @p text, or -1. */
int32_t spkllm_tokenizer_find(const spkllm_tokenizer *t, const char *text);
/** True for control tokens (not printed by default). */
int spkllm_tokenizer_is_control(const spkllm_tokenizer *t, int32_t id);

/**
 * Encodes @p len bytes of UTF-8 @p text. Allocates *ids (free with free()); *n_ids receives the
 * count. @p parse_special: recognise control tokens written in the text.
 */
spkllm_status spkllm_tokenize(const spkllm_tokenizer *t, const char *text, size_t len,
                              int parse_special, int32_t **ids, size_t *n_ids);

/**
 * Writes the bytes token @p id stands for into @p buf (up to @p cap bytes) and returns their
 * full count (which may exceed cap). Control tokens give their text only when @p special.
 */
size_t spkllm_token_to_piece(const spkllm_tokenizer *t, int32_t id, char *buf, size_t cap,
                             int special);

#ifdef __cplusplus
}
#endif

#endif
