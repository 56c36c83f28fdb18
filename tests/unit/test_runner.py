"""The local pool: workers grade several jobs each, and a job's result never depends on the ones before it."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from grader.course.spec import load_assignment
from grader.grading.jobs import JobSpec, make_job
from grader.grading.sandbox_client import Zygote
from grader.records import JobResult
from grader.run import cluster, runner

# A test file that changes what a later job in the same worker could see, if nothing put it back:
# its own module state, torch's default dtype and grad mode, the environment and sys.path.
LEAKY_TESTS = """
import os
import sys

import torch
from hypothesis import given, strategies as st

from grader import assert_close, points

STATE_AT_IMPORT = (torch.get_default_dtype(), torch.is_grad_enabled(), os.environ.get("LEAKED"), "/leaked" in sys.path)
RUNS = []


@points(1)
def test_starts_from_a_clean_worker():
    RUNS.append(1)
    assert STATE_AT_IMPORT == (torch.float32, True, None, False)
    assert RUNS == [1]


@points(1)
@given(n=st.integers(1, 4))
def test_double(student, reference, n):
    x = torch.arange(float(n))
    assert_close(student.double(x), reference.double(x), name="double(x)")


@points(1)
def test_leaves_a_mess():
    torch.set_default_dtype(torch.float64)
    torch.set_grad_enabled(False)
    os.environ["LEAKED"] = "1"
    sys.path.append("/leaked")
"""


def make_course(root: Path, tests: str, reference: str, students: list[str]) -> Path:
    """A one-problem course (hw1/leaky, function `double`) with these tests, reference and students."""
    problem = root / "problems/hw1/leaky"
    problem.mkdir(parents=True)
    (root / "problems/hw1/assignment.toml").write_text('title = "HW1"\nproblems = ["leaky"]\n')
    (problem / "problem.toml").write_text(
        textwrap.dedent("""
        id = "leaky"
        title = "Doubling"
        module = "leaky"
        names = ["double"]
        points = 3
        [hypothesis]
        max_examples = 5
    """)
    )
    (problem / "README.md").write_text("Double a tensor.\n")
    (problem / "mutants").mkdir()
    (problem / "test_leaky.py").write_text(tests)
    (root / "reference/hw1").mkdir(parents=True)
    (root / "reference/hw1/leaky.py").write_text(reference)
    for i, source in enumerate(students):
        student = root / f"submissions/hw1/s{i}"
        student.mkdir(parents=True)
        (student / "leaky.py").write_text(source)
    return root


@pytest.fixture
def course(tmp_path: Path) -> Path:
    students = [f"def double(x):\n    return x + x  # student {i}\n" for i in range(4)]
    return make_course(tmp_path, LEAKY_TESTS, "def double(x):\n    return 2 * x\n", students)


def grade(course: Path, zygote: Zygote, workers: int) -> list[JobResult]:
    spec = load_assignment(course, "hw1")
    problem = spec.problems[0]
    jobs = [
        make_job(course, problem, folder.name, folder, zygote_address=zygote.address)
        for folder in sorted((course / "submissions/hw1").iterdir())
    ]
    results: list[JobResult] = []
    runner.run_jobs(jobs, workers=workers, on_result=results.append)
    return sorted(results, key=lambda r: r.student)


def test_jobs_in_one_worker_each_start_from_a_clean_trusted_state(course, zygote):
    results = grade(course, zygote, workers=1)
    assert [(r.student, r.status, r.score, r.message) for r in results] == [
        (f"s{i}", "graded", 3.0, "") for i in range(4)
    ]
    assert all(t.outcome == "passed" for r in results for t in r.tests)


def started_workers(monkeypatch) -> list[object]:
    """The workers a run starts from now on, in order."""
    started: list[object] = []
    original = runner._Worker.__init__

    def counting_init(self, ctx, cpu=None, **options):
        started.append(self)
        original(self, ctx, cpu, **options)

    monkeypatch.setattr(runner._Worker, "__init__", counting_init)
    return started


def test_workers_are_replaced_after_their_batch(course, zygote, monkeypatch):
    started = started_workers(monkeypatch)
    monkeypatch.setattr(runner, "JOBS_PER_WORKER", 2)
    results = grade(course, zygote, workers=1)
    assert [r.score for r in results] == [3.0] * 4
    assert len(started) == 2
    # The second worker replays what the first recorded (the run hands it over): recorded once per run.
    # Each worker keeps the call stream of its first replay (grader.grading.call_stream) and passes its next
    # job on the same replies without running the test's body.
    assert [r.modes for r in results] == [(0, 1, 0, 0, 0), (1, 0, 0, 0, 0), (1, 0, 0, 0, 0), (0, 0, 0, 1, 0)]


def test_a_job_carries_its_runs_lockstep_setting_to_the_worker(course, zygote, monkeypatch):
    # A worker's environment is its own (a Dask worker's above all): the job says what its run asked for.
    monkeypatch.setenv("GRADER_LOCKSTEP", "0")
    spec = load_assignment(course, "hw1")
    jobs = [
        make_job(course, spec.problems[0], folder.name, folder, zygote_address=zygote.address)
        for folder in sorted((course / "submissions/hw1").iterdir())[:2]
    ]
    assert [job.lockstep for job in jobs] == [False, False]
    monkeypatch.delenv("GRADER_LOCKSTEP")
    results: list[JobResult] = []
    runner.run_jobs(jobs, workers=1, on_result=results.append)
    assert [(r.score, r.modes) for r in results] == [(3.0, (0, 0, 0, 0, 0))] * 2  # neither recorded nor replayed
    assert make_job(course, spec.problems[0], "s0", course / "submissions/hw1/s0").lockstep is True


def test_a_worker_that_dies_loses_only_its_job(course, zygote, monkeypatch):
    # The second job's worker is killed while it grades; the others still get their results.
    original = runner._Worker.submit
    submitted: list[str] = []

    def submit_then_kill(self, job, shared=None):
        original(self, job, shared)
        submitted.append(job.student)
        if job.student == "s1":
            self.process.kill()

    monkeypatch.setattr(runner._Worker, "submit", submit_then_kill)
    results = grade(course, zygote, workers=1)
    by_student = {r.student: r for r in results}
    assert by_student["s1"].status == "error" and "the grading worker died" in by_student["s1"].message
    assert [by_student[s].score for s in ("s0", "s2", "s3")] == [3.0, 3.0, 3.0]


def test_only_the_banks_modules_are_forgotten_between_jobs(tmp_path, monkeypatch):
    # The bundled course is the grader's own checkout: its package must stay imported.
    import importlib
    import sys

    for folder, name in (
        ("problems/hw1", "bank_test_mod"),
        ("reference/hw1", "bank_ref_mod"),
        ("tool", "not_bank_mod"),
    ):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / f"{name}.py").write_text("VALUE = 1\n")
        monkeypatch.syspath_prepend(str(tmp_path / folder))
    import torch

    deterministic, threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    state = runner._TrustedState.capture()  # as a worker does before its first job
    for name in ("bank_test_mod", "bank_ref_mod", "not_bank_mod"):  # what a job imports
        importlib.import_module(name)
    try:
        state.restore(str(tmp_path))
    finally:  # restore() also pins worker settings: put this process's own back
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(threads)
    assert "bank_test_mod" not in sys.modules and "bank_ref_mod" not in sys.modules
    assert "not_bank_mod" in sys.modules
    del sys.modules["not_bank_mod"]


def test_each_worker_has_its_own_cpu_while_there_are_enough(monkeypatch):
    monkeypatch.setattr(runner.os, "sched_getaffinity", lambda pid: {5, 1, 3})
    assert runner.worker_cpus(1) == [1]
    assert runner.worker_cpus(3) == [1, 3, 5]
    assert runner.worker_cpus(4) == [None] * 4  # more workers than CPUs: the kernel places them


# The trusted worker and the sandbox it drives run on the same one CPU.
PINNED_TESTS = """
import os

from grader import points


@points(3)
def test_the_sandbox_shares_the_workers_cpu(student):
    mine = sorted(os.sched_getaffinity(0))
    assert len(mine) == 1, mine
    assert student.double(mine) == mine + mine
"""

ECHO_CPUS = "import os\n\ndef double(x):\n    cpus = sorted(os.sched_getaffinity(0))\n    return cpus + cpus\n"


def test_a_pinned_workers_sandboxes_run_on_its_cpu(tmp_path, zygote):
    course = make_course(tmp_path, PINNED_TESTS, ECHO_CPUS, [ECHO_CPUS, ECHO_CPUS])
    results = grade(course, zygote, workers=1)
    assert [(r.status, r.score) for r in results] == [("graded", 3.0)] * 2, [r.tests for r in results]


def test_a_changed_course_helper_changes_the_job_key_and_the_recordings_scope(course):
    """Tests import the course's helpers: a helper changed since the last run must regrade, not reuse."""
    problem = load_assignment(course, "hw1").problems[0]
    student = course / "submissions/hw1/s0"
    helpers = course / "course_helpers"
    keys, scopes = set(), set()

    def look() -> None:
        job = make_job(course, problem, "s0", student)
        keys.add(job.key)
        scopes.add(cluster.recordings_scope(job))

    look()
    helpers.mkdir()
    (helpers / "__init__.py").write_text("")
    (helpers / "draws.py").write_text("SIZES = (1, 2)\n")
    look()
    (helpers / "draws.py").write_text("SIZES = (1, 2, 3)\n")
    look()
    assert len(keys) == 3 and len(scopes) == 3 and None not in scopes


def test_a_free_worker_keeps_to_its_problem_then_takes_one_nobody_is_on_then_helps_where_most_is_left():
    def job(student: str, problem: str) -> JobSpec:
        return JobSpec(
            root="/c", assignment="hw", problem=problem, student=student, files=(), key=f"{student}/{problem}"
        )

    # As a run lists them: student by student, every problem of each.
    jobs = [job(s, p) for s in ("s0", "s1", "s2") for p in ("a", "b", "c")] + [job("s3", "c"), job("s4", "c")]
    queue = runner._JobQueue(jobs)
    a, b, c = (("/c", "hw", p) for p in "abc")
    taken = []
    first = queue.take(None, set())  # the first problem in the jobs' order
    second = queue.take(None, {a})  # the first one no busy worker is on
    taken += [first.key, second.key]
    taken += [queue.take(a, {b}).key, queue.take(a, {b}).key]  # the rest of its problem, in order
    taken.append(queue.take(a, {b}).key)  # a is done: c, which nobody is on
    taken.append(queue.take(b, {c}).key)
    # Every problem left is taken: a free worker helps with the one that has the most jobs left.
    taken.append(queue.take(b, {c}).key)  # b still has one
    taken.append(queue.take(b, {c}).key)  # b is done; c has the most left
    while queue:
        taken.append(queue.take(c, {c}).key)
    assert taken == [
        "s0/a", "s0/b", "s1/a", "s2/a", "s0/c", "s1/b", "s2/b", "s1/c", "s2/c", "s3/c", "s4/c",
    ]  # fmt: skip
    assert sorted(taken) == sorted(j.key for j in jobs)
    several = runner._JobQueue([job("s0", "x"), job("s0", "y"), job("s1", "y"), job("s2", "y")])
    assert several.take(None, {("/c", "hw", "x"), ("/c", "hw", "y")}).key == "s0/y"  # y has the most left


FREED_MEMORY = """
import sys
from grader.run import runner

def rss_mib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS"))

chunks = [bytes(2048) + bytes([i % 256]) for i in range(100_000)]  # past pymalloc: the C heap, 200 MB
keep = bytes(4096)  # above them on the heap: freeing them cannot shrink the heap from its top
del chunks
before = rss_mib()
runner.return_freed_memory()
print(before, rss_mib())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim: a no-op elsewhere")
def test_a_worker_gives_the_memory_a_job_freed_back_to_the_system():
    import subprocess

    out = subprocess.run([sys.executable, "-c", FREED_MEMORY], capture_output=True, text=True, check=True).stdout
    before, after = map(int, out.split())
    assert before - after > 100, (before, after)  # most of the 200 MB the job freed


ONE_CALL_TESTS = """
import torch

from grader import assert_close, points


@points(3)
def test_double_once(student):
    assert_close(student.double(torch.ones(1000)), torch.full((1000,), 2.0), name="double(x)")
"""


def test_a_finished_job_keeps_none_of_the_arguments_it_sent(tmp_path, zygote, monkeypatch):
    # A job's pytest session can outlive it (a global cache that keeps one of its test module's classes
    # holds the module, whose loader holds pytest's config): what the session kept of the job's calls,
    # kept for failure messages, must not stay with it (16 MB a tensor on conv1d_backprop's long tests).
    from grader.grading import proxy

    course = make_course(
        tmp_path, ONE_CALL_TESTS, "def double(x):\n    return 2 * x\n", ["def double(x):\n    return x + x\n"]
    )
    sessions: list[proxy.StudentSession] = []
    original = proxy.StudentSession.__init__

    def keeping_init(self, *args, **kwargs):
        sessions.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(proxy.StudentSession, "__init__", keeping_init)
    problem = load_assignment(course, "hw1").problems[0]
    folder = course / "submissions/hw1/s0"
    clean = runner._TrustedState.capture()  # as a worker does between jobs: the bank's modules imported afresh
    try:
        result = runner.run_job_safely(make_job(course, problem, "s0", folder, zygote_address=zygote.address))
    finally:
        clean.restore(str(course))
    assert result.score == 3.0
    assert len(sessions) == 1 and not sessions[0]._calls


def test_a_worker_ends_quietly_when_the_run_closes_its_channel_with_a_result_unread() -> None:
    """A run that stops (SIGTERM to its process group, Ctrl-C) closes its workers' channels, perhaps
    before reading a result one had just sent; the idle worker's next read is then a reset connection,
    not an end of file. It used to end with ConnectionResetError's traceback on the run's stderr."""
    import signal
    from multiprocessing import Pipe

    run_side, worker_side = Pipe(duplex=True)
    worker_side.send(("a result", {}))  # never read
    run_side.close()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        runner._serve(worker_side)  # the worker's body, here: it sets its signals aside, as workers do
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert worker_side.closed


def test_a_worker_is_replaced_once_its_memory_has_grown_past_the_bound(course, zygote, monkeypatch):
    """Not after a count of jobs alone: a worker that does not grow keeps its call streams for the run."""
    started = started_workers(monkeypatch)
    measured: dict[int | None, int] = {}

    def growing(pid):  # each job of a worker adds a little more than half the bound
        measured[pid] = measured.get(pid, 0) + 1
        return (1 << 30) + (measured[pid] - 1) * (runner.WORKER_GROWTH_BYTES // 2 + 1)

    monkeypatch.setattr(runner, "resident_bytes", growing)
    results = grade(course, zygote, workers=1)
    assert [r.score for r in results] == [3.0] * 4
    assert len(started) == 2  # 3 jobs: grown by more than the bound after the third; the 4th in a fresh one


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_resident_bytes_follow_what_a_process_touches() -> None:
    import os

    before = runner.resident_bytes(os.getpid())
    block = bytearray(b"\x01") * (64 << 20)  # every page written
    after = runner.resident_bytes(os.getpid())
    assert before is not None and after is not None and after - before >= 60 << 20
    del block
    assert runner.resident_bytes(None) is None and runner.resident_bytes(2**22 + 12345) is None


# A test whose oracle computes in numpy (tests/fixtures/numpy_oracle.py).
NUMPY_TESTS = (Path(__file__).resolve().parents[1] / "fixtures/numpy_oracle.py").read_text()


def test_a_workers_numpy_computes_on_one_thread(tmp_path, zygote):
    """The worker and its sandboxes share one core: a pool of BLAS threads spinning in the worker after
    a course's numpy oracle would take that core from the student's code, and its CPU from the run."""
    course = make_course(
        tmp_path, NUMPY_TESTS, "def double(x):\n    return 2 * x\n", ["def double(x):\n    return x + x\n"]
    )
    results = grade(course, zygote, workers=1)
    assert [(r.status, r.score) for r in results] == [("graded", 3.0)], [t.message for r in results for t in r.tests]


BUSY_ORACLE_TESTS = """
import time

import torch

from grader import assert_close, points


def busy(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


@points(3)
def test_double_once(student):
    busy(0.3)  # the trusted side's own work: building inputs, the oracle
    assert_close(student.double(torch.ones(10)), torch.full((10,), 2.0), name="double(x)")
"""

BUSY_STUDENT = """import time


def double(x):
    end = time.process_time() + 0.4
    while time.process_time() < end:
        pass
    return x + x
"""


def test_a_jobs_cpu_time_says_how_much_of_it_its_sandboxes_used(tmp_path, zygote):
    """A job's CPU time is the trusted worker's and its sandboxes'; the sandboxes' share is kept apart, so
    that the benchmark can say how much of a job is the student's code and how much the grader's side."""
    course = make_course(tmp_path, BUSY_ORACLE_TESTS, "def double(x):\n    return 2 * x\n", [BUSY_STUDENT])
    problem = load_assignment(course, "hw1").problems[0]
    folder = course / "submissions/hw1/s0"
    clean = runner._TrustedState.capture()
    try:
        result = runner.run_job_safely(make_job(course, problem, "s0", folder, zygote_address=zygote.address))
    finally:
        clean.restore(str(course))
    assert result.score == 3.0, [t.message for t in result.tests]
    assert 0.4 <= result.sandbox_cpu_seconds < 0.4 + 0.25, result
    assert result.cpu_seconds - result.sandbox_cpu_seconds >= 0.3, result  # the oracle's busy loop, on the trusted side
    stored = JobResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert stored.sandbox_cpu_seconds == result.sandbox_cpu_seconds
    old = {k: v for k, v in result.to_dict().items() if k != "sandbox_cpu_seconds"}  # a store from before the field
    assert JobResult.from_dict(old).sandbox_cpu_seconds == 0.0
