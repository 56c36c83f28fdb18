"""A job decided on its call streams before pytest starts (grader.grading.plugin.GradingPlugin.grade_ahead):
every result, the modes included, is what the job's pytest session alone gives, whether every test passed
ahead, pytest took over before a test, or pytest went on with a test whose set-up (and stream) ran ahead."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from grader.errors import SandboxRefused
from grader.grading import jobs, lockstep, proxy
from grader.grading.plugin import GradingPlugin
from grader.records import JobResult

from .test_call_stream import DOUBLER, _fresh, grade_here, zygote  # noqa: F401 - fixtures (_fresh: autouse)
from .test_call_stream import comparable as without_timings
from .test_failure_streams import STUDENTS as FAILING_STUDENTS
from .test_runner import make_course

TESTS = """
import pytest
import torch
from hypothesis import given, strategies as st

from grader import assert_close, points

SEEN = []


@points(1)
@given(n=st.integers(1, 30))
def test_scaled(student, reference, n):
    x = torch.linspace(-1, 1, n)
    assert_close(student.double(x), reference.double(x), name="double(x)")


@points(1)
def test_plain(student):
    assert_close(student.double(torch.arange(5.0)), 2 * torch.arange(5.0), name="double(arange(5))")
    assert_close(student.Doubler()(torch.ones(3)), torch.full((3,), 2.0), name="Doubler()(ones(3))")


@points(1)
@given(n=st.integers(1, 30))
def test_twice(student, n):
    x = torch.arange(float(n))
    assert_close(student.double(student.double(x)), 4 * x, name="double(double(x))")
"""

# A test pytest must run itself (a fixture of its own): pytest takes over before it, after the first two.
WITH_A_FIXTURE_OF_ITS_OWN = TESTS.replace(
    "@points(1)\n@given(n=st.integers(1, 30))\ndef test_twice(student, n):",
    "@pytest.fixture\ndef offset():\n    return 0.0\n\n\n@points(1)\n@given(n=st.integers(1, 30))\n"
    "def test_twice(student, n, offset):",
)

CORRECT = "def double(x):\n    return x + x\n" + DOUBLER
STUDENTS = {
    **{f"f{name}": source for name, source in FAILING_STUDENTS.items()},
    "a0_correct": CORRECT,
    "a1_correct": CORRECT,
    "a2_correct_again": "def double(x):\n    return 2 * x\n" + DOUBLER,
    "a3_prints_at_import": "print('hello')\n" + CORRECT,
    "a4_raises_at_import": "raise RuntimeError('broken on purpose')\n" + CORRECT,
    "a4b_prints_then_raises_at_import": "print('about to fail')\nraise RuntimeError('broken on purpose')\n",
    "a5_exits_at_import": "import os\nos._exit(4)\n" + CORRECT,
    "a6_wrong_in_the_last_test": "def double(x):\n    return 3 * x if x[0] == 0 and x.shape[0] != 5 else x + x\n"
    + DOUBLER,
    "a7_wrong_in_the_plain_test": "def double(x):\n    return x + x if x.shape[0] != 5 else 3 * x\n" + DOUBLER,
    "a8_misses_a_name": "def double(x):\n    return x + x\n",
    "a9_counts_its_calls": "CALLS = [0]\n\ndef double(x):\n    CALLS[0] += 1\n    print('call', CALLS[0])\n"
    "    return x + x\n" + DOUBLER,
    "b0_correct_at_the_end": CORRECT,
    "c0_sandbox_refused": CORRECT,  # its sandbox refuses to start (`refusing`): a grader error, not the student's
}


@pytest.fixture(autouse=True)
def grading(monkeypatch) -> list[str]:
    """The student whose job is being graded ([-1]): jobs grade a copy of the submission's folder."""
    students: list[str] = []
    grade = jobs._grade

    def spied(job, *args):
        students.append(job.student)
        return grade(job, *args)

    monkeypatch.setattr(jobs, "_grade", spied)
    return students


@pytest.fixture
def ended(monkeypatch, grading) -> dict[str, str]:
    """How each job's `grade_ahead` ended, by student: every test decided ("all"), pytest took over before
    a test ("before"), or went on with a test set up ahead, with or without its stream sent ("sent",
    "set up")."""
    seen: dict[str, str] = {}
    grade_ahead = GradingPlugin.grade_ahead

    def spied(plugin: GradingPlugin, plan):
        done = grade_ahead(plugin, plan)
        resumed = plugin._resumed
        seen[grading[-1]] = (
            "all" if done else "before" if resumed is None else "set up" if resumed.stream is None else "sent"
        )
        return done

    monkeypatch.setattr(GradingPlugin, "grade_ahead", spied)
    return seen


@pytest.fixture(autouse=True)
def refusing(monkeypatch, grading) -> None:
    """c0's sandbox refuses to start, as one without a required protection would."""
    observe = proxy.StudentSession._observe_protections

    def refuse(session: proxy.StudentSession) -> None:
        observe(session)
        if grading[-1] == "c0_sandbox_refused":
            session.close()
            raise SandboxRefused("the sandbox refused to run student code: made up for this test")

    monkeypatch.setattr(proxy.StudentSession, "_observe_protections", refuse)


def comparable(result: JobResult) -> JobResult:
    """A result without its timings (the modes stay: they must be the same too)."""
    return dataclasses.replace(without_timings(result), modes=result.modes)


def graded_with_and_without(
    tmp_path: Path, zygote, tests: str, monkeypatch, reference: str = CORRECT  # noqa: F811
) -> dict[str, JobResult]:
    course = make_course(tmp_path, tests, reference, [])
    spec = course / "problems/hw1/leaky/problem.toml"
    spec.write_text(
        spec.read_text().replace(
            "points = 3\n", 'points = 3\nforbidden = ["torch.cumsum"]\n[limits]\ncall_timeout = 1\n'
        )
    )
    return ahead_and_alone(course, zygote, STUDENTS, monkeypatch)


def ahead_and_alone(course: Path, zygote, students: dict[str, str], monkeypatch) -> dict[str, JobResult]:  # noqa: F811
    """Hand in `students`, grade them ahead of pytest where it can, then with every job in a pytest session of
    its own, and require the same results (the modes too); the results ahead."""
    for name, source in students.items():
        (course / "submissions/hw1" / name).mkdir(parents=True)
        (course / "submissions/hw1" / name / "leaky.py").write_text(source)
    ahead = grade_here(course, zygote, True)
    lockstep.forget_all()
    with monkeypatch.context() as m:
        m.setattr(lockstep, "job_plan", lambda key: None)  # every job in a pytest session of its own
        alone = grade_here(course, zygote, True)
    for name in students:
        assert comparable(ahead[name]) == comparable(alone[name]), name
    return ahead


# The same tests asking for the reference before the student: a module that cannot be imported is then
# asked for after the reference was imported, in the session as ahead of it.
REFERENCE_FIRST = TESTS.replace("def test_scaled(student, reference, n):", "def test_scaled(reference, student, n):")


@pytest.mark.parametrize("tests", [TESTS, REFERENCE_FIRST], ids=["student first", "reference first"])
def test_every_result_is_the_sessions_whichever_way_grading_ahead_ends(tmp_path, zygote, monkeypatch, ended, tests):  # noqa: F811
    results = graded_with_and_without(tmp_path, zygote, tests, monkeypatch)
    assert ended["a1_correct"] == "before"  # a0 recorded, a1 replays (no stream yet)
    assert ended["a2_correct_again"] == ended["b0_correct_at_the_end"] == ended["a9_counts_its_calls"] == "all"
    # A module that cannot be imported fails every test, as in the session: no stream needed.
    assert ended["a4_raises_at_import"] == ended["a5_exits_at_import"] == "all", ended
    assert results["a4_raises_at_import"].status == "crashed"
    outputs = [t.output for t in results["a4b_prints_then_raises_at_import"].tests]
    assert outputs == ["about to fail\n", "", ""] and ended["a4b_prints_then_raises_at_import"] == "all"
    assert all(t.outcome == "failed" and "broken on purpose" in t.message for t in results["a4_raises_at_import"].tests)
    assert ended["a6_wrong_in_the_last_test"] == ended["a7_wrong_in_the_plain_test"] == "sent"
    # A fixture that raised anything else: pytest goes on with the test, its set-up done, and raises it again.
    assert ended["c0_sandbox_refused"] == "set up"
    assert results["c0_sandbox_refused"].status == "error" and "made up" in results["c0_sandbox_refused"].message
    # a0 records, a1 replays; the same replies later pass on their streams, ahead of pytest.
    assert results["a2_correct_again"].modes == (0, 0, 0, 2, 0) and results["a2_correct_again"].score == 3.0
    assert results["a3_prints_at_import"].tests[0].output == "hello\n"
    assert "broken on purpose" in results["a4_raises_at_import"].message
    assert results["a6_wrong_in_the_last_test"].score == 2.0
    assert results["a7_wrong_in_the_plain_test"].score == 2.0
    assert results["b0_correct_at_the_end"].modes == (0, 0, 0, 2, 0)
    assert results["b0_correct_at_the_end"].score == 3.0


def test_pytest_takes_over_before_a_test_it_must_run_itself(tmp_path, zygote, monkeypatch, ended):  # noqa: F811
    results = graded_with_and_without(tmp_path, zygote, WITH_A_FIXTURE_OF_ITS_OWN, monkeypatch)
    assert "before" in ended.values() and "all" not in ended.values(), ended
    assert results["b0_correct_at_the_end"].score == 3.0


def test_a_broken_reference_is_the_same_error_either_way(tmp_path, zygote, monkeypatch, ended):  # noqa: F811
    broken = "import torch\nif not hasattr(torch, 'grader_made_up'):\n    raise ImportError('the reference is broken')\n"
    results = graded_with_and_without(tmp_path, zygote, TESTS, monkeypatch, reference=CORRECT + broken)
    assert results["a1_correct"].status == "error" and "reference" in results["a1_correct"].message
    # Its first test never passes, so never has a stream: pytest takes over before it in every job.
    assert set(ended.values()) == {"before"}, ended
