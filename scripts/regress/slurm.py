"""The Slurm launcher: the jobs go into a manifest, one `sbatch --array=0-T%P` runs them.

The idea follows OpenTitan's dvsim SlurmLauncher, batched as discussed in lowRISC/dvsim issue
73: rather than one Slurm job per test, one array job whose task i runs jobs
[i*B, (i+1)*B) of the manifest through scripts/regress/worker.py, which calls the same
run_job() as the local launcher (so a job's directory and job.json are the same on both). B is
1 until the array would exceed MaxArraySize (scontrol show config), then as large as needed.

Following: squeue until no task of the array is left, the tasks' final states from sacct, or,
on clusters without accounting (a single-node test cluster), from `scontrol show job` while
slurmctld still holds them (MinJobAge). A job whose task Slurm killed (TIMEOUT, CANCELLED,
OUT_OF_MEMORY, NODE_FAIL, ...) before it wrote its job.json is a failure 'killed' whose reason is
Slurm's state and reason.
"""
import json
import math
import os
import re
import subprocess
import sys
import time

from .jobs import read_result
from .results import missing_result

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
DONE_STATES = {"COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "OUT_OF_MEMORY", "NODE_FAIL",
               "PREEMPTED", "BOOT_FAIL", "DEADLINE"}


class SlurmError(Exception):
    pass


def _run(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise SlurmError(f"'{cmd[0]}' not found: the slurm launcher needs the Slurm client "
                         "commands (Debian: slurm-client)")
    except subprocess.TimeoutExpired:
        raise SlurmError(f"'{' '.join(cmd)}' did not answer within 60 s")
    return p.returncode, p.stdout, p.stderr


def max_array_size():
    rc, out, _ = _run(["scontrol", "show", "config"])
    m = re.search(r"^MaxArraySize\s*=\s*(\d+)", out, re.M) if rc == 0 else None
    return int(m.group(1)) if m else 1001  # Slurm's default


def plan(n_jobs, max_array, per_task=None):
    """(jobs per task, number of tasks): arrays stay below MaxArraySize (indices 0..max-1)."""
    if n_jobs == 0:
        return 1, 0
    per = per_task or max(1, math.ceil(n_jobs / max(1, max_array - 1)))
    return per, math.ceil(n_jobs / per)


def write_manifest(path, jobs, results, cwd, per_task, reruns):
    with open(path, "w") as f:
        json.dump({"results": os.path.abspath(results), "cwd": os.path.abspath(cwd),
                   "per_task": per_task, "jobs": [j.to_dict() for j in jobs],
                   "reruns": reruns}, f, indent=1)


def _states_sacct(job_id):
    rc, out, _ = _run(["sacct", "-n", "-P", "-X", "-j", str(job_id),
                       "--format=JobID,State,ExitCode,Reason"])
    if rc != 0:
        return None
    states = {}
    for line in out.splitlines():
        f = line.split("|")
        m = re.match(rf"^{job_id}_(\d+)$", f[0]) if f else None
        if m and len(f) >= 3:
            states[int(m.group(1))] = {"state": f[1].split()[0], "exit": f[2],
                                       "reason": f[3] if len(f) > 3 else ""}
    return states


def _states_scontrol(job_id):
    rc, out, _ = _run(["scontrol", "show", "job", "-o", str(job_id)])
    if rc != 0:
        return {}
    states = {}
    for line in out.splitlines():
        kv = dict(re.findall(r"(\w+)=(\S*)", line))
        if kv.get("ArrayJobId") == str(job_id) and kv.get("ArrayTaskId", "").isdigit():
            states[int(kv["ArrayTaskId"])] = {"state": kv.get("JobState", "?"),
                                             "exit": kv.get("ExitCode", "?"),
                                             "reason": kv.get("Reason", "")}
    return states


def _pending(job_id):
    rc, out, err = _run(["squeue", "-h", "-r", "-j", str(job_id), "-o", "%K %T"])
    if rc != 0:
        # squeue refuses a job id slurmctld has already forgotten: nothing is pending
        if "Invalid job id" in err:
            return 0
        raise SlurmError(f"squeue failed: {err.strip()}")
    return len([ln for ln in out.splitlines() if ln.strip()])


def run_slurm(jobs, results, cwd, opts, rerun_of=None, label="jobs", out=None):
    """Submits the jobs as one array, waits, and returns their results in job order."""
    out = out or sys.stderr
    os.makedirs(os.path.join(results, "slurm"), exist_ok=True)
    per, tasks = plan(len(jobs), opts.get("max_array") or max_array_size(), opts.get("per_task"))
    if tasks == 0:
        return []
    manifest = os.path.join(os.path.abspath(results), "slurm", "manifest.json")
    write_manifest(manifest, jobs, results, cwd, per,
                   {j.name: rerun_of(j) for j in jobs} if rerun_of else {})
    script = os.path.join(os.path.abspath(results), "slurm", "array.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\n# one array task runs jobs [i*B, (i+1)*B) of the manifest\n"
                f"exec {sys.executable} {WORKER} {manifest} \"$SLURM_ARRAY_TASK_ID\"\n")
    cmd = ["sbatch", "--parsable", f"--job-name=spk-{label}",
           f"--array=0-{tasks - 1}%{opts.get('parallel') or tasks}",
           f"--output={os.path.abspath(results)}/slurm/task-%a.out", f"--chdir={cwd}"]
    for k in ("partition", "time", "mem"):
        if opts.get(k):
            cmd.append(f"--{k}={opts[k]}")
    cmd += opts.get("sbatch_args", []) + [script]
    rc, o, e = _run(cmd)
    if rc != 0:
        raise SlurmError(f"sbatch failed: {e.strip() or o.strip()}")
    job_id = o.strip().split(";")[0]
    out.write(f"[{label}] slurm array job {job_id}: {len(jobs)} jobs in {tasks} tasks "
              f"of {per} (sbatch {' '.join(cmd[2:-1])})\n")
    seen = {}
    t0 = time.monotonic()
    last = 0.0
    poll = opts.get("poll", 2.0)
    while True:
        st = _states_scontrol(job_id)
        seen.update(st)
        left = _pending(job_id)
        if left == 0:
            break
        now = time.monotonic()
        if now - last >= 10 or out.isatty():
            done = sum(1 for s in seen.values() if s["state"] in DONE_STATES)
            msg = f"[{label}] slurm {job_id}: {done}/{tasks} tasks done, {left} queued/running"
            out.write(("\r\033[K" + msg) if out.isatty() else msg + "\n")
            out.flush()
            last = now
        time.sleep(poll)
    if out.isatty():
        out.write("\n")
    final = _states_sacct(job_id)
    if final:
        seen.update(final)
    else:
        seen.update(_states_scontrol(job_id))
    out.write(f"[{label}] slurm {job_id}: finished after {time.monotonic() - t0:.0f} s\n")
    res = []
    for j in jobs:
        r = read_result(results, j)
        if r is None:
            s = seen.get(j.index // per, {"state": "UNKNOWN", "exit": "?", "reason": ""})
            why = f"slurm: array task {job_id}_{j.index // per} {s['state']}"
            if s.get("reason") and s["reason"] not in ("None", ""):
                why += f" (reason {s['reason']})"
            why += f", exit code {s['exit']}; no result written"
            r = missing_result(j, results, why)
        res.append(r)
    return res
