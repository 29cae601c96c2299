"""Results of a run: the JSONL summary, the JUnit XML and the closing line.

A job that was expected but left no job.json (a crashed worker, a Slurm job killed before it
wrote anything) is a 'missing' result, which fails the run like a failed job.
"""
import json
import os
import socket
import time
import xml.etree.ElementTree as ET

from .jobs import log_tail

FAIL_STATES = ("failed", "timeout", "missing", "killed")


def missing_result(job, results, reason):
    from .jobs import job_dir
    jdir = job_dir(results, job)
    log = os.path.join(jdir, "log")
    return {"index": job.index, "name": job.name, "test": job.test, "seed": job.seed,
            "status": "missing" if not reason.startswith("slurm") else "killed",
            "exit_code": None, "seconds": 0.0, "tags": job.tags, "dir": jdir, "log": log,
            "repro": None, "rerun": None, "fst": None, "params": job.params,
            "reason": reason, "log_tail": log_tail(log)}


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for r in sorted(rows, key=lambda r: r["index"]):
            f.write(json.dumps(r, sort_keys=True) + "\n")


def read_jsonl(path):
    rows = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except ValueError as e:
                raise ValueError(f"{path}: line {i}: not JSON: {e}")
    return rows


def _failure_text(r):
    parts = [f"seed: {r['seed'] if r['seed'] is not None else 'none (the test has no seed input)'}",
             f"status: {r['status']}, exit code: {r['exit_code']}"]
    if r.get("reason"):
        parts.append(f"reason: {r['reason']}")
    if r.get("rerun"):
        parts.append(f"rerun: {r['rerun']}")
    if r.get("repro") and r.get("repro") != r.get("rerun"):
        parts.append(f"command: {r['repro']}")
    if r.get("fst"):
        parts.append(f"FST trace of the rerun: {r['fst']}")
    g = r.get("gtest")
    if g and g.get("failed"):
        parts.append("failed gtest cases: " + ", ".join(g["failed"]))
    parts.append("log tail:\n" + (r.get("log_tail") or "(empty)"))
    return "\n".join(parts)


def write_junit(path, rows, suite_name):
    """xunit2 (the form pytest writes and Jenkins' and GitLab's JUnit readers take): one
    <testsuite> of one <testcase> per job; a failure holds the seed, the rerun line and the log
    tail; the seed is also a <property> of the case."""
    rows = sorted(rows, key=lambda r: r["index"])
    fails = [r for r in rows if r["status"] in ("failed", "killed")]
    errors = [r for r in rows if r["status"] in ("timeout", "missing")]
    total = sum(r.get("seconds") or 0.0 for r in rows)
    root = ET.Element("testsuites", name=suite_name, tests=str(len(rows)),
                      failures=str(len(fails)), errors=str(len(errors)),
                      skipped="0", time=f"{total:.3f}")
    ts = ET.SubElement(root, "testsuite", name=suite_name, tests=str(len(rows)),
                       failures=str(len(fails)), errors=str(len(errors)), skipped="0",
                       time=f"{total:.3f}",
                       timestamp=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
                       hostname=socket.gethostname())
    for r in rows:
        tc = ET.SubElement(ts, "testcase", classname=f"{suite_name}.{r['test']}", name=r["name"],
                           time=f"{r.get('seconds') or 0.0:.3f}")
        props = ET.SubElement(tc, "properties")
        ET.SubElement(props, "property", name="seed",
                      value=str(r["seed"]) if r["seed"] is not None else "none")
        if r.get("fst"):
            ET.SubElement(props, "property", name="fst", value=r["fst"])
        if r["status"] == "passed":
            continue
        tag = "failure" if r["status"] in ("failed", "killed") else "error"
        msg = f"{r['status']} (seed {r['seed'] if r['seed'] is not None else 'none'})"
        if r.get("reason"):
            msg += f": {r['reason']}"
        el = ET.SubElement(tc, tag, message=msg, type=r["status"])
        el.text = _failure_text(r)
        out = ET.SubElement(tc, "system-out")
        out.text = r.get("log_tail") or ""
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def summary_line(rows):
    passed = sum(1 for r in rows if r["status"] == "passed")
    failed = len(rows) - passed
    return f"{passed} passed, {failed} failed"


def report_failures(rows, out):
    for r in sorted(rows, key=lambda r: r["index"]):
        if r["status"] == "passed":
            continue
        seed = r["seed"] if r["seed"] is not None else "none"
        out.write(f"FAILED {r['name']} ({r['status']}, seed {seed})"
                  + (f": {r['reason']}" if r.get("reason") else "") + "\n")
        if r.get("rerun"):
            out.write(f"  rerun: {r['rerun']}\n")
        if r.get("fst"):
            out.write(f"  FST trace: {r['fst']}\n")
        out.write(f"  log: {r['log']}\n")
