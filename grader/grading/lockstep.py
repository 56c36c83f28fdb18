"""Lockstep grading: Hypothesis generates a test's examples once; later students replay them.

With the grading profile (derandomized, no database), Hypothesis draws the same examples, in the
same order, for every student until the student's first failure: generation depends on the test and
its strategies, never on what a passing student returned. So the engine's work (its bookkeeping and
the strategies' drawing) is the same for every passing student, and is a third or more of a job's
trusted-side CPU.

Lockstep keeps, per worker process, each test's examples as the first passing run drew them (the
arguments Hypothesis passed, and every `st.data()` draw, pickled at the moment they were made).
Every later job of the same test calls the test's own body with those arguments, in order, under
the same per-example set-up Hypothesis gives (its deterministic PRNG and a build context), without
the engine. The test's body, the oracle and the comparison run as always, on the trusted side.

- All examples pass: the test passed, exactly as Hypothesis would have found.
- Any exception (a failure, the student's code unable to answer, a draw whose strategy differs from
  the recorded one, a value that cannot be read back): the test runs again under Hypothesis, from
  the start, as if lockstep were off, so the shrunk example, the message, the reproduce line and the
  output are exactly what they would have been. (A fault is not reported from the replay itself:
  Hypothesis's own report of it names the failing example, which only Hypothesis can word.)

A failing run under Hypothesis is kept as a call stream with its result (`failure_streams`): a later
job whose sandbox gives the same replies to the same calls fails with that result without running the
engine again (`REPEATED`), since shrinking is nearly all of a failing job's work. When a replay fails
and the test starts over, its module's globals are put back as they were when the test started
(grader.grading.plugin.ModuleSnapshot), as a run without lockstep would find them.

Tests that cannot be recorded (an argument that cannot be pickled) always run under Hypothesis.
`GRADER_LOCKSTEP=0` turns lockstep off. What ran in which mode is counted per job (`Modes`).

Recordings travel between trusted processes (`export_new`, `adopt`): a job hands back what it
recorded, and the process that starts jobs (the local pool's parent, a Dask worker) gives them to
later jobs of the same problem that run in other processes (grader.run.runner). A recording's key holds
the test file's hash, the test's name, max_examples and Hypothesis's version, so a changed test never
replays an old recording. What is shared is only what a recording holds: values Hypothesis drew,
pickled on the trusted side by the trusted side's own pickler; nothing a student's code produced is
ever pickled here, and nothing from a sandbox is ever unpickled.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.grading.call_stream import CallStream

REPLAYED = "replayed"  # passed by replaying recorded examples
STREAMED = "streamed"  # passed because the sandbox gave the same replies to the same calls (grader.grading.call_stream)
RECORDED = "recorded"  # ran under Hypothesis and recorded its examples for later jobs
HYPOTHESIS = "hypothesis"  # ran under Hypothesis: a failure, a replay that diverged, or not recordable
REPEATED = "repeated"  # failed as an earlier job's run under Hypothesis had, on the same replies (its call stream)
_MAX_RECORDING_BYTES = 64 << 20  # one test's recorded examples; beyond this the test is not recorded
_MAX_SHARED_BYTES = 16 << 20  # one test's recording handed to other processes; a larger one stays in its process
_MAX_EXPORT_BYTES = 64 << 20  # all the recordings one job hands back


def streams_enabled() -> bool:
    """Whether a replayed test's call stream is kept and used (the default); `GRADER_CALL_STREAMS=0` turns it off."""
    return os.environ.get("GRADER_CALL_STREAMS", "1").strip().lower() not in ("0", "off", "no", "false")


def enabled() -> bool:
    """Whether lockstep is on (the default); `GRADER_LOCKSTEP=0` turns it off."""
    return os.environ.get("GRADER_LOCKSTEP", "1").strip().lower() not in ("0", "off", "no", "false")


@contextlib.contextmanager
def switched(on: bool | None) -> Iterator[None]:
    """Lockstep on or off, as a run asked, while a job runs in this process (None: as this process's
    environment says). A job carries its run's setting: a Dask worker's environment is its own."""
    if on is None:
        yield
        return
    before = os.environ.get("GRADER_LOCKSTEP")
    os.environ["GRADER_LOCKSTEP"] = "1" if on else "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("GRADER_LOCKSTEP", None)
        else:
            os.environ["GRADER_LOCKSTEP"] = before


class Diverged(Exception):
    """The replay cannot follow the recording (a draw differs); the test runs under Hypothesis instead."""


@dataclass
class _Example:
    kwargs: bytes  # the drawn arguments, pickled when the example started
    draws: list[tuple[str, str | None, bytes]] = field(
        default_factory=list
    )  # st.data() draws: (strategy, label, value)
    data_names: tuple[str, ...] = ()  # arguments that were Hypothesis `data` objects (st.data())
    rejected: bool = False  # the example called assume(False) (Hypothesis discards it)


@dataclass
class _Recording:
    examples: list[_Example]
    size: int = 0  # the bytes of its pickled values
    # The calls passing replays made and the replies they got, kept in this process (grader.grading.call_stream):
    # one stream per way of passing met (other bits, other histories), up to MAX_STREAMS_PER_TEST;
    # `streamless` once the first passing replay's calls could not be kept (they never will be).
    streams: list[CallStream] = field(default_factory=list)
    streamless: bool = False


# One worker process's recordings, by test (a worker grades many jobs of the same problems in turn).
_recordings: dict[str, _Recording] = {}
_stream_bytes = [0]  # what the call streams kept in this process's recordings hold (grader.grading.call_stream)
_unrecordable: set[str] = set()
# Tests without Hypothesis: their call streams alone (grader.grading.call_stream), as for a recording's.
_plain: dict[str, list[CallStream]] = {}
_plain_streamless: set[str] = set()
_new: list[str] = []  # recorded in this process and not handed back yet (export_new)
# Failing runs under Hypothesis, by test: their call streams, each with the test's result (`RepeatedFailure`).
_failures: dict[str, list[CallStream]] = {}
_failure_bytes = [0]
# The request bytes (pickled arguments) of every stream this process keeps, by their digest
# (Exchange.blobs_digest): a test's inputs are the same in each of its streams (every way of passing it,
# every failing run, every history), so they are kept, and counted against the bounds, once.
_kept_requests: dict[bytes, list[bytes]] = {}
# Each problem's tests as a pytest session of this process collected them (`JobPlan`), by `plan_key`.
_plans: dict[str, JobPlan] = {}


def test_key(path: Path, name: str, max_examples: int) -> str:
    """A recording's key: the test file's content, the test's name and the examples asked for."""
    import hypothesis

    return f"{path}::{name}::{_digest(path)}::{max_examples}::{hypothesis.__version__}"


def _digest(path: Path) -> str:
    """The test file's hash, read once per version of the file (every test of every job asks for it)."""
    try:
        stat = path.stat()
    except OSError:
        return "unreadable"
    return _digest_of(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _digest_of(path: str, mtime_ns: int, size: int) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def keep_stream(recorded: _Recording, stream: CallStream | None) -> None:
    """Keep another call stream of a test with its recording (`wants_stream`).

    None (the passing body's calls cannot be repeated) leaves the test without streams for good if it
    has none yet; so does a stream past this process's bound.
    """
    if _keep(recorded.streams, stream):
        recorded.streamless = True


def wants_stream(recorded: _Recording) -> bool:
    """Whether a passing replay of this test should have its calls kept as another stream."""
    from grader.grading.call_stream import MAX_STREAMS_PER_TEST

    return not recorded.streamless and len(recorded.streams) < MAX_STREAMS_PER_TEST


def _keep(streams: list[CallStream], stream: CallStream | None, *, failing: bool = False) -> bool:
    """Add `stream` to a test's `streams` if it may be kept; whether the test should get no more.

    A stream that cannot be repeated ends them only for a test with none yet (its way of passing is
    the class's); one past this process's bound ends them, since no other would fit either. Failing
    runs' streams (`failing`) have bounds of their own.
    """
    from grader.grading import call_stream

    if stream is None:
        return not streams
    used = _failure_bytes if failing else _stream_bytes
    per_test = call_stream.MAX_FAILURES_PER_TEST if failing else call_stream.MAX_STREAMS_PER_TEST
    limit = call_stream.MAX_FAILURES_BYTES if failing else call_stream.MAX_STREAMS_BYTES
    size = _new_bytes(stream)
    if len(streams) >= per_test or used[0] + size > limit:
        return True
    _share_requests(stream)
    used[0] += size
    streams.append(stream)
    return False


def _new_bytes(stream: CallStream) -> int:
    """What keeping `stream` adds to this process's streams, about: its exchanges, and the request bytes
    no kept stream holds yet (`_kept_requests`)."""
    from grader.grading.call_stream import EXCHANGE_BYTES

    size, seen = 0, set()
    for exchange in stream.exchanges:
        size += EXCHANGE_BYTES
        digest = exchange.blobs_digest
        if exchange.blobs and digest not in _kept_requests and digest not in seen:
            seen.add(digest)
            size += sum(len(b) for b in exchange.blobs)
    return size


def _share_requests(stream: CallStream) -> None:
    """Point `stream`'s requests at the same bytes where a kept stream sent the same ones, and keep its
    other requests' bytes for the streams after it."""
    for exchange in stream.exchanges:
        if exchange.blobs:
            exchange.blobs = list(_kept_requests.setdefault(exchange.blobs_digest, exchange.blobs))


def forget_all() -> None:
    """Drop every recording of this process (tests use it to start from a known state)."""
    _stream_bytes[0] = 0
    _recordings.clear()
    _plain.clear()
    _plain_streamless.clear()
    _unrecordable.clear()
    _new.clear()
    _failures.clear()
    _failure_bytes[0] = 0
    _kept_requests.clear()
    _plans.clear()


# -- recording --------------------------------------------------------------------------------------


class _RecordingData:
    """Stands in for Hypothesis's `data` object while a passing run is recorded: draws pass through."""

    def __init__(self, real: Any, example: _Example, recorder: Recorder) -> None:
        self._real, self._example, self._recorder = real, example, recorder

    def draw(self, strategy: Any, label: Any = None) -> Any:
        value = self._real.draw(strategy, label)
        self._recorder.keep_draw(self._example, strategy, label, value)
        return value

    def __repr__(self) -> str:
        return repr(self._real)


class Recorder:
    """Wraps a Hypothesis test's inner function for one run and keeps the examples it was called with."""

    def __init__(self, key: str, fixtures: frozenset[str]) -> None:
        self.key = key
        self.fixtures = fixtures
        self.examples: list[_Example] = []
        self.failed = False  # something could not be recorded: the recording is not kept
        self.inner: Callable[..., Any] | None = None  # the test's own inner function, once wrapped
        self._size = 0

    def wrap(self, inner: Callable[..., Any]) -> Callable[..., Any]:
        """`inner`, recording each call; the caller puts `self.inner` back when the run ends."""
        from hypothesis.errors import UnsatisfiedAssumption

        self.inner = inner

        @functools.wraps(inner)  # Hypothesis names the test by this function in a failing example
        def recorded(*args: Any, **kwargs: Any) -> Any:
            drawn, data_names = {}, []
            for name, value in kwargs.items():
                if name in self.fixtures:
                    continue
                if _is_data_object(value):
                    data_names.append(name)
                else:
                    drawn[name] = value
            example = _Example(kwargs=self._pickle(drawn), data_names=tuple(data_names))
            for name in data_names:
                kwargs[name] = _RecordingData(kwargs[name], example, self)
            self.examples.append(example)
            try:
                return inner(*args, **kwargs)
            except UnsatisfiedAssumption:
                example.rejected = True
                raise

        return recorded

    def keep_draw(self, example: _Example, strategy: Any, label: Any, value: Any) -> None:
        example.draws.append((repr(strategy), None if label is None else str(label), self._pickle(value)))

    def _pickle(self, value: Any) -> bytes:
        if self.failed:
            return b""
        try:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - a lambda, a generator, an open file: this test is not recorded
            self.failed = True
            return b""
        self._size += len(data)
        if self._size > _MAX_RECORDING_BYTES:
            self.failed = True
            return b""
        return data

    def keep(self) -> bool:
        """Keep the recording of a run that passed; False (and never again) if it cannot be replayed."""
        if self.failed or not self.examples:
            _unrecordable.add(self.key)
            return False
        _recordings[self.key] = _Recording(self.examples, self._size)
        _new.append(self.key)
        return True


def _is_data_object(value: Any) -> bool:
    return type(value).__name__ == "DataObject" and type(value).__module__.startswith("hypothesis.")


def recordable(key: str) -> bool:
    """Whether a run of this test should be recorded (not recorded yet, and not known to be unrecordable)."""
    return key not in _recordings and key not in _unrecordable


def recording(key: str) -> _Recording | None:
    return _recordings.get(key)


def plain_streams(key: str) -> list[CallStream]:
    """The call streams kept for a test without Hypothesis (each from the history of the job that passed it)."""
    return _plain.get(key, [])


def wants_plain_stream(key: str) -> bool:
    """Whether a passing run of this test without Hypothesis should have its calls kept as another stream."""
    from grader.grading.call_stream import MAX_STREAMS_PER_TEST

    return key not in _plain_streamless and len(_plain.get(key, ())) < MAX_STREAMS_PER_TEST


def keep_plain_stream(key: str, stream: CallStream | None) -> None:
    """Keep another stream of a test without Hypothesis, as `keep_stream` keeps a recording's.

    A test without Hypothesis is first passed by a job whose earlier tests ran under Hypothesis (they
    were being recorded), and later ones by jobs that replayed or streamed them: the streams kept are
    from different histories, so that the jobs after those find theirs.
    """
    if _keep(_plain.setdefault(key, []), stream):
        _plain_streamless.add(key)


class RepeatedFailure(Exception):
    """A test fails with `result`: its run under Hypothesis would make the calls of a failing run kept
    from an earlier job, and the sandbox gave that run's replies to every one of them."""

    def __init__(self, result: Any) -> None:
        super().__init__("the test failed as an earlier job's run with the same replies did")
        self.result = result


def failure_streams(key: str) -> list[CallStream]:
    """The call streams of this test's failing runs under Hypothesis, each with its result (`CallStream.verdict`).

    A run under Hypothesis is a deterministic function of the test, the trusted side's state when it
    starts and the replies (grader.grading.call_stream), the shrinking included: the profile is
    derandomized, has no database and no deadline, and bounds shrinking by a count. A later job whose
    history up to the run is the recording's and whose sandbox gives the same replies to the same
    calls would fail in the same way: the same shrunk example, message, reproduce line and input.
    """
    return _failures.get(key, [])


def wants_failure_stream(key: str) -> bool:
    """Whether a run of this test under Hypothesis should have its calls kept, should it fail."""
    from grader.grading.call_stream import MAX_FAILURES_BYTES, MAX_FAILURES_PER_TEST

    return len(_failures.get(key, ())) < MAX_FAILURES_PER_TEST and _failure_bytes[0] < MAX_FAILURES_BYTES


def keep_failure_stream(key: str, stream: CallStream) -> None:
    """Keep a failing run's stream (its `verdict` set), within this process's bounds for them."""
    _keep(_failures.setdefault(key, []), stream, failing=True)


def plain_streamless(key: str) -> bool:
    """Whether a passing run of this test without Hypothesis made a stream that cannot be repeated."""
    return key in _plain_streamless


# -- jobs decided on their streams before pytest starts ---------------------------------------------------


@dataclass(frozen=True)
class PlannedTest:
    """One test as a job's pytest session collected it, in file order (grader.grading.plugin.GradingPlugin).

    `eligible`: pytest would do nothing for it but set up the grader's own fixtures and call it, so a
    later job may pass it on its call stream without a pytest session (`GradingPlugin.grade_ahead`): a
    plain function, not parametrized, marked only with points, hidden (and Hypothesis's own marker),
    asking for `student` and no fixture but `reference`.
    """

    name: str
    nodeid: str
    key: str  # its `test_key`
    points: float
    hidden: bool
    hypothesis: bool  # under @given (its recording's streams), else a plain test (its own streams)
    fixtures: tuple[str, ...]  # of `student` and `reference`, those it asks for, in the order pytest sets them up
    eligible: bool


JobPlan = tuple[PlannedTest, ...]


def plan_key(test_file: Path, max_examples: int, points: float) -> str:
    """A problem's plan's key: its test file (path and content), max_examples and points."""
    return f"{test_file}::{_digest(test_file)}::{max_examples}::{points!r}"


def job_plan(key: str) -> JobPlan | None:
    """The tests of a problem as an earlier job in this process collected them, if one did."""
    return _plans.get(key)


def keep_job_plan(key: str, plan: JobPlan) -> None:
    """Keep what a job's pytest session collected, once it ran without a collection error."""
    _plans[key] = plan


# -- sharing between trusted processes -------------------------------------------------------------


def export_new() -> dict[str, bytes]:
    """The recordings made in this process since the last call, encoded for other processes, by key.

    A recording over `_MAX_SHARED_BYTES`, or one that would take the total over `_MAX_EXPORT_BYTES`,
    stays in this process alone (later jobs elsewhere record it again, as they would have anyway).
    """
    shared: dict[str, bytes] = {}
    total = 0
    for key in _new:
        recorded = _recordings.get(key)
        if recorded is None or recorded.size > _MAX_SHARED_BYTES:
            continue
        data = _encode(recorded)
        if len(data) > _MAX_SHARED_BYTES or total + len(data) > _MAX_EXPORT_BYTES:
            continue
        shared[key] = data
        total += len(data)
    _new.clear()
    return shared


def adopt(shared: dict[str, bytes]) -> int:
    """Take recordings another trusted process made (`export_new`); returns how many were new here.

    Only recordings this process lacks are taken, and a recording that cannot be read is skipped (its
    test is recorded again here). Their values are unpickled only in a replay, as for one's own.
    """
    adopted = 0
    for key, data in shared.items():
        if key in _recordings:
            continue
        recorded = _decode(data)
        if recorded is None:
            continue
        _recordings[key] = recorded
        _unrecordable.discard(key)
        adopted += 1
    return adopted


def _encode(recorded: _Recording) -> bytes:
    # Plain containers of bytes, strings, tuples and bools: the values inside stay as they were pickled.
    examples = [(e.kwargs, e.draws, e.data_names, e.rejected) for e in recorded.examples]
    return pickle.dumps((recorded.size, examples), protocol=pickle.HIGHEST_PROTOCOL)


class _PlainUnpickler(pickle.Unpickler):
    """Reads the plain containers `_encode` writes, and refuses anything that names a class or function."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"a shared recording names {module}.{name}")


def _decode(data: bytes) -> _Recording | None:
    try:
        size, examples = _PlainUnpickler(io.BytesIO(data)).load()
        return _Recording(
            [_Example(kwargs=k, draws=list(d), data_names=tuple(n), rejected=bool(r)) for k, d, n, r in examples],
            int(size),
        )
    except Exception:  # noqa: BLE001 - damaged in transit: the test is recorded again here
        return None


# -- replaying --------------------------------------------------------------------------------------


class _ReplayData:
    """Stands in for Hypothesis's `data` object in a replay: each draw returns the recorded value."""

    def __init__(self, draws: list[tuple[str, str | None, bytes]]) -> None:
        self._draws = iter(draws)
        self._left = len(draws)

    def finished(self) -> bool:
        """Whether every recorded draw was made (fewer draws could change what Hypothesis generates next)."""
        return self._left == 0

    def draw(self, strategy: Any, label: Any = None) -> Any:
        recorded = next(self._draws, None)
        if recorded is None:
            raise Diverged("the test drew more values than it did when recorded")
        self._left -= 1
        text, recorded_label, value = recorded
        if text != repr(strategy) or recorded_label != (None if label is None else str(label)):
            raise Diverged("the test drew from another strategy than it did when recorded")
        return pickle.loads(value)


@contextlib.contextmanager
def _example_context(test: Callable[..., Any]) -> Iterator[None]:
    """What Hypothesis sets up around each example: its deterministic PRNG and a build context.

    The build context is new for each example, so `grader.grading.plugin.current_example` tells the
    examples apart (the calls that describe a failure are the failing example's own).
    """
    from hypothesis.control import BuildContext
    from hypothesis.internal.conjecture.data import ConjectureData
    from hypothesis.internal.entropy import deterministic_PRNG

    data = ConjectureData.for_choices([])
    with deterministic_PRNG(), BuildContext(data, is_final=False, wrapped_test=test):
        yield


def replay(recorded: _Recording, test: Callable[..., Any], inner: Callable[..., Any], fixtures: dict[str, Any]) -> None:
    """Call the test's body with each recorded example, in order, as Hypothesis called it.

    Returns when every example passed. Raises Diverged when the replay cannot follow the recording,
    and any other exception as it came (the caller then runs the test under Hypothesis).
    """
    from hypothesis.errors import UnsatisfiedAssumption

    for example in recorded.examples:
        try:
            kwargs = pickle.loads(example.kwargs)
        except Exception as exc:  # noqa: BLE001 - a class of the test module that is gone: not replayable
            raise Diverged(f"a recorded example cannot be read back: {type(exc).__name__}") from None
        data = _ReplayData(example.draws)
        for name in example.data_names:
            kwargs[name] = data
        try:
            with _example_context(test):
                inner(**fixtures, **kwargs)
        except UnsatisfiedAssumption:
            if not example.rejected:
                raise Diverged("an example was rejected that was not when recorded") from None
            continue
        if example.rejected:
            raise Diverged("an example passed that was rejected when recorded")
        if not data.finished():
            raise Diverged("the test drew fewer values than it did when recorded")


@dataclass
class Modes:
    """How many of a job's tests ran in each mode."""

    replayed: int = 0
    recorded: int = 0
    hypothesis: int = 0
    streamed: int = 0
    repeated: int = 0

    def add(self, mode: str) -> None:
        setattr(self, mode, getattr(self, mode) + 1)

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        return (self.replayed, self.recorded, self.hypothesis, self.streamed, self.repeated)
