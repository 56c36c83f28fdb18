"""Executing jobs: a local pool of trusted workers forked from a preloaded forkserver, or a Dask cluster.

Trusted workers are forked from a forkserver which has already imported torch, pytest, Hypothesis and
the grader and run a warm-up session, so a job costs milliseconds of start-up, not a fresh
`import torch`. Student code never runs in them: each job's student code runs in its own fresh
sandbox, forked from the sandbox zygote. A worker grades a batch of jobs one at a time and puts back
what a job may change before the next (see `_TrustedState`), which saves a fork of a process that
holds all of torch (about 30 ms of CPU) on every job. The scheduler is a plain loop over worker
sentinels and job pipes, so an interrupted run kills exactly the workers in flight and nothing waits
on a worker that is gone. On a cluster, each Dask worker process forks a worker per job the same way
and keeps a zygote of its own (grader.run.cluster); jobs carry the submission's bytes, so workers need
only the installed grader and the problem bank at the same path.

Lockstep recordings (grader.grading.lockstep) are shared between the processes that grade jobs: a job hands
back the recordings it made with its result, and the process that starts jobs (this run's parent, or
a Dask worker process) keeps them (`SharedRecordings`) and gives a job's worker those of its problem
that the worker lacks, so each test is recorded about once per run (per Dask worker process on a
cluster, where they outlive the run, scoped by a hash of the problem's tests, reference and helpers).
Call streams stay in the worker that kept them, so the local pool hands a free worker jobs of the
problem it graded last (`_JobQueue`).
"""

from __future__ import annotations

import dataclasses
import functools
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from grader.course.spec import load_problem
from grader.grading import lockstep
from grader.grading.jobs import JobSpec, run_job
from grader.grading.sandbox_client import socket_fits, socket_folder
from grader.records import JobResult

_PRELOAD = [
    "grader.grading.worker_threads",  # first: before anything loads numpy
    "grader.grading.jobs",
    "grader.grading.plugin",
    "grader.grading.compare",
    "grader.strategies",
    "grader.grading.worker_preload",
    "grader.run.runner",
    "grader.sandbox.confine",
]


def _allowed_cpus() -> list[int] | None:
    """The CPUs this process may run on, or None where the system does not say."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def default_workers() -> int:
    allowed = _allowed_cpus()
    return max(1, len(allowed) if allowed is not None else os.cpu_count() or 1)


def run_job_safely(job: JobSpec) -> JobResult:
    """`run_job`, with any failure of the grader itself turned into an instructor-facing result."""
    try:
        return run_job(job)
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP in a run's own process (a check): the run stops
        raise
    except BaseException as exc:  # a grader bug or a broken bank: never a student's zero
        text = "".join(traceback.format_exception(exc))
        return grader_error(job, f"grader error: {type(exc).__name__}: {exc}\n{text[-4000:]}")


def grader_error(job: JobSpec, message: str) -> JobResult:
    return JobResult(
        student=job.student,
        assignment=job.assignment,
        problem=job.problem,
        status="error",
        score=0.0,
        max_score=0.0,
        message=message,
        key=job.key,
    )


_context_lock = threading.Lock()


def _context() -> BaseContext:
    with _context_lock:
        _short_multiprocessing_folder()
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx


# As long as the forkserver's socket path below the temporary folder: multiprocessing names the folder
# "pymp-" and the socket "listener-", each followed by 8 random characters.
_MULTIPROCESSING_SOCKET = os.path.join("pymp-" + "-" * 8, "listener-" + "-" * 8)


def _short_multiprocessing_folder() -> None:
    """Give multiprocessing a temporary folder where its forkserver's socket path fits.

    multiprocessing makes that socket in a folder of its own under the temporary folder; under a
    `$TMPDIR` too deep for a Unix socket's path (a CI runner's or a test's folder can be), starting
    the forkserver failed. Its folder is made once per process, and removed by it at exit.
    """
    from multiprocessing import process, util

    if process.current_process()._config.get("tempdir") is not None:  # type: ignore[attr-defined]
        return  # made already
    if socket_fits(tempfile.gettempdir(), _MULTIPROCESSING_SOCKET):
        return
    base = socket_folder(prefix="grader-mp-", name=_MULTIPROCESSING_SOCKET)
    saved = tempfile.tempdir
    tempfile.tempdir = base
    try:
        util.get_temp_dir()
    finally:
        tempfile.tempdir = saved
    util.Finalize(None, shutil.rmtree, args=(base, True), exitpriority=-200)


# A fresh worker takes the place of one whose resident memory has grown by WORKER_GROWTH_BYTES since its
# first job, or that has graded JOBS_PER_WORKER jobs (a bound on anything else a job may leave behind on
# the trusted side). What grows is known: about 30 MB a conv1d_backprop job whose long tests run their
# bodies (see `return_freed_memory`), and the call streams, within their own bounds (256 MiB for passing
# bodies, 128 MiB for failing runs: grader.grading.call_stream). A worker that does
# not grow keeps its call streams for the run (one replaced after every 50 jobs, the rule before, left
# its successor to replay and capture them again): on 40 students of hw7 and of hw6 (200 jobs each, one
# worker, single runs) the grader's CPU went from 60.7 to 57.1 s and from 28.6 to 25.6 s with this rule.
JOBS_PER_WORKER = 400
WORKER_GROWTH_BYTES = 768 << 20


Recordings = dict[str, bytes]  # lockstep recordings by test key, as grader.grading.lockstep.export_new encodes them


class SharedRecordings:
    """Lockstep recordings that jobs handed back, kept for later jobs, by group (a problem), bounded in bytes.

    The least recently used groups go first. Only trusted processes fill it: a recording holds the values
    Hypothesis drew on the trusted side (grader.grading.lockstep), never an object a student's code produced.
    Thread-safe (a Dask worker runs tasks on several threads).
    """

    def __init__(self, limit: int = 256 << 20) -> None:
        self.limit = limit
        self.size = 0
        self._groups: OrderedDict[Any, Recordings] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, group: Any) -> Recordings:
        with self._lock:
            found = self._groups.get(group)
            if found is None:
                return {}
            self._groups.move_to_end(group)
            return dict(found)

    def put(self, group: Any, recordings: Recordings) -> None:
        with self._lock:
            kept = self._groups.setdefault(group, {})
            self._groups.move_to_end(group)
            for key, data in recordings.items():
                if key not in kept and len(data) <= self.limit:
                    kept[key] = data
                    self.size += len(data)
            while self.size > self.limit and self._groups:
                _, dropped = self._groups.popitem(last=False)
                self.size -= sum(len(data) for data in dropped.values())


def _serve(jobs: Connection, cpu: int | None = None, scratch: str | None = None) -> None:
    """The body of one worker process: grade each job that arrives on `jobs` and send its result back.

    A job arrives with lockstep recordings made elsewhere for its tests, and its result goes back with
    the recordings this process made for it (grader.grading.lockstep).

    A worker given a `cpu` stays on it, and so do the sandboxes it starts (they take the CPUs of
    the process that spawns them): see `worker_cpus`. A worker given a `scratch` folder makes its
    temporary files there (each job's folder, with the submission's files): the parent removes the
    folder once the worker has ended, however it ended (see `_Worker.kill`).
    """
    # Ctrl-C, a SIGTERM sent to the whole process group (a CI job cancelled) or a SIGHUP (the terminal
    # closed) reaches this process too; the parent decides what stops, and kills this process.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    if scratch is not None:
        tempfile.tempdir = scratch
    if cpu is not None:
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:
            pass
    baseline = _TrustedState.capture()
    try:
        while True:
            try:
                job, shared = jobs.recv()
            except (EOFError, OSError):
                # The parent closed the channel: at once (end of file), or with a result of ours still
                # unread, as when it stops a run (the kernel then resets the connection). Either way
                # nobody is left to grade for, and a traceback would only add noise to its last words.
                return
            lockstep.adopt(shared)
            result = run_job_safely(job)
            baseline.restore(job.root)
            return_freed_memory()
            try:
                jobs.send((result, lockstep.export_new()))
            except OSError:
                return  # the parent is gone (it stopped the run): nobody is left to tell
    finally:
        jobs.close()


def return_freed_memory() -> None:
    """Give the memory a job freed back to the system (glibc's `malloc_trim`; nothing elsewhere).

    A job's large tensors (conv1d_backprop's inputs of 2,000,000 elements: 16 MB each) are freed into
    the allocator's heap, which keeps their pages. Measured on 30 students of hw7 in one worker that
    was never replaced: the worker reached 3.6 GB without this and 2.7 GB with it (2.1 GB once jobs
    also let go of their calls' arguments: StudentSession.end_job), and the run took 5% less CPU
    (fewer pages to fault in again). The call costs 1 to 10 ms a job. What still grows (about 30 MB
    a conv1d_backprop job whose long tests run their bodies, held by no Python object that the
    garbage collector can reach) is bounded by `WORKER_GROWTH_BYTES`.
    """
    _malloc_trim()()


@functools.cache
def _malloc_trim() -> Callable[[], object]:
    if not sys.platform.startswith("linux"):
        return lambda: None
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library this process already runs on
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


@dataclasses.dataclass
class _TrustedState:
    """What a job may change in its trusted worker, put back before the next job runs there.

    Jobs run only trusted code here (tests, references, the grader), and student code only in their
    sandboxes, so this is about determinism: a job's result must not depend on which jobs ran before it
    in the same worker. The bank's own modules (test files, references) are imported afresh by each
    job, and the process-wide settings a test could change are reset.
    """

    environ: dict[str, str]
    path: list[str]
    cwd: str
    modules: set[str]  # imported before any job, or since and not from the bank: never looked at again

    @classmethod
    def capture(cls) -> _TrustedState:
        return cls(environ=dict(os.environ), path=list(sys.path), cwd=os.getcwd(), modules=set(sys.modules))

    def restore(self, root: str) -> None:
        import torch

        from grader.grading.worker import deterministic_algorithms

        bank = tuple(os.path.join(os.path.realpath(root), part) + os.sep for part in ("problems", "reference"))
        for name in sys.modules.keys() - self.modules:
            origin = getattr(sys.modules[name], "__file__", None)
            if isinstance(origin, str) and os.path.realpath(origin).startswith(bank):
                del sys.modules[name]
            else:
                self.modules.add(name)  # a library module a job imported lazily: it stays
        if os.environ != self.environ:
            os.environ.clear()
            os.environ.update(self.environ)
        sys.path[:] = self.path
        os.chdir(self.cwd)
        torch.set_default_dtype(torch.float32)
        torch.set_grad_enabled(True)
        torch.set_num_threads(1)
        deterministic_algorithms()


def worker_cpus(workers: int) -> list[int | None]:
    """The CPU for each of `workers` worker slots: one each while there are enough, else none pinned.

    A job's trusted worker and its sandbox take turns (each call waits for its reply), so when the
    two share a core a call is a plain switch between them with warm caches, not a wake-up on another
    core: an eighth to a quarter less of the grader's cost above the tests' own. With a worker per
    core, pinning also keeps two workers from sharing one. A run with more workers than CPUs leaves
    placement to the kernel.
    """
    allowed = _allowed_cpus()
    if allowed is None or workers > len(allowed):
        return [None] * workers
    return list[int | None](allowed[:workers])


class _Worker:
    """A trusted worker process, forked from the preloaded forkserver, grading one job at a time."""

    def __init__(self, ctx: BaseContext, cpu: int | None = None, *, under: str | None = None) -> None:
        self.cpu = cpu
        # The worker's temporary files, removed here once it ends: a worker killed mid-job (Ctrl-C, the
        # watchdog) cannot remove its job's folder itself. The sandbox's own user passes through it.
        # `under` is the run's own folder for them, removed at its end whatever was interrupted where.
        self.scratch = tempfile.mkdtemp(prefix="grader-worker-", dir=under)
        os.chmod(self.scratch, 0o711)
        self.jobs, child = ctx.Pipe(duplex=True)
        self.process: BaseProcess = ctx.Process(target=_serve, args=(child, cpu, self.scratch), daemon=True)  # type: ignore[attr-defined]
        try:
            self.process.start()
        except BaseException:
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise
        child.close()  # the child holds the only other end: its death means end of file here
        self.job: JobSpec | None = None
        self.problem: tuple[str, str, str] | None = None  # that of the last job it was given
        self.graded = 0
        self.deadline = float("inf")
        self.known: set[str] = set()  # the lockstep recordings it has (made or given)
        self.recorded: Recordings = {}  # those its last job made
        self.first_memory: int | None = None  # its resident memory after its first job
        self.grown = False  # by more than WORKER_GROWTH_BYTES since

    def usable(self) -> bool:
        """Whether it may grade another job (else a fresh worker takes its place)."""
        return self.graded < JOBS_PER_WORKER and not self.grown and self.process.is_alive()

    def _measure(self) -> None:
        memory = resident_bytes(self.process.pid)
        if self.first_memory is None:
            self.first_memory = memory
        elif memory is not None:
            self.grown = memory - self.first_memory > WORKER_GROWTH_BYTES

    def submit(self, job: JobSpec, shared: Recordings | None = None) -> None:
        """Start `job` here, with those of the `shared` recordings this worker lacks."""
        self.job = job
        self.problem = problem_of(job)
        self.deadline = time.monotonic() + _watchdog_seconds(job)
        given = {key: data for key, data in (shared or {}).items() if key not in self.known}
        self.known.update(given)
        try:
            self.jobs.send((job, given))
        except OSError:
            pass  # the worker is gone: `result` says so

    def waitables(self) -> list[Any]:
        return [self.jobs, self.process.sentinel]

    def result(self) -> JobResult:
        """The job's result, once one of `waitables` is ready (the worker's death is a grader error)."""
        job, self.job = self.job, None
        assert job is not None
        self.graded += 1
        self.recorded = {}
        try:
            if self.jobs.poll():
                result, self.recorded = self.jobs.recv()
                self.known.update(self.recorded)
                self._measure()
                return result  # type: ignore[no-any-return]
        except (EOFError, OSError):
            pass
        self.kill()
        return grader_error(job, f"grader error: the grading worker died (exit code {self.process.exitcode})")

    def overdue(self) -> JobResult:
        """The job's result when it ran past its deadline: the worker is killed (a grader error)."""
        job, self.job = self.job, None
        assert job is not None
        self.graded += 1
        self.recorded = {}
        self.kill()
        return grader_error(
            job,
            f"grader error: the job did not finish within {_watchdog_seconds(job):g} s (twice its time limit, "
            "and 10 minutes for the tests' own work); its worker was killed",
        )

    def stop(self) -> None:
        """Let an idle worker exit (it sees the end of its job pipe), or kill it if it does not."""
        self.jobs.close()
        self.process.join(timeout=5)
        self.kill()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.jobs.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def resident_bytes(pid: int | None) -> int | None:
    """A process's resident memory in bytes (Linux's /proc), or None where it cannot be read."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _watchdog_seconds(job: JobSpec) -> float:
    """How long a job may run in its worker before it is killed: a last resort that ends every run.

    Every wait on the student's sandbox has its own deadline within the job's time limit, so only a
    fault of the grader or the bank can reach this one; it is generous for the tests' own work.
    """
    try:
        return 2 * load_problem(Path(job.root), job.assignment, job.problem).limits.job_timeout + 600
    except Exception:  # noqa: BLE001 - the job itself reports a problem it cannot load
        return 3600.0


def run_one(job: JobSpec, shared: Recordings | None = None) -> tuple[JobResult, Recordings]:
    """Grade `job` in a fresh worker process given the `shared` lockstep recordings, and wait for it
    (thread-safe); returns its result and the recordings it made."""
    worker = _Worker(_context())
    try:
        worker.submit(job, shared)
        if not wait(worker.waitables(), timeout=_watchdog_seconds(job)):
            return worker.overdue(), {}
        return worker.result(), worker.recorded
    finally:
        worker.stop()


def start_forkserver() -> None:
    """Start the workers' forkserver now (it preloads torch, pytest and Hypothesis in its own process)."""
    from multiprocessing import forkserver

    _context()
    forkserver.ensure_running()


def run_jobs_here(jobs: Sequence[JobSpec], *, on_result: Callable[[JobResult], None]) -> None:
    """Run `jobs` one after another in this (trusted) process, putting back what each may change.

    For a run of one job, such as a student's `grader check --problem`: no forkserver to start and
    no worker to fork, the job runs here while the sandbox zygote starts in its own process. Student
    code still runs only in the job's sandbox.
    """
    from grader.grading.worker import prepare

    prepare()  # torch's threads and determinism; no warm-up session for jobs run here

    baseline = _TrustedState.capture()
    for job in jobs:
        result = run_job_safely(job)
        baseline.restore(job.root)
        on_result(result)


def run_jobs(jobs: Sequence[JobSpec], *, workers: int, on_result: Callable[[JobResult], None]) -> None:
    """Run `jobs` on at most `workers` processes, calling `on_result` in this process as each one ends.

    Student code never runs in these processes (only in each job's own sandbox); a worker grades up to
    `JOBS_PER_WORKER` jobs (fewer if it grows: `WORKER_GROWTH_BYTES`), one at a time, and puts back
    what a job may change before the next. On any exception here, Ctrl-C included, the workers are
    killed before it propagates: results already passed to `on_result` are all that a run leaves
    behind.
    """
    if not jobs:
        return
    ctx = _context()
    shared = SharedRecordings()  # by problem: what one worker recorded, the others need not record again
    pending = _JobQueue(jobs)
    busy: list[_Worker] = []
    idle: list[_Worker] = []
    free_cpus = worker_cpus(workers)  # a worker that stops hands its CPU to the one that replaces it
    # Every worker's folder lies in this one: an interrupt between a worker's start and its place in
    # `busy` or `idle` (which the clean-up below goes through) leaves nothing behind either.
    scratch = tempfile.mkdtemp(prefix="grader-run-")
    os.chmod(scratch, 0o711)
    try:
        while pending or busy:
            while pending and len(busy) < workers:
                worker = idle.pop() if idle else _Worker(ctx, free_cpus.pop(), under=scratch)
                job = pending.take(worker.problem, {w.problem for w in busy})
                worker.submit(job, shared.get(problem_of(job)))
                busy.append(worker)
            timeout = max(0.0, min(worker.deadline for worker in busy) - time.monotonic())
            ready = set(wait([w for worker in busy for w in worker.waitables()], timeout=timeout))
            now = time.monotonic()
            for worker in [w for w in busy if ready.intersection(w.waitables()) or w.deadline <= now]:
                busy.remove(worker)
                graded = worker.job
                result = worker.result() if ready.intersection(worker.waitables()) else worker.overdue()
                if graded is not None and worker.recorded:
                    shared.put(problem_of(graded), worker.recorded)
                if worker.usable():
                    idle.append(worker)
                else:
                    worker.stop()
                    free_cpus.append(worker.cpu)
                on_result(result)
    finally:
        for worker in busy:
            worker.kill()
        for worker in idle:
            worker.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def problem_of(job: JobSpec) -> tuple[str, str, str]:
    return (job.root, job.assignment, job.problem)


class _JobQueue:
    """A run's pending jobs, handed out so that each worker keeps to one problem at a time.

    What a worker learns from a problem's jobs stays in it: the call streams its jobs kept, and the
    recordings before they are handed back (grader.grading.lockstep). Workers taking turns on every
    problem would each replay and capture every test; a worker that grades one problem's jobs in a
    row does it once. So a free worker gets the next job of the problem it graded last; when that
    problem has none left, the first problem (in the order of the jobs) that no busy worker is on;
    when every problem left is taken, a job of the one with the most left, so that the workers end
    together. A problem's jobs go in the order given. Which worker grades a job never changes its
    result, only what the run costs.
    """

    def __init__(self, jobs: Sequence[JobSpec]) -> None:
        self._left: OrderedDict[tuple[str, str, str], deque[JobSpec]] = OrderedDict()
        for job in jobs:
            self._left.setdefault(problem_of(job), deque()).append(job)

    def __bool__(self) -> bool:
        return bool(self._left)

    def take(self, last: tuple[str, str, str] | None, taken: set[tuple[str, str, str] | None]) -> JobSpec:
        """The next job for a worker that graded `last` (None: none yet) while others are on `taken`."""
        if last is not None and last in self._left:
            problem = last
        else:
            free = next((p for p in self._left if p not in taken), None)
            problem = free if free is not None else max(self._left, key=lambda p: len(self._left[p]))
        queue = self._left[problem]
        job = queue.popleft()
        if not queue:
            del self._left[problem]
        return job
