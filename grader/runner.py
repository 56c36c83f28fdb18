"""Executing jobs: a local pool of trusted workers forked from a preloaded forkserver, or a Dask cluster.

Each job runs in a fresh worker process, forked from a forkserver which has already imported torch,
pytest, Hypothesis and the grader and run a warm-up session, so a job costs milliseconds of
start-up, not a fresh `import torch`. Student code runs in sandboxes forked from the sandbox zygote.
The scheduler here is a plain loop over process sentinels and result pipes, so an interrupted run
kills exactly the jobs in flight and nothing waits on a worker that is gone. On a cluster, each
Dask worker process forks its jobs the same way and keeps a zygote of its own; jobs carry the
submission's bytes, so workers need only the installed grader and the problem bank at the same path.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

from grader.jobs import JobSpec, run_job
from grader.results import JobResult

_PRELOAD = [
    "grader.jobs", "grader.plugin", "grader.compare", "grader.strategies", "grader.worker", "grader.runner",
    "grader.sandbox.confine",
]


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_job_safely(job: JobSpec) -> JobResult:
    """`run_job`, with any failure of the grader itself turned into an instructor-facing result."""
    try:
        return run_job(job)
    except BaseException as exc:  # a grader bug or a broken bank: never a student's zero
        text = "".join(traceback.format_exception(exc))
        return _grader_error(job, f"grader error: {type(exc).__name__}: {exc}\n{text[-4000:]}")


def _grader_error(job: JobSpec, message: str) -> JobResult:
    return JobResult(
        student=job.student, assignment=job.assignment, problem=job.problem, status="error", score=0.0,
        max_score=0.0, message=message, key=job.key,
    )


_context_lock = threading.Lock()


def _context() -> BaseContext:
    with _context_lock:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx


def _work(job: JobSpec, results: Connection) -> None:
    """The body of one worker process: grade `job` and send the result back."""
    # Ctrl-C reaches the whole process group; the parent decides what stops, and kills this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        results.send(run_job_safely(job))
    finally:
        results.close()


class _Worker:
    """One job in its own trusted worker process, forked from the preloaded forkserver."""

    def __init__(self, ctx: BaseContext, job: JobSpec) -> None:
        self.job = job
        self.results, writer = ctx.Pipe(duplex=False)
        self.process: BaseProcess = ctx.Process(target=_work, args=(job, writer), daemon=True)  # type: ignore[attr-defined]
        self.process.start()
        writer.close()  # the child holds the only writer: its end means end of file here

    def waitables(self) -> list[Any]:
        return [self.results, self.process.sentinel]

    def result(self) -> JobResult:
        """The job's result, once one of `waitables` is ready (the worker's death is a grader error)."""
        try:
            if self.results.poll():
                return self.results.recv()  # type: ignore[no-any-return]
        except (EOFError, OSError):
            pass
        finally:
            self.results.close()
            self.process.join()
        return _grader_error(self.job, f"grader error: the grading worker died (exit code {self.process.exitcode})")

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.results.close()


def run_one(job: JobSpec) -> JobResult:
    """Grade `job` in a fresh worker process and wait for it (thread-safe)."""
    worker = _Worker(_context(), job)
    try:
        wait(worker.waitables())
        return worker.result()
    finally:
        worker.kill()


def run_jobs(jobs: Sequence[JobSpec], *, workers: int, on_result: Callable[[JobResult], None]) -> None:
    """Run `jobs` on at most `workers` processes, calling `on_result` in this process as each one ends.

    Each job gets a fresh process (nothing a job did can reach the next one). On any exception here,
    Ctrl-C included, the running workers are killed before it propagates: results already passed to
    `on_result` are all that a run leaves behind.
    """
    if not jobs:
        return
    ctx = _context()
    pending = deque(jobs)
    running: list[_Worker] = []
    try:
        while pending or running:
            while pending and len(running) < workers:
                running.append(_Worker(ctx, pending.popleft()))
            ready = set(wait([w for worker in running for w in worker.waitables()]))
            for worker in [w for w in running if ready.intersection(w.waitables())]:
                running.remove(worker)
                on_result(worker.result())
    finally:
        for worker in running:
            worker.kill()


# -- a Dask cluster ----------------------------------------------------------------------------------

_cluster_zygote: Any = None
_cluster_lock = threading.Lock()


def run_job_on_cluster_worker(job: JobSpec) -> JobResult:
    """The task a Dask worker runs: the job in a fresh process forked from this worker's forkserver."""
    global _cluster_zygote
    with _cluster_lock:
        if _cluster_zygote is None:
            from grader.sandbox.client import Zygote

            # Dask starts worker processes as daemons, and multiprocessing refuses children to daemons.
            # The job processes are reaped here and the forkserver exits with this process, so the
            # flag only stands in the way (the same as Dask's own `distributed.worker.daemon: False`).
            multiprocessing.current_process()._config["daemon"] = False  # type: ignore[attr-defined]
            _cluster_zygote = Zygote.start()
        address = _cluster_zygote.address
    return run_one(dataclasses.replace(job, zygote_address=address))


def run_jobs_on_cluster(jobs: Sequence[JobSpec], *, address: str, on_result: Callable[[JobResult], None]) -> None:
    """Run `jobs` on the Dask cluster at `address`; results come back here as each one ends."""
    if not jobs:
        return
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(address) as client:
        futures = [
            client.submit(
                run_job_on_cluster_worker, dataclasses.replace(job, zygote_address=None), pure=False,
                key=f"grade-{job.assignment}-{job.problem}-{job.student}-{job.key[:12]}",
            )
            for job in jobs
        ]
        for future in dask_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # the Dask worker itself failed
                job = jobs[futures.index(future)]
                result = _grader_error(job, f"grader error: the cluster could not run the job ({exc})")
            on_result(result)
