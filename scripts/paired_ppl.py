#!/usr/bin/python3
"""Paired perplexity changes of a sweep's points against its reference (issue 20).

Every point of the sweep ran `spk-llm perplexity --nll-out {job_dir}/nll.csv` on the same
tokens, so the change of a point is paired: exp(mean(nll_point - nll_ref)) - 1 over the same
scored tokens, with a 95% block-bootstrap interval (blocks of BLOCK consecutive scored tokens of
one chunk, resampled with replacement, REPS times, fixed seed: neighbouring tokens are not
independent). The DRAM reduction comes from the point's log (the accelerator report).

usage: scripts/paired_ppl.py RESULTS_DIR [--reference NAME] [--block 64] [--reps 2000]
                             [--markdown OUT.md] [--csv OUT.csv]
RESULTS_DIR is the sweep's results directory (build/sweep/study-long): manifest.jsonl and
jobs/<id>/{nll.csv,log}. Points without an nll.csv (not run yet, failed) are listed as missing.
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
        for row in r:
            out[(int(row["chunk"]), int(row["position"]))] = float(row["nll"])
    return out


def reduction_of(log):
    try:
        text = open(log).read()
    except OSError:
        return None
    m = re.search(r"reduction = ([0-9.]+)x", text)
    return float(m.group(1)) if m else None


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
    ap.add_argument("results")
    ap.add_argument("--reference", default="float dense (cpu)")
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--markdown")
    ap.add_argument("--csv")
    a = ap.parse_args()
    manifest = os.path.join(a.results, "manifest.jsonl")
    try:
        points = [json.loads(line) for line in open(manifest) if line.strip()]
    except (OSError, ValueError) as e:
        sys.exit(f"paired_ppl: {manifest}: {e}")
    by_name = {p["params"]["name"]: p for p in points}
    if a.reference not in by_name:
        sys.exit(f"paired_ppl: no point named '{a.reference}' in {manifest}")

    def files(p):
        d = os.path.join(a.results, "jobs", p["id"])
        return os.path.join(d, "nll.csv"), os.path.join(d, "log")

    ref_nll, _ = files(by_name[a.reference])
    if not os.path.exists(ref_nll):
        sys.exit(f"paired_ppl: the reference '{a.reference}' has no {ref_nll} yet")
    ref = read_nll(ref_nll)
    ref_ppl = float(np.exp(np.mean(list(ref.values()))))
    rng = np.random.default_rng(20)
    rows = []
    for p in points:
        name = p["params"]["name"]
        nll, log = files(p)
        if not os.path.exists(nll):
            rows.append({"name": name, "missing": True})
            continue
        try:
            run = read_nll(nll)
            n, d, lo, hi = paired(ref, run, a.block, a.reps, rng)
        except ValueError as e:
            rows.append({"name": name, "missing": True, "why": str(e)})
            continue
        rows.append({"name": name, "group": p["params"].get("group", ""), "tokens": n,
                     "ppl": float(np.exp(np.mean(list(run.values())))), "change": d, "lo": lo,
                     "hi": hi, "reduction": reduction_of(log), "options": p["params"]["options"]})
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


if __name__ == "__main__":
    main()
