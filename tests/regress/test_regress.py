"""Unit tests of spk-regress / spk-sweep (scripts/regress/): seeds, results, JUnit, sweeps.

Fast (a few seconds) and self-contained: the jobs are small shell commands, not the kit's
binaries, so these run before anything is built. `make regress-selftest`, part of `make test`.
"""
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from contextlib import redirect_stderr, redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from regress import cli_regress, cli_sweep, junit, slurm, sweep, testlist  # noqa: E402

XSD = os.path.join(HERE, "junit-xunit2.xsd")

FAKE_TESTS = {"tests": [
    {"name": "ok", "command": ["sh", "-c", "echo fine"], "tags": ["a"]},
    {"name": "seeded", "command": ["sh", "-c", 'echo "seed is $S"'], "env": {"S": "{seed}"},
     "seeds": 2, "tags": ["a"]},
    {"name": "argseed", "command": ["sh", "-c", 'test $(( $1 % 2 )) -eq 0 && exit 0; '
                                   '[ -n "$2" ] && echo fst >"$2"; exit 1', "sh", "{seed}"],
     "seeds": [4, 7], "fst": ["{job_dir}/wave.fst"]},
    {"name": "fails", "command": ["sh", "-c", "echo bad news; exit 3"]},
    {"name": "slow", "command": ["sleep", "5"], "timeout": 0.3},
    {"name": "mat-{x}", "command": ["sh", "-c", "test {x} != 2"], "matrix": {"x": [1, 2]}},
]}
FAKE_REGS = {"regressions": {"good": {"tests": ["ok", "seeded"]},
                             "mixed": {"tests": ["tag:a", "argseed", "fails", "slow",
                                                 "mat-1", "mat-2"]}}}


def run_cli(main, argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="spk-regress-test-")
        self.tests = os.path.join(self.tmp, "tests.json")
        self.regs = os.path.join(self.tmp, "regs.json")
        with open(self.tests, "w") as f:
            json.dump(FAKE_TESTS, f)
        with open(self.regs, "w") as f:
            json.dump(FAKE_REGS, f)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def regress(self, *argv, results="r"):
        return run_cli(cli_regress.main, ["--tests", self.tests, "--regressions", self.regs,
                                          "--no-build", "--results",
                                          os.path.join(self.tmp, results)] + list(argv))

    def rows(self, results="r"):
        with open(os.path.join(self.tmp, results, "results.jsonl")) as f:
            return [json.loads(line) for line in f]


class ShippedLists(unittest.TestCase):
    def test_every_regression_expands(self):
        t, r = testlist.default_paths(ROOT)
        tests, regs = testlist.load_tests(t), testlist.load_regressions(r)
        for name in ("smoke", "nightly", "rtl", "backends"):
            sel = testlist.select(tests, regs, name)
            self.assertTrue(sel, name)
            for j in testlist.expand(tests, sel, "build", ROOT, seed=5):
                self.assertNotIn("{", " ".join(j.cmd).replace("{job_dir}", ""), j.name)
        # what reads a seed and what does not, as the suites really do
        self.assertFalse(testlist.takes_seed(tests["gtest-cycle"]))
        self.assertEqual(tests["gtest-driver"]["env"]["SPK_TEST_SEED"], "{seed}")
        self.assertIn("--seed", tests["rtl-engine-full"]["command"])
        self.assertEqual(tests["backends-rtl"]["env"]["SPK_TEST_BACKENDS"], "rtl")
        self.assertTrue(tests["rtl-topk-p16"]["fst"])

    def test_shipped_sweeps_expand(self):
        for name in os.listdir(os.path.join(HERE, "sweeps")):
            spec = sweep.load_spec(os.path.join(HERE, "sweeps", name))
            vars_ = dict(spec.get("vars", {}), build="build", root=ROOT)
            jobs = sweep.jobs(spec, vars_)
            self.assertTrue(jobs, name)
        grid = sweep.load_spec(os.path.join(HERE, "sweeps", "sim-grid.json"))
        self.assertGreaterEqual(len(sweep.points(grid)), 48)  # 24 configurations x 2 traces


class Seeds(Base):
    def test_seed_modes(self):
        tests = testlist.load_tests(self.tests)
        names = ["ok", "seeded", "argseed"]
        j = testlist.expand(tests, names, "b", ROOT, seed=99)
        self.assertEqual([x.seed for x in j], [None, 99, 99])
        self.assertEqual(j[1].env["S"], "99")
        self.assertIn("99", j[2].cmd)
        j = testlist.expand(tests, names, "b", ROOT, reseed=3)
        self.assertEqual(len(j), 1 + 3 + 3)
        self.assertEqual(len({x.name for x in j}), 7)
        self.assertEqual([x.seed for x in testlist.expand(tests, names, "b", ROOT,
                                                           fixed_seed=True)], [None, 1, 4])
        self.assertEqual([x.seed for x in testlist.expand(tests, ["argseed"], "b", ROOT)],
                         [4, 7])

    def test_bad_lists_name_the_problem(self):
        cases = [({"tests": [{"command": ["x"]}]}, "needs a 'name'"),
                 ({"tests": [{"name": "a", "command": ["x"], "seeds": 0}]}, "'seeds'"),
                 ({"tests": [{"name": "a", "command": ["x"], "tmeout": 3}]}, "tmeout"),
                 ({"tests": [{"name": "a", "command": []}]}, "non-empty"),
                 ({"tsts": []}, "'tests' member")]
        for d, want in cases:
            with open(self.tests, "w") as f:
                json.dump(d, f)
            with self.assertRaises(testlist.ListError) as cm:
                testlist.load_tests(self.tests)
            self.assertIn(want, str(cm.exception))
        rc, _, err = self.regress("nosuch")
        self.assertEqual(rc, 2)


class Run(Base):
    def test_mixed_run_results_and_junit(self):
        rc, out, err = self.regress("mixed", "-j", "3")
        self.assertEqual(rc, 1)
        rows = {r["name"]: r for r in self.rows()}
        self.assertEqual(rows["ok"]["status"], "passed")
        self.assertEqual(rows["fails"]["status"], "failed")
        self.assertEqual(rows["fails"]["exit_code"], 3)
        self.assertIn("bad news", rows["fails"]["log_tail"])
        self.assertEqual(rows["slow"]["status"], "timeout")
        self.assertLess(rows["slow"]["seconds"], 3)
        self.assertEqual(rows["mat-2"]["status"], "failed")
        self.assertEqual(rows["argseed.s7"]["status"], "failed")
        seeded = [r for r in rows.values() if r["test"] == "seeded"]
        self.assertEqual(len(seeded), 2)
        for r in seeded:  # the seed reaches the job and is logged next to it
            with open(r["log"]) as f:
                self.assertEqual(f.read().strip(), f"seed is {r['seed']}")
            with open(os.path.join(r["dir"], "cmd.sh")) as f:
                self.assertIn(f"# seed: {r['seed']}", f.read())
        # a failing job with an FST option is rerun once with it; the result names the file
        self.assertTrue(rows["argseed.s7"]["fst"].endswith("wave.fst"))
        self.assertIsNone(rows["argseed.s4"]["fst"])
        npass = sum(r["status"] == "passed" for r in rows.values())
        self.assertEqual(out.strip().splitlines()[-1],
                         f"{npass} passed, {len(rows) - npass} failed")
        self.assertIn("rerun:", err)
        xml = os.path.join(self.tmp, "r", "junit.xml")
        self.assertEqual(junit.check_file(xml), [])
        root = ET.parse(xml).getroot()
        ts = root.find("testsuite")
        self.assertEqual(int(ts.get("tests")), len(rows))
        self.assertEqual(int(ts.get("failures")) + int(ts.get("errors")), len(rows) - npass)
        case = [c for c in ts.iter("testcase") if c.get("name") == "argseed.s7"][0]
        text = case.find("failure").text
        self.assertIn("seed: 7", text)
        self.assertIn("--seed 7", text)
        self.assertIn("log tail:", text)

    def test_junit_schema_xmllint(self):
        self.regress("mixed")
        xmllint = shutil.which("xmllint")
        if not xmllint:
            self.skipTest("xmllint not installed (Debian libxml2-utils); the Python checker "
                          "covers the same rules in test_mixed_run_results_and_junit")
        p = subprocess.run([xmllint, "--noout", "--schema", XSD,
                            os.path.join(self.tmp, "r", "junit.xml")], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        bad = os.path.join(self.tmp, "bad.xml")
        with open(bad, "w") as f:
            f.write('<testsuites><testsuite name="x" tests="1" failures="0" errors="0">'
                    '<testcase name="a" time="1"/></testsuite></testsuites>')
        p = subprocess.run([xmllint, "--noout", "--schema", XSD, bad], capture_output=True)
        self.assertNotEqual(p.returncode, 0)

    def test_checker_rejects(self):
        bad = [('<testsuites><testsuite name="x" tests="2" failures="0" errors="0">'
                '<testcase name="a" classname="c" time="1"/></testsuite></testsuites>',
                "tests=2 but the cases hold 1"),
               ('<testsuites><testsuite name="x" tests="1" failures="0" errors="0">'
                '<testcase name="a" time="1"/></testsuite></testsuites>', "'classname'"),
               ('<testsuites><testsuite name="x" tests="1" failures="1" errors="0">'
                '<testcase name="a" classname="c" time="-1"><failure/></testcase>'
                '</testsuite></testsuites>', "non-negative decimal"),
               ('<testsuite name="x" tests="0" failures="0" errors="0"/>', "expected <testsuites>"),
               ('<testsuites><testsuite name="x" tests="1" failures="1" errors="0">'
                '<testcase name="a" classname="c" time="1"><failure/><system-out/>'
                '<properties/></testcase></testsuite></testsuites>', "unexpected <properties>")]
        for text, want in bad:
            problems = junit.check_tree(ET.fromstring(text))
            self.assertTrue(any(want in p for p in problems), (want, problems))

    def test_rerun_failed_exactly_with_seeds(self):
        self.regress("mixed")
        failed = sorted((r["test"], r["seed"]) for r in self.rows() if r["status"] != "passed")
        rc, out, _ = self.regress("--rerun-failed", os.path.join(self.tmp, "r"), results="r2")
        self.assertEqual(rc, 1)
        again = sorted((r["test"], r["seed"]) for r in self.rows("r2"))
        self.assertEqual(again, failed)
        self.assertTrue(all(r["status"] != "passed" for r in self.rows("r2")))

    def test_inject_failure_reproduces(self):
        rc, out, err = self.regress("good", "--inject-failure", "seeded")
        self.assertEqual(rc, 1)
        bad = [r for r in self.rows() if r["status"] != "passed"]
        self.assertEqual(len(bad), 1)
        self.assertIn(f"--seed {bad[0]['seed']}", bad[0]["rerun"])
        self.assertIn("--inject-failure seeded", bad[0]["rerun"])
        # the direct command in the job's cmd.sh reproduces the failure alone
        p = subprocess.run(["sh", os.path.join(bad[0]["dir"], "cmd.sh")], capture_output=True,
                           text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"seed is {bad[0]['seed']}", p.stdout)
        rc, out, _ = self.regress("good", "--seed", "5", results="ok")
        self.assertEqual(rc, 0)
        self.assertEqual(out.strip().splitlines()[-1], "2 passed, 0 failed")  # --seed: one job per test
        self.assertEqual({r["seed"] for r in self.rows("ok")}, {None, 5})

    def test_missing_result_fails(self):
        from regress.results import missing_result, summary_line
        from regress.jobs import Job
        r = missing_result(Job(index=0, name="x", test="x", cmd=["true"]), self.tmp,
                           "slurm: array task 5_0 TIMEOUT")
        self.assertEqual(r["status"], "killed")
        self.assertEqual(summary_line([r]), "0 passed, 1 failed")


class Sweeps(Base):
    def spec(self, fail_on=None):
        cmd = ("import json,sys; a,b=int(sys.argv[1]),int(sys.argv[2]); "
               "json.dump({'cost': a*b, 'speed': 10-a+b}, open(sys.argv[3]+'/o.json','w'));"
               f"sys.exit(1 if a*b == {fail_on if fail_on is not None else -1} else 0)")
        s = {"name": "toy", "vars": {"k": 1},
             "grid": {"a": [1, 2, 3], "b": [1, 2]}, "timeout": 10,
             "command": [sys.executable, "-c", cmd, "{a}", "{b}", "{job_dir}"],
             "metrics": {"json": "o.json", "keys": {"cost": "cost", "speed": "speed"}},
             "derived": {"rel": "cost / ref_cost"}, "reference": {"a": 2, "b": 1},
             "plots": []}
        path = os.path.join(self.tmp, "toy.json")
        with open(path, "w") as f:
            json.dump(s, f)
        return path

    def sweep(self, *argv):
        return run_cli(cli_sweep.main, ["--no-build", "--results",
                                        os.path.join(self.tmp, "sw")] + list(argv))

    def rows(self):
        with open(os.path.join(self.tmp, "sw", "rows.jsonl")) as f:
            return [json.loads(line) for line in f]

    def test_grid_rows_csv_and_rerun_skips(self):
        spec = self.spec(fail_on=6)
        rc, out, err = self.sweep(spec, "-j", "2")
        self.assertEqual(rc, 1)  # the a=3,b=2 point fails
        rows = self.rows()
        self.assertEqual(len(rows), 6)
        good = [r for r in rows if r["status"] == "passed"]
        self.assertEqual(len(good), 5)
        for r in good:
            self.assertEqual(r["metrics"]["cost"], r["params"]["a"] * r["params"]["b"])
            self.assertAlmostEqual(r["derived"]["rel"], r["metrics"]["cost"] / 2)
        with open(os.path.join(self.tmp, "sw", "sweep.csv")) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 7)
        self.assertTrue(lines[0].startswith("id,a,b,cost,speed,rel"))
        # the rerun runs only the point that did not pass
        spec = self.spec()
        rc, out, err = self.sweep(spec)
        self.assertEqual(rc, 0)
        self.assertIn("6 points, 5 already done, 1 to run", err)
        self.assertTrue(out.strip().endswith("6 passed, 0 failed (5 skipped as already done)"))

    def test_rows_recorded_as_points_finish(self):
        # Each point counts the rows already in points.jsonl: with one worker, point i sees the
        # i points before it, so an interrupted sweep keeps what it finished.
        points = os.path.join(self.tmp, "sw", "points.jsonl")
        cmd = ("import json,os,sys; p=sys.argv[1]; "
               "n=sum(1 for _ in open(p)) if os.path.exists(p) else 0; "
               "json.dump({'seen': n}, open(sys.argv[2]+'/o.json','w'))")
        s = {"name": "live", "grid": {"a": [1, 2, 3]}, "timeout": 10,
             "command": [sys.executable, "-c", cmd, points, "{job_dir}", "{a}"],
             "metrics": {"json": "o.json", "keys": {"seen": "seen"}}, "plots": []}
        path = os.path.join(self.tmp, "live.json")
        with open(path, "w") as f:
            json.dump(s, f)
        rc, _, _ = self.sweep(path, "-j", "1")
        self.assertEqual(rc, 0)
        self.assertEqual([r["metrics"]["seen"] for r in self.rows()], [0, 1, 2])
        with open(points) as f:
            self.assertEqual(len(f.read().splitlines()), 3)  # rewritten once, no duplicates

    def test_shards_partition_the_grid(self):
        spec = self.spec()
        ids = []
        for i in range(3):
            rc, out, _ = self.sweep(spec, "--shard", f"{i}/3")
            self.assertEqual(rc, 0)
            with open(os.path.join(self.tmp, "sw", "manifest.jsonl")) as f:
                ids += [json.loads(line)["id"] for line in f]
        self.assertEqual(len(ids), 6)
        self.assertEqual(len(set(ids)), 6)
        rc, out, _ = self.sweep(spec, "--report-only")
        self.assertEqual(len(self.rows()), 6)
        rc, _, err = self.sweep(spec, "--shard", "3/3")
        self.assertEqual(rc, 2)
        self.assertIn("0 <= I < N", err)
        rc, _, err = self.sweep(spec, "--var", "nosuch=1")
        self.assertEqual(rc, 2)
        self.assertIn("not a var", err)

    def test_pareto(self):
        pts = [(1, 10), (2, 5), (3, 6), (4, 1), (2, 7)]
        self.assertEqual(sorted(sweep.pareto(pts)), [0, 1, 3])
        self.assertEqual(sorted(sweep.pareto(pts, maximize_x=True)), [3])

    def test_splice_and_set_axes(self):
        spec = {"name": "s", "command": ["tool", "{*opts}", "--x", "{x}"],
                "list": [{"opts": "--a 1 --b 'two words'"}], "grid": {"x": [1], "set.k": [3]}}
        (j,) = sweep.jobs(spec, {})
        self.assertEqual(j.cmd, ["tool", "--a", "1", "--b", "two words", "--x", "1",
                                 "--set", "k=3"])
        with self.assertRaises(sweep.SpecError):
            sweep.command({"command": ["{nope}"]}, {}, {})


class SlurmPlan(unittest.TestCase):
    def test_batching_stays_under_max_array(self):
        self.assertEqual(slurm.plan(48, 10), (6, 8))
        self.assertEqual(slurm.plan(48, 1001), (1, 48))
        per, tasks = slurm.plan(5000, 1001)
        self.assertLess(tasks, 1001)
        self.assertGreaterEqual(per * tasks, 5000)
        self.assertEqual(slurm.plan(10, 1001, per_task=4), (4, 3))


if __name__ == "__main__":
    unittest.main()


class LongVerdict(unittest.TestCase):
    """scripts/long_verdict.py: the goal lines of docs/results.md from the paired tables."""

    def test_goal_reached_only_within_one_percent_and_the_section_is_replaced(self):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        with open(os.path.join(d, "results.md"), "w") as f:
            f.write("# Study\n\nkept text\n")
        head = "name,group,tokens,ppl,change_pct,ci_lo_pct,ci_hi_pct,reduction,options\n"
        with open(os.path.join(d, "study-long.csv"), "w") as f:
            f.write(head + "float,reference,100,10,0,0,0,,\n"
                    "cheap,g,100,10,0.9,0.1,1.8,5.5,\n"
                    "wide,g,100,10,1.5,0.5,2.5,9.0,\n"
                    "select exact 0.3,g,100,10,0.2,-0.5,0.8,2.0,\n")
        tool = [sys.executable, os.path.join(ROOT, "scripts", "long_verdict.py"), d]
        for _ in range(2):  # a rerun replaces the section instead of adding a second one
            subprocess.run(tool, check=True, capture_output=True, text=True)
        text = open(os.path.join(d, "results.md")).read()
        self.assertIn("kept text", text)
        self.assertEqual(text.count("## Long context"), 1)
        # +0.90% with an interval to +1.80%: reached by the point estimate, not outside the noise
        self.assertIn("ctx 2048 (100 tokens scored): goal >= 5x at <= +1% **reached by the point "
                      "estimate only**", text)
        self.assertIn("not outside the noise) by `cheap` 5.50x at +0.90%", text)
        self.assertIn("whole interval within +1%: `select exact 0.3` 2.00x", text)
        self.assertIn("smallest change at >= 5x: `cheap`", text)
        self.assertIn("ctx 8192: not measured", text)
        self.assertIn("nothing measured reaches 10x", text)
        with open(os.path.join(d, "study-long.csv"), "w") as f:
            f.write(head + "wide,g,100,10,1.5,0.5,2.5,9.0,\n"
                    "select exact 0.1,g,100,10,1.4,0.6,2.2,3.0,\n")
        subprocess.run(tool, check=True, capture_output=True, text=True)
        text = open(os.path.join(d, "results.md")).read()
        self.assertIn("**not reached**.", text)
        self.assertIn("upper limit: no measured budget within +1%; closest `select exact 0.1`", text)
        self.assertIn("smallest change at >= 5x: `wide` 9.00x", text)
        # A held-out table: the goal there, and "reached" plainly when the whole interval is in.
        with open(os.path.join(d, "study-long-heldout.csv"), "w") as f:
            f.write(head + "float,reference,50,10,0,0,0,,\n"
                    "sure,g,50,10,0.4,-0.2,0.9,6.0,\n")
        subprocess.run(tool, check=True, capture_output=True, text=True)
        text = open(os.path.join(d, "results.md")).read()
        self.assertIn("on the held-out part (50 tokens nothing was tuned on, "
                      "docs/study-long-heldout.csv): **reached**, the 95% interval inside +1% "
                      "too, by `sure` 6.00x at +0.40%", text)


class PairedPerplexity(unittest.TestCase):
    """scripts/paired_ppl.py: paired changes against the reference over the same tokens."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def point(self, pid, name, nll, log="DRAM bytes = 10, dense 12-bit bytes = 50, reduction = 5.000x",
              root=None):
        root = root or self.dir
        d = os.path.join(root, "jobs", pid)
        os.makedirs(d)
        with open(os.path.join(d, "nll.csv"), "w") as f:
            f.write("chunk,position,nll\n")
            for (c, p), v in nll.items():
                f.write(f"{c},{p},{v}\n")
        with open(os.path.join(d, "log"), "w") as f:
            f.write(log + "\n")
        with open(os.path.join(root, "manifest.jsonl"), "a") as f:
            f.write(json.dumps({"id": pid, "params": {"name": name, "options": ""}}) + "\n")

    def run_report(self, *more):
        out = os.path.join(self.dir, "t.csv")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "paired_ppl.py"), self.dir,
                        *more, "--reference", "ref", "--block", "4", "--reps", "500", "--csv", out],
                       check=True, capture_output=True, text=True)
        import csv as csvmod
        with open(out) as f:
            return {r["name"]: r for r in csvmod.DictReader(f)}

    def test_change_is_the_paired_mean_and_its_interval_holds_it(self):
        import math
        import random
        rng = random.Random(3)
        ref = {(c, p): rng.uniform(1, 4) for c in range(2) for p in range(16)}
        worse = {k: v + 0.01 + rng.uniform(-0.002, 0.002) for k, v in ref.items()}
        self.point("a", "ref", ref)
        self.point("b", "same", dict(ref))
        self.point("c", "worse", worse)
        self.point("d", "other tokens", {(9, 1): 1.0})
        rows = self.run_report()
        self.assertAlmostEqual(float(rows["same"]["change_pct"]), 0.0, places=9)
        self.assertAlmostEqual(float(rows["same"]["ci_lo_pct"]), 0.0, places=9)
        mean = sum(worse[k] - ref[k] for k in ref) / len(ref)
        change = float(rows["worse"]["change_pct"])
        self.assertAlmostEqual(change, 100 * (math.exp(mean) - 1), places=3)
        self.assertLess(float(rows["worse"]["ci_lo_pct"]), change)
        self.assertGreater(float(rows["worse"]["ci_hi_pct"]), change)
        self.assertGreater(float(rows["worse"]["ci_lo_pct"]), 0.0, "+1% is outside the noise")
        self.assertEqual(rows["worse"]["reduction"], "5.0")
        self.assertNotIn("other tokens", rows, "a run over other tokens is not compared")

    def test_directories_of_other_chunks_pool_their_tokens_and_bytes(self):
        import math
        more = os.path.join(self.dir, "more")
        ref0 = {(0, p): 2.0 for p in range(8)}
        ref2 = {(2, p): 3.0 for p in range(8)}
        self.point("a", "ref", ref0)
        self.point("b", "worse", {k: v + 0.02 for k, v in ref0.items()})
        self.point("x", "ref", ref2, root=more)
        self.point("y", "worse", {k: v + 0.04 for k, v in ref2.items()},
                   log="DRAM bytes = 30, dense 12-bit bytes = 50, reduction = 1.667x", root=more)
        rows = self.run_report(more)
        self.assertEqual(rows["worse"]["tokens"], "16")
        self.assertAlmostEqual(float(rows["worse"]["change_pct"]), 100 * (math.exp(0.03) - 1),
                               places=3)
        self.assertAlmostEqual(float(rows["worse"]["reduction"]), 100 / 40, places=9,
                               msg="the pooled reduction: 100 dense bytes over 40 read")
