"""One job of a regression or sweep: how it runs and what it leaves behind.

Every job gets its own directory under the results directory with
  cmd.sh     the exact command (environment included) that reproduces it, runnable alone
  log        its stdout and stderr
  job.json   the result: status, exit code, seconds, seed, log tail, FST trace if any
The local launcher and the Slurm worker both call run_job(), so a job behaves the same on
either launcher.
"""
import json
import os
import shlex
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field

LOG_TAIL_LINES = 30


@dataclass
class Job:
    """A job fully expanded except for {job_dir} (known once the results directory is)."""
    index: int
    name: str          # unique in a run: test name plus ".s<seed>" for seeded tests
    test: str          # the test list entry (or sweep point) it comes from
    cmd: list          # argv, may hold {job_dir}
    env: dict = field(default_factory=dict)
    seed: object = None    # int, or None when the test has no seed input
    timeout: float = 600.0
    tags: list = field(default_factory=list)
    fst: list = field(default_factory=list)  # extra argv that makes it dump an FST trace
    kind: str = "plain"     # plain | gtest | sweep
    params: dict = field(default_factory=dict)  # sweep point parameters
    inject_failure: bool = False

    def to_dict(self):
        return asdict(self)

    @staticmethod
    def from_dict(d):
        return Job(**d)


def job_dir(results, job):
    return os.path.join(results, "jobs", job.name)


def _expand(items, jdir):
    return [str(a).replace("{job_dir}", jdir) for a in items]


def shell_line(cmd, env, cwd):
    """One shell line that reproduces a command from anywhere."""
    envs = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in sorted(env.items()))
    return f"cd {shlex.quote(cwd)} && " + (envs + " " if envs else "") + shlex.join(cmd)


def _run(cmd, env, cwd, log_path, timeout):
    """Runs cmd with its output in log_path; returns (exit code or None on timeout, seconds)."""
    full_env = dict(os.environ)
    full_env.update({k: str(v) for k, v in env.items()})
    t0 = time.monotonic()
    with open(log_path, "wb") as log:
        try:
            # its own session, so that a timeout kills the whole process group
            p = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            log.write(f"spk-regress: cannot start {cmd[0]}: {e}\n".encode())
            return 127, time.monotonic() - t0
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            log.write(f"\nspk-regress: killed after the {timeout:g} s timeout\n".encode())
            rc = None
    return rc, time.monotonic() - t0


def log_tail(path, lines=LOG_TAIL_LINES):
    try:
        with open(path, "rb") as f:
            text = f.read()[-65536:].decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _gtest_counts(path):
    """Counts of a --gtest_output=json file: tests, failures, skipped and the failed names."""
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError):
        return None
    failed, skipped = [], 0
    for suite in d.get("testsuites", []):
        for case in suite.get("testsuite", []):
            if case.get("failures"):
                failed.append(f"{suite.get('name')}.{case.get('name')}")
            if case.get("result") == "SKIPPED":
                skipped += 1
    return {"tests": d.get("tests", 0), "failures": d.get("failures", 0), "skipped": skipped,
            "failed": failed}


def run_job(job, results, cwd, rerun_cmd=None):
    """Runs one job in results/jobs/<name>/ and returns (and writes) its result dict."""
    jdir = job_dir(results, job)
    os.makedirs(jdir, exist_ok=True)
    stale = os.path.join(jdir, "job.json")
    if os.path.exists(stale):  # a result left by an earlier run must not count for this one
        os.remove(stale)
    cmd = _expand(job.cmd, jdir)
    env = {k: str(v).replace("{job_dir}", jdir) for k, v in job.env.items()}
    if job.inject_failure:
        # the bar's deliberately failing job: same command, then a failing exit
        cmd = ["sh", "-c", 'echo "spk-regress: injected failure"; "$@"; exit 1', "sh"] + cmd
    repro = shell_line(cmd, env, cwd)
    with open(os.path.join(jdir, "cmd.sh"), "w") as f:
        f.write("#!/bin/sh\n# seed: %s\n%s\n" % (job.seed if job.seed is not None else "none",
                                                 repro))
    log = os.path.join(jdir, "log")
    rc, secs = _run(cmd, env, cwd, log, job.timeout)
    status = "passed" if rc == 0 else ("timeout" if rc is None else "failed")
    res = {"index": job.index, "name": job.name, "test": job.test, "seed": job.seed,
           "status": status, "exit_code": rc, "seconds": round(secs, 3), "tags": job.tags,
           "dir": jdir, "log": log, "repro": repro, "rerun": rerun_cmd or repro, "fst": None,
           "params": job.params}
    if job.kind == "gtest":
        res["gtest"] = _gtest_counts(os.path.join(jdir, "gtest.json"))
    if status != "passed":
        res["log_tail"] = log_tail(log)
        if job.fst:
            res["fst"], res["fst_exit_code"] = _fst_rerun(job, cmd, env, cwd, jdir)
    with open(os.path.join(jdir, "job.json"), "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    return res


def _fst_rerun(job, cmd, env, cwd, jdir):
    """A failing RTL job runs once more with its FST trace option; returns (file, exit code)."""
    extra = _expand(job.fst, jdir)
    log = os.path.join(jdir, "fst-rerun.log")
    rc, _ = _run(cmd + extra, env, cwd, log, job.timeout)
    fst = next((a for a in extra if a.endswith(".fst")), None)
    return (fst if fst and os.path.exists(fst) else None), rc


def read_result(results, job):
    try:
        with open(os.path.join(job_dir(results, job), "job.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
