"""spk-regress: runs a named regression (or chosen tests) with seeds; JSONL, JUnit, summary."""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys

from . import testlist
from .local import run_local
from .results import report_failures, read_jsonl, summary_line, write_jsonl, write_junit
from .slurm import SlurmError, run_slurm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def add_launcher_args(ap):
    g = ap.add_argument_group("launcher")
    g.add_argument("--launcher", choices=("local", "slurm"), default="local")
    g.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                   help="local: N jobs at a time; slurm: at most N array tasks at a time (%%N)")
    g.add_argument("--partition", help="slurm: sbatch --partition")
    g.add_argument("--time", help="slurm: sbatch --time (per array task)")
    g.add_argument("--mem", help="slurm: sbatch --mem (per array task)")
    g.add_argument("--max-array", type=int, help="slurm: MaxArraySize (default: scontrol's)")
    g.add_argument("--per-task", type=int, help="slurm: jobs per array task (default: 1 "
                   "unless the array would exceed MaxArraySize)")
    g.add_argument("--sbatch-arg", action="append", default=[], help="slurm: extra sbatch arg")


def launch(args, jobs, results, rerun_of, label, on_result=None):
    """Runs the jobs on the chosen launcher; @on_result (local launcher) sees each result as its
    job finishes."""
    if args.launcher == "local":
        return run_local(jobs, results, ROOT, args.jobs, rerun_of, label=label,
                         on_result=on_result)
    opts = {"partition": args.partition, "time": args.time, "mem": args.mem,
            "max_array": args.max_array, "per_task": args.per_task,
            "parallel": args.jobs if args.jobs > 1 else None, "sbatch_args": args.sbatch_arg}
    return run_slurm(jobs, results, ROOT, opts, rerun_of, label=label)


def make_targets(build, targets, jobs):
    if not targets:
        return True
    cmd = ["make", "--no-print-directory", f"BUILD={build}", f"-j{max(1, jobs)}"] + targets
    print("spk-regress: " + shlex.join(cmd), file=sys.stderr)
    return subprocess.run(cmd, cwd=ROOT).returncode == 0


def parse(argv):
    ap = argparse.ArgumentParser(prog="spk-regress", description=__doc__,
                                 epilog="docs/regressions.md")
    ap.add_argument("regression", nargs="?", help="a named regression (--list shows them)")
    ap.add_argument("--test", action="append", default=[], help="a test by name (repeatable)")
    ap.add_argument("--tag", action="append", default=[], help="every test with this tag")
    ap.add_argument("--list", action="store_true", help="list regressions and tests, then exit")
    ap.add_argument("--tests", dest="tests_file", help="test list (default tests/regress/tests.json)")
    ap.add_argument("--regressions", dest="regs_file",
                    help="regressions (default tests/regress/regressions.json)")
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"),
                    help="build directory (default build, or $BUILD)")
    ap.add_argument("--results", help="results directory (default BUILD/regress/NAME)")
    s = ap.add_argument_group("seeds").add_mutually_exclusive_group()
    s.add_argument("--seed", type=int, help="every seeded job runs with this seed")
    s.add_argument("--reseed", type=int, metavar="K", help="K random seeds per seeded test")
    s.add_argument("--fixed-seed", action="store_true",
                   help="seed 1 (or the list's first seed) everywhere: repeatable runs")
    s.add_argument("--rerun-failed", metavar="RESULTS",
                   help="rerun exactly the failed jobs of RESULTS (a results dir or its "
                   "results.jsonl), each with its seed")
    ap.add_argument("--inject-failure", nargs="?", const="", metavar="TEST",
                    help="make one job (TEST's, default the first) fail on purpose")
    ap.add_argument("--no-build", action="store_true", help="do not run make first")
    add_launcher_args(ap)
    return ap.parse_args(argv)


def rerun_line(args, job, injected):
    parts = ["scripts/spk-regress", "--build", args.build, "--test", job.test]
    if job.seed is not None:
        parts += ["--seed", str(job.seed)]
    if injected:
        parts += ["--inject-failure", job.test]
    return "cd " + shlex.quote(ROOT) + " && " + shlex.join(parts)


def main(argv=None):
    args = parse(argv if argv is not None else sys.argv[1:])
    tfile, rfile = testlist.default_paths(ROOT)
    tfile, rfile = args.tests_file or tfile, args.regs_file or rfile
    try:
        tests = testlist.load_tests(tfile)
        regs = testlist.load_regressions(rfile)
        if args.list:
            for n, r in regs.items():
                print(f"{n:10s} {r.get('doc', '')}")
                print("           " + " ".join(testlist.select(tests, regs, n)))
            print("tests:")
            for n, t in tests.items():
                sys.stdout.flush()
                seed = "seeded" if testlist.takes_seed(t) else "no seed input"
                print(f"  {n:28s} {seed:14s} {','.join(t.get('tags', []))}")
            return 0
        if args.rerun_failed:
            src = args.rerun_failed
            path = os.path.join(src, "results.jsonl") if os.path.isdir(src) else src
            try:
                rows = read_jsonl(path)
            except (OSError, ValueError) as e:
                print(f"spk-regress: --rerun-failed: {e}", file=sys.stderr)
                return 2
            failed = [r for r in rows if r["status"] != "passed"]
            jobs = []
            for r in failed:
                if r["test"] not in tests:
                    raise testlist.ListError(f"{path}: failed test '{r['test']}' is not in {tfile}")
                for j in testlist.expand(tests, [r["test"]], args.build, ROOT, seed=r["seed"]):
                    j.index = len(jobs)
                    jobs.append(j)
            names = [r["test"] for r in failed]
            label = "rerun-failed"
            print(f"spk-regress: rerunning {len(jobs)} failed jobs of {path}", file=sys.stderr)
        else:
            names = testlist.select(tests, regs, args.regression, args.test, args.tag)
            if not names:
                print("spk-regress: nothing to run: name a regression, --test or --tag "
                      "(--list shows them)", file=sys.stderr)
                return 2
            reseed = args.reseed
            if reseed is None and args.seed is None and not args.fixed_seed and args.regression:
                reseed = regs[args.regression].get("reseed")  # the regression's own count
            jobs = testlist.expand(tests, names, args.build, ROOT, args.seed, reseed,
                                   args.fixed_seed)
            label = args.regression or "tests"
    except testlist.ListError as e:
        print(f"spk-regress: {e}", file=sys.stderr)
        return 2
    injected = set()
    if args.inject_failure is not None and jobs:
        target = next((j for j in jobs if j.test == args.inject_failure), None) \
            if args.inject_failure else jobs[0]
        if target is None:
            print(f"spk-regress: --inject-failure: no job of test '{args.inject_failure}'",
                  file=sys.stderr)
            return 2
        target.inject_failure = True
        injected.add(target.name)
    results = args.results or os.path.join(args.build, "regress", label)
    if os.path.isdir(os.path.join(results, "jobs")):
        shutil.rmtree(os.path.join(results, "jobs"))  # results are one run's, never mixed
    os.makedirs(results, exist_ok=True)
    if not args.no_build and not make_targets(args.build, testlist.build_targets(
            tests, sorted(set(names)), args.build), args.jobs):
        print("spk-regress: the build failed", file=sys.stderr)
        return 1
    for j in jobs:
        print(f"job {j.name}: seed {j.seed if j.seed is not None else 'none (no seed input)'}",
              file=sys.stderr)
    with open(os.path.join(results, "run.json"), "w") as f:
        json.dump({"argv": sys.argv, "label": label, "launcher": args.launcher,
                   "jobs": [{"name": j.name, "test": j.test, "seed": j.seed} for j in jobs]},
                  f, indent=1)
    try:
        rows = launch(args, jobs, results, lambda j: rerun_line(args, j, j.name in injected),
                      label)
    except SlurmError as e:
        print(f"spk-regress: {e}", file=sys.stderr)
        return 2
    write_jsonl(os.path.join(results, "results.jsonl"), rows)
    write_junit(os.path.join(results, "junit.xml"), rows, f"spk-regress.{label}")
    report_failures(rows, sys.stderr)
    print(f"results: {results}/results.jsonl, {results}/junit.xml")
    ok = len(rows) == len(jobs) and all(r["status"] == "passed" for r in rows)
    if len(rows) != len(jobs):
        print(f"spk-regress: {len(jobs) - len(rows)} results missing", file=sys.stderr)
    print(summary_line(rows))
    return 0 if ok else 1
