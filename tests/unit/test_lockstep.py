"""grader.grading.lockstep on plain Hypothesis tests (no sandbox): a passing run is recorded, and replaying
it calls the test's body with exactly the examples Hypothesis drew, st.data() draws included, under
the same per-example PRNG; anything that does not replay exactly diverges instead of guessing."""

from __future__ import annotations

import pickle
import random

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from grader.grading import lockstep
from grader.grading.plugin import register_profile


@pytest.fixture(autouse=True)
def _fresh():
    register_profile(20)
    lockstep.forget_all()
    yield
    lockstep.forget_all()


def _record(test, key="k", **fixtures):
    """Run `test` under Hypothesis with a recorder for `key`; return the recording and the calls Hypothesis made."""
    calls = []
    inner = test.hypothesis.inner_test

    def spy(*args, **kwargs):
        calls.append({k: v for k, v in kwargs.items() if k not in fixtures and not lockstep._is_data_object(v)})
        return inner(*args, **kwargs)

    recorder = lockstep.Recorder(key, frozenset(fixtures))
    test.hypothesis.inner_test = recorder.wrap(spy)
    try:
        test(**fixtures)
    finally:
        test.hypothesis.inner_test = inner
    assert recorder.keep()
    return lockstep.recording(key), calls


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
    with lockstep.switched(False):  # as a job's run asked, whatever this process's environment says
        assert not lockstep.enabled()
    assert lockstep.enabled()
    for off in ("0", "off", "no", "false"):
        monkeypatch.setenv("GRADER_LOCKSTEP", off)
        assert not lockstep.enabled()
    with lockstep.switched(True):
        assert lockstep.enabled()
    with lockstep.switched(None):
        assert not lockstep.enabled()
    assert not lockstep.enabled()


# -- sharing recordings between trusted processes (grader.run.runner hands them to later jobs) -----------


def _data_test():
    @given(data=st.data(), n=st.integers(0, 50))
    def test(student, data, n):
        seen.append((n, data.draw(st.integers(0, n), label="k")))

    seen: list = []
    return test, seen


def test_a_recording_handed_to_another_process_replays_the_same_examples():
    test, seen = _data_test()
    _record(test, student=None)
    under_hypothesis = list(seen)
    shared = lockstep.export_new()
    assert list(shared) == ["k"] and isinstance(shared["k"], bytes)
    assert lockstep.export_new() == {}  # each recording is handed back once

    lockstep.forget_all()  # another process: it has no recording of its own
    assert lockstep.adopt(shared) == 1 and lockstep.adopt(shared) == 0
    assert not lockstep.recordable("k") and lockstep.export_new() == {}  # adopted: not recorded, not handed on
    seen.clear()
    lockstep.replay(lockstep.recording("k"), test, test.hypothesis.inner_test, {"student": None})
    assert seen == under_hypothesis and len(seen) > 1


def test_what_a_job_hands_back_is_capped_per_test_and_per_job(monkeypatch):
    for name in ("a", "b", "c"):
        test, _ = _data_test()
        _record(test, name, student=None)
    size = len(lockstep._encode(lockstep.recording("a")))
    monkeypatch.setattr(lockstep, "_MAX_EXPORT_BYTES", 2 * size + size // 2)
    assert list(lockstep.export_new()) == ["a", "b"]  # the third would take the job over its total
    lockstep._new.extend(["a", "b"])
    monkeypatch.setattr(lockstep, "_MAX_SHARED_BYTES", size - 1)
    assert lockstep.export_new() == {}  # a recording too large to share stays in its process
    assert lockstep.recording("a") is not None


def test_a_damaged_or_foreign_recording_is_not_adopted():
    test, _ = _data_test()
    _record(test, student=None)
    shared = lockstep.export_new()
    lockstep.forget_all()
    foreign = pickle.dumps((1, [(pickle.dumps({}), [], (), Exception("not plain"))]))  # names a class
    assert lockstep.adopt({"k": shared["k"][:-5], "x": foreign}) == 0
    assert lockstep.recording("k") is None and lockstep.recording("x") is None and lockstep.recordable("k")


def test_a_changed_test_file_does_not_reuse_a_recording(tmp_path):
    path = tmp_path / "test_p.py"
    path.write_text("def test_a(): pass\n")
    key = lockstep.test_key(path, "test_a", 20)
    assert key == lockstep.test_key(path, "test_a", 20)
    assert key != lockstep.test_key(path, "test_b", 20) and key != lockstep.test_key(path, "test_a", 21)
    test, _ = _data_test()
    _record(test, key, student=None)
    shared = lockstep.export_new()

    path.write_text("def test_a(): pass  # changed, same test name and examples\n")
    lockstep.forget_all()
    lockstep.adopt(shared)
    changed = lockstep.test_key(path, "test_a", 20)
    assert changed != key and lockstep.recording(changed) is None and lockstep.recordable(changed)


def test_shared_recordings_are_bounded_by_bytes_dropping_the_least_recent_problem():
    from grader.run.runner import SharedRecordings

    shared = SharedRecordings(limit=100)
    shared.put("p2", {"b": b"x" * 40})
    shared.put("p2", {"b": b"y" * 40})  # a key it has already: kept as it was
    assert shared.get("p2") == {"b": b"x" * 40} and shared.size == 40
    shared.put("p1", {"a": b"x" * 40})
    assert shared.get("p2") and shared.get("p1") == {"a": b"x" * 40}  # p1 is now the most recent
    shared.put("p3", {"c": b"x" * 40})
    assert shared.get("p2") == {} and shared.get("p1") and shared.get("p3") and shared.size == 80
    shared.put("p4", {"d": b"x" * 101})  # larger than the whole cache: not kept
    assert shared.get("p4") == {} and shared.size <= 100
