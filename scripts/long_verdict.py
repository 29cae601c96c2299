#!/usr/bin/python3
"""The long-context verdict of docs/results.md (issue 20), from the paired tables of
scripts/study-long.sh (docs/study-long.csv at ctx 2048, docs/study-8192.csv at ctx 8192, and
their held-out checks docs/study-long-heldout.csv and docs/study-8192-heldout.csv).

usage: scripts/long_verdict.py DOCS_DIR
Rewrites the section between the markers below in DOCS_DIR/results.md (appends it when the file
has none), so that `make study` (scripts/study_report.py, which calls verdict_lines too) and
`make study-long` agree on it. A goal is reached by a setting whose paired change against float
dense is at most the goal's; the table says whether its 95% interval is inside too.
"""
import csv
import os
import sys

BEGIN = "<!-- long-context verdict (scripts/long_verdict.py) -->"
END = "<!-- end of the long-context verdict -->"
GOALS = (("study-long.csv", "ctx 2048", 5.0, "study-long-heldout.csv"),
         ("study-8192.csv", "ctx 8192", 10.0, "study-8192-heldout.csv"))


def load(path):
    rows = []
    for r in csv.DictReader(open(path, newline="")):
        if not r["reduction"]:
            continue  # the float reference: no accelerator
        rows.append({"name": r["name"], "group": r["group"], "red": float(r["reduction"]),
                     "change": float(r["change_pct"]), "lo": float(r["ci_lo_pct"]),
                     "hi": float(r["ci_hi_pct"]), "tokens": int(r["tokens"])})
    return rows


def fmt(r):
    return (f"`{r['name']}` {r['red']:.2f}x at {r['change']:+.2f}% "
            f"[{r['lo']:+.2f}, {r['hi']:+.2f}]")


def status(reached):
    """Reached by the point estimate; outside the noise only if a reaching row's whole 95%
    interval is within +1% too."""
    if not reached:
        return "**not reached**"
    if any(r["hi"] <= 1.0 for r in reached):
        return "**reached**, the 95% interval inside +1% too,"
    return ("**reached by the point estimate only** (the 95% interval reaches above +1%, so "
            "not outside the noise)")


def frontier(rows, goal):
    """What a goal line says of a table: the rows reaching the goal within +1%, the largest
    reduction within +1%, the largest with its whole interval inside +1%."""
    within = [r for r in rows if r["change"] <= 1.0]
    return ([r for r in within if r["red"] >= goal],
            max(within, key=lambda r: r["red"], default=None),
            max((r for r in rows if r["hi"] <= 1.0), key=lambda r: r["red"], default=None))


def heldout_lines(path, goal):
    """The same goal on the held-out chunks (nothing tuned on them), when they were run."""
    if not os.path.exists(path):
        return []
    rows = load(path)
    if not rows:
        return []
    reached, best, sure = frontier(rows, goal)
    tokens = max(r["tokens"] for r in rows)
    out = [f"  - on the held-out part ({tokens} tokens nothing was tuned on, "
           f"docs/{os.path.basename(path)}): "
           + status(reached) + (" by " + "; ".join(fmt(r) for r in reached) if reached else "")
           + "."]
    if best and not reached:
        out.append(f"    - largest reduction within +1% there: {fmt(best)}.")
    if sure:
        out.append(f"    - largest with the whole interval within +1% there: {fmt(sure)}.")
    near = min((r for r in rows if r["red"] >= goal), key=lambda r: r["change"], default=None)
    if near and not reached:
        out.append(f"    - smallest change at >= {goal:g}x there: {fmt(near)}.")
    return out


def verdict_lines(docs):
    lines = [BEGIN, "## Long context (the select policy; docs/results-long.md)", ""]
    have = False
    for name, label, goal, heldout in GOALS:
        path = os.path.join(docs, name)
        if not os.path.exists(path):
            lines.append(f"- {label}: not measured (docs/{name} missing; `make study-long`).")
            continue
        rows = load(path)
        if not rows:
            continue
        have = True
        tokens = max(r["tokens"] for r in rows)
        reached, best, sure = frontier(rows, goal)
        exact = max((r for r in rows if r["change"] <= 1.0 and "exact" in r["name"]),
                    key=lambda r: r["red"], default=None)
        exact_any = min((r for r in rows if "exact" in r["name"]), key=lambda r: r["change"],
                        default=None)
        # The change at every goal's reduction (5x and 10x), at both lengths: each level's best.
        at_levels = [(x, min((r for r in rows if r["red"] >= x), key=lambda r: r["change"],
                             default=None)) for x in sorted({g[2] for g in GOALS})]
        head = (f"- {label} ({tokens} tokens scored): goal >= {goal:g}x at <= +1% "
                f"{status(reached)}")
        lines.append(head + (" by " + "; ".join(fmt(r) for r in reached) if reached else "")
                     + ".")
        if best:
            lines.append(f"  - largest reduction within +1%: {fmt(best)}.")
        if sure:
            lines.append(f"  - largest with the whole interval within +1%: {fmt(sure)}.")
        if exact:
            lines.append(f"  - the exact-score upper limit within +1%: {fmt(exact)}.")
        elif exact_any:
            lines.append(f"  - the exact-score upper limit: no measured budget within +1%; "
                         f"closest {fmt(exact_any)}.")
        for level, r in at_levels:
            if r:
                lines.append(f"  - smallest change at >= {level:g}x: {fmt(r)}.")
            else:
                lines.append(f"  - nothing measured reaches {level:g}x.")
        lines += heldout_lines(os.path.join(docs, heldout), goal)
    if have:
        lines.append("- why, and what the numbers mean: docs/offload.md, \"Per-step selection "
                     "at ctx 2048\".")
    lines += [END]
    return lines


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.splitlines()[3])
    docs = sys.argv[1]
    path = os.path.join(docs, "results.md")
    try:
        text = open(path).read()
    except OSError as e:
        sys.exit(f"long_verdict: {e}")
    section = "\n".join(verdict_lines(docs))
    if BEGIN in text and END in text:
        a, b = text.index(BEGIN), text.index(END) + len(END)
        text = text[:a] + section + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    open(path, "w").write(text)
    print(f"long_verdict: updated {path}")


if __name__ == "__main__":
    main()
