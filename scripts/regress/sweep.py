"""Sweeps: a grid or a list of points -> manifest -> one JSONL row per point -> CSV, plots.

A sweep spec (tests/regress/sweeps/*.json):
  name      the sweep's name
  vars      constants the command may use ({text}, {ctx}, ...), overridable with --var
  grid      {axis: [values]}: every combination is a point
  list      [{axis: value, ...}]: explicit points (combined with grid: each list point x grid)
  command   argv with {build} {root} {job_dir}, the vars and the axes; "{*axis}" splices a value
            split like a shell word list (for a point's option string); an axis named
            "set.KEY" also appends `--set KEY=value` (spk-sim configuration keys)
  timeout   seconds per point
  metrics   {"json": FILE in the job dir, "keys": {name: "dotted.path"}} and/or
            {"regex": {name: "pattern with one group"}} over the point's log (or over
            "regex_file", a file the point writes into its job dir)
  derived   {name: "expression"} over the metrics and ref_<metric> of the reference point
  reference {axis: value}: the point the derived expressions compare with
  csv       column list of the CSV (default: id, axes, metrics)
  plots     [{"x", "y", "file", "title", "pareto": true, "maximize_x": false, "label": axis}]
A point's id is a hash of its parameters, so a rerun skips the points whose row is already
'passed' in the results directory, whatever the order or the shard they came from.
"""
import hashlib
import itertools
import json
import os
import re
import shlex

from .jobs import Job


class SpecError(Exception):
    pass


def load_spec(path):
    try:
        with open(path) as f:
            spec = json.load(f)
    except OSError as e:
        raise SpecError(f"{path}: cannot read: {e.strerror}")
    except ValueError as e:
        raise SpecError(f"{path}: not JSON: {e}")
    for k in ("name", "command"):
        if k not in spec:
            raise SpecError(f"{path}: a sweep needs '{k}'")
    if "grid" not in spec and "list" not in spec:
        raise SpecError(f"{path}: a sweep needs a 'grid' or a 'list' of points")
    for axis, vals in spec.get("grid", {}).items():
        if not isinstance(vals, list) or not vals:
            raise SpecError(f"{path}: grid axis '{axis}' must be a non-empty list")
    return spec


def points(spec):
    grid = spec.get("grid", {})
    axes = sorted(grid)
    combos = [dict(zip(axes, c)) for c in itertools.product(*(grid[a] for a in axes))]
    base = spec.get("list") or [{}]
    out = []
    for b in base:
        for c in combos:
            p = dict(b)
            p.update(c)
            out.append(p)
    return out


def point_id(spec_name, params, vars_=None):
    """A hash of the point's parameters and of the vars its command used (another text or
    chunk count is another point), not of the build directory."""
    used = {k: v for k, v in (vars_ or {}).items() if k not in ("build", "root")}
    h = hashlib.sha1(json.dumps([params, used], sort_keys=True).encode()).hexdigest()[:12]
    return f"{spec_name}-{h}"


def _fill(arg, vals):
    def one(m):
        k = m.group(1)
        if k not in vals:
            raise SpecError(f"command placeholder '{{{k}}}' has no value (axes and vars: "
                            f"{', '.join(sorted(vals))})")
        return str(vals[k])
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}", one, arg)


def command(spec, params, vars_):
    vals = dict(vars_)
    vals.update(params)
    argv = []
    for a in spec["command"]:
        m = re.fullmatch(r"\{\*([A-Za-z_][A-Za-z0-9_.]*)\}", a)
        if m:
            if m.group(1) not in vals:
                raise SpecError(f"command placeholder '{a}' has no value")
            argv += shlex.split(_fill(str(vals[m.group(1)]), vals))
        elif a == "{job_dir}" or "{job_dir}" in a:
            argv.append(_fill(a.replace("{job_dir}", "\0"), vals).replace("\0", "{job_dir}"))
        else:
            argv.append(_fill(a, vals))
    for k in sorted(params):
        if k.startswith("set."):
            argv += ["--set", f"{k[4:]}={params[k]}"]
    return argv


def jobs(spec, vars_, shard=None, match=None):
    """The sweep's jobs (kind 'sweep', name = point id); shard = (i, n) keeps index % n == i;
    match = {axis: value} keeps the points that agree."""
    out = []
    for i, p in enumerate(points(spec)):
        if shard and i % shard[1] != shard[0]:
            continue
        if match and any(str(p.get(k)) != str(v) for k, v in match.items()):
            continue
        out.append(Job(index=i, name=point_id(spec["name"], p, vars_), test=spec["name"],
                       cmd=command(spec, p, vars_), timeout=float(spec.get("timeout", 600)),
                       kind="sweep", params=p, tags=["sweep"]))
    return out


def _dig(d, path):
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def metrics(spec, res):
    """The metrics of one finished point (None where a value is absent)."""
    m = {}
    ms = spec.get("metrics", {})
    if "json" in ms:
        try:
            with open(os.path.join(res["dir"], ms["json"])) as f:
                d = json.load(f)
        except (OSError, ValueError):
            d = {}
        for name, path in ms.get("keys", {}).items():
            m[name] = _dig(d, path)
    if "regex" in ms:
        src = os.path.join(res["dir"], ms["regex_file"]) if ms.get("regex_file") else res["log"]
        try:
            with open(src, errors="replace") as f:
                text = f.read()
        except OSError:
            text = ""
        for name, pat in ms["regex"].items():
            hit = re.search(pat, text, re.M)
            v = hit.group(1) if hit else None
            try:
                v = float(v) if v is not None and "." in v else (int(v) if v is not None else v)
            except ValueError:
                pass
            m[name] = v
    return m


def row(spec, res):
    """One deterministic JSONL row (no wall time, host or paths: the same on every launcher)."""
    return {"id": res["name"], "index": res["index"], "params": res["params"],
            "status": res["status"], "exit_code": res["exit_code"],
            "metrics": metrics(spec, res) if res["status"] == "passed" else {},
            **({"reason": res["reason"]} if res.get("reason") else {})}


def derive(spec, rows):
    """Adds the 'derived' metrics, computed against the reference point's metrics."""
    exprs = spec.get("derived", {})
    if not exprs:
        return rows
    ref = None
    want = spec.get("reference", {})
    for r in rows:
        if r["status"] == "passed" and all(str(r["params"].get(k)) == str(v)
                                           for k, v in want.items()):
            ref = r
            break
    for r in rows:
        env = {k: v for k, v in r["metrics"].items()}
        if ref:
            env.update({"ref_" + k: v for k, v in ref["metrics"].items()})
        for name, ex in exprs.items():
            try:
                r.setdefault("derived", {})[name] = eval(ex, {"__builtins__": {}}, env)
            except Exception:  # a missing metric or reference leaves the value empty
                r.setdefault("derived", {})[name] = None
    return rows


def pareto(pts, maximize_x=False):
    """Indices of the points on the Pareto front: smaller y, and smaller x (or larger x)."""
    order = sorted(range(len(pts)), key=lambda i: ((-pts[i][0] if maximize_x else pts[i][0]),
                                                    pts[i][1]))
    front, best = [], float("inf")
    for i in order:
        if pts[i][1] < best:
            front.append(i)
            best = pts[i][1]
    return front
