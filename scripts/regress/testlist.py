"""Test lists and named regressions as data, expanded into jobs with seeds.

tests.json: {"tests": [ENTRY, ...]}, each ENTRY
  name      unique name; may hold {var} of its matrix
  command   argv; placeholders {build} {root} {seed} {job_dir} and the matrix variables
  env       {NAME: value}, same placeholders (e.g. SPK_TEST_SEED = {seed})
  build     make targets it needs (e.g. "{build}/bin/test-cycle"), built before the run
  kind      "gtest" (reads {job_dir}/gtest.json) or "plain"
  seeds     how many random seeds (the reseed count, default 1) or a list of fixed seeds;
            only tests whose command or env holds {seed} take seeds at all: the others run
            once with seed None ("no seed input"), whatever --reseed says
  fst       extra argv that makes a failing job's rerun dump an FST trace
  timeout   seconds (default 600)
  tags      list of words (selectable with --tag)
  matrix    {var: [values]}: one entry per combination
regressions.json: {"regressions": {NAME: {"tests": [name or "tag:T", ...], "doc": "..."}}}
"""
import itertools
import json
import os
import random

from .jobs import Job


class ListError(Exception):
    """A test list or regression file that does not make sense (message names the problem)."""


KNOWN = {"name", "command", "env", "build", "kind", "seeds", "fst", "timeout", "tags", "matrix",
         "doc"}


def _load(path, key):
    try:
        with open(path) as f:
            d = json.load(f)
    except OSError as e:
        raise ListError(f"{path}: cannot read: {e.strerror}")
    except ValueError as e:
        raise ListError(f"{path}: not JSON: {e}")
    if not isinstance(d, dict) or key not in d:
        raise ListError(f"{path}: expected an object with a '{key}' member")
    return d[key]


def _subst(value, vars_):
    if isinstance(value, list):
        return [_subst(v, vars_) for v in value]
    out = str(value)
    for k, v in vars_.items():
        out = out.replace("{" + k + "}", str(v))
    return out


def load_tests(path):
    """Returns the entries of a test list, matrices expanded, as {name: entry}."""
    entries = _load(path, "tests")
    out = {}
    for i, e in enumerate(entries):
        where = f"{path}: test {i + 1}"
        if not isinstance(e, dict) or "name" not in e or "command" not in e:
            raise ListError(f"{where}: every test needs a 'name' and a 'command'")
        unknown = set(e) - KNOWN
        if unknown:
            raise ListError(f"{where} ({e['name']}): unknown key(s) {', '.join(sorted(unknown))}")
        if not isinstance(e["command"], list) or not e["command"]:
            raise ListError(f"{where} ({e['name']}): 'command' must be a non-empty list")
        seeds = e.get("seeds", 1)
        if not (isinstance(seeds, int) and seeds >= 1) and not (
                isinstance(seeds, list) and all(isinstance(s, int) and s >= 0 for s in seeds)):
            raise ListError(f"{where} ({e['name']}): 'seeds' is a count >= 1 or a list of seeds")
        matrix = e.get("matrix", {})
        keys = sorted(matrix)
        for combo in itertools.product(*(matrix[k] for k in keys)) if keys else [()]:
            vars_ = dict(zip(keys, combo))
            x = dict(e)
            x.pop("matrix", None)
            for k in ("name", "command", "env", "build", "fst"):
                if k in x:
                    x[k] = ({n: _subst(v, vars_) for n, v in x[k].items()} if k == "env"
                            else _subst(x[k], vars_))
            x["vars"] = vars_
            if x["name"] in out:
                raise ListError(f"{where}: duplicate test name '{x['name']}'")
            out[x["name"]] = x
    return out


def load_regressions(path):
    regs = _load(path, "regressions")
    if not isinstance(regs, dict):
        raise ListError(f"{path}: 'regressions' must map names to groups")
    return regs


def select(tests, regressions, regression=None, names=None, tags=None):
    """The test names a regression (or --test names / --tag words) stands for, in list order."""
    chosen = []
    if regression:
        if regression not in regressions:
            raise ListError(f"unknown regression '{regression}' (known: "
                            f"{', '.join(sorted(regressions))})")
        for item in regressions[regression].get("tests", []):
            if item.startswith("tag:"):
                chosen += [n for n, t in tests.items() if item[4:] in t.get("tags", [])]
            elif item in tests:
                chosen.append(item)
            else:
                raise ListError(f"regression '{regression}' names unknown test '{item}'")
    for n in names or []:
        if n not in tests:
            raise ListError(f"unknown test '{n}' (spk-regress --list shows them)")
        chosen.append(n)
    if tags:
        chosen += [n for n, t in tests.items() if set(tags) & set(t.get("tags", []))]
    seen, out = set(), []
    for n in chosen:
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out


def takes_seed(entry):
    blob = json.dumps([entry["command"], entry.get("env", {})])
    return "{seed}" in blob


def expand(tests, names, build, root, seed=None, reseed=None, fixed_seed=False, rng=None):
    """Jobs of the selected tests. Seeds: --seed N runs every seeded test once with N;
    --reseed K gives each seeded test K random seeds; --fixed-seed uses seed 1 (or the list's
    first fixed seed); else the list's 'seeds'. Seeds are drawn from rng (or system entropy)."""
    rng = rng or random.SystemRandom()
    jobs = []
    for n in names:
        e = tests[n]
        if not takes_seed(e):
            seeds = [None]
        elif seed is not None:
            seeds = [seed]
        elif fixed_seed:
            listed = e.get("seeds", 1)
            seeds = [listed[0] if isinstance(listed, list) else 1]
        elif reseed is not None:
            seeds = [rng.randrange(1, 2**31) for _ in range(reseed)]
        elif isinstance(e.get("seeds", 1), list):
            seeds = list(e["seeds"])
        else:
            seeds = [rng.randrange(1, 2**31) for _ in range(e.get("seeds", 1))]
        for s in seeds:
            vars_ = {"build": build, "root": root, "seed": s if s is not None else ""}
            vars_.update(e.get("vars", {}))
            name = n if s is None else f"{n}.s{s}"
            # two random draws may collide: keep names unique
            while any(j.name == name for j in jobs):
                name += "x"
            jobs.append(Job(index=len(jobs), name=name, test=n, cmd=_subst(e["command"], vars_),
                            env={k: _subst(v, vars_) for k, v in e.get("env", {}).items()},
                            seed=s, timeout=float(e.get("timeout", 600)),
                            tags=list(e.get("tags", [])), fst=_subst(e.get("fst", []), vars_),
                            kind=e.get("kind", "plain")))
    return jobs


def build_targets(tests, names, build):
    out = []
    for n in names:
        for t in tests[n].get("build", []):
            t = _subst(t, {"build": build})
            if t not in out:
                out.append(t)
    return out


def default_paths(root):
    d = os.path.join(root, "tests", "regress")
    return os.path.join(d, "tests.json"), os.path.join(d, "regressions.json")
