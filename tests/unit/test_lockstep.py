"""grader.lockstep on plain Hypothesis tests (no sandbox): a passing run is recorded, and replaying
it calls the test's body with exactly the examples Hypothesis drew, st.data() draws included, under
the same per-example PRNG; anything that does not replay exactly diverges instead of guessing."""

from __future__ import annotations

import random

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from grader import lockstep
from grader.plugin import register_profile


@pytest.fixture(autouse=True)
def _fresh():
    register_profile(20)
    lockstep.forget_all()
    yield
    lockstep.forget_all()


def _record(test, **fixtures):
    """Run `test` under Hypothesis with a recorder; return the recording and the calls Hypothesis made."""
    calls = []
    inner = test.hypothesis.inner_test

    def spy(*args, **kwargs):
        calls.append({k: v for k, v in kwargs.items() if k not in fixtures and not lockstep._is_data_object(v)})
        return inner(*args, **kwargs)

    recorder = lockstep.Recorder("k", frozenset(fixtures))
    test.hypothesis.inner_test = recorder.wrap(spy)
    try:
        test(**fixtures)
    finally:
        test.hypothesis.inner_test = inner
    assert recorder.keep()
    return lockstep.recording("k"), calls


def test_a_replay_calls_the_body_with_the_examples_hypothesis_drew_in_order():
    seen = []

    @given(n=st.integers(0, 100), xs=st.lists(st.floats(-1, 1), max_size=3))
    @example(n=7, xs=[0.5])
    def test(student, n, xs):
        seen.append((student, n, tuple(xs), random.random()))

    recorded, calls = _record(test, student="first")
    under_hypothesis = list(seen)
    seen.clear()
    lockstep.replay(recorded, test, test.hypothesis.inner_test, {"student": "second"})
    assert [s[1:] for s in seen] == [s[1:] for s in under_hypothesis]  # same examples, same PRNG per example
    assert {s[0] for s in seen} == {"second"} and len(seen) == len(calls) > 1
    assert seen[0][1:3] == (7, (0.5,))  # the explicit example first, as Hypothesis runs it


def test_data_draws_replay_and_a_different_strategy_diverges():
    drawn = []

    @given(data=st.data(), k=st.integers(1, 3))
    def test(student, data, k):
        drawn.append(data.draw(st.integers(0, k * student)))

    recorded, _ = _record(test, student=10)
    first = list(drawn)
    drawn.clear()
    lockstep.replay(recorded, test, test.hypothesis.inner_test, {"student": 10})
    assert drawn == first
    with pytest.raises(lockstep.Diverged, match="another strategy"):  # the strategy depends on the student
        lockstep.replay(recorded, test, test.hypothesis.inner_test, {"student": 11})


def test_a_failure_in_the_replay_comes_out_as_it_was_raised():
    @given(n=st.integers(0, 10))
    def test(student, n):
        assert student(n) == n

    recorded, _ = _record(test, student=lambda n: n)
    with pytest.raises(AssertionError):
        lockstep.replay(recorded, test, test.hypothesis.inner_test, {"student": lambda n: 0 if n > 3 else n})

    class CannotAnswer(BaseException):
        pass

    def crashes(n):
        raise CannotAnswer

    with pytest.raises(CannotAnswer):
        lockstep.replay(recorded, test, test.hypothesis.inner_test, {"student": crashes})


def test_rejected_examples_replay_as_rejected_and_note_works():
    from hypothesis import note

    @given(n=st.integers(0, 20))
    def test(student, n):
        assume(n % 2 == 0)
        note(f"n = {n}")

    recorded, _ = _record(test, student=None)
    assert any(e.rejected for e in recorded.examples) and any(not e.rejected for e in recorded.examples)
    lockstep.replay(recorded, test, test.hypothesis.inner_test, {"student": None})


def test_an_argument_that_cannot_be_pickled_leaves_the_test_to_hypothesis():
    @settings(max_examples=3)
    @given(f=st.just(lambda x: x))
    def test(student, f):
        pass

    recorder = lockstep.Recorder("k", frozenset({"student"}))
    inner = test.hypothesis.inner_test
    test.hypothesis.inner_test = recorder.wrap(inner)
    test(student=None)
    assert not recorder.keep()
    assert not lockstep.recordable("k") and lockstep.recording("k") is None


def test_lockstep_is_on_unless_switched_off(monkeypatch):
    assert lockstep.enabled()
    for off in ("0", "off", "no", "false"):
        monkeypatch.setenv("GRADER_LOCKSTEP", off)
        assert not lockstep.enabled()
