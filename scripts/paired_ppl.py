#!/usr/bin/python3
"""Paired perplexity changes of a sweep's points against its reference (issue 20).

Every point of the sweep ran `spk-llm perplexity --nll-out {job_dir}/nll.csv` on the same
tokens, so the change of a point is paired: exp(mean(nll_point - nll_ref)) - 1 over the same
scored tokens, with a 95% block-bootstrap interval (blocks of BLOCK consecutive scored tokens of
one chunk, resampled with replacement, REPS times, fixed seed: neighbouring tokens are not
independent). The DRAM reduction comes from the point's log (the accelerator report).

usage: scripts/paired_ppl.py RESULTS_DIR... [--reference NAME] [--block 64] [--reps 2000]
                             [--markdown OUT.md] [--csv OUT.csv]
RESULTS_DIR is a sweep's results directory (build/sweep/study-long): manifest.jsonl and
jobs/<id>/{nll.csv,log}. Points without an nll.csv (not run yet, failed) are listed as missing.
Several directories (the same sweep on other chunks, e.g. LONG_FIRST_CHUNK=2 LONG_CHUNKS=1) are
merged point by point by name: their tokens are pooled (a chunk twice is an error) and the DRAM
reduction is the pooled one, sum of dense bytes over sum of bytes read.
"""
import argparse
import csv
import json
import os
import re
import sys

try:
    import numpy as np
except ImportError:
    sys.exit("paired_ppl: numpy is missing (apt install python3-numpy; run with /usr/bin/python3)")


def read_nll(path):
    """{(chunk, position): nll} of one run."""
    out = {}
    with open(path, newline="") as f:
        r = csv.DictReader(f)
        if r.fieldnames is None:
            raise ValueError(f"{path} is empty (the point is still running, or failed)")
        if r.fieldnames != ["chunk", "position", "nll"]:
            raise ValueError(f"{path}: header {r.fieldnames}, expected chunk,position,nll")
        for n, row in enumerate(r, start=2):
            try:
                out[(int(row["chunk"]), int(row["position"]))] = float(row["nll"])
            except (TypeError, ValueError):
                raise ValueError(f"{path}:{n}: a cut or malformed row (the point is still "
                                 "running, or failed)") from None
    return out


def bytes_of(log):
    """(DRAM bytes, dense 12-bit bytes) of a run's accelerator report, or None."""
    try:
        text = open(log).read()
    except OSError:
        return None
    m = re.search(r"DRAM bytes = ([0-9]+), dense 12-bit bytes = ([0-9]+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def reduction_of(log):
    b = bytes_of(log)
    return b[1] / b[0] if b and b[0] else None


def paired(ref, run, block, reps, rng):
    keys = sorted(set(ref) & set(run))
    if not keys or len(keys) != len(ref) or len(keys) != len(run):
        raise ValueError(f"the runs scored different tokens ({len(ref)} vs {len(run)}, "
                         f"{len(keys)} shared; a point still running has fewer)")
    diff = np.array([run[k] - ref[k] for k in keys])
    chunks = np.array([k[0] for k in keys])
    # blocks of `block` consecutive tokens inside each chunk
    starts = []
    for c in np.unique(chunks):
        idx = np.nonzero(chunks == c)[0]
        starts += [idx[i:i + block] for i in range(0, len(idx), block)]
    sums = np.array([diff[b].sum() for b in starts])
    sizes = np.array([len(b) for b in starts])
    picks = rng.integers(0, len(starts), size=(reps, len(starts)))
    boot = sums[picks].sum(axis=1) / sizes[picks].sum(axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    mean = diff.mean()
    return len(keys), 100.0 * (np.exp(mean) - 1), 100.0 * (np.exp(lo) - 1), 100.0 * (np.exp(hi) - 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+")
    ap.add_argument("--reference", default="float dense (cpu)")
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--markdown")
    ap.add_argument("--csv")
    ap.add_argument("--plot", help="PNG of the change against the DRAM reduction, a curve per group")
    ap.add_argument("--goal", default="5:1",
                    help="REDUCTION:CHANGE_PCT of the goal drawn on the plot (default 5:1)")
    a = ap.parse_args()
    dirs = []  # per results directory: {name: point}
    for results in a.results:
        manifest = os.path.join(results, "manifest.jsonl")
        try:
            points = [json.loads(line) for line in open(manifest) if line.strip()]
        except (OSError, ValueError) as e:
            sys.exit(f"paired_ppl: {manifest}: {e}")
        dirs.append((results, points, {p["params"]["name"]: p for p in points}))
    if any(a.reference not in by_name for _, _, by_name in dirs):
        sys.exit(f"paired_ppl: no point named '{a.reference}' in every one of {a.results}")

    def merged(name):
        """The pooled NLL of a point over every directory, and its (DRAM, dense) bytes."""
        nll, total = {}, [0, 0]
        for results, _, by_name in dirs:
            if name not in by_name:
                raise ValueError(f"not in {results}")
            d = os.path.join(results, "jobs", by_name[name]["id"])
            if not os.path.exists(os.path.join(d, "nll.csv")):
                raise FileNotFoundError(f"no nll.csv in {results} yet")
            part = read_nll(os.path.join(d, "nll.csv"))
            if set(part) & set(nll):
                raise ValueError(f"{results} repeats tokens of another directory")
            nll.update(part)
            b = bytes_of(os.path.join(d, "log"))
            total = [total[0] + b[0], total[1] + b[1]] if b and total else None
        return nll, total

    try:
        ref, _ = merged(a.reference)
    except (OSError, ValueError) as e:
        sys.exit(f"paired_ppl: the reference '{a.reference}': {e}")
    ref_ppl = float(np.exp(np.mean(list(ref.values()))))
    rng = np.random.default_rng(20)
    rows = []
    for p in dirs[0][1]:
        name = p["params"]["name"]
        try:
            run, total = merged(name)
            n, d, lo, hi = paired(ref, run, a.block, a.reps, rng)
        except FileNotFoundError:
            rows.append({"name": name, "missing": True})
            continue
        except (OSError, ValueError) as e:
            rows.append({"name": name, "missing": True, "why": str(e)})
            continue
        red = total[1] / total[0] if total and total[0] else None
        rows.append({"name": name, "group": p["params"].get("group", ""), "tokens": n,
                     "ppl": float(np.exp(np.mean(list(run.values())))), "change": d, "lo": lo,
                     "hi": hi, "reduction": red, "options": p["params"]["options"]})
    lines = [f"Reference: {a.reference}, perplexity {ref_ppl:.4f} over {len(ref)} tokens. "
             f"Change: paired, exp(mean NLL difference) - 1, with a 95% bootstrap interval "
             f"(blocks of {a.block} tokens, {a.reps} resamples).", "",
             "| setting | perplexity | change vs float dense [95% CI] | DRAM reduction vs dense 12-bit |",
             "|---|---:|---:|---:|"]
    for r in rows:
        if r.get("missing"):
            lines.append(f"| {r['name']} | not run | {r.get('why', '')} | |")
            continue
        red = f"{r['reduction']:.2f}x" if r["reduction"] else "(no accelerator)"
        lines.append(f"| {r['name']} | {r['ppl']:.4f} | {r['change']:+.2f}% "
                     f"[{r['lo']:+.2f}, {r['hi']:+.2f}] | {red} |")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if a.markdown:
        open(a.markdown, "w").write(text)
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["name", "group", "tokens", "ppl", "change_pct", "ci_lo_pct", "ci_hi_pct",
                        "reduction", "options"])
            for r in rows:
                if not r.get("missing"):
                    w.writerow([r["name"], r["group"], r["tokens"], f"{r['ppl']:.6f}",
                                f"{r['change']:.4f}", f"{r['lo']:.4f}", f"{r['hi']:.4f}",
                                r["reduction"] or "", r["options"]])
    if a.plot:
        plot(rows, a.plot, a.goal, a.reference)


def plot(rows, path, goal, reference):
    """Perplexity change (with its interval) against DRAM reduction, one curve per group, the
    goal as the corner of the region it asks for."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("paired_ppl: matplotlib is missing (scripts/bootstrap.sh installs it)")
    try:
        g_red, g_change = (float(x) for x in goal.split(":"))
    except ValueError:
        sys.exit(f"paired_ppl: --goal '{goal}' is not REDUCTION:CHANGE_PCT")
    groups = {}
    for r in rows:
        if not r.get("missing") and r["reduction"]:
            groups.setdefault(r["group"] or "other", []).append(r)
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, pts in sorted(groups.items()):
        pts.sort(key=lambda r: r["reduction"])
        x = [r["reduction"] for r in pts]
        y = [r["change"] for r in pts]
        err = [[r["change"] - r["lo"] for r in pts], [r["hi"] - r["change"] for r in pts]]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=name)
    ax.axhline(g_change, color="grey", linestyle="--", linewidth=1)
    ax.axvline(g_red, color="grey", linestyle="--", linewidth=1)
    ax.fill_between([g_red, max(g_red * 4, ax.get_xlim()[1])], ax.get_ylim()[0], g_change,
                    color="green", alpha=0.08, label=f"goal: >= {g_red:g}x at <= +{g_change:g}%")
    ax.set_xscale("log")
    ax.set_xlabel("attention DRAM reduction vs dense 12-bit (x)")
    ax.set_ylabel(f"perplexity change vs {reference} (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
