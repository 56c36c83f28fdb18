"""The grading session (grader.run.session.GradingSession): one run path for grade, check, the
Gradescope run and validate. It loads each assignment once, owns the zygote and the staging folder
(nothing in module globals), and grades a job the zygote failed again on a fresh zygote."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from grader.course.spec import load_assignment
from grader.grading import jobs as jobs_module
from grader.grading.jobs import JobSpec, make_job
from grader.grading.sandbox_client import Zygote
from grader.records import JobResult
from grader.run import session as session_module
from grader.run.session import GradingSession

from .test_runner import LEAKY_TESTS, make_course

CORRECT = "def double(x):\n    return 2 * x\n"


@pytest.fixture
def course(tmp_path: Path) -> Path:
    return make_course(tmp_path / "course", LEAKY_TESTS, CORRECT, [CORRECT, "def double(x):\n    return x\n"])


def test_each_assignment_is_read_once_per_session(course, monkeypatch):
    calls = []
    real = session_module.load_assignment
    monkeypatch.setattr(session_module, "load_assignment", lambda *a: calls.append(a) or real(*a))
    with GradingSession(course) as session:
        first, again = session.assignment("hw1"), session.assignment("hw1")
    assert first is again and len(calls) == 1


def test_the_staging_folder_belongs_to_the_session_and_goes_with_it(course, tmp_path):
    zipped = tmp_path / "zips"
    zipped.mkdir()
    for name in ("ann", "bob"):
        data = io.BytesIO()
        with zipfile.ZipFile(data, "w") as archive:
            archive.writestr("leaky.py", CORRECT)
        (zipped / f"{name}.zip").write_bytes(data.getvalue())
    with GradingSession(course) as session:
        assignment = session.assignment("hw1")
        first = session.find_submissions(zipped, assignment).students
        second = session.find_submissions(zipped, assignment).students
        assert sorted(first) == ["ann", "bob"]
        staged = {p.parent for p in (*first.values(), *second.values())}
        assert len(staged) == 2  # one fresh folder per discovery
        assert all((p / "leaky.py").read_text() == CORRECT for p in first.values())
    assert not any(p.exists() for p in staged)  # removed when the session closes
    assert not [name for name in vars(session_module) if "staging" in name.lower()]  # no module global


class _FakeZygote:
    """Stands in for SharedZygote: counts what the session asks of it."""

    def __init__(self) -> None:
        self.launched = self.recovered = self.closed = 0

    def launch(self) -> None:
        self.launched += 1

    def get(self) -> Zygote:
        return Zygote(address="/nowhere.sock")

    def recover(self) -> bool:
        self.recovered += 1
        return True

    def close(self) -> None:
        self.closed += 1


def _result(job: JobSpec, message: str = "") -> JobResult:
    status = "error" if message else "graded"
    return JobResult(student=job.student, assignment=job.assignment, problem=job.problem, status=status,
                     score=0.0 if message else 3.0, max_score=3.0, message=message, key=job.key)


def _session_with(course: Path, monkeypatch, failures: dict[str, int]) -> tuple[GradingSession, list[str]]:
    """A session whose jobs 'run' instantly: a student in `failures` has its first n tries fail in the zygote."""
    ran: list[str] = []

    def fake_run(batch, *, on_result, workers=1):
        for job in batch:
            assert job.zygote_address == "/nowhere.sock"
            ran.append(job.student)
            left = failures.get(job.student, 0)
            failures[job.student] = left - 1
            on_result(_result(job, "grader error: ZygoteError: the zygote went away" if left > 0 else ""))

    monkeypatch.setattr(session_module, "run_jobs", fake_run)
    monkeypatch.setattr(session_module, "run_jobs_here", fake_run)
    monkeypatch.setattr(session_module, "start_forkserver", lambda: None)
    session = GradingSession(course, workers=2)
    session.zygote = _FakeZygote()  # type: ignore[assignment]
    return session, ran


def _jobs(course: Path) -> list[JobSpec]:
    problem = load_assignment(course, "hw1").problems[0]
    return [make_job(course, problem, f.name, f) for f in sorted((course / "submissions/hw1").iterdir())]


def test_a_job_the_zygote_failed_is_graded_again_on_a_fresh_zygote(course, monkeypatch):
    session, ran = _session_with(course, monkeypatch, {"s1": 1})
    results: list[JobResult] = []
    session.run_jobs(_jobs(course), results.append)
    assert ran == ["s0", "s1", "s1"] and session.zygote.recovered == 1  # type: ignore[attr-defined]
    assert sorted((r.student, r.status) for r in results) == [("s0", "graded"), ("s1", "graded")]


def test_a_job_the_zygote_keeps_failing_is_reported_after_the_retries(course, monkeypatch):
    session, ran = _session_with(course, monkeypatch, {"s1": 99})
    results: list[JobResult] = []
    session.run_jobs(_jobs(course), results.append)
    assert ran.count("s1") == 1 + session_module._ZYGOTE_RETRIES
    [failed] = [r for r in results if r.student == "s1"]
    assert failed.status == "error" and "ZygoteError" in failed.message
    assert len(results) == 2  # each job reported exactly once


def test_nothing_to_grade_starts_no_zygote(course, monkeypatch):
    session, ran = _session_with(course, monkeypatch, {})
    session.run_jobs([], lambda r: None)
    assert ran == [] and session.zygote.launched == 0  # type: ignore[attr-defined]


def test_closing_the_session_closes_its_zygote(course, monkeypatch):
    session, _ = _session_with(course, monkeypatch, {})
    with session:
        pass
    assert session.zygote.closed == 1  # type: ignore[attr-defined]


def test_a_job_without_a_zygote_starts_its_own_and_closes_it(course, monkeypatch):
    """No module-level zygote: a job run on its own (no executor gave it an address) owns one for its length."""
    started: list[_FakeZygote] = []

    class Starting:
        @staticmethod
        def start() -> _FakeZygote:
            started.append(_FakeZygote())
            return started[-1]

    monkeypatch.setattr(jobs_module, "Zygote", Starting)
    job = _jobs(course)[0]
    for _ in range(2):
        with jobs_module._zygote_for(job) as zygote:
            assert zygote is started[-1] and zygote.closed == 0
        assert zygote.closed == 1
    assert len(started) == 2
    assert not [name for name, value in vars(jobs_module).items() if isinstance(value, (Zygote, _FakeZygote))]


def test_grading_through_the_session_grades_and_keeps_stored_jobs(course):
    out = course / "reports/hw1"
    with GradingSession(course, workers=1) as session:
        summary = session.grade("hw1", course / "submissions/hw1", out)
        assert (summary.students, summary.ran, summary.errors) == (2, 2, [])
        again = session.grade("hw1", course / "submissions/hw1", out)
        assert (again.ran, again.reused) == (0, 2)  # unchanged jobs are not graded again
        one, results = session.grade_one_folder("hw1", course / "submissions/hw1/s1", "you")
    assert one.students == 1 and [(r.student, r.score) for r in results] == [("you", 2.0)]  # s1 fails test_double only


def test_a_dask_worker_keeps_its_state_in_a_worker_plugin():
    import pickle

    from grader.run import cluster, runner

    state = cluster.GradingWorkerState()
    state.setup(worker=None)  # on a worker: its own zygote (none until a job needs one) and recordings
    state.recordings.put("scope", {"test": b"x"})
    assert state.zygote is None and state.recordings.get("scope") == {"test": b"x"}
    assert vars(pickle.loads(pickle.dumps(state))) == {}  # what travels: nothing of this process
    fake = _FakeZygote()
    state.zygote = fake  # type: ignore[assignment]
    state.teardown(worker=None)
    assert fake.closed == 1 and state.zygote is None
    assert not [n for n in vars(runner) if n.startswith("_cluster")]


def test_the_lockstep_fact_reads_alike_however_the_workers_split_recording_and_replay(monkeypatch):
    # Two runs of one class on two workers: which job records a test first depends on timing.
    from grader.results.report import run_facts

    monkeypatch.delenv("GRADER_LOCKSTEP", raising=False)
    one, other = session_module.lockstep_fact(168, 32, 5), session_module.lockstep_fact(164, 36, 5)
    assert one == other and one.startswith("200 Hypothesis tests passed in lockstep") and ", 5 ran under" in one
    assert session_module.lockstep_fact(168, 32, 6) != one  # a test that ran another way does show
    assert session_module.lockstep_fact(100, 32, 5, 68) == one  # passed on a call stream: in lockstep too
    assert session_module.lockstep_fact(100, 32, 2, 68, 3) == one  # a failure repeated from a call stream: as one
    facts = dict(run_facts({"lockstep": one, "lockstep_split": session_module.lockstep_split(100, 32, 68)}))
    assert facts["Lockstep grading"] == one
    assert facts["Lockstep tests by how they ran (varies with the workers' timing)"] == "recorded 32, replayed 100, streamed 68, repeated 0"
    monkeypatch.setenv("GRADER_LOCKSTEP", "0")
    assert session_module.lockstep_fact(0, 0, 7).startswith("off")
