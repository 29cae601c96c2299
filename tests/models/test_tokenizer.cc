// Byte-level BPE tokenizer on a tiny vocabulary built in the test: pre-tokenizer splits, merge
// order, special tokens, invalid UTF-8 and decoding.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "gguf_writer.h"
#include "spkllm/tokenizer.h"

namespace {

// GPT-2's byte -> code point map, written out independently of the library.
std::string byte_char(int b) {
    int cp = b;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) {
        int n = 0;
        for (int x = 0; x < b; x++)
            if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
        cp = 256 + n;
    }
    std::string s;
    if (cp < 0x80) {
        s += (char)cp;
    } else {
        s += (char)(0xC0 | (cp >> 6));
        s += (char)(0x80 | (cp & 0x3F));
    }
    return s;
}

const std::vector<std::pair<std::string, std::string>> kMerges = {
    {"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"1", "2"}, {"Ġ", "Ġ"},  {"'", "s"},
    {"Ċ", "Ċ"}, {"a", "Ã"}, {"a", "â"},   {"l", "l"}, {"e", "ll"},
};

class Tok {
  public:
    explicit Tok(const std::string &pre, bool add_bos = false) {
        gguftest::Writer w;
        std::vector<std::string> tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
        std::vector<int32_t> types = {3, 3, 3};
        for (int b = 0; b < 256; b++) tokens.push_back(byte_char(b)), types.push_back(1);
        std::vector<std::string> merges;
        for (const auto &m : kMerges) {
            tokens.push_back(m.first + m.second), types.push_back(1);
            merges.push_back(m.first + " " + m.second);
        }
        for (size_t i = 0; i < tokens.size(); i++) id_[tokens[i]] = (int32_t)i;
        w.kv_str("tokenizer.ggml.model", "gpt2");
        w.kv_str("tokenizer.ggml.pre", pre);
        w.kv_arr_str("tokenizer.ggml.tokens", tokens);
        w.kv_arr_i32("tokenizer.ggml.token_type", types);
        w.kv_arr_str("tokenizer.ggml.merges", merges);
        w.kv_u32("tokenizer.ggml.bos_token_id", 1);
        w.kv_u32("tokenizer.ggml.eos_token_id", 2);
        w.kv_bool("tokenizer.ggml.add_bos_token", add_bos);
        bytes_ = w.build();
        char err[256] = "";
        EXPECT_EQ(spkllm_gguf_open_memory(bytes_.data(), bytes_.size(), &g_, err, sizeof err),
                  SPKLLM_OK)
            << err;
        EXPECT_EQ(spkllm_tokenizer_load(&g_, &t_, err, sizeof err), SPKLLM_OK) << err;
    }
    ~Tok() {
        spkllm_tokenizer_free(t_);
        spkllm_gguf_close(&g_);
    }
    std::vector<int32_t> encode(const std::string &s, int special = 0) const {
        int32_t *ids;
        size_t n;
        EXPECT_EQ(spkllm_tokenize(t_, s.data(), s.size(), special, &ids, &n), SPKLLM_OK);
        std::vector<int32_t> v(ids, ids + n);
        free(ids);
        return v;
    }
    std::string decode(const std::vector<int32_t> &ids, int special = 0) const {
        std::string s;
        char buf[64];
        for (int32_t id : ids) {
            size_t n = spkllm_token_to_piece(t_, id, buf, sizeof buf, special);
            s.append(buf, n);
        }
        return s;
    }
    // ids of token texts, with "<xx>" standing for the byte token of hex byte xx.
    std::vector<int32_t> ids(const std::vector<std::string> &texts) const {
        std::vector<int32_t> v;
        for (const auto &t : texts) {
            if (t.size() == 4 && t[0] == '<' && t[3] == '>')
                v.push_back(id_.at(byte_char(std::stoi(t.substr(1, 2), nullptr, 16))));
            else
                v.push_back(id_.at(t));
        }
        return v;
    }
    const spkllm_tokenizer *get() const { return t_; }

  private:
    std::vector<uint8_t> bytes_;
    spkllm_gguf g_{};
    spkllm_tokenizer *t_ = nullptr;
    std::map<std::string, int32_t> id_;
};

} // namespace

TEST(Tokenizer, MergesApplyByRank) {
    Tok t("smollm");
    EXPECT_EQ(t.encode("the"), t.ids({"t", "he"})); // no "t he" merge
    EXPECT_EQ(t.encode(" the"), t.ids({"Ġthe"}));   // Ġ t (0), h e (1), Ġt he (2)
}

TEST(Tokenizer, HellPrefersLowerRankAcrossPairs) {
    // In "hell" the pairs (h,e) rank 1 and (l,l) rank 9: (h,e) merges first, so "e ll" never
    // gets a chance. This guards the rank order against a left-to-right greedy merge.
    Tok t("smollm");
    auto got = t.encode("hell");
    EXPECT_EQ(got, t.ids({"he", "ll"}));
}

TEST(Tokenizer, SmollmSplitsEveryDigit) {
    Tok smollm("smollm"), gpt2("default");
    EXPECT_EQ(smollm.encode("12"), smollm.ids({"1", "2"}));
    EXPECT_EQ(gpt2.encode("12"), gpt2.ids({"12"}));
    EXPECT_EQ(smollm.encode("a12b"), smollm.ids({"a", "1", "2", "b"}));
}

TEST(Tokenizer, Gpt2PatternSplits) {
    Tok t("smollm");
    // "\s+(?!\S)": of three spaces before a word, two form a word and one joins the next word.
    EXPECT_EQ(t.encode("a   b"), t.ids({"a", "ĠĠ", "Ġ", "b"}));
    // Trailing whitespace stays together.
    EXPECT_EQ(t.encode("x\n\n"), t.ids({"x", "ĊĊ"}));
    // Before a word the last newline is split off, so the two never merge.
    EXPECT_EQ(t.encode("x\n\ny"), t.ids({"x", "Ċ", "Ċ", "y"}));
    // Contractions are words of their own.
    EXPECT_EQ(t.encode("it's"), t.ids({"i", "t", "'s"}));
    // Letters include non-ASCII letters: "aé" is one word, so "a" merges with é's first byte.
    EXPECT_EQ(t.encode("a\xC3\xA9"), t.ids({"aÃ", "<a9>"}));
    // "…" is punctuation: a separate word, so "a" does not merge with its first byte.
    EXPECT_EQ(t.encode("a\xE2\x80\xA6"), t.ids({"a", "<e2>", "<80>", "<a6>"}));
}

TEST(Tokenizer, SpecialTokensOnlyWhenAsked) {
    Tok t("smollm");
    EXPECT_EQ(t.encode("<|im_start|>he", 1), t.ids({"<|im_start|>", "he"}));
    auto plain = t.encode("<|im_start|>he", 0);
    EXPECT_GT(plain.size(), 2u);
    EXPECT_EQ(t.decode(plain), "<|im_start|>he");
    EXPECT_EQ(t.decode(t.ids({"<|im_start|>"})), "") << "control tokens print nothing by default";
    EXPECT_EQ(t.decode(t.ids({"<|im_start|>"}), 1), "<|im_start|>");
    EXPECT_EQ(spkllm_tokenizer_find(t.get(), "<|im_end|>"), 2);
    EXPECT_TRUE(spkllm_tokenizer_is_control(t.get(), 2));
    EXPECT_EQ(spkllm_tokenizer_eos(t.get()), 2);
}

TEST(Tokenizer, BosOnlyWhenTheFileAsks) {
    Tok no("smollm", false), yes("smollm", true);
    EXPECT_EQ(no.encode("he"), no.ids({"he"}));
    EXPECT_EQ(yes.encode("he"), yes.ids({"<|im_start|>", "he"})); // bos id 1
    EXPECT_TRUE(no.encode("").empty());
}

TEST(Tokenizer, InvalidUtf8BecomesReplacementCharacter) {
    Tok t("smollm");
    EXPECT_EQ(t.encode("a\xFF"), t.ids({"a", "<ef>", "<bf>", "<bd>"}));
    EXPECT_EQ(t.encode("\xC3("), t.ids({"<ef>", "<bf>", "<bd>", "("}));
}

TEST(Tokenizer, DecodeInvertsEncode) {
    Tok t("smollm");
    const char *texts[] = {"Hello, world!\n",
                           "  two  spaces\tand tabs\r\n",
                           "caf\xC3\xA9 \xE6\x9D\xB1\xE4\xBA\xAC",
                           "emoji \xF0\x9F\x98\x80!",
                           "digits 1234.5 and it's they'll",
                           ""};
    for (const char *s : texts) EXPECT_EQ(t.decode(t.encode(s)), s);
}

TEST(Tokenizer, RejectsUnsupportedModels) {
    gguftest::Writer w;
    w.kv_str("tokenizer.ggml.model", "llama");
    auto bytes = w.build();
    spkllm_gguf g;
    ASSERT_EQ(spkllm_gguf_open_memory(bytes.data(), bytes.size(), &g, nullptr, 0), SPKLLM_OK);
    spkllm_tokenizer *t = nullptr;
    char err[256] = "";
    EXPECT_EQ(spkllm_tokenizer_load(&g, &t, err, sizeof err), SPKLLM_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(err).find("llama"), std::string::npos) << err;
    spkllm_gguf_close(&g);

    gguftest::Writer w2;
    w2.kv_str("tokenizer.ggml.model", "gpt2");
    w2.kv_u32("tokenizer.ggml.tokens", 5);
    bytes = w2.build();
    ASSERT_EQ(spkllm_gguf_open_memory(bytes.data(), bytes.size(), &g, nullptr, 0), SPKLLM_OK);
    EXPECT_EQ(spkllm_tokenizer_load(&g, &t, err, sizeof err), SPKLLM_ERR_FORMAT);
    EXPECT_NE(std::string(err).find("tokenizer.ggml.tokens"), std::string::npos) << err;
    spkllm_gguf_close(&g);
}

TEST(Tokenizer, LongRunsAreFastAndExact) {
    // Long single words exercise the merge queue (a quadratic merge loop would take minutes).
    Tok t("smollm");
    std::string spaces(50000, ' '), ells(50000, 'l'), hells;
    for (int i = 0; i < 10000; i++) hells += "hell";
    for (const std::string &s : {spaces + "x", ells, hells}) {
        auto ids = t.encode(s);
        EXPECT_EQ(t.decode(ids), s);
        EXPECT_LT(ids.size(), s.size()) << "merges applied";
    }
    std::string eq(30000, '='); // no merges for '=': one token per byte
    EXPECT_EQ(t.encode(eq).size(), eq.size());
    EXPECT_EQ(t.encode("llll"), t.ids({"ll", "ll"}));
}

namespace {

// Loads a small vocabulary (4 tokens, no merges) after @p edit adds or changes metadata and
// tensors; returns the status and the message in @p err.
template <typename Edit>
spkllm_status load_small(Edit edit, std::vector<int32_t> types, std::string &err) {
    gguftest::Writer w;
    w.kv_str("tokenizer.ggml.model", "gpt2");
    w.kv_arr_str("tokenizer.ggml.tokens", {"<s>", "a", "b", "c"});
    w.kv_arr_i32("tokenizer.ggml.token_type", types);
    w.kv_arr_str("tokenizer.ggml.merges", {});
    edit(w);
    auto bytes = w.build();
    spkllm_gguf g;
    char buf[256] = "";
    EXPECT_EQ(spkllm_gguf_open_memory(bytes.data(), bytes.size(), &g, buf, sizeof buf), SPKLLM_OK)
        << buf;
    spkllm_tokenizer *t = nullptr;
    spkllm_status st = spkllm_tokenizer_load(&g, &t, buf, sizeof buf);
    EXPECT_EQ(st != SPKLLM_OK, t == nullptr);
    spkllm_tokenizer_free(t);
    spkllm_gguf_close(&g);
    err = buf;
    return st;
}

const std::vector<int32_t> kTypes = {3, 1, 1, 1};

} // namespace

TEST(Tokenizer, OutOfRangeBosAndEosAreRefused) {
    std::string err;
    EXPECT_EQ(load_small([](gguftest::Writer &w) { w.kv_u32("tokenizer.ggml.bos_token_id", 0); },
                         kTypes, err),
              SPKLLM_OK)
        << err;
    EXPECT_EQ(load_small([](gguftest::Writer &w) { w.kv_u32("tokenizer.ggml.bos_token_id", 4); },
                         kTypes, err),
              SPKLLM_ERR_FORMAT);
    EXPECT_NE(err.find("tokenizer.ggml.bos_token_id' = 4"), std::string::npos) << err;
    EXPECT_EQ(load_small([](gguftest::Writer &w) { w.kv_i32("tokenizer.ggml.eos_token_id", -1); },
                         kTypes, err),
              SPKLLM_ERR_FORMAT);
    EXPECT_NE(err.find("tokenizer.ggml.eos_token_id"), std::string::npos) << err;
}

TEST(Tokenizer, UnknownTokenTypesAreRefused) {
    std::string err;
    auto none = [](gguftest::Writer &) {};
    EXPECT_EQ(load_small(none, {3, 1, 7, 1}, err), SPKLLM_ERR_FORMAT);
    EXPECT_NE(err.find("token_type[2] = 7"), std::string::npos) << err;
    EXPECT_EQ(load_small(none, {3, 1, 0, 1}, err), SPKLLM_ERR_FORMAT);
    EXPECT_EQ(load_small(none, {6, 5, 4, 2}, err), SPKLLM_OK) << err;
}

TEST(Tokenizer, VocabularyMustMatchTheEmbeddingRows) {
    std::string err;
    auto embd = [](uint64_t rows) {
        return [rows](gguftest::Writer &w) {
            w.tensor_f32("token_embd.weight", {2, rows}, std::vector<float>(2 * rows, 0.0f));
        };
    };
    EXPECT_EQ(load_small(embd(4), kTypes, err), SPKLLM_OK) << err;
    EXPECT_EQ(load_small(embd(5), kTypes, err), SPKLLM_ERR_FORMAT);
    EXPECT_NE(err.find("4 tokens but token_embd.weight has 5 rows"), std::string::npos) << err;
}
