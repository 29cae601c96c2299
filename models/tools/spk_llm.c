/* spk-llm: generate text, measure perplexity and tokenize with the CPU reference LLM; attention
 * runs on the CPU (float reference) or offloaded to the SpAtten accelerator through libspk. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "spkllm/attn.h"
#include "spkllm/attn_spk.h"
#include "spkllm/model.h"
#include "spkllm/quant.h"
#include "spkllm/sample.h"
#include "spkllm/tokenizer.h"
#include "spksim/file.h"
#include "spksim/parse.h"

#define DEFAULT_MODEL "SmolLM2-135M-Instruct.Q4_1.gguf"

typedef struct {
    const char *model, *prompt, *file;
    const char *backend; /* "cpu" or a libspk backend ("model", "sim", "rtl", "rtl-compact", ...) */
    const char *trace_out; /* --trace-out: the sim backend's device trace (docs/simulator.md) */
    const char *nll_out;   /* --nll-out: every scored token's NLL, for paired comparisons */
    spkllm_spatten_options spatten;
    int n_predict, ctx, chunks, first_chunk, threads, chat, stream, special, n_prompt_bench, reps;
    int engine_threads; /* --engine-threads: devices the K/V heads are split over */
    float temp, top_p;
    unsigned long long seed;
} options;

static void usage(FILE *f) {
    fputs(
        "usage: spk-llm generate [-m FILE] -p PROMPT [-n N] [--temp T] [--top-p P] [--seed S] "
        "[--chat]\n"
        "       spk-llm perplexity [-m FILE] -f FILE [--ctx 512] [--chunks N] [--first-chunk I]\n"
        "                          [--stream] [--nll-out FILE.csv]   (chunks I, I+1, ... of the\n"
        "                          file, I from 0; FILE.csv: chunk,position,nll per scored token)\n"
        "       spk-llm tokenize [-m FILE] -f FILE [--special]\n"
        "       spk-llm bench [-m FILE] [--prompt-tokens 128] [-n 64] [-r 3]\n"
        "common: -m/--model FILE, -t THREADS (default 2). The model defaults to $SPK_MODEL, else\n"
        "        ${SPK_CACHE:-~/.cache/spatten-kit}/" DEFAULT_MODEL "\n"
        "attention: --backend cpu|model|sim|rtl|rtl-compact|rtl-ovl|systemc|systemc-rtl (default\n"
        "        $SPK_BACKEND, else cpu); all but cpu offload attention to the accelerator\n"
        "        through libspk and print its report (rtl: the Verilated engine and prune unit,\n"
        "        without the last-step policy; systemc: the TLM-2.0 model of the device)\n"
        "        --spatten off|paper|aggressive|mit|select, then optionally\n"
        "        --token-keep [START:]END,\n"
        "        --head-keep [START:]END, --v-keep R, --kv-bits M+L, --requant T,\n"
        "        --prune-skip TOK[:HEAD], --sinks N, --recent N, --head-groups on|off,\n"
        "        --policy accumulated|last-step|select, --important N, --token-budget N,\n"
        "        --scoring msb|exact|msb-probs|exact-probs, --sparse-dims R, --candidates F,\n"
        "        --select-hold on|off\n"
        "        (select: per-step selection, nothing evicted, optionally a first stage at\n"
        "        the R largest |q| dimensions with its best F x budget scored again; -probs\n"
        "        ranks by the group's summed softmax probabilities; hold (default on): the\n"
        "        requests reuse the scored keys' dot products, not rereading their K rows;\n"
        "        not on rtl)\n"
        "        (docs/offload.md)\n"
        "        --engine-threads N (model backend, dense or select without head pruning): split\n"
        "        the K/V heads over N devices run on N threads, bit-identical to one (default 1)\n"
        "        --trace-out FILE.csv (sim): write every head request the engine timed as a row\n"
        "        of a workload trace; spk-sim --trace FILE.csv with the same configuration\n"
        "        ($SPK_SIM_CONFIG, default eighth) gives the same cycles and DRAM bytes\n",
        f);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Progress on stderr at least every $SPK_PROGRESS_MS milliseconds (default 2000; 0 prints at
 * every step, which is what the tests use) during every long run. */
static double progress_every_s(void) {
    static double every = -1;
    if (every < 0) {
        const char *env = getenv("SPK_PROGRESS_MS");
        char *end = NULL;
        long v = env && *env ? strtol(env, &end, 10) : 2000;
        every = (env && *env && (*end || v < 0)) ? 2.0 : (double)v / 1000.0;
    }
    return every;
}

static double last_progress;

/* Prints "what: done/total" when the interval has passed since the last progress line. */
static void progress(const char *what, long done, long total) {
    double t = now();
    if (t - last_progress < progress_every_s()) return;
    last_progress = t;
    fprintf(stderr, "progress: %s %ld/%ld\n", what, done, total);
}

static long peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

/* The strict number parsers of spksim/parse.h: whole-string, base 10, range-checked. */
static int parse_int(const char *s, const char *what, int lo, int hi, int *out) {
    char err[256];
    int64_t v = 0;
    if (spk_parse_i64(what, s, lo, hi, 0, &v, err, sizeof err)) {
        fprintf(stderr, "spk-llm: %s\n", err);
        return 0;
    }
    *out = (int)v;
    return 1;
}

static int parse_float(const char *s, const char *what, double hi, float *out) {
    char err[256];
    double v = 0;
    if (spk_parse_double(what, s, 0.0, hi, 0, &v, err, sizeof err)) {
        fprintf(stderr, "spk-llm: %s\n", err);
        return 0;
    }
    *out = (float)v;
    return 1;
}

static int parse_seed(const char *s, unsigned long long *out) {
    char err[256];
    uint64_t v = 0;
    if (spk_parse_u64("--seed", s, 0, UINT64_MAX, 0, &v, err, sizeof err)) {
        fprintf(stderr, "spk-llm: %s\n", err);
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_args(int argc, char **argv, options *o) {
    for (int i = 2; i < argc; i++) {
        char err[256] = "";
        int spatten = spkllm_spatten_parse_arg(argc, argv, &i, &o->spatten, err, sizeof err);
        if (spatten < 0) {
            fprintf(stderr, "spk-llm: %s\n", err);
            return 0;
        }
        if (spatten > 0) continue;
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--model")) a = "-m";
        int takes = !strcmp(a, "-m") || !strcmp(a, "-p") || !strcmp(a, "-f") || !strcmp(a, "-n") ||
                    !strcmp(a, "-t") || !strcmp(a, "--temp") || !strcmp(a, "--top-p") ||
                    !strcmp(a, "--seed") || !strcmp(a, "--ctx") || !strcmp(a, "--chunks") ||
                    !strcmp(a, "--first-chunk") || !strcmp(a, "--prompt-tokens") ||
                    !strcmp(a, "-r") || !strcmp(a, "--backend") || !strcmp(a, "--trace-out") ||
                    !strcmp(a, "--nll-out") || !strcmp(a, "--engine-threads");
        if (takes && !val) {
            fprintf(stderr, "spk-llm: option %s needs a value\n", a);
            return 0;
        }
        int ok = 1;
        if (!strcmp(a, "-m"))
            o->model = val;
        else if (!strcmp(a, "-p"))
            o->prompt = val;
        else if (!strcmp(a, "-f"))
            o->file = val;
        else if (!strcmp(a, "--backend"))
            o->backend = val;
        else if (!strcmp(a, "--trace-out"))
            o->trace_out = val;
        else if (!strcmp(a, "--nll-out"))
            o->nll_out = val;
        else if (!strcmp(a, "-n"))
            ok = parse_int(val, "-n", 0, 1000000000, &o->n_predict);
        else if (!strcmp(a, "-t"))
            ok = parse_int(val, "-t", 1, 1024, &o->threads);
        else if (!strcmp(a, "--engine-threads"))
            ok = parse_int(val, "--engine-threads", 1, SPKLLM_MAX_ENGINE_THREADS,
                           &o->engine_threads);
        else if (!strcmp(a, "--ctx"))
            ok = parse_int(val, "--ctx", 4, 1000000000, &o->ctx);
        else if (!strcmp(a, "--chunks"))
            ok = parse_int(val, "--chunks", 1, 1000000000, &o->chunks);
        else if (!strcmp(a, "--first-chunk"))
            ok = parse_int(val, "--first-chunk", 0, 1000000000, &o->first_chunk);
        else if (!strcmp(a, "--prompt-tokens"))
            ok = parse_int(val, "--prompt-tokens", 1, 1000000000, &o->n_prompt_bench);
        else if (!strcmp(a, "-r"))
            ok = parse_int(val, "-r", 1, 64, &o->reps);
        else if (!strcmp(a, "--temp"))
            ok = parse_float(val, "--temp", FLT_MAX, &o->temp);
        else if (!strcmp(a, "--top-p"))
            ok = parse_float(val, "--top-p", 1.0, &o->top_p);
        else if (!strcmp(a, "--seed"))
            ok = parse_seed(val, &o->seed);
        else if (!strcmp(a, "--chat"))
            o->chat = 1, takes = 0;
        else if (!strcmp(a, "--stream"))
            o->stream = 1, takes = 0;
        else if (!strcmp(a, "--special"))
            o->special = 1, takes = 0;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "spk-llm: unknown option '%s'\n", a);
            return 0;
        }
        if (!ok) return 0;
        i += takes;
    }
    char err[256] = ""; /* how the attention options combine, once all are known */
    if (spkllm_spatten_check(&o->spatten, err, sizeof err) != SPKLLM_OK) {
        fprintf(stderr, "spk-llm: %s\n", err);
        return 0;
    }
    return 1;
}

static const char *model_path(const options *o, char *buf, size_t len) {
    if (o->model) return o->model;
    const char *env = getenv("SPK_MODEL");
    if (env && *env) return env;
    const char *cache = getenv("SPK_CACHE"), *home = getenv("HOME");
    if (cache && *cache)
        snprintf(buf, len, "%s/%s", cache, DEFAULT_MODEL);
    else
        snprintf(buf, len, "%s/.cache/spatten-kit/%s", home ? home : ".", DEFAULT_MODEL);
    return buf;
}

typedef struct {
    spkllm_model *model;
    spkllm_tokenizer *tok;
    spkllm_attn_ops attn;
} session;

static int open_session(const options *o, session *s, int need_model) {
    char buf[4096], err[512] = "";
    const char *path = model_path(o, buf, sizeof buf);
    FILE *probe = spk_file_open_read(path, "rb", err, sizeof err);
    if (!probe && errno == ENOENT) {
        fprintf(stderr,
                "spk-llm: model '%s' not found. Run scripts/bootstrap.sh --model to fetch the "
                "default model, or pass -m FILE / set SPK_MODEL.\n",
                path);
        return 0;
    }
    if (!probe) {
        fprintf(stderr, "spk-llm: model %s\n", err);
        return 0;
    }
    fclose(probe);
    spkllm_status st = spkllm_model_open(path, o->threads, &s->model, err, sizeof err);
    if (st) {
        fprintf(stderr, "spk-llm: cannot load '%s': %s: %s\n", path, spkllm_status_str(st), err);
        return 0;
    }
    st = spkllm_tokenizer_load(spkllm_model_gguf(s->model), &s->tok, err, sizeof err);
    if (st) {
        fprintf(stderr, "spk-llm: tokenizer of '%s': %s: %s\n", path, spkllm_status_str(st), err);
        return 0;
    }
    if (!need_model) return 1;
    if (!strcmp(o->backend, "cpu")) {
        if (o->engine_threads > 1) {
            fprintf(stderr, "spk-llm: --engine-threads splits the accelerator's heads; the cpu "
                            "backend has no accelerator (use --backend model)\n");
            return 0;
        }
        if (spkllm_attn_cpu_create(spkllm_model_pool(s->model), &s->attn)) {
            fprintf(stderr, "spk-llm: cannot create the attention backend\n");
            return 0;
        }
        return 1;
    }
    st = spkllm_attn_spk_create_threads(o->backend, &o->spatten, o->engine_threads, &s->attn, err,
                                        sizeof err);
    if (st) {
        fprintf(stderr, "spk-llm: attention backend '%s': %s\n", o->backend, err);
        return 0;
    }
    return 1;
}

static void close_session(session *s) {
    if (s->attn.destroy) s->attn.destroy(s->attn.ctx);
    spkllm_tokenizer_free(s->tok);
    spkllm_model_close(s->model);
}

static char *read_file(const char *path, size_t *len) {
    char err[512];
    FILE *f = spk_file_open_read(path, "rb", err, sizeof err);
    if (!f) {
        fprintf(stderr, "spk-llm: -f %s\n", err);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *p = realloc(buf, cap *= 2);
            if (!p) free(buf);
            buf = p;
        }
    }
    if (buf && ferror(f)) {
        fprintf(stderr, "spk-llm: -f %s: read error after %zu bytes\n", path, n);
        free(buf);
        buf = NULL;
    } else if (!buf) {
        fprintf(stderr, "spk-llm: out of memory reading '%s'\n", path);
    }
    fclose(f);
    *len = n;
    return buf;
}

static int cmd_tokenize(const options *o) {
    if (!o->file) {
        fprintf(stderr, "spk-llm tokenize: -f FILE is required\n");
        return 2;
    }
    session s = {0};
    size_t len;
    char *text = read_file(o->file, &len);
    if (!text || !open_session(o, &s, 0)) {
        free(text);
        close_session(&s);
        return 1;
    }
    int32_t *ids;
    size_t n;
    spkllm_status st = spkllm_tokenize(s.tok, text, len, o->special, &ids, &n);
    if (!st) {
        for (size_t i = 0; i < n; i++) printf("%d\n", ids[i]);
        free(ids);
    } else {
        fprintf(stderr, "spk-llm: tokenize failed: %s\n", spkllm_status_str(st));
    }
    free(text);
    close_session(&s);
    return st ? 1 : 0;
}

static void print_piece(const spkllm_tokenizer *t, int32_t id) {
    char buf[256];
    size_t n = spkllm_token_to_piece(t, id, buf, sizeof buf, 0);
    fwrite(buf, 1, n < sizeof buf ? n : sizeof buf, stdout);
    fflush(stdout);
}

/* The prompt in pieces of 64 tokens (the model's batch, so the same bits as one call) with a
 * progress line between them; the last token's logits into @p logits. */
static spkllm_status forward_prompt(spkllm_model *m, const int32_t *ids, int n, float *logits,
                                    const char *what) {
    for (int b0 = 0; b0 < n; b0 += 64) {
        int nb = n - b0 < 64 ? n - b0 : 64;
        spkllm_status st = spkllm_model_forward(m, ids + b0, nb, b0, logits, nb - 1);
        if (st) return st;
        progress(what, b0 + nb, n);
    }
    return SPKLLM_OK;
}

static int cmd_generate(const options *o) {
    if (!o->prompt) {
        fprintf(stderr, "spk-llm generate: -p PROMPT is required\n");
        return 2;
    }
    session s = {0};
    if (!open_session(o, &s, 1)) {
        close_session(&s);
        return 1;
    }
    const spkllm_model_params *p = spkllm_model_get_params(s.model);
    char *text = NULL;
    if (o->chat) {
        /* SmolLM2's template (tokenizer.chat_template) with its default system message. */
        const char *fmt = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
                          "trained by Hugging Face<|im_end|>\n<|im_start|>user\n%s<|im_end|>\n"
                          "<|im_start|>assistant\n";
        size_t n = strlen(fmt) + strlen(o->prompt);
        text = malloc(n);
        if (text) snprintf(text, n, fmt, o->prompt);
    } else {
        text = strdup(o->prompt);
    }
    int32_t *ids = NULL;
    size_t n_prompt = 0;
    int rc = 1;
    if (!text || spkllm_tokenize(s.tok, text, strlen(text), o->chat, &ids, &n_prompt) ||
        n_prompt == 0) {
        fprintf(stderr, "spk-llm: the prompt gives no tokens\n");
        goto done;
    }
    int max_tokens = (int)n_prompt + o->n_predict;
    if (p->n_ctx_train > 0 && max_tokens > p->n_ctx_train) {
        fprintf(stderr,
                "spk-llm: %zu prompt tokens + -n %d exceed the model's context length "
                "(llama.context_length %d)\n",
                n_prompt, o->n_predict, p->n_ctx_train);
        goto done;
    }
    float *logits = malloc(sizeof(float) * (size_t)p->n_vocab * 3);
    if (!logits || spkllm_model_begin(s.model, &s.attn, max_tokens)) {
        fprintf(stderr, "spk-llm: out of memory for %d tokens\n", max_tokens);
        free(logits);
        goto done;
    }
    spkllm_sampler sampler;
    spkllm_sampler_init(&sampler, o->temp, o->top_p, o->seed);
    int32_t im_end = spkllm_tokenizer_find(s.tok, "<|im_end|>"), eos = spkllm_tokenizer_eos(s.tok);
    fputs(o->chat ? "" : o->prompt, stdout);
    double t0 = now();
    last_progress = t0;
    spkllm_status st = forward_prompt(s.model, ids, (int)n_prompt, logits, "prompt tokens");
    double t_prompt = now() - t0, t_gen = 0;
    int pos = (int)n_prompt, n_gen = 0;
    while (!st && n_gen < o->n_predict) {
        int32_t next = spkllm_sample(&sampler, logits, p->n_vocab, logits + p->n_vocab);
        if (next == eos || next == im_end) break;
        print_piece(s.tok, next);
        n_gen++;
        if (n_gen == o->n_predict) break;
        double t1 = now();
        st = spkllm_model_forward(s.model, &next, 1, pos++, logits, 0);
        t_gen += now() - t1;
        progress("generated tokens", n_gen, o->n_predict);
    }
    free(logits);
    if (st) {
        fprintf(stderr, "\nspk-llm: forward pass failed: %s %s\n", spkllm_status_str(st),
                spkllm_attn_spk_error(&s.attn));
        goto done;
    }
    int timed_gen = n_gen > 1 ? n_gen - 1 : 0; /* the first token comes from the prompt pass */
    fprintf(stderr,
            "\n\nprompt: %zu tokens, %.1f tokens/s | generation: %d tokens, %.1f tokens/s | "
            "threads %d, kernels %s, peak RSS %ld MB\n",
            n_prompt, (double)n_prompt / t_prompt, n_gen, timed_gen ? timed_gen / t_gen : 0.0,
            o->threads, spkllm_kernels_name(), peak_rss_mb());
    const spkllm_spk_report *report = spkllm_attn_spk_report(&s.attn);
    if (report) {
        spkllm_spk_report_print(report, stdout);
        printf("host: %.2f tokens/s generation, %.2f tokens/s prompt (attention on '%s')\n",
               timed_gen ? timed_gen / t_gen : 0.0, (double)n_prompt / t_prompt, o->backend);
    }
    rc = 0;
done:
    free(ids);
    free(text);
    close_session(&s);
    return rc;
}

/* A failed step of a command: the status and, on an accelerator backend, libspk's message. */
static void step_failed(const char *cmd, const char *what, spkllm_status st, const session *s) {
    const char *dev = spkllm_attn_spk_error(&s->attn);
    fprintf(stderr, "spk-llm %s: %s failed: %s%s%s\n", cmd, what, spkllm_status_str(st),
            *dev ? ": " : "", dev);
}

/* -log softmax(logits)[target], computed in double. */
static double nll_of(const float *logits, int n, int32_t target) {
    float mx = logits[0];
    for (int i = 1; i < n; i++) mx = logits[i] > mx ? logits[i] : mx;
    double sum = exp((double)logits[0] - mx); /* n >= 1: the vocabulary is never empty */
    for (int i = 1; i < n; i++) sum += exp((double)logits[i] - mx);
    return log(sum) - ((double)logits[target] - mx);
}

/* Like llama-bench: a prompt of n_prompt fixed pseudo-random tokens processed as one batch, then
 * n_predict greedy tokens (end-of-sequence ignored); repeated and reported as mean +- sd. */
static int cmd_bench(const options *o) {
    session s = {0};
    if (!open_session(o, &s, 1)) {
        close_session(&s);
        return 1;
    }
    const spkllm_model_params *p = spkllm_model_get_params(s.model);
    int np = o->n_prompt_bench, ng = o->n_predict, reps = o->reps;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(np > 0 ? np : 1));
    float *logits = malloc(sizeof(float) * (size_t)p->n_vocab);
    double pp[64], tg[64];
    int rc = 1;
    spkllm_status st = SPKLLM_OK;
    if (!ids || !logits) {
        fprintf(stderr, "spk-llm bench: out of memory for %d prompt tokens and %d logits\n", np,
                p->n_vocab);
        goto done;
    }
    for (int i = 0; i < np; i++) ids[i] = (int32_t)((i * 7919 + 13) % p->n_vocab);
    for (int r = -1; r < reps; r++) { /* r = -1 warms up caches and page mappings */
        if ((st = spkllm_model_begin(s.model, &s.attn, np + ng + 1))) {
            fprintf(stderr, "spk-llm bench: cannot start a sequence of %d tokens: %s\n",
                    np + ng + 1, spkllm_status_str(st));
            goto done;
        }
        double t0 = now();
        if (r < 0) last_progress = t0;
        if ((st = forward_prompt(s.model, ids, np, logits, "bench prompt tokens"))) {
            step_failed("bench", "prompt forward pass", st, &s);
            goto done;
        }
        double t1 = now();
        int32_t next = 0;
        for (int i = 0; i < ng; i++) {
            for (int v = 1; v < p->n_vocab; v++)
                if (logits[v] > logits[next]) next = v;
            if ((st = spkllm_model_forward(s.model, &next, 1, np + i, logits, 0))) {
                step_failed("bench", "generation forward pass", st, &s);
                goto done;
            }
            progress("bench generated tokens", i + 1, ng);
        }
        double t2 = now();
        if (r >= 0) pp[r] = np / (t1 - t0), tg[r] = ng / (t2 - t1);
    }
    double mp = 0, mg = 0, sp = 0, sg = 0;
    for (int r = 0; r < reps; r++) mp += pp[r] / reps, mg += tg[r] / reps;
    for (int r = 0; r < reps; r++)
        sp += (pp[r] - mp) * (pp[r] - mp), sg += (tg[r] - mg) * (tg[r] - mg);
    sp = reps > 1 ? sqrt(sp / (reps - 1)) : 0, sg = reps > 1 ? sqrt(sg / (reps - 1)) : 0;
    printf("| spk-llm | %d threads | %s kernels | pp%d | %.2f +/- %.2f t/s |\n", o->threads,
           spkllm_kernels_name(), np, mp, sp);
    printf("| spk-llm | %d threads | %s kernels | tg%d | %.2f +/- %.2f t/s |\n", o->threads,
           spkllm_kernels_name(), ng, mg, sg);
    printf("peak RSS %ld MB\n", peak_rss_mb());
    rc = 0;
done:
    free(ids);
    free(logits);
    close_session(&s);
    return rc;
}

static int cmd_perplexity(const options *o) {
    if (!o->file) {
        fprintf(stderr, "spk-llm perplexity: -f FILE is required\n");
        return 2;
    }
    session s = {0};
    size_t len;
    char *text = read_file(o->file, &len);
    int32_t *ids = NULL;
    float *logits = NULL;
    FILE *nll_file = NULL;
    int rc = 1;
    if (!text) goto done;
    /* Opened before the model: a bad path fails at once, not after an hour of scoring. */
    if (o->nll_out &&
        (!(nll_file = fopen(o->nll_out, "w")) || fprintf(nll_file, "chunk,position,nll\n") < 0)) {
        fprintf(stderr, "spk-llm perplexity: --nll-out %s: %s\n", o->nll_out, strerror(errno));
        goto done;
    }
    if (!open_session(o, &s, 1)) goto done;
    const spkllm_model_params *p = spkllm_model_get_params(s.model);
    size_t n_tok;
    spkllm_status st = spkllm_tokenize(s.tok, text, len, 0, &ids, &n_tok);
    if (st) {
        fprintf(stderr, "spk-llm perplexity: tokenizing '%s' failed: %s\n", o->file,
                spkllm_status_str(st));
        goto done;
    }
    int ctx = o->ctx, first = ctx / 2;
    const int in_file = (int)(n_tok / (size_t)ctx);
    int n_chunks = in_file - o->first_chunk;
    if (o->chunks && o->chunks < n_chunks) n_chunks = o->chunks;
    if (n_chunks < 1) {
        fprintf(stderr, "spk-llm: %zu tokens hold %d chunks of %d, none from chunk %d on\n", n_tok,
                in_file, ctx, o->first_chunk);
        goto done;
    }
    fprintf(stderr,
            "perplexity: %zu tokens, %d chunks of %d from chunk %d, scoring the second "
            "half%s\n",
            n_tok, n_chunks, ctx, o->first_chunk, o->stream ? " (streaming, token by token)" : "");
    int n_rows = o->stream ? 1 : ctx - first;
    logits = malloc(sizeof(float) * (size_t)p->n_vocab * (size_t)n_rows);
    if (!logits) {
        fprintf(stderr, "spk-llm perplexity: out of memory for %d rows of %d logits\n", n_rows,
                p->n_vocab);
        goto done;
    }
    double nll = 0, nll2 = 0, t0 = now();
    last_progress = t0;
    long count = 0;
    for (int c = 0; c < n_chunks; c++) {
        const int32_t *chunk = ids + (size_t)(o->first_chunk + c) * (size_t)ctx;
        if ((st = spkllm_model_begin(s.model, &s.attn, ctx))) {
            fprintf(stderr, "spk-llm perplexity: cannot start a sequence of %d tokens: %s\n", ctx,
                    spkllm_status_str(st));
            goto done;
        }
        /* Batched: 64-token pieces (the model's batch: the same bits as one call), logits from
         * position `first` on, a progress line between pieces. */
        for (int b0 = 0; !o->stream && b0 < ctx; b0 += 64) {
            int nb = ctx - b0 < 64 ? ctx - b0 : 64, from = first > b0 ? first - b0 : 0;
            float *dst = logits + (size_t)(b0 + from - first) * (size_t)p->n_vocab;
            if ((st = spkllm_model_forward(s.model, chunk + b0, nb, b0, from < nb ? dst : NULL,
                                           from < nb ? from : 0))) {
                step_failed("perplexity", "forward pass", st, &s);
                goto done;
            }
            progress("perplexity tokens of this chunk", b0 + nb, ctx);
        }
        for (int j = o->stream ? 0 : first; j < ctx - 1; j++) {
            const float *row = logits + (size_t)(o->stream ? 0 : j - first) * (size_t)p->n_vocab;
            if (o->stream) {
                if ((st = spkllm_model_forward(s.model, chunk + j, 1, j, logits, 0))) {
                    step_failed("perplexity", "forward pass", st, &s);
                    goto done;
                }
                progress("perplexity tokens of this chunk", j + 1, ctx);
                if (j < first) continue;
            }
            double v = nll_of(row, p->n_vocab, chunk[j + 1]);
            nll += v, nll2 += v * v, count++;
            if (nll_file) fprintf(nll_file, "%d,%d,%.9g\n", o->first_chunk + c, j + 1, v);
        }
        fprintf(stderr, "[%d/%d] PPL %.4f, %.1f s\n", c + 1, n_chunks, exp(nll / (double)count),
                now() - t0);
    }
    const spkllm_spk_report *report = spkllm_attn_spk_report(&s.attn);
    if (report) {
        spkllm_spk_report_print(report, stderr);
        /* One machine-readable line for scripts/study.sh. */
        printf("DRAM bytes = %llu, dense 12-bit bytes = %llu, reduction = %.3fx, requant = %.4f\n",
               (unsigned long long)report->dram_bytes, (unsigned long long)report->dense_bytes,
               report->dram_bytes ? (double)report->dense_bytes / (double)report->dram_bytes : 0.0,
               report->requests ? (double)report->requant / (double)report->requests : 0.0);
    }
    double mean = nll / (double)count, var = nll2 / (double)count - mean * mean;
    double err = count > 1 && var > 0 ? sqrt(var / (double)(count - 1)) : 0;
    printf("PPL = %.4f +/- %.5f (%ld tokens scored, %d chunks of %d)\n", exp(mean), exp(mean) * err,
           count, n_chunks, ctx);
    fprintf(stderr, "time %.1f s, peak RSS %ld MB\n", now() - t0, peak_rss_mb());
    rc = 0;
    if (nll_file) {
        const int bad = ferror(nll_file) | fclose(nll_file);
        nll_file = NULL;
        if (bad) {
            fprintf(stderr, "spk-llm perplexity: --nll-out %s: write error\n", o->nll_out);
            rc = 1;
        }
    }
done:
    if (nll_file) fclose(nll_file);
    free(logits);
    free(ids);
    free(text);
    close_session(&s);
    return rc;
}

int main(int argc, char **argv) {
    options o = {.n_predict = 64,
                 .ctx = 512,
                 .threads = 2,
                 .engine_threads = 1,
                 .temp = 0.8f,
                 .top_p = 0.95f,
                 .seed = 42,
                 .n_prompt_bench = 128,
                 .reps = 3};
    const char *env_backend = getenv("SPK_BACKEND");
    o.backend = env_backend && *env_backend ? env_backend : "cpu";
    spkllm_spatten_preset("off", &o.spatten);
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!parse_args(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    if (strcmp(o.backend, "cpu") && strcmp(o.backend, "model") && strcmp(o.backend, "sim") &&
        strcmp(o.backend, "rtl") && strcmp(o.backend, "rtl-compact") &&
        strcmp(o.backend, "rtl-ovl") && strcmp(o.backend, "systemc") &&
        strcmp(o.backend, "systemc-rtl")) {
        fprintf(stderr,
                "spk-llm: --backend '%s': use cpu, model, sim, rtl, rtl-compact, rtl-ovl, systemc "
                "or systemc-rtl\n",
                o.backend);
        return 2;
    }
    if (o.trace_out) {
        /* Only the sim backend times head requests through the cycle simulator. */
        if (strcmp(o.backend, "sim") != 0 || !strcmp(argv[1], "tokenize")) {
            fprintf(stderr, "spk-llm: --trace-out needs generate, perplexity or bench with "
                            "--backend sim (the backend that times head requests)\n");
            return 2;
        }
        if (!*o.trace_out || setenv("SPK_SIM_TRACE", o.trace_out, 1) != 0) {
            fprintf(stderr, "spk-llm: --trace-out '%s': not a usable file name\n", o.trace_out);
            return 2;
        }
    }
    int rc;
    if (!strcmp(argv[1], "generate"))
        rc = cmd_generate(&o);
    else if (!strcmp(argv[1], "perplexity"))
        rc = cmd_perplexity(&o);
    else if (!strcmp(argv[1], "tokenize"))
        return cmd_tokenize(&o);
    else if (!strcmp(argv[1], "bench"))
        rc = cmd_bench(&o);
    else
        rc = -1;
    if (rc >= 0) {
        if (rc == 0 && o.trace_out) {
            const char *cfg = getenv("SPK_SIM_CONFIG");
            fprintf(stderr, "device trace: %s (replay: spk-sim --config %s --trace %s)\n",
                    o.trace_out, cfg && *cfg ? cfg : "eighth", o.trace_out);
        }
        return rc;
    }
    fprintf(stderr, "spk-llm: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
