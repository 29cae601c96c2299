#include "gguf_writer.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace gguftest {

void put_u32(std::vector<uint8_t> &b, uint32_t v) {
    for (int i = 0; i < 4; i++) b.push_back((uint8_t)(v >> (8 * i)));
}

void put_u64(std::vector<uint8_t> &b, uint64_t v) {
    for (int i = 0; i < 8; i++) b.push_back((uint8_t)(v >> (8 * i)));
}

void put_str(std::vector<uint8_t> &b, const std::string &s) {
    put_u64(b, s.size());
    b.insert(b.end(), s.begin(), s.end());
}

std::vector<uint8_t> f32_bytes(const std::vector<float> &v) {
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    return b;
}

void Writer::scalar(const std::string &k, uint32_t type, uint64_t v, int bytes) {
    std::vector<uint8_t> b;
    put_u32(b, type);
    for (int i = 0; i < bytes; i++) b.push_back((uint8_t)(v >> (8 * i)));
    kvs_.push_back({k, b});
}

void Writer::kv_f32(const std::string &k, float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    scalar(k, SPKLLM_GGUF_FLOAT32, bits, 4);
}

void Writer::kv_f64(const std::string &k, double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    scalar(k, SPKLLM_GGUF_FLOAT64, bits, 8);
}

void Writer::kv_str(const std::string &k, const std::string &v) {
    std::vector<uint8_t> b;
    put_u32(b, SPKLLM_GGUF_STRING);
    put_str(b, v);
    kvs_.push_back({k, b});
}

void Writer::kv_arr_str(const std::string &k, const std::vector<std::string> &v) {
    std::vector<uint8_t> b;
    put_u32(b, SPKLLM_GGUF_ARRAY);
    put_u32(b, SPKLLM_GGUF_STRING);
    put_u64(b, v.size());
    for (const auto &s : v) put_str(b, s);
    kvs_.push_back({k, b});
}

void Writer::kv_arr_i32(const std::string &k, const std::vector<int32_t> &v) {
    std::vector<uint8_t> b;
    put_u32(b, SPKLLM_GGUF_ARRAY);
    put_u32(b, SPKLLM_GGUF_INT32);
    put_u64(b, v.size());
    for (int32_t x : v) put_u32(b, (uint32_t)x);
    kvs_.push_back({k, b});
}

void Writer::kv_arr_f32(const std::string &k, const std::vector<float> &v) {
    std::vector<uint8_t> b;
    put_u32(b, SPKLLM_GGUF_ARRAY);
    put_u32(b, SPKLLM_GGUF_FLOAT32);
    put_u64(b, v.size());
    auto raw = f32_bytes(v);
    b.insert(b.end(), raw.begin(), raw.end());
    kvs_.push_back({k, b});
}

void Writer::kv_arr_nested(const std::string &k, const std::vector<std::vector<uint8_t>> &v) {
    std::vector<uint8_t> b;
    put_u32(b, SPKLLM_GGUF_ARRAY);
    put_u32(b, SPKLLM_GGUF_ARRAY);
    put_u64(b, v.size());
    for (const auto &inner : v) {
        put_u32(b, SPKLLM_GGUF_UINT8);
        put_u64(b, inner.size());
        b.insert(b.end(), inner.begin(), inner.end());
    }
    kvs_.push_back({k, b});
}

void Writer::kv_raw(const std::string &k, const std::vector<uint8_t> &type_and_value) {
    kvs_.push_back({k, type_and_value});
}

void Writer::tensor_f32(const std::string &name, const std::vector<uint64_t> &ne,
                        const std::vector<float> &v) {
    tensor({name, ne, SPKLLM_TENSOR_F32, f32_bytes(v)});
}

std::vector<uint8_t> Writer::build() {
    fields_.clear();
    std::vector<uint8_t> b;
    fields_.push_back({"magic", b.size()});
    b.insert(b.end(), {'G', 'G', 'U', 'F'});
    fields_.push_back({"version", b.size()});
    put_u32(b, version);
    fields_.push_back({"tensor_count", b.size()});
    put_u64(b, n_tensors_override >= 0 ? (uint64_t)n_tensors_override : tensors_.size());
    fields_.push_back({"kv_count", b.size()});
    put_u64(b, n_kv_override >= 0 ? (uint64_t)n_kv_override : kvs_.size());
    for (size_t i = 0; i < kvs_.size(); i++) {
        fields_.push_back({"kv[" + std::to_string(i) + "].key", b.size()});
        put_str(b, kvs_[i].first);
        fields_.push_back({"kv[" + std::to_string(i) + "].value", b.size()});
        b.insert(b.end(), kvs_[i].second.begin(), kvs_[i].second.end());
    }
    std::vector<uint64_t> offsets;
    uint64_t off = 0;
    for (const auto &t : tensors_) {
        offsets.push_back(t.offset_override >= 0 ? (uint64_t)t.offset_override : off);
        off += (t.data.size() + alignment - 1) / alignment * alignment;
    }
    for (size_t i = 0; i < tensors_.size(); i++) {
        const Tensor &t = tensors_[i];
        std::string tag = "tensor[" + std::to_string(i) + "]";
        fields_.push_back({tag + ".name", b.size()});
        put_str(b, t.name);
        fields_.push_back({tag + ".n_dims", b.size()});
        put_u32(b, (uint32_t)t.ne.size());
        fields_.push_back({tag + ".ne", b.size()});
        for (uint64_t n : t.ne) put_u64(b, n);
        fields_.push_back({tag + ".type", b.size()});
        put_u32(b, t.type);
        fields_.push_back({tag + ".offset", b.size()});
        put_u64(b, offsets[i]);
    }
    if (tensors_.empty()) return b;
    while (b.size() % alignment) b.push_back(0);
    size_t data = b.size();
    fields_.push_back({"data", data});
    for (size_t i = 0; i < tensors_.size(); i++) {
        if (b.size() < data + offsets[i]) b.resize(data + offsets[i], 0);
        if (b.size() > data + offsets[i]) continue; /* overlapping overrides: data already there */
        b.insert(b.end(), tensors_[i].data.begin(), tensors_[i].data.end());
        if (i + 1 < tensors_.size())
            while ((b.size() - data) % alignment) b.push_back(0);
    }
    return b;
}

std::string write_temp(const std::vector<uint8_t> &bytes, const std::string &tag) {
    const char *dir = std::getenv("TMPDIR");
    std::string path = std::string(dir && *dir ? dir : "/tmp") + "/spkllm-" + tag + "-XXXXXX";
    std::vector<char> buf(path.begin(), path.end());
    buf.push_back(0);
    int fd = mkstemp(buf.data());
    if (fd < 0) return "";
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0) break;
        done += (size_t)n;
    }
    close(fd);
    return std::string(buf.data());
}

} // namespace gguftest
