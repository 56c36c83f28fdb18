"""A test's exchanges from its start, kept with its result (StudentSession.start_transcript): a later job
whose sandbox gives the same replies to the same requests, from the same history, gets that result at the
test's start, without a replay, a run under Hypothesis or a pytest session; with its own output, from
which what it printed before the recorded run started again is left out. Every result is the same with
grading ahead, with every job in a pytest session of its own, and with lockstep off."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.grading import call_stream, lockstep, proxy
from grader.grading.plugin import GradingPlugin
from grader.records import JobResult

from .test_call_stream import DOUBLER, _fresh, grade_here, zygote  # noqa: F401 - fixtures (_fresh: autouse)
from .test_call_stream import comparable as without_timings
from .test_grade_ahead import ahead_and_alone, grading  # noqa: F401 - grading: a fixture (autouse)
from .test_runner import make_course

TESTS = """
import torch
from hypothesis import given, strategies as st

from grader import assert_close, points


@points(1)
@given(n=st.integers(1, 30), data=st.data())
def test_draws_after_a_reply(student, n, data):
    x = torch.ones(n)
    y = student.double(x)
    if not torch.equal(y, 2 * x):  # another reply than the reference's: another value is drawn
        data.draw(st.integers(0, 3), label="extra")
    assert_close(y, 2 * x, name="double(ones)")


@points(1)
def test_plain(student):
    x = torch.full((3,), 7.0)
    assert_close(student.double(x), 2 * x, name="double(full(3, 7))")


@points(1)
@given(n=st.integers(1, 30))
def test_linspace(student, n):  # one call an example, whatever the replies: a replay goes on past its batch
    x = torch.linspace(-1, 1, n)
    assert_close(student.double(x), 2 * x, name="double(linspace(-1, 1, n))")
"""

CORRECT = "def double(x):\n    return x + x\n" + DOUBLER
LATE_PRINTS = "def double(x):\n    n = x.shape[0]\n    print('n =', n)\n    return x + x if n < 7 else 3 * x\n" + DOUBLER
PLAIN_WRONG = "def double(x):\n    return 3 * x if x.shape[0] == 3 and float(x[0]) == 7.0 else x + x\n" + DOUBLER
OTHER_BITS = "def double(x):\n    return x * (2 + 1e-6)\n" + DOUBLER
OTHER_BITS_THEN_WRONG = (
    "def double(x):\n    n = x.shape[0]\n    print('n =', n)\n    return x * (2 + 1e-6) if n < 7 else 3 * x\n" + DOUBLER
)
STUDENTS = {
    "a0_records": CORRECT,
    "a1_replays": CORRECT,
    "b0_late_prints": LATE_PRINTS,  # fails its first and last tests from n = 7 on, printing every call
    "b1_late_prints_again": LATE_PRINTS,
    "b2_late_quiet": LATE_PRINTS.replace("    print('n =', n)\n", ""),  # b0's replies, nothing printed
    "c0_plain_wrong": PLAIN_WRONG,  # fails the test without Hypothesis alone
    "c1_plain_wrong_again": PLAIN_WRONG,
    "d0_other_bits": OTHER_BITS,  # passes, but its replay draws more than recorded: Hypothesis runs it
    "d1_other_bits_again": OTHER_BITS,
    "d2_other_bits_prints": OTHER_BITS.replace("    return", "    print('other bits')\n    return", 1),
    # Other bits from the first call (within tolerance), wrong from n = 7 on: its last test, which has no
    # stream from its history, starts again under Hypothesis after a call that no batch of 4 ends with.
    "f0_other_bits_then_wrong": OTHER_BITS_THEN_WRONG,
    "f1_other_bits_then_wrong_again": OTHER_BITS_THEN_WRONG,
    "e0_correct_at_the_end": CORRECT,
}


@pytest.fixture
def followed(monkeypatch, grading) -> dict[str, list[tuple[str, int | None]]]:  # noqa: F811
    """Per student, each stream that passed: "passing" (a passing body's) or the result of the run from a
    test's start it was, and where that run started again (None: never)."""
    seen: dict[str, list[tuple[str, int | None]]] = {}
    run_stream = proxy.StudentSession.run_stream

    def spied(session: proxy.StudentSession, streams: list[call_stream.CallStream], **options):
        outcome = run_stream(session, streams, **options)
        if outcome[0] == "passed" and session.followed is not None:
            verdict = session.followed.verdict
            kind = "passing" if verdict is None else verdict.outcome
            seen.setdefault(grading[-1], []).append((kind, session.followed.restarted_at))
        return outcome

    monkeypatch.setattr(proxy.StudentSession, "run_stream", spied)
    return seen


def graded_three_ways(
    tmp_path: Path, zygote, monkeypatch, tests: str = TESTS, students: dict[str, str] = STUDENTS  # noqa: F811
) -> dict[str, JobResult]:
    """The class graded ahead of pytest, then with every job in a session of its own, then with lockstep off:
    every result the same (the modes too, but for lockstep off, which has none)."""
    course = make_course(tmp_path, tests, students[next(iter(students))], [])
    ahead = ahead_and_alone(course, zygote, students, monkeypatch)
    lockstep.forget_all()
    off = grade_here(course, zygote, False)
    for name in students:
        assert without_timings(ahead[name]) == without_timings(off[name]), name
    return ahead


def test_a_later_job_gets_a_tests_result_at_its_start_on_the_same_replies(tmp_path, zygote, monkeypatch, followed):  # noqa: F811
    results = graded_three_ways(tmp_path, zygote, monkeypatch)
    modes = {name: result.modes for name, result in results.items()}  # (replayed, recorded, hypothesis, streamed, repeated)
    scores = {name: result.score for name, result in results.items()}
    assert scores == {**{name: 3.0 for name in STUDENTS}, "b0_late_prints": 1.0, "b1_late_prints_again": 1.0,
                      "b2_late_quiet": 1.0, "c0_plain_wrong": 2.0, "c1_plain_wrong_again": 2.0,
                      "f0_other_bits_then_wrong": 1.0, "f1_other_bits_then_wrong_again": 1.0}  # fmt: skip
    # The first of each way of failing or passing otherwise runs under Hypothesis (the plain test, its body).
    assert modes["b0_late_prints"][2] == 2 and modes["d0_other_bits"][2] == 1
    # The same files again: every test decided at its start, the failures repeated, nothing under Hypothesis.
    assert modes["b1_late_prints_again"] == modes["b2_late_quiet"] == (0, 0, 0, 0, 2)
    assert modes["d1_other_bits_again"] == modes["d2_other_bits_prints"] == (0, 0, 0, 2, 0)
    assert modes["c1_plain_wrong_again"] == (0, 0, 0, 2, 0)  # a test without Hypothesis has no mode
    # b0's failing runs started again after their replay failed: what b1 printed before that point (its calls
    # on the replay's examples) is left out of its output, as b0's and lockstep off's leave it out.
    # (Each list: graded ahead, then in sessions of their own.)
    assert [kind for kind, _ in followed["b1_late_prints_again"]] == ["failed", "passing", "failed"] * 2
    assert all(at is not None for kind, at in followed["b1_late_prints_again"] if kind == "failed")
    b0, b1 = results["b0_late_prints"].tests, results["b1_late_prints_again"].tests
    assert [t.output for t in b1] == [t.output for t in b0] and "n = 7" in b1[0].output
    assert b1[0].output.count("\n") < 40  # the run under Hypothesis alone, not the replay's calls before it
    assert [t.message for t in results["b2_late_quiet"].tests] == [t.message for t in b0]
    assert [t.output for t in results["b2_late_quiet"].tests] == ["", "", ""]
    # c1's test without Hypothesis fails as c0's did; d1's test that passed under Hypothesis passes at its start.
    assert ("failed", None) in followed["c1_plain_wrong_again"]
    assert any(kind == "passed" and at is not None for kind, at in followed["d1_other_bits_again"])
    assert results["d2_other_bits_prints"].tests[0].output.startswith("other bits\n")
    f0, f1 = results["f0_other_bits_then_wrong"].tests, results["f1_other_bits_then_wrong_again"].tests
    assert [t.output for t in f1] == [t.output for t in f0] and "n = 7" in f1[2].output
    restarts = [at for kind, at in followed["f1_other_bits_then_wrong_again"] if kind == "failed"]
    assert None not in restarts and any(at % call_stream.FIRST_BATCH for at in restarts), restarts


def test_every_job_of_a_repeated_class_is_decided_before_pytest(tmp_path, zygote, monkeypatch, grading):  # noqa: F811
    ended: dict[str, bool] = {}
    grade_ahead = GradingPlugin.grade_ahead

    def spied(plugin: GradingPlugin, plan):
        done = ended.setdefault(grading[-1], grade_ahead(plugin, plan))  # the first grading: ahead
        return done

    monkeypatch.setattr(GradingPlugin, "grade_ahead", spied)
    graded_three_ways(tmp_path, zygote, monkeypatch)
    again = ["b1_late_prints_again", "b2_late_quiet", "c1_plain_wrong_again", "d1_other_bits_again",
             "d2_other_bits_prints", "e0_correct_at_the_end"]  # fmt: skip
    assert all(ended[name] for name in again), ended
    assert not ended["b0_late_prints"] and not ended["d0_other_bits"]


# A sandbox object the test made (a Doubler) passed back to the student's code: a kept run names it in the
# request that passes it, and releases it only after that request.
HANDLE_TESTS = """
import torch
from hypothesis import given, strategies as st

from grader import assert_close, points


@points(3)
@given(n=st.integers(1, 30))
def test_apply(student, n):
    x = torch.linspace(-1, 1, n)
    assert_close(student.apply(student.Doubler(), x), 2 * x, name="apply(Doubler(), x)")
"""
APPLY = "\n\ndef apply(f, x):\n    return f(x)\n"
APPLY_LATE = "\n\ndef apply(f, x):\n    return f(x) if x.shape[0] < 7 else 3 * x\n"


def test_a_kept_run_that_passes_the_students_own_objects_back_is_followed(tmp_path, zygote, monkeypatch, grading):  # noqa: F811
    ended: dict[str, bool] = {}
    grade_ahead = GradingPlugin.grade_ahead

    def spied(plugin: GradingPlugin, plan):
        return ended.setdefault(grading[-1], grade_ahead(plugin, plan))  # the first grading: ahead

    monkeypatch.setattr(GradingPlugin, "grade_ahead", spied)
    students = {"a0_records": CORRECT + APPLY, "a1_replays": CORRECT + APPLY, "b0_late": CORRECT + APPLY_LATE,
                "b1_late_again": CORRECT + APPLY_LATE, "b2_late_again": CORRECT + APPLY_LATE}  # fmt: skip
    results = graded_three_ways(tmp_path, zygote, monkeypatch, HANDLE_TESTS, students)
    assert results["b0_late"].score == 0.0 and results["b0_late"].modes == (0, 0, 1, 0, 0)
    assert results["b1_late_again"].modes == results["b2_late_again"].modes == (0, 0, 0, 0, 1)
    assert ended["b1_late_again"] and ended["b2_late_again"] and not ended["b0_late"]
