"""spk-sweep: runs a sweep spec's points (local or Slurm) into JSONL rows, a CSV and plots."""
import argparse
import csv
import glob
import json
import os
import sys

from . import sweep as sw
from .cli_regress import ROOT, add_launcher_args, launch, make_targets
from .results import read_jsonl, summary_line, write_junit, report_failures


def parse(argv):
    ap = argparse.ArgumentParser(prog="spk-sweep", description=__doc__,
                                 epilog="docs/regressions.md, 'Sweeps'")
    ap.add_argument("spec", help="sweep spec (tests/regress/sweeps/*.json)")
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--results", help="results directory (default BUILD/sweep/NAME)")
    ap.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                    help="override one of the spec's vars (repeatable)")
    ap.add_argument("--match", action="append", default=[], metavar="AXIS=VALUE",
                    help="only the points whose AXIS is VALUE (repeatable)")
    ap.add_argument("--shard", metavar="I/N", help="run only points with index %% N == I")
    ap.add_argument("--dry-run", action="store_true", help="write the manifest, run nothing")
    ap.add_argument("--report-only", action="store_true",
                    help="only rebuild the CSV and plots from the rows present")
    ap.add_argument("--no-build", action="store_true", help="do not run make first")
    ap.add_argument("--no-plots", action="store_true")
    add_launcher_args(ap)
    return ap.parse_args(argv)


def _kv(items, what):
    out = {}
    for it in items:
        if "=" not in it:
            raise sw.SpecError(f"{what} '{it}': expected NAME=VALUE")
        k, v = it.split("=", 1)
        out[k] = v
    return out


def rows_in(results):
    """All rows of the results directory (every shard's file), the last row of a point wins."""
    by_id = {}
    for path in sorted(glob.glob(os.path.join(results, "points*.jsonl"))):
        for r in read_jsonl(path):
            by_id[r["id"]] = r
    return by_id


def flat(r, spec):
    out = {"id": r["id"], "status": r["status"]}
    vals = dict(spec.get("_vars", {}), **r["params"])
    for k, v in r["params"].items():  # option strings as they ran ({backend} filled in)
        try:
            out[k] = sw._fill(v, vals) if isinstance(v, str) else v
        except sw.SpecError:
            out[k] = v
    out.update(r.get("metrics", {}))
    out.update(r.get("derived", {}))
    out["seconds"] = r.get("seconds")
    return out


def write_csv(path, rows, spec):
    flats = [flat(r, spec) for r in rows]
    cols = spec.get("csv")
    if not cols:
        cols = ["id"]
        for f in flats:
            for k in f:
                if k not in cols and k not in ("status", "seconds"):
                    cols.append(k)
        cols += ["status", "seconds"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for fl in flats:
            w.writerow(["" if fl.get(c) is None else fl.get(c) for c in cols])


def plot(path, rows, p):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    pts, labels = [], []
    for r in rows:
        fl = {**r["params"], **r.get("metrics", {}), **r.get("derived", {})}
        x, y = fl.get(p["x"]), fl.get(p["y"])
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            pts.append((x, y))
            labels.append(str(fl.get(p.get("label", ""), "")))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if pts:
        ax.scatter([a for a, _ in pts], [b for _, b in pts], s=14, color="tab:blue",
                   label="points")
        if p.get("pareto", True):
            front = sw.pareto(pts, p.get("maximize_x", False))
            fx = sorted((pts[i] for i in front), key=lambda t: t[0])
            ax.plot([a for a, _ in fx], [b for _, b in fx], "-o", color="tab:red", ms=5,
                    label=f"Pareto front ({len(front)})")
            if p.get("label"):
                for i in front:
                    ax.annotate(labels[i], pts[i], fontsize=6, xytext=(3, 3),
                                textcoords="offset points")
    ax.set_xlabel(p.get("xlabel", p["x"]))
    ax.set_ylabel(p.get("ylabel", p["y"]))
    if p.get("logx"):
        ax.set_xscale("log")
    if p.get("logy"):
        ax.set_yscale("log")
    ax.set_title(p.get("title", ""), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse(argv if argv is not None else sys.argv[1:])
    try:
        spec = sw.load_spec(args.spec)
        vars_ = dict(spec.get("vars", {}))
        over = _kv(args.var, "--var")
        unknown = set(over) - set(vars_)
        if unknown:
            raise sw.SpecError(f"--var {', '.join(sorted(unknown))}: not a var of {args.spec} "
                               f"(its vars: {', '.join(sorted(vars_)) or 'none'})")
        vars_.update(over)
        vars_.update({"build": args.build, "root": ROOT})
        spec["_vars"] = vars_
        shard = None
        if args.shard:
            try:
                i, n = (int(x) for x in args.shard.split("/"))
                if not 0 <= i < n:
                    raise ValueError
            except ValueError:
                raise sw.SpecError(f"--shard '{args.shard}': expected I/N with 0 <= I < N")
            shard = (i, n)
        jobs = sw.jobs(spec, vars_, shard, _kv(args.match, "--match"))
    except sw.SpecError as e:
        print(f"spk-sweep: {e}", file=sys.stderr)
        return 2
    results = args.results or os.path.join(args.build, "sweep", spec["name"])
    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, "manifest.jsonl"), "w") as f:
        for j in jobs:
            f.write(json.dumps({"id": j.name, "index": j.index, "params": j.params,
                                "cmd": j.cmd, "timeout": j.timeout}, sort_keys=True) + "\n")
    if args.dry_run:
        print(f"spk-sweep: {len(jobs)} points in {results}/manifest.jsonl")
        return 0
    done = rows_in(results)
    todo = [j for j in jobs if done.get(j.name, {}).get("status") != "passed"]
    skipped = len(jobs) - len(todo)
    if not args.report_only:
        print(f"spk-sweep: {spec['name']}: {len(jobs)} points, {skipped} already done, "
              f"{len(todo)} to run", file=sys.stderr)
        if todo and not args.no_build and not make_targets(
                args.build, [sw._fill(t, vars_) for t in spec.get("build", [])], args.jobs):
            print("spk-sweep: the build failed", file=sys.stderr)
            return 1
        name = "points.jsonl" if not shard else f"points.{shard[0]}of{shard[1]}.jsonl"
        path = os.path.join(results, name)

        def row_of(r):
            row = sw.row(spec, r)
            row["seconds"] = r.get("seconds")
            return row

        def record(r):
            # Each point's row is appended as it finishes (the last row of a point wins), so a
            # sweep interrupted after hours keeps the points it finished.
            with open(path, "a") as f:
                f.write(json.dumps(row_of(r), sort_keys=True) + "\n")

        res = launch(args, todo, results, None, spec["name"], on_result=record) if todo else []
        new = [row_of(r) for r in res]
        keep = {}
        if os.path.exists(path):
            keep = {r["id"]: r for r in read_jsonl(path)}
        keep.update({r["id"]: r for r in new})
        with open(path, "w") as f:
            for r in sorted(keep.values(), key=lambda r: r["index"]):
                f.write(json.dumps(r, sort_keys=True) + "\n")
        write_junit(os.path.join(results, "junit.xml"), [
            dict(r, name=r["name"], test=r["test"]) for r in res], f"spk-sweep.{spec['name']}")
        report_failures(res, sys.stderr)
    # the report covers every point of the sweep present in the directory
    ids = {j.name for j in jobs} if not shard else None
    rows = [r for r in rows_in(results).values() if ids is None or r["id"] in ids]
    rows = sw.derive(spec, sorted(rows, key=lambda r: r["index"]))
    with open(os.path.join(results, "rows.jsonl"), "w") as f:
        for r in rows:
            r2 = {k: v for k, v in r.items() if k != "seconds"}
            f.write(json.dumps(r2, sort_keys=True) + "\n")
    write_csv(os.path.join(results, "sweep.csv"), rows, spec)
    outs = [f"{results}/rows.jsonl", f"{results}/sweep.csv"]
    if not args.no_plots:
        for p in spec.get("plots", []):
            try:
                plot(os.path.join(results, p["file"]), rows, p)
                outs.append(os.path.join(results, p["file"]))
            except ImportError:
                print("spk-sweep: matplotlib missing (scripts/bootstrap.sh installs it); "
                      "no plots", file=sys.stderr)
                break
    print("results: " + ", ".join(outs))
    missing = [j.name for j in jobs if j.name not in {r["id"] for r in rows}]
    if missing:
        print(f"spk-sweep: {len(missing)} points have no row", file=sys.stderr)
    mine = [r for r in rows if r["id"] in {j.name for j in jobs}]
    print(f"{summary_line(mine)} ({skipped} skipped as already done)")
    ok = not missing and all(r["status"] == "passed" for r in mine)
    return 0 if ok else 1
