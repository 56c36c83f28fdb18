"""Executing jobs: a local pool of trusted workers forked from a preloaded forkserver.

Each job runs in a fresh worker process (one task per child) that is forked from a forkserver which
has already imported torch, pytest, Hypothesis and the grader, so a job costs milliseconds of
start-up, not a fresh `import torch`. Student code runs in sandboxes forked from the sandbox zygote.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Sequence

from grader.jobs import JobSpec, run_job
from grader.results import JobResult

_PRELOAD = ["torch", "numpy", "pytest", "hypothesis", "grader.jobs", "grader.plugin", "grader.compare", "grader.strategies"]


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


def run_jobs(jobs: Sequence[JobSpec], *, workers: int, on_result: Callable[[JobResult], None]) -> None:
    """Run `jobs` on `workers` processes, calling `on_result` in this process as each one ends."""
    if not jobs:
        return
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx, max_tasks_per_child=1)
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
