// spk-llm --backend cpu and every libspk backend of the build (tests/driver/backends.h) end to
// end on a tiny GGUF model with a byte-level tokenizer: perplexity and greedy generation agree
// with the CPU when nothing is pruned and between backends, the report and the machine-readable
// DRAM line appear, pruning reduces traffic, bad options are clear errors.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "backends.h"
#include "tiny_model.h"

#ifndef SPK_TEST_SPK_LLM
#error "SPK_TEST_SPK_LLM must name the spk-llm binary"
#endif

namespace {

// GPT-2's byte-to-character map, written out: printable bytes stand for themselves, the others
// map to U+0100 + n in byte order. Returned as UTF-8.
std::string byte_token(int b) {
    int cp = b;
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    if (!printable) {
        int n = 0;
        for (int x = 0; x < b; x++)
            n += !((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF));
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

struct Files {
    std::string model, text;
    Files() {
        tinymodel::Config c;
        c.n_layers = 4;
        c.n_vocab = 3 + 256;
        gguftest::Writer w;
        tinymodel::write_model(c, w);
        std::vector<std::string> tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
        std::vector<int32_t> types = {3, 3, 3};
        for (int b = 0; b < 256; b++) tokens.push_back(byte_token(b)), types.push_back(1);
        w.kv_str("tokenizer.ggml.model", "gpt2");
        w.kv_str("tokenizer.ggml.pre", "smollm");
        w.kv_arr_str("tokenizer.ggml.tokens", tokens);
        w.kv_arr_i32("tokenizer.ggml.token_type", types);
        w.kv_arr_str("tokenizer.ggml.merges", {});
        w.kv_u32("tokenizer.ggml.bos_token_id", 1);
        w.kv_u32("tokenizer.ggml.eos_token_id", 0);
        w.kv_bool("tokenizer.ggml.add_bos_token", false);
        model = gguftest::write_temp(w.build(), "offload-cli");
        std::string t;
        for (int i = 0; i < 12; i++)
            t += "The cat sat on the mat, and the dog sat on the log. Then the bird flew away. ";
        text = gguftest::write_temp(std::vector<uint8_t>(t.begin(), t.end()), "offload-text");
    }
    ~Files() {
        std::remove(model.c_str());
        std::remove(text.c_str());
    }
};

struct Result {
    int status;
    std::string out;
};

// Runs spk-llm with @p args, stderr into the output; @p env_extra ("NAME=value") prefixes it.
Result run(const std::string &args, const std::string &env_extra = "") {
    // The RTL backends load the plugin of this build. Progress lines (stderr, here mixed into
    // the output) only where a test asks for them: on a loaded machine a slow backend would
    // print one into the middle of the generated text.
    std::string env = "SPK_PROGRESS_MS=3600000 ";
    if (test_rtl_built()) env += "SPK_RTL_PLUGIN=" SPK_TEST_RTL_PLUGIN " ";
    if (!env_extra.empty()) env += env_extra + " ";
    std::string cmd = env + std::string(SPK_TEST_SPK_LLM) + " " + args + " 2>&1";
    Result r{-1, ""};
    FILE *p = popen(cmd.c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

double ppl_of(const std::string &out) {
    size_t at = out.find("PPL = ");
    return at == std::string::npos ? -1.0 : std::atof(out.c_str() + at + 6);
}

double reduction_of(const std::string &out) {
    size_t at = out.find("reduction = ");
    return at == std::string::npos ? -1.0 : std::atof(out.c_str() + at + 12);
}

} // namespace

// The text of a run (the timing line and the report follow a blank line).
std::string text_of(const std::string &out) {
    return out.substr(0, out.find("\n\n"));
}

// The line of a run's output that starts with @p prefix (empty if none).
std::string line_of(const std::string &out, const std::string &prefix) {
    size_t at = out.find("\n" + prefix);
    return at == std::string::npos ? "" : out.substr(at + 1, out.find('\n', at + 1) - at - 1);
}

TEST(SpkLlmCli, PerplexityOnEveryBackend) {
    Files f;
    ASSERT_FALSE(f.model.empty());
    const std::string common =
        "perplexity -m " + f.model + " -f " + f.text + " --ctx 64 --chunks 2 --stream -t 1 ";
    Result cpu = run(common + "--backend cpu");
    ASSERT_EQ(cpu.status, 0) << cpu.out;
    EXPECT_EQ(cpu.out.find("accelerator report"), std::string::npos) << "no device on cpu";
    std::string first_off, first_paper;
    for (const std::string &b : test_backends()) {
        SCOPED_TRACE(b);
        Result off = run(common + "--backend " + b + " --spatten off");
        ASSERT_EQ(off.status, 0) << off.out;
        EXPECT_NE(off.out.find("accelerator report"), std::string::npos) << off.out;
        EXPECT_NEAR(ppl_of(off.out), ppl_of(cpu.out), 0.01 * ppl_of(cpu.out)) << off.out;
        // The reduction is against the spec's dense traffic rule; the RTL counts its own reads.
        if (backend_counts_spec_traffic(b)) {
            EXPECT_NEAR(reduction_of(off.out), 1.0, 1e-9) << off.out;
        }
        Result paper = run(common + "--backend " + b + " --spatten paper");
        if (!backend_prunes(b)) {
            std::printf("[ NOTE     ] %s: no prune unit; --spatten paper is checked to be "
                        "refused\n",
                        b.c_str());
            EXPECT_NE(paper.status, 0) << paper.out;
            EXPECT_NE(paper.out.find("PRUNE"), std::string::npos) << paper.out;
            continue;
        }
        ASSERT_EQ(paper.status, 0) << paper.out;
        EXPECT_GT(reduction_of(paper.out), 1.5 * reduction_of(off.out)) << paper.out;
        EXPECT_EQ(paper.out.find("engine cycles") != std::string::npos, backend_times_engine(b))
            << "engine cycles where the engine is timed: " << paper.out;
        EXPECT_EQ(paper.out.find("uJ/token") != std::string::npos, backend_prices_energy(b))
            << "energy where priced: " << paper.out;
        // The same bits on every backend: the same perplexity, printed in full.
        const std::string ppl_off = line_of("\n" + off.out, "PPL"),
                          ppl_paper = line_of("\n" + paper.out, "PPL");
        if (first_off.empty()) {
            first_off = ppl_off, first_paper = ppl_paper;
        } else {
            EXPECT_EQ(ppl_off, first_off);
            EXPECT_EQ(ppl_paper, first_paper);
        }
    }
}

// --first-chunk scores later chunks: with equal token counts the two-chunk perplexity is the
// geometric mean of the chunks' own. The last-step preset runs end to end wherever the engine
// runs the policy and is refused with a message elsewhere.
TEST(SpkLlmCli, FirstChunkAndLastStepPreset) {
    Files f;
    const std::string base = test_backends()[0];
    const std::string common = "perplexity -m " + f.model + " -f " + f.text +
                               " --ctx 64 --stream -t 1 --backend " + base + " ";
    Result both = run(common + "--chunks 2");
    Result first = run(common + "--chunks 1");
    Result second = run(common + "--chunks 1 --first-chunk 1");
    ASSERT_EQ(both.status, 0) << both.out;
    ASSERT_EQ(first.status, 0) << first.out;
    ASSERT_EQ(second.status, 0) << second.out;
    EXPECT_NE(ppl_of(first.out), ppl_of(second.out)) << "a different chunk was scored";
    EXPECT_NEAR(ppl_of(both.out), std::sqrt(ppl_of(first.out) * ppl_of(second.out)),
                1e-3 * ppl_of(both.out));
    Result past = run(common + "--first-chunk 1000");
    EXPECT_NE(past.status, 0);
    EXPECT_NE(past.out.find("from chunk 1000"), std::string::npos) << past.out;
    std::string first_ppl;
    for (const std::string &b : test_backends()) {
        SCOPED_TRACE(b);
        Result mit = run("perplexity -m " + f.model + " -f " + f.text +
                         " --ctx 64 --chunks 1 --stream -t 1 --backend " + b + " --spatten mit");
        if (!backend_runs_last_step(b)) {
            std::printf("[ NOTE     ] %s: no request logits; --spatten mit is checked to be "
                        "refused\n",
                        b.c_str());
            EXPECT_NE(mit.status, 0) << mit.out;
            EXPECT_NE(mit.out.find("PRUNE"), std::string::npos) << mit.out;
            continue;
        }
        ASSERT_EQ(mit.status, 0) << mit.out;
        if (backend_counts_spec_traffic(b)) {
            EXPECT_GT(reduction_of(mit.out), 2.0) << mit.out;
        }
        const std::string ppl = line_of("\n" + mit.out, "PPL");
        if (first_ppl.empty()) {
            first_ppl = ppl;
        } else {
            EXPECT_EQ(ppl, first_ppl);
        }
    }
}

// --nll-out: one row per scored token whose mean NLL is the perplexity printed; the select
// policy runs batched and streamed to the same file, and a bad path fails before any scoring.
TEST(SpkLlmCli, NllOutHoldsEveryScoredToken) {
    const std::string backend = first_c_engine_backend();
    if (backend.empty())
        GTEST_SKIP() << "no backend of this run ($SPK_TEST_BACKENDS) has the scoring stage";
    Files f;
    const std::string a = ::testing::TempDir() + "nll-a.csv",
                      b = ::testing::TempDir() + "nll-b.csv";
    const std::string common = "perplexity -m " + f.model + " -f " + f.text +
                               " --ctx 64 --chunks 2 -t 1 --backend " + backend +
                               " --policy select --token-keep 0.25 --prune-skip 0 --sinks 2 "
                               "--recent 4 ";
    Result batched = run(common + "--nll-out " + a);
    Result streamed = run(common + "--stream --nll-out " + b);
    ASSERT_EQ(batched.status, 0) << batched.out;
    ASSERT_EQ(streamed.status, 0) << streamed.out;
    auto slurp = [](const std::string &p) {
        std::ifstream in(p);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    const std::string text = slurp(a);
    EXPECT_EQ(text, slurp(b)) << "a non-evicting policy: batched equals streamed";
    std::istringstream lines(text);
    std::string line;
    std::getline(lines, line);
    EXPECT_EQ(line, "chunk,position,nll");
    double sum = 0;
    int n = 0;
    while (std::getline(lines, line)) {
        sum += std::stod(line.substr(line.rfind(',') + 1));
        n++;
    }
    EXPECT_EQ(n, 2 * 31) << "the second half of each chunk, less its last token";
    EXPECT_NEAR(std::exp(sum / n), ppl_of(batched.out), 1e-3 * ppl_of(batched.out));
    Result bad = run(common + "--nll-out /nonexistent-dir/nll.csv");
    EXPECT_EQ(bad.status, 1) << bad.out;
    EXPECT_NE(bad.out.find("--nll-out /nonexistent-dir/nll.csv"), std::string::npos) << bad.out;
    EXPECT_EQ(bad.out.find("PPL"), std::string::npos) << "nothing was scored";
}

TEST(SpkLlmCli, GreedyGenerationMatchesCpu) {
    Files f;
    const auto backends = test_backends();
    for (const char *prompt : {"The cat", "Then the bird", "dog"}) {
        const std::string common =
            "generate -m " + f.model + " -n 32 --temp 0 -t 1 -p '" + prompt + "' ";
        Result cpu = run(common + "--backend cpu");
        ASSERT_EQ(cpu.status, 0) << cpu.out;
        for (const std::string &b : backends) {
            SCOPED_TRACE(b);
            Result dev = run(common + "--backend " + b);
            ASSERT_EQ(dev.status, 0) << dev.out;
            EXPECT_EQ(text_of(dev.out), text_of(cpu.out)) << prompt;
            EXPECT_NE(dev.out.find("host:"), std::string::npos) << dev.out;
        }
    }
}

TEST(SpkLlmCli, BadOptionsAreClearErrors) {
    struct Case {
        const char *args, *needle;
    } cases[] = {
        {"generate -p x --backend fpga", "--backend 'fpga'"},
        {"generate -p x --kv-bits 13+0", "kv-bits"},
        // --kv-bits through the strict parser (sscanf took a space, a trailing word, signs).
        {"generate -p x --kv-bits 6", "--kv-bits: '6' is not MSB+LSB"},
        {"generate -p x --kv-bits '6+4x'", "--kv-bits LSB: '4x' is not a whole number"},
        {"generate -p x --kv-bits ' 6+4'", "--kv-bits MSB: ' 6' is not a whole number"},
        {"generate -p x --kv-bits 6++4", "--kv-bits LSB: '+4' is not a whole number"},
        {"generate -p x --kv-bits 1+4", "--kv-bits MSB: 1 is below 2"},
        {"generate -p x --kv-bits 6+11", "--kv-bits LSB: 11 is above 10"},
        {"generate -p x --kv-bits 8+6", "kv-bits 8+6: need MSB 2..12, LSB 0..10, sum <= 12"},
        {"generate -p x --spatten fast", "unknown preset"},
        {"generate -p x --token-keep 0", "--token-keep"},
        {"perplexity -f x --v-keep", "needs a value"},
        {"generate -p x --policy h2o", "--policy"},
        {"generate -p x --important 8", "needs --policy last-step"},
        {"perplexity -f x --first-chunk -1", "--first-chunk"},
        // One strict number parser (issue 17): strtoull took "abc" as 0 and wrapped "-5",
        // --top-p 2 was accepted, -r 65 exited 2 without a word.
        {"generate -p x --seed abc", "--seed: 'abc' is not a whole number"},
        {"generate -p x --seed -5", "--seed: -5 is below 0"},
        {"generate -p x --seed 18446744073709551616", "--seed: 18446744073709551616 is above"},
        {"generate -p x --top-p 2", "--top-p: 2 is above 1"},
        {"generate -p x --top-p nan", "--top-p: 'nan' is not a number"},
        {"generate -p x --temp ' 1'", "--temp: ' 1' is not a number"},
        {"generate -p x -n 1e3", "-n: '1e3' is not a whole number"},
        {"generate -p x -n 4294967297", "-n: 4294967297 is above"},
        {"bench -r 65", "-r: 65 is above 64"},
        {"bench -t 0", "-t: 0 is below 1"},
        {"perplexity -f x --ctx +512", "--ctx: '+512' is not a whole number"},
        {"perplexity -f x --engine-threads 0", "--engine-threads: 0 is below 1"},
        {"perplexity -f x --engine-threads 17", "--engine-threads: 17 is above 16"},
    };
    for (const Case &c : cases) {
        Result r = run(c.args);
        EXPECT_EQ(r.status, 2) << c.args << ": " << r.out;
        EXPECT_NE(r.out.find(c.needle), std::string::npos) << c.args << ": " << r.out;
    }
}

// A directory is not a text file or a model (issue 17: `tokenize -f DIR` printed nothing and
// exited 0).
TEST(SpkLlmCli, DirectoriesAreRefused) {
    Files f;
    std::string dir = ::testing::TempDir();
    if (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    struct Case {
        std::string args, needle;
    } cases[] = {
        {"tokenize -m " + f.model + " -f " + dir, "-f " + dir + ": is a directory"},
        {"perplexity -m " + f.model + " -f " + dir, "-f " + dir + ": is a directory"},
        {"tokenize -m " + dir + " -f " + f.text, "model " + dir + ": is a directory"},
        {"tokenize -m " + f.model + " -f /dev/null", "-f /dev/null: is not a regular file"},
    };
    for (const Case &c : cases) {
        Result r = run(c.args);
        EXPECT_EQ(r.status, 1) << c.args << ": " << r.out;
        EXPECT_NE(r.out.find(c.needle), std::string::npos) << c.args << ": " << r.out;
    }
}

// Every non-zero exit says why (issue 17: bench printed only "failed", perplexity nothing).
TEST(SpkLlmCli, FailuresSayWhy) {
    Files f;
    // A sequence of a billion positions: the CPU backend cannot allocate its K/V cache (under
    // ASan the allocator must return NULL as libc's does, instead of aborting the process).
    ASSERT_EQ(setenv("ASAN_OPTIONS", "allocator_may_return_null=1", 1), 0);
    Result r = run("bench -m " + f.model + " --prompt-tokens 4 -n 1000000000 -r 1");
    unsetenv("ASAN_OPTIONS");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("spk-llm bench: cannot start a sequence of 1000000005 tokens: "),
              std::string::npos)
        << r.out;
}

// Every long run prints progress on stderr (issue 17): `progress: WHAT DONE/TOTAL` at least every
// $SPK_PROGRESS_MS (0: at every step). A run shorter than the interval prints none.
TEST(SpkLlmCli, LongRunsPrintProgress) {
    Files f;
    struct Case {
        std::string args, needle;
    } cases[] = {
        {"perplexity -m " + f.model + " -f " + f.text + " --ctx 64 --chunks 2 -t 1",
         "progress: perplexity tokens of this chunk 64/64"},
        {"perplexity -m " + f.model + " -f " + f.text + " --ctx 64 --chunks 1 --stream -t 1",
         "progress: perplexity tokens of this chunk 63/64"},
        {"generate -m " + f.model + " -n 6 --temp 0 -t 1 -p 'The cat'",
         "progress: prompt tokens 7/7"},
        {"bench -m " + f.model + " --prompt-tokens 4 -n 3 -r 1 -t 1",
         "progress: bench generated tokens 3/3"},
    };
    for (const Case &c : cases) {
        Result every = run(c.args + " --backend cpu", "SPK_PROGRESS_MS=0");
        EXPECT_EQ(every.status, 0) << c.args << ": " << every.out;
        EXPECT_NE(every.out.find(c.needle), std::string::npos) << c.args << ": " << every.out;
        Result quiet = run(c.args + " --backend cpu", "SPK_PROGRESS_MS=600000");
        EXPECT_EQ(quiet.status, 0) << c.args << ": " << quiet.out;
        EXPECT_EQ(quiet.out.find("progress:"), std::string::npos) << c.args << ": " << quiet.out;
    }
}

namespace {

// The number after @p key in @p out (0 if absent).
unsigned long long number_after(const std::string &out, const std::string &key) {
    size_t at = out.find(key);
    return at == std::string::npos ? 0 : std::strtoull(out.c_str() + at + key.size(), nullptr, 10);
}

// The number before @p key in @p out ("N engine cycles"; 0 if absent).
unsigned long long number_before(const std::string &out, const std::string &key) {
    size_t at = out.find(key);
    if (at == std::string::npos) return 0;
    size_t start = out.find_last_not_of("0123456789", at - 2);
    return std::strtoull(out.c_str() + (start == std::string::npos ? 0 : start + 1), nullptr, 10);
}

Result run_sim(const std::string &args) {
    Result r{-1, ""};
    FILE *p = popen((std::string(SPK_TEST_SPK_SIM) + " " + args + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

} // namespace

// spk-llm --backend sim --trace-out, then spk-sim on the file with the same configuration: the
// backend's engine cycles, head requests and DRAM bytes, exactly (issue 19), for prompt batches
// and decode steps, with pruning and without, on two configurations.
TEST(SpkLlmCli, TraceOutReplaysToTheBackendsReport) {
    Files f;
    const std::string trace = ::testing::TempDir() + "spk-llm-trace.csv";
    struct Case {
        std::string args, config;
        bool scoring = false; // the select policy: the trace also holds its scoring passes
    } cases[] = {
        {"perplexity -m " + f.model + " -f " + f.text + " --ctx 64 --chunks 2 -t 1 --spatten paper",
         "eighth"},
        {"perplexity -m " + f.model + " -f " + f.text + " --ctx 64 --chunks 1 -t 1 --stream",
         "full"},
        {"generate -m " + f.model + " -n 12 --temp 0 -t 1 -p 'The cat' --spatten paper", "eighth"},
        {"perplexity -m " + f.model + " -f " + f.text +
             " --ctx 64 --chunks 1 -t 1 --kv-bits 6+4 --requant 0.1 --policy select "
             "--token-keep 0.3 --prune-skip 0 --sinks 2 --recent 4",
         "eighth", true},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.args + " on " + c.config);
        std::remove(trace.c_str());
        Result llm =
            run(c.args + " --backend sim --trace-out " + trace, "SPK_SIM_CONFIG=" + c.config);
        ASSERT_EQ(llm.status, 0) << llm.out;
        EXPECT_NE(llm.out.find("device trace: " + trace), std::string::npos) << llm.out;
        const unsigned long long cycles = number_before(llm.out, " engine cycles"),
                                 requests = number_before(llm.out, " head requests");
        ASSERT_GT(cycles, 0u) << llm.out;
        ASSERT_GT(requests, 0u) << llm.out;
        Result sim = run_sim("--config " + c.config + " --trace " + trace + " --json -");
        ASSERT_EQ(sim.status, 0) << sim.out;
        std::printf(
            "[ TRACE    ] %s on %s: backend %llu cycles, %llu requests; spk-sim %llu, %llu\n",
            c.args.substr(0, c.args.find(' ')).c_str(), c.config.c_str(), cycles, requests,
            number_after(sim.out, "\"cycles\": "), number_after(sim.out, "\"requests\": "));
        EXPECT_EQ(number_after(sim.out, "\"cycles\": "), cycles) << sim.out;
        if (c.scoring) { // one K-only row per scoring (K/V head, query) besides the requests
            EXPECT_GT(number_after(sim.out, "\"requests\": "), requests) << sim.out;
        } else {
            EXPECT_EQ(number_after(sim.out, "\"requests\": "), requests) << sim.out;
        }
        // perplexity prints the DRAM bytes in full; generate's report gives them in MB only.
        if (c.args.rfind("perplexity", 0) == 0) {
            EXPECT_EQ(number_after(sim.out, "\"device_dram_bytes\": "),
                      number_after(llm.out, "DRAM bytes = "))
                << sim.out;
        }
    }
    // Only the timed backend writes a trace, and only for commands that run the model.
    Result model = run("perplexity -m " + f.model + " -f " + f.text +
                       " --ctx 64 --backend model --trace-out " + trace);
    EXPECT_EQ(model.status, 2) << model.out;
    EXPECT_NE(model.out.find("--trace-out needs"), std::string::npos) << model.out;
    Result unwritable = run("perplexity -m " + f.model + " -f " + f.text +
                            " --ctx 64 --backend sim --trace-out /nonexistent-dir/t.csv");
    EXPECT_EQ(unwritable.status, 1) << unwritable.out;
    EXPECT_NE(unwritable.out.find("trace /nonexistent-dir/t.csv: cannot write"), std::string::npos)
        << unwritable.out;
    std::remove(trace.c_str());
}
