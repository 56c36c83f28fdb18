"""Failing runs kept as call streams (grader.grading.lockstep.failure_streams): a job whose run under
Hypothesis would make an earlier job's failing run's calls, and whose sandbox gives that run's replies
to every one of them, fails with that run's result without running Hypothesis; any other job runs
under Hypothesis as before, and every job's result is exactly what it is with lockstep off."""

from __future__ import annotations

import os

import pytest

from grader.grading import call_stream, lockstep, proxy

from .test_call_stream import DOUBLER, graded_both_ways, zygote  # noqa: F401 - fixtures
from .test_runner import make_course

TESTS = """
import torch
from hypothesis import given, strategies as st

from grader import assert_close, points


@points(1)
@given(n=st.integers(1, 40), scale=st.floats(0.5, 2.0))
def test_scaled(student, reference, n, scale):
    x = torch.linspace(-1, 1, n) * scale
    assert_close(student.double(x), reference.double(x), name="double(x)")


@points(1)
@given(n=st.integers(1, 40))
def test_twice(student, n):
    x = torch.arange(float(n))
    assert_close(student.double(student.double(x)), 4 * x, name="double(double(x))")


@points(1)
@given(n=st.integers(1, 40))
def test_doubler(student, n):
    assert_close(student.Doubler()(torch.ones(n)), torch.full((n,), 2.0), name="Doubler()(x)")
"""

CORRECT = "def double(x):\n    return x + x\n" + DOUBLER


def wrong_from(k: int, other: str = "3 * x") -> str:
    return (
        f"import time\nimport torch\n\ndef double(x):\n    n = x.shape[0]\n    return x + x if n < {k} else {other}\n"
        + DOUBLER
    )


@pytest.fixture(autouse=True)
def _fresh():
    lockstep.forget_all()
    yield
    lockstep.forget_all()


def wrong(at: str = "", then: str = "") -> str:
    """Three times x; before that, `then` when `at` holds (a condition on n)."""
    body = f"    if {at}:\n        {then}\n" if at else ""
    return f"import time\n\ndef double(x):\n    n = x.shape[0]\n{body}    return 3 * x\n" + DOUBLER


def late(then: str) -> str:
    """Wrong from n = 7 on (as `wrong_from(7)`), with `then` run first on every call (it may return)."""
    return wrong_from(7).replace("    n = x.shape[0]\n", "    n = x.shape[0]\n" + then)


PRINTS = "def double(x):\n    print('double of', x.shape[0])\n    return 3 * x\n" + DOUBLER
# Asks to exit on n = 4 (a reply, the same every time: the sandbox is then closed, and the test's later calls
# fail), but only once: a later test run on the same sandbox, not on a new one, would see no exit.
SYS_EXIT = (
    "import sys\nASKED = []\n\ndef double(x):\n    n = x.shape[0]\n    if n == 4 and not ASKED:\n"
    "        ASKED.append(n)\n        sys.exit(3)\n    return x + x if n < 7 else 3 * x\n" + DOUBLER
)
STUDENTS = {
    "s00_records": CORRECT,
    "s01_replays": CORRECT,
    "s02_wrong": wrong(),
    "s03_wrong_again": wrong(),
    "s04_wrong_prints": PRINTS,  # the same replies as s02's: its failures repeat, with its own output
    "s05_late": wrong_from(7),
    "s06_late_again": wrong_from(7),
    "s07_late_then_other": wrong_from(7, "3 * x if n < 20 else 5 * x"),  # s05's replies, then others
    "s08_raises": wrong("n == 2", "raise ValueError('two')"),
    "s09_raises_again": wrong("n == 2", "raise ValueError('two')"),
    "s10_wrong_then_hangs": wrong("n == 3", "time.sleep(30)"),
    "s11_hangs_again": wrong("n == 3", "time.sleep(30)"),
    "s12_wrong_then_exits": wrong("n == 3", "import os; os._exit(3)"),
    "s13_late_prints": late("    print(n)\n"),
    "s14_late_hangs_mid": late("    if n == 4:\n        time.sleep(30)\n"),
    "s15_late_other_mid": late("    if n == 8:\n        return 5 * x\n"),
    "s16_late_exits_mid": late("    if n == 6:\n        import os; os._exit(3)\n"),
    "s17_late_forbidden_mid": late("    if n == 5:\n        getattr(torch, 'cum' + 'sum')(x, 0)\n"),
    "s18_late_other_then_hangs": late("    if n == 8:\n        return 5 * x\n    if n == 4:\n        time.sleep(30)\n"),
    "s19_late_sys_exit_mid": SYS_EXIT,
    "s20_late_sys_exit_again": SYS_EXIT,
}


@pytest.fixture
def used(monkeypatch) -> list[tuple[str, str]]:
    """Each use of call streams in this process: ("failing" or "passing" streams, how it ended)."""
    seen: list[tuple[str, str]] = []
    run_stream = proxy.StudentSession.run_stream

    def spied(session: proxy.StudentSession, streams: list[call_stream.CallStream], **options):
        outcome = run_stream(session, streams, **options)
        # At a test's start its passing and failing runs' streams are followed together (a failing run's
        # from the test's start); before a run under Hypothesis, its failing runs' alone.
        if outcome[0] == "passed":
            kind = "failing" if session.followed.verdict is not None else "passing"
        else:
            kind = "failing" if any(s.verdict is not None for s in streams) else "passing"
        if outcome[0] == "diverged" and kind == "failing":  # where: at the batch's last reply, or with calls past it
            seen.append((kind, "diverged" if session.parted_at == len(outcome[1]) - 1 else "diverged, calls past it"))
        else:
            seen.append((kind, outcome[0]))
        return outcome

    monkeypatch.setattr(proxy.StudentSession, "run_stream", spied)
    return seen


def graded(tmp_path, zygote, students: dict[str, str]):  # noqa: F811
    course = make_course(tmp_path, TESTS, CORRECT, [])
    spec = course / "problems/hw1/leaky/problem.toml"
    spec.write_text(
        spec.read_text().replace(
            "points = 3\n", 'points = 3\nforbidden = ["torch.cumsum"]\n[limits]\ncall_timeout = 1\n'
        )
    )
    return graded_both_ways(course, zygote, students)


def test_a_failure_repeats_only_on_the_same_replies_and_every_result_is_as_with_lockstep_off(tmp_path, zygote, used):  # noqa: F811
    on, off = graded(tmp_path, zygote, STUDENTS)  # every result, lockstep on and off alike
    modes = {name: result.modes for name, result in on.items()}  # (replayed, recorded, hypothesis, streamed, repeated)
    assert all(result.score == 0.0 for name, result in on.items() if name[:3] not in ("s00", "s01"))
    assert modes["s00_records"] == (0, 3, 0, 0, 0) and modes["s01_replays"] == (3, 0, 0, 0, 0)
    # The first of each way of failing runs under Hypothesis; the same files again repeat its failures.
    for first in ("s02_wrong", "s05_late"):
        assert modes[first] == (0, 0, 3, 0, 0), (first, modes[first])
    for again in ("s03_wrong_again", "s06_late_again", "s13_late_prints", "s09_raises_again"):
        assert modes[again] == (0, 0, 0, 0, 3), (again, modes[again])
    # Other files with the same replies: another output, the same failures. What it printed is its own.
    assert modes["s04_wrong_prints"] == (0, 0, 0, 0, 3)
    assert "double of" in on["s04_wrong_prints"].tests[0].output
    # s08 fails its first test as s02 did, and its second its own way (it raises), a way s09 then repeats:
    # the two failing runs of that test part at the reply that raised.
    assert modes["s08_raises"] == (0, 0, 2, 0, 1)
    assert on["s09_raises_again"].tests[1].message == "double raised ValueError: two"
    # Those that meet a reply of their own within a kept failing run (another value, a hang, an exit, a
    # forbidden call) run under Hypothesis, and fail as they would have.
    for name in ("s07_late_then_other", "s14_late_hangs_mid", "s15_late_other_mid", "s16_late_exits_mid",
                 "s17_late_forbidden_mid", "s18_late_other_then_hangs"):  # fmt: skip
        assert modes[name] == (0, 0, 3, 0, 0), (name, modes[name])
    assert "timed out" in on["s14_late_hangs_mid"].tests[0].message
    # A failing run that met a fault (an exit, a timeout: the sandbox is closed) is not kept, even where the
    # reply is the same every time: a job that skipped its calls would go on with its sandbox open (and
    # this student's later tests would see no exit). Its first two tests exit; the last one repeats.
    assert modes["s20_late_sys_exit_again"] == (0, 0, 2, 0, 1)
    assert ["exited" in t.message for t in on["s20_late_sys_exit_again"].tests] == [True, True, False]
    assert "exited" in on["s16_late_exits_mid"].tests[0].message
    assert "forbids" in on["s17_late_forbidden_mid"].tests[0].message
    # A failing run's stream was followed to its end, left at the batch's last reply (the run under
    # Hypothesis then starts from the replies given), left with calls run past that reply (it starts over),
    # and cut short by the sandbox's end.
    followed = {outcome for kind, outcome in used if kind == "failing"}
    assert {"passed", "diverged", "diverged, calls past it", "faulted"} <= followed, followed


def test_a_run_that_asks_for_other_calls_than_those_already_run_starts_over(tmp_path, zygote, monkeypatch):  # noqa: F811
    # A run under Hypothesis is answered first from the replies a failing run's stream already got; one that
    # asked for anything else (which a deterministic test never does) starts over, on a sandbox that ran
    # no call past a failure, and its result is still exactly as with lockstep off.
    asked: list[bool] = []

    def never(self, header, blobs):
        asked.append(True)
        raise call_stream.PrefetchDiverged("asked for another call")

    monkeypatch.setattr(call_stream.Prefetched, "take", never)
    students = {name: STUDENTS[name] for name in ("s00_records", "s01_replays", "s05_late", "s06_late_again",
                                                  "s14_late_hangs_mid", "s17_late_forbidden_mid")}  # fmt: skip
    on, _ = graded(tmp_path, zygote, students)
    assert on["s06_late_again"].modes == (0, 0, 0, 0, 3)
    assert on["s14_late_hangs_mid"].modes == (0, 0, 3, 0, 0) and asked


LEAVING_TESTS = """
import torch
from hypothesis import given, strategies as st

from grader import assert_close, points

SEEN = []


@points(1)
@given(n=st.integers(1, 40))
def test_leaves_what_it_saw(student, n):
    SEEN.append(n)  # for the next test: a job that skipped this run would lack it
    assert_close(student.double(torch.ones(n)), torch.full((n,), 2.0), name="double(ones)")


@points(1)
def test_reads_what_was_left(student):
    x = torch.tensor([float(len(SEEN))])
    assert_close(student.double(x), 2 * x, name="double(x)")


@points(0.5)
@given(n=st.integers(1, 40))
def test_doubles(student, n):
    assert_close(student.double(torch.arange(float(n))), 2 * torch.arange(float(n)), name="double(x)")


@points(0.5)
@given(n=st.integers(1, 40))
def test_broken_by_the_bank(student, n):
    student.double(torch.ones(n))
    raise RuntimeError("the bank's own mistake")
"""


def test_only_a_students_failure_that_leaves_nothing_behind_is_repeated(tmp_path, zygote):  # noqa: F811
    course = make_course(tmp_path, LEAVING_TESTS, CORRECT, [])
    students = {"s0_records": CORRECT, "s1_replays": CORRECT, "s2_wrong": wrong(), "s3_wrong_again": wrong()}
    on, _ = graded_both_ways(course, zygote, students)
    assert on["s3_wrong_again"].tests[3].outcome == "error"
    # The first test's failing run changed its module (it is not kept: the second test reads what it left);
    # the third's is kept and repeated; the last one's error is the bank's, never repeated.
    assert on["s2_wrong"].modes == (0, 0, 3, 0, 0) and on["s3_wrong_again"].modes == (0, 0, 2, 0, 1)


def test_a_module_that_defines_what_hypothesis_looks_up_never_repeats_another_modules_failure(tmp_path, zygote):  # noqa: F811
    # Hypothesis's engine looks up execute_example, setup_example and the like on a test's arguments (the
    # student module among them). A job's history counts them by whether the module has them, looked up or
    # not: the job that recorded a test and one that replayed it have the same history, and a module that
    # defines them has another.
    course = make_course(tmp_path, TESTS, CORRECT, [])
    probes = "\n\ndef setup_example(*args):\n    return None\n\ndef execute_example(*args):\n    return None\n"
    students = {"s0_records": CORRECT, "s1_replays": CORRECT, "s2_wrong": wrong(), "s3_wrong_again": wrong(),
                "s4_wrong_with_probes": wrong() + probes, "s5_wrong_again": wrong()}  # fmt: skip
    on, _ = graded_both_ways(course, zygote, students)
    assert on["s3_wrong_again"].modes == on["s5_wrong_again"].modes == (0, 0, 0, 0, 3)
    assert on["s4_wrong_with_probes"].modes[4] == 0


def test_failing_runs_are_kept_within_their_own_bounds(monkeypatch):
    def stream(size: int) -> call_stream.CallStream:
        sent = [os.urandom(size)]  # one request of `size` bytes, unlike any other's
        exchange = call_stream.Exchange({}, sent, {"ok": True}, [], blobs_digest=call_stream.blobs_digest(sent))
        return call_stream.CallStream([exchange], {}, b"", {}, verdict="failed")

    for _ in range(call_stream.MAX_FAILURES_PER_TEST + 3):
        lockstep.keep_failure_stream("a test", stream(10))
    assert len(lockstep.failure_streams("a test")) == call_stream.MAX_FAILURES_PER_TEST
    assert not lockstep.wants_failure_stream("a test") and lockstep.wants_failure_stream("another")
    monkeypatch.setattr(call_stream, "MAX_FAILURES_BYTES", 1000)
    lockstep.keep_failure_stream("another", stream(2000))  # past the worker's bound: not kept
    assert lockstep.failure_streams("another") == []
    assert lockstep.wants_stream(lockstep._Recording([]))  # the passing streams' bounds are their own
