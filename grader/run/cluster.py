"""Running jobs on a Dask cluster: each Dask worker process grades jobs as the local pool does.

What a Dask worker process keeps between tasks, and between runs, is a worker plugin's state
(`GradingWorkerState`): its sandbox zygote and the lockstep recordings that its jobs made. Nothing is
kept in module globals. Jobs carry the submission's bytes, so workers need only the installed grader
and the problem bank at the same path. Dask is imported here only, by runs that use a cluster.
"""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from distributed import Client, WorkerPlugin, get_worker
from distributed import as_completed as dask_completed

from grader.course.spec import load_problem
from grader.grading.jobs import JobSpec, hash_problem
from grader.grading.sandbox_client import SharedZygote, zygote_failed
from grader.records import JobResult
from grader.run.runner import SharedRecordings, grader_error, problem_of, run_one

PLUGIN_NAME = "grader"


class GradingWorkerState(WorkerPlugin):
    """A Dask worker process's own grading state: one sandbox zygote, started by its first job and
    replaced when it fails, and the lockstep recordings of its jobs, by scope (`recordings_scope`).

    Registered once per cluster (`idempotent`: a later run keeps the state earlier runs built); the
    zygote is closed when the worker closes or the plugin is removed.
    """

    idempotent = True
    lock: threading.Lock  # tasks of one worker process run in threads
    zygote: SharedZygote | None
    recordings: SharedRecordings

    def __getstate__(self) -> dict[str, Any]:
        return {}  # sent to the workers empty: each builds its own state in `setup`

    def setup(self, worker: Any) -> None:
        self.lock = threading.Lock()
        self.zygote = None
        self.recordings = SharedRecordings()

    def teardown(self, worker: Any) -> None:
        with self.lock:
            if self.zygote is not None:
                self.zygote.close()
                self.zygote = None

    def zygote_address(self, *, replace: bool) -> str:
        """The address of this worker's zygote: started on first use, or replaced after it failed a job."""
        with self.lock:
            if self.zygote is None:
                # Dask starts worker processes as daemons, and multiprocessing refuses children to daemons.
                # The job processes are reaped here and the forkserver exits with this process, so the
                # flag only stands in the way (the same as Dask's own `distributed.worker.daemon: False`).
                multiprocessing.current_process()._config["daemon"] = False  # type: ignore[attr-defined]
                self.zygote = SharedZygote()
            elif replace:
                self.zygote.recover()
            return self.zygote.get().address


def recordings_scope(job: JobSpec) -> str | None:
    """What a problem's lockstep recordings depend on beyond their keys, hashed: a recording is shared
    only between jobs of one scope.

    A recording's key already holds the test file's hash; a Dask worker's recordings outlive the run,
    so the scope adds everything else a test's draws could depend on: the problem's folder, its
    reference, the course's helpers and the grader's version. None when the problem cannot be read
    (the job itself reports that).
    """
    try:
        problem = load_problem(Path(job.root), job.assignment, job.problem)
        h = hashlib.sha256(f"{job.root}\0{job.assignment}\0{job.problem}\0".encode())
        hash_problem(h, problem)
        return h.hexdigest()
    except Exception:  # noqa: BLE001 - the job reports a problem it cannot load; it shares nothing
        return None


def run_job_on_cluster_worker(job: JobSpec, scope: str | None = None) -> JobResult:
    """The task a Dask worker runs: the job in a fresh process forked from this worker's forkserver.

    The job's process gets the lockstep recordings this Dask worker process holds for `scope` (its
    problem, see `recordings_scope`), and what it records is kept here for the jobs that follow.
    """
    state = get_worker().plugins[PLUGIN_NAME]
    assert isinstance(state, GradingWorkerState)
    for attempt in range(2):  # a job the zygote failed is graded again on a fresh one
        address = state.zygote_address(replace=attempt > 0)
        # Recordings come only from the trusted job processes this worker started: values Hypothesis drew
        # on the trusted side, pickled there (grader.grading.lockstep). Nothing a student's code produced is
        # among them, and nothing from a sandbox is ever unpickled; keep it that way.
        shared = state.recordings.get(scope) if scope is not None else {}
        result, recorded = run_one(dataclasses.replace(job, zygote_address=address), shared)
        if scope is not None and recorded:
            state.recordings.put(scope, recorded)
        if not (result.status == "error" and zygote_failed(result.message)):
            break
    return result


def run_jobs_on_cluster(jobs: Sequence[JobSpec], *, address: str, on_result: Callable[[JobResult], None]) -> None:
    """Run `jobs` on the Dask cluster at `address`; results come back here as each one ends."""
    if not jobs:
        return
    scopes: dict[tuple[str, str, str], str | None] = {}
    for job in jobs:
        if problem_of(job) not in scopes:
            scopes[problem_of(job)] = recordings_scope(job)
    with Client(address) as client:
        client.register_plugin(GradingWorkerState(), name=PLUGIN_NAME)
        futures = [
            client.submit(
                run_job_on_cluster_worker,
                dataclasses.replace(job, zygote_address=None),
                scopes[problem_of(job)],
                pure=False,
                key=f"grade-{job.assignment}-{job.problem}-{job.student}-{job.key[:12]}",
            )
            for job in jobs
        ]
        for future in dask_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # the Dask worker itself failed
                job = jobs[futures.index(future)]
                result = grader_error(job, f"grader error: the cluster could not run the job ({exc})")
            on_result(result)
