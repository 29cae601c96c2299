#!/usr/bin/python3
"""make coverage, second half: runs the coverage-built programs and writes the report.
usage: coverage.py COV_BUILD OUT.md

RTL: every RtlSim writes a Verilator coverage file into $SPK_RTL_COVERAGE_DIR when the model is
built with --coverage (rtl/sim/rtl_sim.h); the points are merged over all runs and all
instances of a module (the hierarchy is dropped), then counted per module: line (Verilator's
line and branch points) and toggle (every bit of every signal, both ways).
C: gcov counters of the same runs plus the cycle simulator suite and replays, read with lcov,
line percentages per source directory and per file.
"""
import collections
import glob
import os
import re
import shutil
import subprocess
import sys
import time

RUNS = [  # (what, argv); seeds fixed so the report is reproducible
    ("rtl-engine full", ["bin/rtl-engine", "--engine", "full", "--seed", "1", "--cases", "150"]),
    ("rtl-engine compact", ["bin/rtl-engine", "--engine", "compact", "--seed", "1",
                            "--cases", "80"]),
    ("rtl-engine cycles", ["bin/rtl-engine", "--memory", "cycles", "--seed", "2", "--cases", "40"]),
    ("rtl-topk p16", ["bin/rtl-topk", "--config", "p16", "--seed", "1", "--cases", "60"]),
    ("rtl-topk p3", ["bin/rtl-topk", "--config", "p3", "--seed", "1", "--cases", "60"]),
] + [(f"rtl-datapath {b}", ["bin/rtl-datapath", "--block", b, "--seed", "1", "--cases", str(n)])
     for b, n in [("softmax", 40), ("logit", 3000), ("qk", 200), ("pv", 100),
                  ("importance", 4000), ("fetch", 400)]] + [
    ("test-cycle", ["bin/test-cycle", "--gtest_brief=1"]),
] + [(f"spk-sim {c} {t}", ["bin/spk-sim", "--config", c, "--trace",
                           f"tests/regress/traces/synth-gpt2-{t}.csv", "--quiet"])
     for c in ("full", "eighth", "rtl-engine") for t in ("per8", "step1")]


def parse_dat(path, points):
    """Adds a Verilator coverage .dat file's counts to points {key without hierarchy: count}."""
    with open(path, encoding="latin-1") as f:
        for line in f:
            m = re.match(r"^C '(.*)' (\d+)$", line.rstrip("\n"))
            if not m:
                continue
            fields = dict(kv.split("\x02", 1) for kv in m.group(1).split("\x01")[1:] if "\x02" in kv)
            fields.pop("h", None)
            key = tuple(sorted(fields.items()))
            points[key] += int(m.group(2))


def rtl_table(points):
    per = collections.defaultdict(lambda: {"line": [0, 0], "toggle": [0, 0]})
    for key, n in points.items():
        d = dict(key)
        page = d.get("page", "")
        kind, _, module = page.partition("/")
        cls = "toggle" if kind == "v_toggle" else ("line" if kind in ("v_line", "v_branch")
                                                   else None)
        if not cls:
            continue
        # parameterized variants (spk_pv__D40_M8) count with their module
        block = f"{module.split('__')[0]} ({d.get('f', '?')})"
        per[block][cls][1] += 1
        per[block][cls][0] += n > 0
    return per


def pct(hit, total):
    return f"{100.0 * hit / total:.1f}% ({hit}/{total})" if total else "-"


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, out_md = sys.argv[1], sys.argv[2]
    cov = os.path.join(build, "coverage")
    shutil.rmtree(cov, ignore_errors=True)
    os.makedirs(os.path.join(cov, "rtl-dat"))
    for gcda in glob.glob(os.path.join(build, "obj", "**", "*.gcda"), recursive=True):
        os.remove(gcda)  # counts of earlier runs
    env = dict(os.environ, SPK_RTL_COVERAGE_DIR=os.path.abspath(os.path.join(cov, "rtl-dat")))
    runs = []
    for what, argv in RUNS:
        argv = [os.path.join(build, argv[0])] + argv[1:]
        t0 = time.monotonic()
        p = subprocess.run(argv, env=env, capture_output=True, text=True)
        runs.append((what, " ".join(argv), p.returncode, time.monotonic() - t0))
        print(f"coverage: {what}: exit {p.returncode}, {runs[-1][3]:.1f} s", flush=True)
    points = collections.Counter()
    dats = sorted(glob.glob(os.path.join(cov, "rtl-dat", "*.dat")))
    for d in dats:
        parse_dat(d, points)
    if dats and shutil.which("verilator_coverage"):
        subprocess.run(["verilator_coverage", "--write", os.path.join(cov, "rtl.dat")] + dats,
                       capture_output=True)
        subprocess.run(["verilator_coverage", "--annotate", os.path.join(cov, "rtl-annotated"),
                        os.path.join(cov, "rtl.dat")], capture_output=True)
    rtl = rtl_table(points)
    info = os.path.join(cov, "c.info")
    c_rows = {}
    if shutil.which("lcov"):
        p = subprocess.run(["lcov", "--quiet", "--capture", "--directory",
                            os.path.join(build, "obj"), "--output-file", info],
                           capture_output=True, text=True)
        if p.returncode == 0:
            sf = None
            with open(info) as f:
                for line in f:
                    line = line.strip()
                    if line.startswith("SF:"):
                        sf = os.path.relpath(line[3:], os.getcwd())
                        c_rows[sf] = [0, 0]
                    elif line.startswith("DA:") and sf:  # DA:line,count (no LF/LH here)
                        c_rows[sf][1] += 1
                        c_rows[sf][0] += int(line[3:].split(",")[1]) > 0
            if shutil.which("genhtml"):
                subprocess.run(["genhtml", "--quiet", "-o", os.path.join(cov, "c-html"), info],
                               capture_output=True)
        else:
            print("coverage: lcov failed: " + p.stderr.strip()[-300:], file=sys.stderr)
    else:
        print("coverage: lcov not installed (scripts/bootstrap.sh installs it); no C report",
              file=sys.stderr)
    c_rows = {k: v for k, v in c_rows.items() if not k.startswith(("..", "/", "build", "tests/"))}
    dirs = collections.defaultdict(lambda: [0, 0])
    for k, (h, t) in c_rows.items():
        d = os.path.dirname(k)
        dirs[d][0] += h
        dirs[d][1] += t
    with open(out_md, "w") as f:
        f.write("# Coverage\n\nGenerated by `make coverage` (tests/coverage.mk, "
                f"scripts/regress/coverage.py) on {time.strftime('%Y-%m-%d', time.gmtime())}. "
                "Verilated models built with `--coverage` (line, branch and toggle points) in "
                f"`{build}/`, C built with gcc `--coverage`; the runs below with fixed seeds. "
                "Line = Verilator's line and branch points hit at least once; toggle = signal "
                "bits that toggled both ways. Points of all instances of a module are merged. "
                f"Details: `{cov}/rtl-annotated/` (verilator_coverage --annotate), "
                f"`{cov}/c-html/` (genhtml).\n\n")
        f.write("## Runs\n\n| run | command | exit | seconds |\n|---|---|---|---|\n")
        for what, cmd, rc, secs in runs:
            f.write(f"| {what} | `{cmd}` | {rc} | {secs:.1f} |\n")
        f.write("\n## RTL, per block\n\n| block (file) | line | toggle |\n|---|---|---|\n")
        for b in sorted(rtl):
            f.write(f"| {b} | {pct(*rtl[b]['line'])} | {pct(*rtl[b]['toggle'])} |\n")
        if not rtl:
            f.write("| (no coverage files: were the models built with --coverage?) | | |\n")
        f.write("\n## C, per directory (lines)\n\n| directory | lines |\n|---|---|\n")
        for d in sorted(dirs):
            f.write(f"| {d} | {pct(*dirs[d])} |\n")
        f.write("\n## C, per file (lines)\n\n| file | lines |\n|---|---|\n")
        for k in sorted(c_rows):
            f.write(f"| {k} | {pct(*c_rows[k])} |\n")
    print(f"coverage: wrote {out_md} ({len(rtl)} RTL blocks, {len(c_rows)} C files)")
    bad = [r for r in runs if r[2] != 0]
    for r in bad:
        print(f"coverage: run '{r[0]}' exited {r[2]}", file=sys.stderr)
    return 1 if bad or not rtl else 0


if __name__ == "__main__":
    sys.exit(main())
