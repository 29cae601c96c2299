/* The accelerator report printed after an offloaded run (spk-llm, make demo). */
#include "spkllm/attn_spk.h"

/* The engine's clock (the simulator's DRAM and pipeline model run at 1 GHz). */
#define ENGINE_HZ 1e9

void spkllm_spk_report_print(const spkllm_spk_report *r, FILE *f) {
    if (!r || !f) return;
    const double tokens = r->queries ? (double)r->queries : 1.0;
    if (r->engine_threads > 1)
        fprintf(f,
                "\n== accelerator report (libspk backend '%s', K/V heads over %d devices on as "
                "many threads) ==\n",
                r->backend, r->engine_threads);
    else
        fprintf(f, "\n== accelerator report (libspk backend '%s') ==\n", r->backend);
    fprintf(f, "tokens through attention: %llu in %llu steps, %llu head requests\n",
            (unsigned long long)r->queries, (unsigned long long)r->steps,
            (unsigned long long)r->requests);
    if (r->engine_cycles)
        fprintf(f,
                "modeled attention: %llu engine cycles, %.0f cycles/token = %.2f us/token at "
                "1 GHz (all %d layers)\n",
                (unsigned long long)r->engine_cycles, (double)r->engine_cycles / tokens,
                (double)r->engine_cycles / tokens / ENGINE_HZ * 1e6, r->n_layers);
    else
        fprintf(f, "modeled attention cycles: not modeled by this backend (use --backend sim)\n");
    fprintf(f, "control core: %.0f cycles/token\n", (double)r->core_cycles / tokens);
    const double ratio = r->dram_bytes ? (double)r->dense_bytes / (double)r->dram_bytes : 0.0;
    fprintf(f, "attention DRAM: %.3f MB vs %.3f MB dense 12-bit: %.2fx less (%.1f%% of dense)\n",
            (double)r->dram_bytes / 1e6, (double)r->dense_bytes / 1e6, ratio,
            r->dense_bytes ? 100.0 * (double)r->dram_bytes / (double)r->dense_bytes : 0.0);
    if (r->has_energy)
        fprintf(f, "energy (engine + DRAM): %.3f uJ total, %.3f uJ/token\n", r->energy_pj * 1e-6,
                r->energy_pj * 1e-6 / tokens);
    else
        fprintf(f, "energy: not modeled by this backend (use --backend sim)\n");
    fprintf(f, "requant rate: %.2f%% of requests refetched K LSBs\n",
            r->requests ? 100.0 * (double)r->requant / (double)r->requests : 0.0);
    if (r->requests)
        fprintf(f, "K rows per head request: %.1f fetched of %.1f visible (%.1f%%)\n",
                (double)r->keys_fetched / (double)r->requests,
                (double)r->keys_visible / (double)r->requests,
                r->keys_visible ? 100.0 * (double)r->keys_fetched / (double)r->keys_visible : 0.0);
    fprintf(f, "per layer (mean over steps): tokens alive / in context, heads computed / %d\n",
            r->n_heads);
    for (int l = 0; l < r->n_layers; l++) {
        double tot = r->tokens_total ? r->tokens_total[l] : 0.0;
        fprintf(f, "  L%-3d %8.1f / %-8.1f (%5.1f%%)  heads %4.2f%s", l, r->tokens_alive[l], tot,
                tot > 0 ? 100.0 * r->tokens_alive[l] / tot : 0.0, r->heads_alive[l],
                (l % 2 == 1 || l == r->n_layers - 1) ? "\n" : "  |");
    }
}
