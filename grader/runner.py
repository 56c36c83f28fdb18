"""Executing jobs: a local pool of trusted workers forked from a preloaded forkserver, or a Dask cluster.

Each job runs in a fresh worker process (one task per child) that is forked from a forkserver which
has already imported torch, pytest, Hypothesis and the grader and run a warm-up session, so a job
costs milliseconds of start-up, not a fresh `import torch`. Student code runs in sandboxes forked
from the sandbox zygote. On a cluster, each Dask worker process keeps the same kind of pool and a
zygote of its own; jobs carry the submission's bytes, so workers need only the installed grader and
the problem bank at the same path.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from grader.jobs import JobSpec, run_job
from grader.results import JobResult

_PRELOAD = ["grader.jobs", "grader.plugin", "grader.compare", "grader.strategies", "grader.worker"]


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_job_safely(job: JobSpec) -> JobResult:
    """`run_job`, with any failure of the grader itself turned into an instructor-facing result."""
    try:
        return run_job(job)
    except BaseException as exc:  # a grader bug or a broken bank: never a student's zero
        text = "".join(traceback.format_exception(exc))
        return JobResult(
            student=job.student, assignment=job.assignment, problem=job.problem, status="error", score=0.0,
            max_score=0.0, message=f"grader error: {type(exc).__name__}: {exc}\n{text[-4000:]}", key=job.key,
        )


def _pool(workers: int) -> ProcessPoolExecutor:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, max_tasks_per_child=1)


def run_jobs(jobs: Sequence[JobSpec], *, workers: int, on_result: Callable[[JobResult], None]) -> None:
    """Run `jobs` on `workers` processes, calling `on_result` in this process as each one ends."""
    if not jobs:
        return
    pool = _pool(min(workers, len(jobs)))
    try:
        futures = {pool.submit(run_job_safely, job): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # the worker process itself died
                result = JobResult(
                    student=job.student, assignment=job.assignment, problem=job.problem, status="error",
                    score=0.0, max_score=0.0, message=f"grader error: the grading worker died ({exc})", key=job.key,
                )
            on_result(result)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


# -- a Dask cluster ----------------------------------------------------------------------------------

_cluster_pool: ProcessPoolExecutor | None = None
_cluster_zygote: Any = None
_cluster_lock = threading.Lock()


def run_job_on_cluster_worker(job: JobSpec) -> JobResult:
    """The task a Dask worker runs: the job in a fresh process from this worker's warm pool."""
    global _cluster_pool, _cluster_zygote
    with _cluster_lock:
        if _cluster_pool is None:
            from grader.sandbox.client import Zygote

            # Dask starts worker processes as daemons, and multiprocessing refuses children to daemons.
            # The pool's processes are reaped here and its forkserver exits with this process, so the
            # flag only stands in the way (the same as Dask's own `distributed.worker.daemon: False`).
            multiprocessing.current_process()._config["daemon"] = False  # type: ignore[attr-defined]
            _cluster_zygote = Zygote.start()
            _cluster_pool = _pool(default_workers())
        pool, address = _cluster_pool, _cluster_zygote.address
    return pool.submit(run_job_safely, dataclasses.replace(job, zygote_address=address)).result()


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
                result = JobResult(
                    student=job.student, assignment=job.assignment, problem=job.problem, status="error",
                    score=0.0, max_score=0.0, message=f"grader error: the cluster could not run the job ({exc})", key=job.key,
                )
            on_result(result)
