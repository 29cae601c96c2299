// Test helper: builds GGUF v3 images in memory (and records where each field starts, so that
// tests can truncate or corrupt a file at any field).
#ifndef TESTS_MODELS_GGUF_WRITER_H
#define TESTS_MODELS_GGUF_WRITER_H

#include <cstdint>
#include <string>
#include <vector>

#include "spkllm/gguf.h"

namespace gguftest {

// One tensor to write: raw bytes in the file's encoding.
struct Tensor {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type;
    std::vector<uint8_t> data;
    int64_t offset_override = -1; // write this offset instead of the computed one
};

class Writer {
  public:
    uint32_t version = 3;
    uint32_t alignment = 32;

    void kv_u8(const std::string &k, uint8_t v) { scalar(k, SPKLLM_GGUF_UINT8, v, 1); }
    void kv_i8(const std::string &k, int8_t v) { scalar(k, SPKLLM_GGUF_INT8, (uint8_t)v, 1); }
    void kv_u16(const std::string &k, uint16_t v) { scalar(k, SPKLLM_GGUF_UINT16, v, 2); }
    void kv_i16(const std::string &k, int16_t v) { scalar(k, SPKLLM_GGUF_INT16, (uint16_t)v, 2); }
    void kv_u32(const std::string &k, uint32_t v) { scalar(k, SPKLLM_GGUF_UINT32, v, 4); }
    void kv_i32(const std::string &k, int32_t v) { scalar(k, SPKLLM_GGUF_INT32, (uint32_t)v, 4); }
    void kv_u64(const std::string &k, uint64_t v) { scalar(k, SPKLLM_GGUF_UINT64, v, 8); }
    void kv_i64(const std::string &k, int64_t v) { scalar(k, SPKLLM_GGUF_INT64, (uint64_t)v, 8); }
    void kv_f32(const std::string &k, float v);
    void kv_f64(const std::string &k, double v);
    void kv_bool(const std::string &k, bool v) { scalar(k, SPKLLM_GGUF_BOOL, v ? 1 : 0, 1); }
    void kv_str(const std::string &k, const std::string &v);
    void kv_arr_str(const std::string &k, const std::vector<std::string> &v);
    void kv_arr_i32(const std::string &k, const std::vector<int32_t> &v);
    void kv_arr_f32(const std::string &k, const std::vector<float> &v);
    // An array of arrays of uint8 (nested arrays are a legal GGUF value type).
    void kv_arr_nested(const std::string &k, const std::vector<std::vector<uint8_t>> &v);
    // Any raw encoding after the key (type + value), for malformed cases.
    void kv_raw(const std::string &k, const std::vector<uint8_t> &type_and_value);

    void tensor(const Tensor &t) { tensors_.push_back(t); }
    void tensor_f32(const std::string &name, const std::vector<uint64_t> &ne,
                    const std::vector<float> &v);

    // The finished image. field_offsets() then maps field names ("magic", "kv[3].value",
    // "tensor[1].offset", "data", ...) to their byte offsets.
    std::vector<uint8_t> build();
    const std::vector<std::pair<std::string, size_t>> &field_offsets() const { return fields_; }

    // Overrides for malformed headers.
    int64_t n_tensors_override = -1;
    int64_t n_kv_override = -1;

  private:
    void scalar(const std::string &k, uint32_t type, uint64_t v, int bytes);
    std::vector<std::pair<std::string, std::vector<uint8_t>>> kvs_;
    std::vector<Tensor> tensors_;
    std::vector<std::pair<std::string, size_t>> fields_;
};

void put_u32(std::vector<uint8_t> &b, uint32_t v);
void put_u64(std::vector<uint8_t> &b, uint64_t v);
void put_str(std::vector<uint8_t> &b, const std::string &s);
std::vector<uint8_t> f32_bytes(const std::vector<float> &v);

// Writes @p bytes to a fresh temporary file and returns its path.
std::string write_temp(const std::vector<uint8_t> &bytes, const std::string &tag);

} // namespace gguftest

#endif
