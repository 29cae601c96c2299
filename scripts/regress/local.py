"""The local launcher: a pool of -j N worker threads, each running one job process at a time."""
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .jobs import run_job


class Progress:
    """One updating line: done/running/failed and an ETA (from the mean time of finished jobs).
    On a terminal the line is rewritten in place; otherwise it is printed at most every 10 s."""

    def __init__(self, total, parallel, out=None, label="jobs"):
        out = out or sys.stderr
        self.total, self.parallel, self.out, self.label = total, max(1, parallel), out, label
        self.done = self.running = self.failed = 0
        self.busy = 0.0
        self.t0 = time.monotonic()
        self.last = 0.0
        self.lock = threading.Lock()
        self.tty = out.isatty()

    def line(self):
        left = self.total - self.done
        if self.done:
            eta = self.busy / self.done * left / self.parallel
            eta_s = f"ETA {int(eta) // 60}:{int(eta) % 60:02d}"
        else:
            eta_s = "ETA --:--"
        return (f"[{self.label}] {self.done}/{self.total} done, {self.running} running, "
                f"{self.failed} failed, {eta_s}")

    def show(self, force=False):
        now = time.monotonic()
        if self.tty:
            self.out.write("\r\033[K" + self.line())
            self.out.flush()
        elif force or now - self.last >= 10:
            self.out.write(self.line() + "\n")
            self.out.flush()
            self.last = now

    def start(self):
        with self.lock:
            self.running += 1
            self.show()

    def finish(self, res):
        with self.lock:
            self.running -= 1
            self.done += 1
            self.busy += res.get("seconds") or 0.0
            if res["status"] != "passed":
                self.failed += 1
                if self.tty:
                    self.out.write("\r\033[K")
                self.out.write(f"FAILED {res['name']} (seed {res['seed']}, {res['status']})\n")
            # A finished job's slot is refilled at once, so off a terminal the periodic line
            # is printed when a job starts (then the running count is whole); only the last
            # finish prints here.
            if self.tty or self.done == self.total:
                self.show(force=True)

    def close(self):
        if self.tty:
            self.out.write("\n")
            self.out.flush()


def run_local(jobs, results, cwd, parallel=1, rerun_of=None, progress=True, label="jobs",
              on_result=None):
    """Runs the jobs and returns their results in job order; @on_result(result), if given, is
    called as each job finishes (one at a time), so a caller can record it before the others end."""
    lock = threading.Lock()
    prog = Progress(len(jobs), parallel, label=label) if progress else None

    def one(job):
        if prog:
            prog.start()
        res = run_job(job, results, cwd, rerun_of(job) if rerun_of else None)
        if prog:
            prog.finish(res)
        if on_result:
            with lock:
                on_result(res)
        return res

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        out = list(pool.map(one, jobs))
    if prog:
        prog.close()
    return out
