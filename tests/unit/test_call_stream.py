"""Call streams (grader.grading.call_stream): a job passes a test on the recorded replies alone only when
its sandbox gives the very same replies to the very same calls; any other job runs the test's body
(answered from what its sandbox already said, so no call runs twice) or Hypothesis, and every job's
result is exactly what it is with lockstep off."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from grader.course.spec import load_assignment
from grader.grading import call_stream, lockstep, proxy
from grader.grading.jobs import make_job, run_job
from grader.grading.sandbox_client import Zygote
from grader.records import JobResult
from grader.run import runner

from .test_runner import make_course

TESTS = '''
import torch
from hypothesis import given, strategies as st

from grader import assert_close, points, record_curve


@points(1)
@given(n=st.integers(1, 6))
def test_double(student, reference, n):
    x = torch.linspace(-1, 1, n) / 3
    assert_close(student.double(x), reference.double(x), name="double(x)")


@points(1)
@given(n=st.integers(1, 6))
def test_double_twice(student, n):
    x = torch.arange(float(n))
    once = student.double(x)  # the student's own answer goes back in
    assert_close(student.double(once), 4 * x, name="double(double(x))")


@points(1)
@given(n=st.integers(1, 6))
def test_doubler_object(student, n):
    doubler = student.Doubler()  # kept in the sandbox: a handle, called below
    assert_close(doubler(torch.ones(n)), torch.full((n,), 2.0), name="Doubler()(x)")
'''

CURVE_TESTS = TESTS.replace(
    '''    assert_close(doubler(torch.ones(n)), torch.full((n,), 2.0), name="Doubler()(x)")''',
    '''    assert_close(doubler(torch.ones(n)), torch.full((n,), 2.0), name="Doubler()(x)")
    record_curve("doubling", [float(n)], [float(n)])''',
)

DOUBLER = '''

class Doubler:
    def __call__(self, x):
        return double(x)
'''
CORRECT = "def double(x):\n    return x + x\n" + DOUBLER
STUDENTS = {
    "s0_records": CORRECT,
    "s1_replays_and_keeps_the_stream": CORRECT,
    "s2_same_replies": "def double(x):\n    return 2 * x  # another way, the same bits\n" + DOUBLER,
    "s3_other_bits": "print('imported')\n\ndef double(x):\n    print('double', x.shape[0])\n    return x * (2 + 1e-6)\n"
    + DOUBLER,
    "s4_wrong": "def double(x):\n    return 3 * x\n" + DOUBLER,
    "s5_counts_its_calls": "CALLS = [0]\n\ndef double(x):\n    CALLS[0] += 1\n    print('call', CALLS[0])\n"
    "    return x + x\n" + DOUBLER,
    "s6_raises_on_four": "def double(x):\n    if x.shape[0] == 4:\n        raise ValueError('four')\n    return x + x\n"
    + DOUBLER,
    "s7_same_again": CORRECT,
    "s8_other_bits_again": "def double(x):\n    return x * (2 + 1e-6)\n" + DOUBLER,
}


@pytest.fixture(autouse=True)
def _fresh():
    lockstep.forget_all()
    yield
    lockstep.forget_all()


@pytest.fixture
def outcomes(monkeypatch) -> list[str]:
    """How each use of a call stream in this process ended (StudentSession.run_stream), in order."""
    seen: list[str] = []
    run_stream = proxy.StudentSession.run_stream

    def spied(session: proxy.StudentSession, stream: call_stream.CallStream, **options):
        outcome = run_stream(session, stream, **options)
        seen.append(outcome[0])
        return outcome

    monkeypatch.setattr(proxy.StudentSession, "run_stream", spied)
    return seen


@pytest.fixture(scope="module")
def zygote():
    z = Zygote.start()
    yield z
    z.close()


def grade_here(course: Path, zygote: Zygote, lockstep_on: bool) -> dict[str, JobResult]:
    """Every student's job, in order, in this process (so later jobs see what earlier ones recorded)."""
    problem = load_assignment(course, "hw1").problems[0]
    results = {}
    clean = runner._TrustedState.capture()  # as a worker does between jobs: the bank's modules imported afresh
    for folder in sorted((course / "submissions/hw1").iterdir()):
        job = make_job(course, problem, folder.name, folder, zygote_address=zygote.address)
        results[folder.name] = run_job(dataclasses.replace(job, lockstep=lockstep_on))
        clean.restore(str(course))
    return results


def comparable(result: JobResult) -> JobResult:
    tests = tuple(dataclasses.replace(t, duration=0.0) for t in result.tests)
    return dataclasses.replace(
        result, tests=tests, duration=0.0, cpu_seconds=0.0, sandbox_cpu_seconds=0.0, memory_peak=0, training_cpu_seconds=0.0, modes=(0, 0, 0, 0, 0)
    )


def graded_both_ways(
    course: Path, zygote: Zygote, students: dict[str, str]
) -> tuple[dict[str, JobResult], dict[str, JobResult]]:
    """Hand in `students`, grade them with lockstep on and then off (nothing recorded), and require the same
    results both ways; the results on and off."""
    for name, source in students.items():
        (course / "submissions/hw1" / name).mkdir(parents=True)
        (course / "submissions/hw1" / name / "leaky.py").write_text(source)
    on = grade_here(course, zygote, True)
    lockstep.forget_all()
    off = grade_here(course, zygote, False)
    for name in students:
        assert comparable(on[name]) == comparable(off[name]), name
    return on, off


def test_only_the_same_replies_pass_on_the_stream_and_every_result_is_as_with_lockstep_off(tmp_path, zygote):
    course = make_course(tmp_path, TESTS, CORRECT, [])
    on, off = graded_both_ways(course, zygote, STUDENTS)
    scores = {name: result.score for name, result in on.items()}
    assert scores.pop("s6_raises_on_four") < 3.0
    assert scores == {**{name: 3.0 for name in STUDENTS if name != "s6_raises_on_four"}, "s4_wrong": 0.0}, scores
    modes = {name: result.modes for name, result in on.items()}  # (replayed, recorded, hypothesis, streamed)
    assert modes["s0_records"] == (0, 3, 0, 0, 0)
    assert modes["s1_replays_and_keeps_the_stream"] == (3, 0, 0, 0, 0)
    assert modes["s2_same_replies"] == (0, 0, 0, 3, 0)  # the body never ran: same calls, same replies
    assert modes["s5_counts_its_calls"] == (0, 0, 0, 3, 0) and modes["s7_same_again"] == (0, 0, 0, 3, 0)
    # Other bits, within tolerance: the body ran, on the replies already given (each call printed once).
    assert modes["s3_other_bits"] == (3, 0, 0, 0, 0)
    assert on["s3_other_bits"].score == 3.0
    # The same other bits again: the streams s3's bodies left (one per way of passing) are followed.
    assert modes["s8_other_bits_again"] == (0, 0, 0, 3, 0)
    assert modes["s4_wrong"] == (0, 0, 3, 0, 0) and on["s4_wrong"].score < 3.0
    assert modes["s6_raises_on_four"][2] > 0 and on["s6_raises_on_four"].score < 3.0
    assert on["s5_counts_its_calls"].tests[0].output == off["s5_counts_its_calls"].tests[0].output != ""


def test_a_test_that_records_a_curve_is_never_passed_on_a_stream(tmp_path, zygote):
    course = make_course(tmp_path, CURVE_TESTS, CORRECT, [CORRECT] * 3)
    results = grade_here(course, zygote, True)
    assert [r.modes for r in results.values()] == [(0, 3, 0, 0, 0), (3, 0, 0, 0, 0), (1, 0, 0, 2, 0)]
    assert all(r.score == 3.0 for r in results.values())


def test_streams_can_be_switched_off(tmp_path, zygote, monkeypatch):
    monkeypatch.setenv("GRADER_CALL_STREAMS", "0")
    course = make_course(tmp_path, TESTS, CORRECT, [CORRECT] * 3)
    assert [r.modes for r in grade_here(course, zygote, True).values()] == [(0, 3, 0, 0, 0), (3, 0, 0, 0, 0), (3, 0, 0, 0, 0)]


LATE = "def double(x):\n    return x + x if x.shape[0] < {n} else x * {factor}\n" + DOUBLER
PARTING = {
    "s0_records": CORRECT,
    "s1_replays_and_keeps_the_stream": CORRECT,
    "s2_other_bits_from_four": LATE.format(n=4, factor="(2 + 1e-6)"),  # the same replies, then others
    "s3_same_as_s2": LATE.format(n=4, factor="(2 + 1e-6)"),
    "s4_other_bits_from_five": LATE.format(n=5, factor="(2 + 1e-6)"),  # parts from both, later or sooner
    "s5_wrong_from_four": LATE.format(n=4, factor="3"),
    "s6_same_as_s1": CORRECT,
    "s7_same_as_s4": LATE.format(n=5, factor="(2 + 1e-6)"),
}


def test_streams_that_part_after_the_same_replies_are_followed_together(tmp_path, zygote, outcomes):
    course = make_course(tmp_path, TESTS, CORRECT, [])
    on, off = graded_both_ways(course, zygote, PARTING)
    modes = {name: result.modes for name, result in on.items()}  # (replayed, recorded, hypothesis, streamed)
    assert on["s5_wrong_from_four"].score < 3.0
    assert all(on[name].score == 3.0 for name in PARTING if name != "s5_wrong_from_four")
    assert modes["s2_other_bits_from_four"] == (3, 0, 0, 0, 0)  # no stream gives its replies: each body ran
    assert modes["s4_other_bits_from_five"] == (3, 0, 0, 0, 0)
    for name in ("s3_same_as_s2", "s6_same_as_s1", "s7_same_as_s4"):  # one of the three ways, each
        assert modes[name] == (0, 0, 0, 3, 0), (name, modes[name])
    assert modes["s5_wrong_from_four"][3] == 0 and modes["s5_wrong_from_four"][2] > 0


def test_a_stream_agrees_with_an_exchange_only_on_the_same_request_and_the_same_reply():
    def exchange(request: bytes, reply: bytes, value: int = 1) -> call_stream.Exchange:
        return call_stream.Exchange(
            {"op": "call", "id": 7},
            [request],
            {"ok": True, "value": value},
            [],
            reply_digest=call_stream.blobs_digest([reply]),
            reply_size=len(reply),
            blobs_digest=call_stream.blobs_digest([request]),
        )

    stream = call_stream.CallStream([exchange(b"a", b"A"), exchange(b"b", b"B")], {}, b"h", {})
    assert call_stream.agrees(stream, 0, exchange(b"a", b"A")) and call_stream.agrees(stream, 1, exchange(b"b", b"B"))
    assert not call_stream.agrees(stream, 0, exchange(b"x", b"A"))  # another request's bytes
    assert not call_stream.agrees(stream, 0, exchange(b"a", b"X"))  # another reply's bytes
    assert not call_stream.agrees(stream, 0, exchange(b"a", b"A", value=2))  # another reply
    other = exchange(b"a", b"A")
    other.header = {"op": "call", "id": 8}
    assert not call_stream.agrees(stream, 0, other)  # another call
    assert not call_stream.agrees(stream, 2, exchange(b"a", b"A"))  # past its end


# -- the pieces, without a sandbox -------------------------------------------------------------------


def test_a_stream_releases_each_handle_after_its_last_use_and_keeps_the_modules_functions():
    capture = call_stream.Capture(generation=1, history=b"h", lookups_before={"double": True})
    f = {"t": "handle", "id": 5, "type": "builtins.function", "callable": True}
    obj = {"t": "handle", "id": 6, "type": "sub.Doubler", "callable": True}
    capture.add({"op": "getattr", "id": 0, "name": "Doubler", "timeout": 3.0}, [], {"ok": True, "value": f}, [])
    capture.add({"op": "call", "id": 5, "check_args": False}, [b"()"], {"ok": True, "value": obj}, [])
    capture.add({"op": "call", "id": 6, "check_args": False, "release": [9]}, [b"(x)"], {"ok": True, "value": {"t": "none"}}, [])
    capture.add({"op": "call", "id": 7, "check_args": False}, [b"(y)"], {"ok": True, "value": {"t": "none"}}, [])
    stream = capture.finish({7: "double"}, {"double": True, "Doubler": True})
    assert stream is not None
    assert stream.bound == {7: "double"}  # from before the test: must be the same function in a later job
    assert [e.release_after for e in stream.exchanges] == [[], [], [6], []]  # 5 is the module's Doubler: kept
    assert stream.exchanges[2].header == {"op": "call", "id": 6, "check_args": False}  # no timeout, no releases
    assert stream.history == b"h" and stream.lookups == {"Doubler": True}  # looked up in this test


def test_a_stream_is_not_kept_for_objects_it_cannot_name_or_forbidden_calls_or_a_budget():
    capture = call_stream.Capture(generation=1, history=b"h", lookups_before={"double": True})
    capture.add({"op": "call", "id": 8, "check_args": False}, [b""], {"ok": True, "value": {"t": "none"}}, [])
    assert capture.finish({7: "double"}, {}) is None  # handle 8 came from an earlier test
    tripped = call_stream.Capture(generation=1, history=b"h", lookups_before={"double": True})
    tripped.add({"op": "call", "id": 7}, [b""], {"ok": True, "value": {"t": "none"}, "tripped": ["os.system"]}, [])
    assert tripped.finish({7: "double"}, {}) is None


def test_prefetched_replies_answer_only_the_same_requests_in_order():
    sent = call_stream.Exchange({"op": "call", "id": 7}, [b"a"], {"ok": True}, [])
    prefetched = call_stream.Prefetched([sent])
    assert prefetched.take({"op": "call", "id": 7, "timeout": 9.0, "release": [3]}, [bytearray(b"a")]) is sent
    assert prefetched.used_up() and prefetched.take({"op": "call", "id": 7}, [b"a"]) is None
    with pytest.raises(call_stream.PrefetchDiverged):
        call_stream.Prefetched([sent]).take({"op": "call", "id": 7}, [b"b"])
    assert not issubclass(call_stream.PrefetchDiverged, Exception)  # a test's `except Exception` cannot hide it


FIXTURE_TESTS = '''
import pytest
import torch
from hypothesis import given, strategies as st

from grader import assert_close, points

SEEN = {}


@pytest.fixture
def on_ones(student):
    return student.double(torch.ones(2))  # a call before the test's body: not part of its stream


@points(1)
def test_remembers(student):
    SEEN["three"] = student.double(torch.ones(3))  # kept for a later test


@points(1)
@given(n=st.integers(3, 6))
def test_uses_a_fixture(student, on_ones, n):
    assert_close(on_ones, torch.full((2,), 2.0), name="double(ones(2))")
    assert_close(student.double(torch.arange(float(n))), 2 * torch.arange(float(n)), name="double(x)")


@points(1)
@given(n=st.integers(4, 6))
def test_uses_an_earlier_answer(student, n):
    assert_close(SEEN["three"], torch.full((3,), 2.0), name="double(ones(3))")
    assert_close(student.double(torch.arange(float(n))), 2 * torch.arange(float(n)), name="double(x)")
'''


def test_a_stream_is_used_only_after_the_same_history_fixtures_and_earlier_tests_included(tmp_path, zygote):
    # The third student answers every call of the tests' bodies as the first two did, but not the calls
    # made in a fixture or an earlier test, whose answers those bodies check without calling again.
    wrong_on_ones = (
        "import torch\n\ndef double(x):\n    if x.shape[0] in (2, 3) and bool((x == 1).all()):\n"
        "        return x\n    return x + x\n"
    )
    course = make_course(tmp_path, FIXTURE_TESTS, CORRECT, [CORRECT, CORRECT, wrong_on_ones, CORRECT])
    results = list(grade_here(course, zygote, True).values())
    assert [r.score for r in results] == [3.0, 3.0, 1.0, 3.0]
    assert results[1].modes == (2, 0, 0, 0, 0) and results[3].modes == (0, 0, 0, 2, 0)  # the same history: streamed
    assert results[2].modes == (0, 0, 2, 0, 0)  # never passed on the others' replies


LEAVES_BEHIND = '''
import torch
from hypothesis import given, strategies as st

from grader import assert_close, points

ANSWERS = {}


@points(1)
@given(n=st.integers(1, 6))
def test_keeps_an_answer(student, n):
    ANSWERS[n] = student.double(torch.ones(n))  # a later test reads it back, without calling again
    assert_close(ANSWERS[n], torch.full((n,), 2.0), name="double(ones(n))")


@points(2)
def test_reads_the_answers(student):
    assert ANSWERS, "the earlier test left no answers"
    for n, answer in ANSWERS.items():
        assert_close(answer, torch.full((n,), 2.0), name=f"double(ones({n}))")
'''


def test_a_body_that_leaves_something_for_a_later_test_runs_in_every_job(tmp_path, zygote):
    course = make_course(tmp_path, LEAVES_BEHIND, CORRECT, [CORRECT] * 3)
    results = list(grade_here(course, zygote, True).values())
    assert [r.score for r in results] == [3.0] * 3, [r.message or [t.message for t in r.tests] for r in results]
    assert [r.modes for r in results] == [(0, 1, 0, 0, 0), (1, 0, 0, 0, 0), (1, 0, 0, 0, 0)]  # never passed on a stream


# Wrong on n = 1 (the first example, where the stream's replies first differ) and, for any other n, a
# hang, an exit or a forbidden call: a batch sends the next examples' calls with the first, so the
# sandbox runs them before the trusted side has seen the difference. The test's body might never make
# those calls (it fails on the first example), so none of them may decide anything.
PAST_A_DIFFERENCE = {
    "s8_wrong_then_hangs": "while True:\n            pass",
    "s9_wrong_then_exits": "import os\n        os._exit(3)",
    "s7_wrong_then_forbidden": "getattr(torch, 'cum' + 'sum')(x, 0)",  # out of the static check's sight
}


def test_calls_a_batch_ran_past_a_difference_decide_nothing(tmp_path, zygote, outcomes):
    course = make_course(tmp_path, TESTS, CORRECT, [])
    spec = course / "problems/hw1/leaky/problem.toml"
    spec.write_text(
        spec.read_text().replace("points = 3\n", 'points = 3\nforbidden = ["torch.cumsum"]\n[limits]\ncall_timeout = 1\n')
    )
    students = {"s0_records": CORRECT, "s1_replays_and_keeps_the_stream": CORRECT}
    for name, attack in PAST_A_DIFFERENCE.items():
        students[name] = f"import torch\n\ndef double(x):\n    if x.shape[0] != 1:\n        {attack}\n    return 3 * x\n" + DOUBLER
    on, off = graded_both_ways(course, zygote, students)
    assert {name: result.score for name, result in on.items()} == {
        **{name: 0.0 for name in PAST_A_DIFFERENCE},
        "s0_records": 3.0,
        "s1_replays_and_keeps_the_stream": 3.0,
    }
    # Each attacker's first stream (the first test's): the difference, then the attack in the same batch.
    # Their later tests' streams are unusable: their jobs' histories differ from the recording's by then.
    # The hanging attacker's last test failed on n = 1 alone, without a fault, and its run was kept from the
    # test's start, to be followed with the passing streams: the exiting attacker's is from another history,
    # so that stream is unusable too.
    assert outcomes == ["restarted", "unusable", "unusable"] * 2 + ["faulted", "unusable", "unusable"], outcomes
    for name in PAST_A_DIFFERENCE:  # the first test fails on its first example's wrong value, and on nothing else
        double = on[name].tests[0]
        assert double.name == "test_double" and "n=1," in double.falsifying_example, name
        assert double.message.endswith("At index (0,): expected -0.666667, got -1"), (name, double.message)
        assert "timed out" not in double.message and "exited" not in double.message, (name, double.message)


def test_a_stream_goes_in_batches_that_start_small_and_grow():
    exchanges = [call_stream.Exchange({"op": "call", "id": 1}, [b"x" * 10], {"ok": True}, [b"y" * 10]) for _ in range(200)]
    sizes = [len(batch) for batch in call_stream.batches(exchanges)]
    assert sizes == [4, 8, 16, 32, 64, 64, 12]
    big = [call_stream.Exchange({"op": "call", "id": 1}, [b"x" * (3 << 20)], {"ok": True}, []) for _ in range(3)]
    assert [len(batch) for batch in call_stream.batches(big)] == [1, 1, 1]  # about 4 MiB a batch, at least one call


def test_a_stream_keeps_its_replies_tensor_bytes_as_a_digest_that_tells_any_change():
    capture = call_stream.Capture(generation=1, history=b"h", lookups_before={"double": True})
    data = [b"a" * 100_000, b"bc"]
    capture.add({"op": "call", "id": 7, "check_args": False}, [b"(x)"], {"ok": True, "value": {"t": "none"}}, data)
    stream = capture.finish({7: "double"}, {})
    # The request is kept (and counted against the process's bound); the reply's 100 kB are not.
    assert stream is not None and capture.size < 1000 and lockstep._new_bytes(stream) < 1000
    recorded = stream.exchanges[0]
    assert recorded.reply_blobs == [] and recorded.reply_size == 100_002

    def same(reply: dict, blobs: list) -> bool:
        return call_stream.same_reply(recorded, reply, sum(map(len, blobs)), call_stream.blobs_digest(blobs))

    assert same({"ok": True, "value": {"t": "none"}}, [bytearray(b"a" * 100_000), bytearray(b"bc")])
    assert not same({"ok": True, "value": {"t": "int", "v": 0}}, data)
    for other in ([b"a" * 100_000 + b"b", b"c"], [b"a" * 99_999 + b"b", b"bc"], [b"a" * 100_000, b"bc", b""], []):
        assert not same({"ok": True, "value": {"t": "none"}}, other)
    # A batch is sized by what its replies will bring back too.
    back = [dataclasses.replace(recorded, reply_size=3 << 20) for _ in range(3)]
    assert [len(batch) for batch in call_stream.batches(back)] == [1, 1, 1]


LARGE_TESTS = """
import torch

from grader import assert_close, points


@points(3)
def test_double_large(student):
    for seed in range(3):  # 3 x 8 MB sent and 3 x 8 MB back: more than a stream may keep if it held both
        x = torch.randn(2_000_000, generator=torch.Generator().manual_seed(seed))
        assert_close(student.double(x), 2 * x, name="double(x)")
"""


def test_a_stream_of_large_tensors_is_kept_and_a_change_in_its_last_value_is_seen(tmp_path, zygote, outcomes):
    last_off = "def double(x):\n    y = x + x\n    y[-1] += 1.0\n    return y\n"  # wrong in one value of the last reply
    course = make_course(tmp_path, LARGE_TESTS, CORRECT, [CORRECT, CORRECT, last_off, CORRECT])
    on = grade_here(course, zygote, True)
    assert [r.score for r in on.values()] == [3.0, 3.0, 0.0, 3.0]
    assert outcomes == ["passed", "diverged", "passed"]  # the first job kept the stream
    lockstep.forget_all()
    off = grade_here(course, zygote, False)
    for name in on:
        assert comparable(on[name]) == comparable(off[name]), name


PLAIN_TESTS = '''
import torch

from grader import assert_close, points


@points(1)
def test_double_fixed(student, reference):
    x = torch.linspace(-1, 1, 5) / 3
    assert_close(student.double(x), reference.double(x), name="double(x)")


@points(1)
def test_double_twice_fixed(student):
    for n in range(1, 6):
        x = torch.arange(float(n))
        assert_close(student.double(student.double(x)), 4 * x, name="double(double(x))")


@points(1)
def test_doubler_fixed(student):
    doubler = student.Doubler()
    for n in range(1, 6):
        assert_close(doubler(torch.ones(n)), torch.full((n,), 2.0), name="Doubler()(x)")
'''


def test_tests_without_hypothesis_pass_on_their_streams_and_every_result_is_as_with_lockstep_off(
    tmp_path, zygote, outcomes
):
    course = make_course(tmp_path, PLAIN_TESTS, CORRECT, [])
    for name, source in STUDENTS.items():
        (course / "submissions/hw1" / name).mkdir(parents=True)
        (course / "submissions/hw1" / name / "leaky.py").write_text(source)
    on = grade_here(course, zygote, True)
    streamed = list(outcomes)
    lockstep.forget_all()
    off = grade_here(course, zygote, False)
    assert len(outcomes) == len(streamed)  # lockstep off: no stream is used
    for name in STUDENTS:
        assert comparable(on[name]) == comparable(off[name]), name
    scores = {name: result.score for name, result in on.items()}
    assert scores.pop("s6_raises_on_four") < 3.0
    assert scores == {**{name: 3.0 for name in STUDENTS if name != "s6_raises_on_four"}, "s4_wrong": 0.0}, scores
    # s0 keeps the streams (no stream yet: none is sent); s1, s2, s5 and s7 give the same replies; s3
    # (other bits) and s4 (wrong) differ in their first test, and s6 (raises where n = 4) in its second.
    # After a difference, a job's history is not the recording's: its later tests have no stream for it
    # ("unusable"), run their bodies and keep theirs; s3's first test keeps another one. s8 (s3's bits)
    # passes on s3's streams.
    same = ["passed"] * 3
    differs = ["diverged", "unusable", "unusable"]
    assert streamed == same * 2 + differs * 2 + same + ["passed", "diverged", "unusable"] + same * 2, streamed
    assert on["s5_counts_its_calls"].tests[0].output == off["s5_counts_its_calls"].tests[0].output != ""
    assert on["s3_other_bits"].tests[1].output == off["s3_other_bits"].tests[1].output != ""


def test_a_test_without_hypothesis_after_hypothesis_tests_streams_once_its_history_is_met_again(
    tmp_path, zygote, outcomes
):
    # The first job records the Hypothesis tests and the second replays them. The history before the plain
    # test is the same in both: the names Hypothesis's engine looks up on the student module (execute_example
    # and the like) count by whether the module has them, not by whether they were looked up.
    plain = PLAIN_TESTS[PLAIN_TESTS.index("@points(1)\ndef test_doubler_fixed") :]
    mixed = TESTS[: TESTS.index("@points(1)\n@given(n=st.integers(1, 6))\ndef test_doubler_object")] + plain
    course = make_course(tmp_path, mixed, CORRECT, [CORRECT] * 4)
    results = grade_here(course, zygote, True)
    assert [r.score for r in results.values()] == [3.0] * 4
    assert [r.modes for r in results.values()] == [(0, 2, 0, 0, 0), (2, 0, 0, 0, 0), (0, 0, 0, 2, 0), (0, 0, 0, 2, 0)]
    # The second job passes the plain test on the first job's stream; the third and fourth jobs pass the
    # two Hypothesis tests on the second job's streams, and the plain one on the first's.
    assert outcomes == ["passed"] * 7, outcomes


BIG_INPUT_TESTS = '''
import torch

from grader import assert_close, points


@points(3)
def test_double_a_long_vector(student):
    x = torch.linspace(-1, 1, 500_000)  # 2 MB sent with every call: a stream keeps it
    assert_close(student.double(x), 2 * x, name="double(x)")
'''


def test_the_streams_of_a_test_keep_its_inputs_once(tmp_path, zygote, outcomes, monkeypatch):
    # Every way of passing a test sends it the same inputs: four solutions that round otherwise keep four
    # streams, whose 2 MB of requests are kept (and counted against the process's bound) once, so that
    # a bound of 5 MB, which would hold two copies of them, holds all four streams, and each solution's
    # second copy passes on its own stream. Before, the third way found the bound reached and the test
    # kept no more streams: conv1d_backprop's long inputs (30 MB a test) left most of a class's
    # alternatives running the long tests' bodies, oracle and all, in every job.
    monkeypatch.setattr(call_stream, "MAX_STREAMS_BYTES", 5 << 20)
    ways = {f"w{k}": f"def double(x):\n    return x * (2 + {k}e-6)\n" for k in range(4)}
    students = {f"{copy}{name}": source for copy in ("a", "b") for name, source in ways.items()}
    course = make_course(tmp_path, BIG_INPUT_TESTS, CORRECT, [])
    for name, source in students.items():
        (course / "submissions/hw1" / name).mkdir(parents=True)
        (course / "submissions/hw1" / name / "leaky.py").write_text(source)
    on = grade_here(course, zygote, True)
    (streams,) = lockstep._plain.values()
    lockstep.forget_all()
    off = grade_here(course, zygote, False)
    for name in students:
        assert comparable(on[name]) == comparable(off[name]), name
    assert {name: result.score for name, result in on.items()} == dict.fromkeys(students, 3.0)
    # The first copies: no stream at first, then each other way differs from every kept stream; the
    # second copies pass on their way's stream.
    assert outcomes == [*(["diverged"] * (len(ways) - 1)), *(["passed"] * len(ways))], outcomes
    assert len(streams) == len(ways)
    sent = [stream.exchanges[-1].blobs for stream in streams]  # the call with the long vector
    assert sum(len(b) for b in sent[0]) > 2_000_000
    assert all(b is first for blobs in sent for b, first in zip(blobs, sent[0], strict=True))
