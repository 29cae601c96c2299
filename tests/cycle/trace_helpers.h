// Helpers of the cycle-simulator tests: synthetic traces written to temporary files.
#ifndef TESTS_CYCLE_TRACE_HELPERS_H
#define TESTS_CYCLE_TRACE_HELPERS_H

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace cycle_test {

inline const char *header() {
    return "iteration_id,layer_id,head_id,embedding_length_D,sentence_length_L,key_fetch_num,"
           "quant_key_bit,quant_query_bit,auto_requant_thres,if_requant,auto_requant_incre,"
           "value_fetch_num,quant_value_bit,if_accumulate_importance,"
           "if_rescale_previous_importance,if_topk,topk\n";
}

// One data row with the fields the replay rules read; the rest take the reference's values.
inline std::string row(int layer, int head, int l, int k, int kbits, bool requant, int v, int vbits,
                       bool topk = false, int keep = -1) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "0,%d,%d,64.0,%d,%d,%d,16,0.05,%s,%d,%d,%d,True,False,%s,%d\n",
                  layer, head, l, k, kbits, requant ? "True" : "False", kbits == -1 ? -1 : 4, v,
                  vbits, topk ? "True" : "False", keep);
    return buf;
}

inline const char *config_line() {
    return "configs/some/run.yml,,,,,,,,,,,,,,,,\n";
}

// A temporary file that removes itself.
class TempFile {
  public:
    explicit TempFile(const std::string &text) {
        char tmpl[] = "/tmp/spk-cycle-test-XXXXXX";
        int fd = mkstemp(tmpl);
        if (fd >= 0) {
            path_ = tmpl;
            if (write(fd, text.data(), text.size()) != (ssize_t)text.size()) path_.clear();
            close(fd);
        }
    }
    ~TempFile() {
        if (!path_.empty()) unlink(path_.c_str());
    }
    TempFile(const TempFile &) = delete;
    TempFile &operator=(const TempFile &) = delete;
    const char *path() const { return path_.c_str(); }
    bool ok() const { return !path_.empty(); }

  private:
    std::string path_;
};

} // namespace cycle_test

#endif
