#!/usr/bin/env python3
"""Slurm array task: runs its share of the manifest's jobs (scripts/regress/slurm.py).
usage: worker.py MANIFEST TASK_INDEX"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from regress.jobs import Job, run_job  # noqa: E402


def main():
    if len(sys.argv) != 3 or not sys.argv[2].isdigit():
        print("usage: worker.py MANIFEST TASK_INDEX", file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        m = json.load(f)
    task, per = int(sys.argv[2]), m["per_task"]
    rc = 0
    for d in m["jobs"][task * per:(task + 1) * per]:
        job = Job.from_dict(d)
        res = run_job(job, m["results"], m["cwd"], m["reruns"].get(job.name))
        print(f"{res['name']}: {res['status']} (seed {res['seed']}, {res['seconds']} s)",
              flush=True)
        rc |= res["status"] != "passed"
    # the jobs' results are in their job.json; a failing job is not a failing task
    return 0


if __name__ == "__main__":
    sys.exit(main())
