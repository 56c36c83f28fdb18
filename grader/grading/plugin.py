"""The pytest plugin that turns a problem's test file into a scored result for one job.

Built like pytest's own junitxml plugin: registered per run, state on the plugin object, results
collected in `pytest_runtest_makereport`. It provides the `student` and `reference` fixtures, the
`points` and `hidden` markers, the pinned Hypothesis grading profile, and per-test seeding.

Blame goes by origin, not by exception type: a test that fails with anything but an assertion or a
student error is run again with the reference in the student's place; if the reference passes, the
failure came from what the student's code did or returned (None where a module belongs, a state
dict that does not fit) and is the student's, with a plain message. Only a failure that the
reference shares is a grader error.

A failure's feedback comes from structure, not from Hypothesis's wording: the smallest failing
example is the one Hypothesis records for its own pytest plugin (or, failing that, the note that
names the test function), the replay line is the `@reproduce_failure(...)` decorator, and the input
the student's code got is described from the calls the proxy sent (grader.grading.failing_input).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.control import current_build_context
from hypothesis.errors import InvalidArgument

from grader.course.spec import ProblemSpec
from grader.errors import BankError, SandboxSetupError
from grader.grading import call_stream, lockstep
from grader.grading.failing_input import describe_calls
from grader.grading.proxy import StudentError, StudentFault, StudentModule, StudentSession
from grader.grading.training import curves_written, put_back_curves, take_curves
from grader.records import NOT_RUN, Outcome, TestResult
from grader.sandbox.seeding import seed_all

PROFILE = "grader"
OUTPUT_PER_TEST = 4096
# Shrinking is bounded by a count of successful shrinks, which is the same on every machine and under
# any load, so the smallest failing example (and the message) is deterministic; the time budget is
# only a safety net far above what the count allows on a loaded 2-core machine.
_SHRINKS = 120
_SHRINK_SECONDS = 60
# Where Hypothesis's pytest plugin records a failing test's examples (without their label) on the item.
_HYPOTHESIS_EXAMPLES = "_hypothesis_failing_examples"


def skip_hypothesis_patch(item: pytest.Item) -> None:
    """Keep Hypothesis's pytest plugin from writing a source patch for `item`'s falsifying examples.

    It imports and runs libcst on the test file for every failing test (a tenth of a second per
    failing job); grading takes the examples from the exception's notes and never uses the patch.
    """
    item.__dict__.pop("_hypothesis_failing_examples", None)


def register_profile(max_examples: int) -> None:
    """Pin the one grading profile, whatever the environment says (Hypothesis loads `ci` if CI is set)."""
    settings.register_profile(
        PROFILE,
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        report_multiple_bugs=False,
        # No "explain" phase: it reruns many examples to annotate the output, at a cost per failure.
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    settings.load_profile(PROFILE)
    try:  # budgets for shrinking; Hypothesis has no public setting for them
        from hypothesis.internal.conjecture import engine

        engine.MAX_SHRINKS = _SHRINKS  # type: ignore[attr-defined]
        engine.MAX_SHRINKING_SECONDS = _SHRINK_SECONDS  # type: ignore[attr-defined]
    except (ImportError, AttributeError):
        pass


# The only pytest plugins a grading session loads besides pytest's own: the grader's markers and
# options, and Hypothesis's reporting. A plugin installed beside them (pytest-randomly, pytest-xdist,
# pytest-cov, ...) would otherwise load too, from its entry point, and could reorder the tests,
# reseed generators or time out calls: a kit's verdict and feedback would then depend on what else
# the student installed. tests/e2e/test_check_plugins.py grades with such a plugin installed.
# They are handed to pytest as modules: `-p name` looks the name up among every installed
# distribution's entry points first, at every session (15 to 20 ms of a job's CPU).
def session_plugins() -> list[object]:
    """The plugins every trusted-side session loads (pass them as `pytest.main(..., plugins=...)`)."""
    import _hypothesis_pytestplugin

    from grader.grading import pytest_plugin

    return [pytest_plugin, _hypothesis_pytestplugin]


# pytest's own plugins that act only on options or files a grading session never gives them (its ini
# is empty and its addopts cleared): not loaded, a few milliseconds of every job's start.
UNUSED_BUILTINS = tuple(
    arg
    for name in ("doctest", "junitxml", "pastebin", "stepwise", "setuponly", "setupplan")
    for arg in ("-p", f"no:{name}")
)


def session_args(folder: Path, ini: Path) -> list[str]:
    """pytest's options for a session on the trusted side over the tests of the problem in `folder`.

    `ini` is an empty ini file of the session's own: no ini, conftest.py or addopts of the course or
    of the machine applies, no cache is written, only the grader's and Hypothesis's plugins load (with
    `installed_plugins_off`, `session_plugins` passed as plugins), and test files import without
    touching sys.path. Grading jobs and the kit's recorder both start their sessions from these.
    """
    ini.write_text("[pytest]\n")
    return [
        "-c", str(ini), "--rootdir", str(folder), "-p", "no:cacheprovider", *UNUSED_BUILTINS,
        "-q", "--noconftest", "--import-mode=importlib", "-o", "addopts=", "-W", "ignore",
    ]  # fmt: skip


@contextlib.contextmanager
def installed_plugins_off() -> Iterator[None]:
    """While a grading session runs: pytest loads no plugin from entry points (`session_plugins` are handed to it)."""
    name = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
    before = os.environ.get(name)
    os.environ[name] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


@dataclass
class _Collected:
    name: str
    points: float
    hidden: bool


# What pytest does for a test before its call that a job may do itself (GradingPlugin.grade_ahead).
_PLANNED_FIXTURES = frozenset({"student", "reference", "_grader_per_test"})
_PLANNED_MARKERS = frozenset({"points", "hidden", "hypothesis"})


# A stream sent before pytest started (GradingPlugin.grade_ahead): run_stream's answer, and the output's
# size and the job's history before it.
_Sent = tuple[str, list[call_stream.Exchange], int, bytes]


@dataclass
class _Resumed:
    """A test whose set-up (and perhaps its first stream) ran before pytest started (GradingPlugin.grade_ahead):
    pytest goes on from there."""

    nodeid: str
    output_start: int
    cannot_run_at_start: str | None
    stream: _Sent | None = None


@dataclass(eq=False)
class GradingPlugin:
    """State of one job's pytest session."""

    problem: ProblemSpec
    session: StudentSession
    forced_failure: str | None = None  # e.g. a forbidden name: no test runs, each fails with this reason
    results: dict[str, TestResult] = field(default_factory=dict)
    collected: dict[str, _Collected] = field(default_factory=dict)  # by test name, in file order
    errors: list[str] = field(default_factory=list)
    _reference: ModuleType | None = None
    _student_caused: set[str] = field(
        default_factory=set
    )  # node ids of tests whose failure the reference does not share
    _output_start: int = 0
    _cannot_run_at_start: str | None = None
    _curves: dict[str, tuple[dict[str, Any], ...]] = field(
        default_factory=dict
    )  # by test name (grader.grading.training)
    modes: lockstep.Modes = field(default_factory=lockstep.Modes)  # how the tests ran (grader.grading.lockstep)
    _recorders: dict[str, lockstep.Recorder] = field(default_factory=dict)  # by node id, while a test records
    _replay_output: tuple[int, int] | None = None  # what a replay printed, left out of the test's output
    # A run under Hypothesis whose calls are being kept, by node id, should it fail (grader.grading.lockstep):
    # the test's key and what its body could leave behind when it started; then, once it failed, its stream.
    _failure_capture: dict[str, tuple[str, Any]] = field(default_factory=dict)
    _failure_kept: dict[str, tuple[str, Any]] = field(default_factory=dict)
    # A test's exchanges from its start (StudentSession.start_transcript), by node id, till its result is known.
    _transcript_kept: dict[str, tuple[str, call_stream.CallStream]] = field(default_factory=dict)
    # The running test's key, and what its body could leave behind when it started (`_end_transcript`).
    _started: tuple[str, Any] = ("", None)
    _stream_kept = False  # whether the running test's passing body was kept as a stream
    _module_before: ModuleSnapshot | None = None  # the test module's globals when the test started
    # Decided before pytest started (`grade_ahead`): the tests passed, by node id; the test pytest goes on
    # with; the values (or exceptions) of the session fixtures set up on the way.
    plan: list[lockstep.PlannedTest] = field(default_factory=list)  # as this session collected the tests
    _ahead: set[str] = field(default_factory=set)
    _resumed: _Resumed | None = None
    _resuming = False
    _early: dict[str, Any] = field(default_factory=dict)
    interrupted: BaseException | None = None  # Ctrl-C or SIGTERM in the session: the run stops, no result

    def __post_init__(self) -> None:
        self.session.call_scope = current_example

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """pytest ends its session on a KeyboardInterrupt and returns; the job must raise it again."""
        self.interrupted = excinfo.value

    # -- configuration and collection ----------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "points(n): the points a test is worth (all or nothing)")
        config.addinivalue_line("markers", "hidden: students see only whether the test passed")
        register_profile(self.problem.max_examples)
        if lockstep.enabled():
            config.pluginmanager.register(_Replayer(self), "grader-lockstep")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(f"{self.problem.test_file}: the tests could not be collected:\n{report.longreprtext}")

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        total = 0.0
        for item in items:
            marker = item.get_closest_marker("points")
            if marker is None or len(marker.args) != 1 or not isinstance(marker.args[0], (int, float)):
                self.errors.append(f"{self.problem.test_file}: {item.name} needs a points marker (@grader.points(n))")
                continue
            points = float(marker.args[0])
            if points < 0:
                self.errors.append(f"{self.problem.test_file}: {item.name}: points = {points:g} must not be negative")
            total += points
            self.collected[item.name] = _Collected(item.name, points, item.get_closest_marker("hidden") is not None)
            self.plan.append(self._planned(item, self.collected[item.name]))
        if not self.errors and abs(total - self.problem.points) > 1e-9:
            self.errors.append(
                f"{self.problem.test_file}: the tests' points add up to {total:g}, but problem.toml says "
                f"points = {self.problem.points:g}"
            )
        if self.errors:
            items.clear()

    def _planned(self, item: pytest.Item, meta: _Collected) -> lockstep.PlannedTest:
        hyp: Any = getattr(getattr(item, "obj", None), "hypothesis", None)
        info = getattr(item, "_fixtureinfo", None)
        closure = list(info.names_closure) if info is not None else ["?"]  # in the order pytest sets them up
        eligible = (
            type(item) is pytest.Function
            and not hasattr(item, "callspec")
            and {mark.name for mark in item.iter_markers()} <= _PLANNED_MARKERS
            and set(closure) <= _PLANNED_FIXTURES
            and "student" in closure
            and (hyp is None or getattr(hyp, "inner_test", None) is not None)
        )
        return lockstep.PlannedTest(
            name=meta.name,
            nodeid=item.nodeid,
            key=lockstep.test_key(Path(str(item.path)), item.name, self.problem.max_examples),
            points=meta.points,
            hidden=meta.hidden,
            hypothesis=hyp is not None,
            fixtures=tuple(name for name in closure if name in ("student", "reference")),
            eligible=eligible,
        )

    # -- fixtures -------------------------------------------------------------------------------

    @pytest.fixture(scope="session")
    def student(self) -> StudentModule:
        """The student's module, running in the sandbox (never started for a problem that cannot run)."""
        if self.forced_failure is not None:
            raise StudentFault(self.forced_failure)
        return self._session_fixture("student", self.session.module)  # type: ignore[no-any-return]

    @pytest.fixture(scope="session")
    def reference(self) -> ModuleType:
        """The reference implementation, imported here on the trusted side."""
        return self._session_fixture("reference", self.reference_module)  # type: ignore[no-any-return]

    def _session_fixture(self, name: str, make: Callable[[], Any]) -> Any:
        """A session fixture's value, made once: by pytest, or earlier by `grade_ahead`. As pytest does, an
        Exception it raised is raised again for every later test asking; anything else (a StudentFault)
        is not kept, and the next test asking makes it again (the session raises its import fault again)."""
        if name not in self._early:
            try:
                self._early[name] = make()
            except Exception as exc:  # noqa: BLE001 - raised again below, and for every later test asking
                self._early[name] = exc
        value = self._early[name]
        if isinstance(value, Exception):
            raise value
        return value

    @pytest.fixture(autouse=True)
    def _grader_per_test(self) -> Iterator[None]:
        if self.forced_failure is not None:
            raise StudentFault(self.forced_failure)
        if self._resuming:  # done already (`grade_ahead`)
            self._resuming = False
        else:
            seed_all(0)
            self.session.begin_test()
        yield

    # -- a job decided before pytest starts ------------------------------------------------------------

    def grade_ahead(self, plan: Sequence[lockstep.PlannedTest]) -> bool:
        """Pass a job's tests on their call streams without a pytest session, as far as that goes (True: all).

        `plan` is the problem's tests as an earlier job's session in this process collected them. Each
        test, in order, is set up as pytest and this plugin would set it up (the output's start, the
        per-test state, the session fixtures when first asked for, the seeds) and, if its stream
        passes, passes as it would have in the session (`lockstep_call`). The first test that cannot
        (not eligible, no stream, a stream that does not pass, a fixture that raised) stops it: pytest
        then runs the job, skips the tests passed here (`pytest_runtest_protocol`) and goes on with
        that test from where it was left (`_Resumed`), so that every request the sandbox gets, and
        every result, is what the session alone would have given. A pytest session is most of a
        streamed job's trusted-side CPU.
        """
        for test in plan:
            self.collected[test.name] = _Collected(test.name, test.points, test.hidden)
        for test in plan:
            if not test.eligible:
                return False  # pytest runs it, from its start
            streams = self._streams_ahead(test)
            if streams is None and self.session.import_fault is None:
                return False  # likewise: it has no stream to pass on
            started = time.perf_counter()
            take_curves()
            self._replay_output = None
            self._output_start = self.session.output_size()
            self._cannot_run_at_start = self.cannot_run()
            self.session.begin_test()
            resumed = _Resumed(test.nodeid, self._output_start, self._cannot_run_at_start)
            self._resumed = resumed
            try:
                for name in test.fixtures:  # in pytest's order
                    self._session_fixture(name, self.session.module if name == "student" else self.reference_module)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: BLE001 - pytest's own set-up of this test would raise it
                reason = self._not_run_reason(exc) if exc is self.session.import_fault else None
                if reason is None:
                    return False  # pytest raises it again, and decides
                self._resumed = None  # the module could not be imported: the test fails, as in the session
                self._ahead.add(test.nodeid)
                self.results[test.name] = self._not_run(
                    self.collected[test.name], reason, time.perf_counter() - started
                )
                continue
            seed_all(0)
            self.session.begin_test()
            if self.cannot_run() is not None or streams is None:
                return False
            start, history = self.session.output_size(), self.session.history()
            outcome, exchanged = self.session.run_stream(streams, transcript=lockstep.wants_failure_stream(test.key))
            if outcome != "passed":
                resumed.stream = (outcome, exchanged, start, history)
                return False
            self._resumed = None
            self._ahead.add(test.nodeid)
            verdict = self._repeated_verdict(start)
            passed = verdict is None or verdict.outcome == "passed"
            if test.hypothesis:  # as `lockstep_call` counts them: the modes are those of Hypothesis's tests
                self.modes.add(lockstep.STREAMED if passed else lockstep.REPEATED)
            duration = time.perf_counter() - started
            if verdict is None:
                self.results[test.name] = self._passed(self.collected[test.name], duration)
            else:
                self.results[test.name] = replace(verdict, output=self._output(), duration=duration)
        return True

    def _repeated_verdict(self, start: int) -> TestResult | None:
        """After a test's streams passed: the result of the test's run whose stream from its start they
        followed, if it was one (None: a passing body's stream). What the student printed before that run
        last started again (from `start`, the output's size when the streams were sent) is left out of
        the test's output."""
        followed = self.session.followed
        verdict = followed.verdict if followed is not None else None
        if verdict is None:
            return None
        restart = self.session.restart_output
        self._replay_output = (start, restart) if restart is not None else None
        return cast(TestResult, verdict)

    def _test_streams(self, key: str, *, hypothesis: bool) -> list[call_stream.CallStream]:
        """The streams a test's calls start with: its passing bodies' and its failing runs' (grader.grading.call_stream)."""
        if not lockstep.streams_enabled():
            return []
        if hypothesis:
            recorded = lockstep.recording(key)
            passing = recorded.streams if recorded is not None else []
        elif lockstep.plain_streamless(key):
            return []
        else:
            passing = lockstep.plain_streams(key)
        return [*passing, *lockstep.failure_streams(key)]

    def _streams_ahead(self, test: lockstep.PlannedTest) -> list[call_stream.CallStream] | None:
        """The streams `lockstep_call` would send for this (eligible) test, where it would send them first."""
        return self._test_streams(test.key, hypothesis=test.hypothesis) or None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
        """A test passed before the session started (`grade_ahead`) is not run again."""
        return True if item.nodeid in self._ahead else None

    # -- blame ----------------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Iterator[None]:
        """Decide whose failure a test's unexpected exception is, by running it with the reference."""
        try:
            result = yield
        except lockstep.RepeatedFailure:
            raise
        except BaseException as exc:
            if self._stop_recording(pyfuncitem) is not None:
                self.modes.add(lockstep.HYPOTHESIS)  # a failing run is not recorded
            if self._needs_blame(exc, pyfuncitem) and self._reference_passes(pyfuncitem):
                self._student_caused.add(pyfuncitem.nodeid)
            self._end_failure_capture(pyfuncitem, failed=True)
            self._end_transcript(pyfuncitem, keep=True)
            raise
        self._end_failure_capture(pyfuncitem, failed=False)
        recorder = self._stop_recording(pyfuncitem)
        recorded = recorder is not None and recorder.keep()
        if recorder is not None:
            self.modes.add(lockstep.RECORDED if recorded else lockstep.HYPOTHESIS)
        # A test that passed with no stream kept from its passing body (it started again after its replay
        # stopped; a stream could not be kept) keeps its exchanges from its start instead, with its result.
        # A first run, which recorded its examples, leaves that to the replays after it.
        self._end_transcript(pyfuncitem, keep=not (self._stream_kept or recorded))
        return result

    def _end_transcript(self, item: pytest.Function, *, keep: bool) -> None:
        """The end of a test's call: its exchanges from its start wait for its result (`_record`), if kept."""
        transcript = self.session.finish_transcript(keep=keep)
        # A body that leaves something behind (a value in its module for a later test) must run in every job.
        key, before = self._started
        if transcript is not None and _leavings(item) == before:
            self._transcript_kept[item.nodeid] = (key, transcript)

    def _stop_recording(self, item: pytest.Function) -> lockstep.Recorder | None:
        """Put the test's own inner function back (the test module, and so the function, outlives the job)."""
        recorder = self._recorders.pop(item.nodeid, None)
        if recorder is not None:
            item.obj.hypothesis.inner_test = recorder.inner
        return recorder

    # -- lockstep (grader.grading.lockstep) ---------------------------------------------------------------

    def lockstep_call(self, item: pytest.Function) -> bool | None:
        """Run a Hypothesis test by replaying its recorded examples (True), or leave it to Hypothesis (None).

        A test with no recording yet is recorded as Hypothesis runs it. A replay that fails in any way
        (a failure, a fault of the student's code, a divergence) leaves the test to Hypothesis, from
        the start and with the per-test state reset, so that its result is exactly what it would have
        been: the shrunk example, the message, the output. A failing student pays the passing
        examples twice; a call that timed out, its time limit twice.
        """
        test = item.obj
        hyp: Any = getattr(test, "hypothesis", None)
        inner = getattr(hyp, "inner_test", None)
        if "student" not in item._fixtureinfo.argnames or self.cannot_run() is not None:
            return None
        key = lockstep.test_key(Path(str(item.path)), item.name, self.problem.max_examples)
        fixtures = {name: item.funcargs[name] for name in item._fixtureinfo.argnames if name in item.funcargs}
        self._module_before = ModuleSnapshot.take(item.module)  # put back should the test start over
        self._started = (key, _leavings(item))
        self._stream_kept = False
        sent = self._sent_ahead(item)
        if inner is None:
            return self._plain_call(item, key, fixtures, sent) if hyp is None else None
        recorded = lockstep.recording(key)
        replay_start, history = sent[2:] if sent else (self.session.output_size(), self.session.history())
        outcome, exchanged = sent[:2] if sent else self._first_streams(key, history, hypothesis=True)
        if outcome == "passed":  # the same replies to the same calls as a body that passed: it would pass again
            verdict = self._repeated_verdict(replay_start)
            if verdict is not None and verdict.outcome != "passed":  # ... or as a run that failed: it would fail again
                self.modes.add(lockstep.REPEATED)
                raise lockstep.RepeatedFailure(verdict)
            self.modes.add(lockstep.STREAMED)
            return True
        if recorded is None or outcome in ("faulted", "restarted"):  # Hypothesis decides (and records a first run)
            if outcome != "unusable":  # a fault, or a call past a difference: the test starts again
                self._restart_test((replay_start, self.session.output_size()))
            return self._under_hypothesis(item, key, fixtures, replay_start, record=recorded is None)
        if outcome == "diverged":
            self.session.prefetch(exchanged)
        # The replay's calls (the replies already given included) are another stream of the test if it passes.
        capturing = lockstep.streams_enabled() and lockstep.wants_stream(recorded)
        if capturing:
            self.session.start_capture(history)
        before = _leavings(item) if capturing else None
        try:
            lockstep.replay(recorded, test, inner, fixtures)
            if not self.session.end_prefetch():
                raise lockstep.Diverged("the test did not ask for the calls the sandbox had already run")
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: BLE001 - a failure, a fault or a divergence: Hypothesis decides, from the start
            self.session.end_prefetch()
            self.session.finish_capture()
            self._restart_test((replay_start, self.session.output_size()))
            return self._under_hypothesis(item, key, fixtures, replay_start)
        if capturing:
            stream = self.session.finish_capture()
            # A body that leaves something behind (a curve, a value in its module for a later test) must
            # run in every job: a job that passed it on its stream would lack what it left.
            stream = stream if _leavings(item) == before else None
            lockstep.keep_stream(recorded, stream)
            self._stream_kept = stream is not None
        self.modes.add(lockstep.REPLAYED)
        return True

    def _first_streams(self, key: str, history: bytes, *, hypothesis: bool) -> tuple[str, list[call_stream.Exchange]]:
        """Send a test's streams at its start (run_stream's answer), keeping its exchanges should it fail."""
        streams = self._test_streams(key, hypothesis=hypothesis)
        wanted = lockstep.streams_enabled() and lockstep.wants_failure_stream(key)
        if streams:
            return self.session.run_stream(streams, transcript=wanted)
        if wanted:
            self.session.start_transcript(history)
        return "unusable", []

    def _sent_ahead(self, item: pytest.Function) -> _Sent | None:
        """The stream `grade_ahead` sent for this test, if it did: run_stream's answer, output size, history."""
        resumed, self._resumed = self._resumed, None
        return resumed.stream if resumed is not None and resumed.nodeid == item.nodeid else None

    def _under_hypothesis(
        self, item: pytest.Function, key: str, fixtures: dict[str, Any], start: int, *, record: bool = False
    ) -> bool | None:
        """Run a test under Hypothesis from its start, as pytest would (None), unless a kept failing run decides.

        `start`: where the output of this try of the test began (what was printed since is left out
        should the test start again). With `record`, a passing run's examples are recorded.
        """
        prefetched = self._failed_before(item, key, start)  # raises RepeatedFailure when that decides
        if not (record and self._record_examples(item, key, fixtures)):
            self.modes.add(lockstep.HYPOTHESIS)
        if not prefetched:
            return None
        try:  # run here, where a body that asks for other calls than the sandbox already ran can start over
            item.obj(**fixtures)
        except call_stream.PrefetchDiverged:
            self.session.end_prefetch()
            self._end_failure_capture(item, failed=False)
            if self._stop_recording(item) is not None:
                self._record_examples(item, key, fixtures)  # afresh: the examples of the try that stopped are not
            self._restart_test((start, self.session.output_size()))
            return None
        return True

    def _record_examples(self, item: pytest.Function, key: str, fixtures: dict[str, Any]) -> bool:
        """Record this run's examples for later jobs (grader.grading.lockstep.Recorder), if the test can be."""
        if not lockstep.recordable(key):
            return False
        hyp: Any = item.obj.hypothesis
        recorder = lockstep.Recorder(key, frozenset(fixtures))
        hyp.inner_test = recorder.wrap(hyp.inner_test)
        self._recorders[item.nodeid] = recorder
        return True

    def _failed_before(self, item: pytest.Function, key: str, start: int) -> bool:
        """Before a test runs under Hypothesis from its start: fail it as an earlier job's failing run did, if
        this sandbox gives that run's replies (raises lockstep.RepeatedFailure); else keep this run's calls.

        The run's calls are sent as a call stream's are (grader.grading.call_stream), and only where this
        job's history up to here is the recording job's. Where a reply differs, the run under Hypothesis
        starts with the calls the sandbox has run, answered from their replies (returns True: the caller
        runs it, `_under_hypothesis`); where the sandbox also ran calls past that reply, or failed, the
        test starts again and runs under Hypothesis as it would have (on the same sandbox, which runs
        the calls sent so far again, or on a new one after a fault), with what was printed from `start`
        on left out of its output. Should the run fail, its calls are kept with its result
        (`_end_failure_capture`, `_record`), under the history before any call was sent here: whatever
        those calls' replies were, the trusted side's state was the same when the run started.
        """
        if not lockstep.streams_enabled():
            return False
        history = self.session.history()
        # Only runs that never started again: what one printed before it did is left out only at a test's start.
        streams = [s for s in lockstep.failure_streams(key) if s.restarted_at is None]
        prefetched = False
        if streams:
            outcome, exchanged = self.session.run_stream(streams)
            if outcome == "passed" and self.session.followed is not None:
                self.modes.add(lockstep.REPEATED)
                raise lockstep.RepeatedFailure(self.session.followed.verdict)
            if outcome == "diverged" and self.session.parted_at == len(exchanged) - 1:
                self.session.prefetch(exchanged)  # the run's own first calls, the one that differed last
                prefetched = True
            elif outcome != "unusable":
                self._restart_test((start, self.session.output_size()))
        if lockstep.wants_failure_stream(key):
            self.session.start_capture(history)
            self._failure_capture[item.nodeid] = (key, _leavings(item))
        return prefetched

    def _end_failure_capture(self, item: pytest.Function, *, failed: bool) -> None:
        """The end of a run whose calls were kept: a failure's stream waits for its result (`_record`)."""
        capturing = self._failure_capture.pop(item.nodeid, None)
        clean = self.session.end_prefetch()  # a run that did not ask for every call the sandbox ran is not kept
        if capturing is None:
            return
        stream = self.session.finish_capture()
        key, before = capturing
        # A run that leaves something behind (a value in its module for a later test) must run in every job.
        if failed and clean and stream is not None and _leavings(item) == before:
            self._failure_kept[item.nodeid] = (key, stream)

    def _plain_call(
        self,
        item: pytest.Function,
        key: str,
        fixtures: dict[str, Any],
        sent: _Sent | None = None,
    ) -> bool | None:
        """Run a test without Hypothesis on its call stream (True when that decides it), or leave it to pytest (None).

        A test's body is a deterministic function of its seeded random state, the trusted side's state
        and the replies, as a replayed example's is (grader.grading.call_stream): the first job to pass
        it in this process keeps its stream, and a later job whose sandbox gives the same replies passes
        without running the body (no inputs built, no expected values computed). Where a reply differs,
        the body runs here on the replies already given; if it then asks for other calls than those sent,
        or does not ask for all of them, or the sandbox failed, the test runs again from its start, as
        pytest would run it, with what the first try printed left out.
        """
        if not (lockstep.enabled() and lockstep.streams_enabled()) or lockstep.plain_streamless(key):
            return None
        if sent is not None:  # by `grade_ahead`
            outcome, exchanged, start, history = sent
        else:
            start = self.session.output_size()
            history = self.session.history()
            outcome, exchanged = self._first_streams(key, history, hypothesis=False)
        if outcome == "passed":
            verdict = self._repeated_verdict(start)
            if verdict is not None and verdict.outcome != "passed":
                raise lockstep.RepeatedFailure(verdict)
            return True
        if outcome not in ("unusable", "diverged"):
            self._restart_test((start, self.session.output_size()))
            return None
        # No stream for this job (none from its history), or none that gives its replies: the body runs
        # (on the replies already given, if any), and where it passes its calls are another stream.
        capturing = lockstep.wants_plain_stream(key)
        if outcome == "diverged":
            self.session.prefetch(exchanged)
        elif not capturing:
            return None
        if capturing:
            self.session.start_capture(history)
        before = _leavings(item) if capturing else None
        try:
            item.obj(**fixtures)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: BLE001 - the body's own failure stands if it asked for exactly what was sent
            self.session.finish_capture()
            if self.session.end_prefetch():
                raise
        else:
            if self.session.end_prefetch():
                if capturing:
                    kept = self.session.finish_capture()
                    kept = kept if _leavings(item) == before else None
                    lockstep.keep_plain_stream(key, kept)
                    self._stream_kept = kept is not None
                return True
            self.session.finish_capture()
        self._restart_test((start, self.session.output_size()))
        return None

    def _restart_test(self, replay_output: tuple[int, int]) -> None:
        """The state a test starts from, again: seeds, the calls kept, its curves, its module's globals; the
        replay's output is left out."""
        if self._module_before is not None:
            self._module_before.restore()
        seed_all(0)
        self.session.begin_test(again=True)
        self._replay_output = replay_output
        take_curves()

    def _needs_blame(self, exc: BaseException, item: pytest.Function) -> bool:
        if "student" not in item._fixtureinfo.argnames:
            return False
        leaves = _leaf_exceptions(exc)
        if _is_flaky(exc):
            leaves = [leaf for leaf in leaves if not _is_flaky(leaf)]
        return not all(_is_student_failure(leaf) for leaf in leaves) and not any(
            isinstance(leaf, _NEVER_THE_STUDENTS) for leaf in leaves
        )

    def _reference_passes(self, item: pytest.Function) -> bool:
        """Whether the test passes with the reference as the student (its failure is then the student's)."""
        try:
            reference = self.reference_module()
        except BankError:
            return False
        args = {name: item.funcargs[name] for name in item._fixtureinfo.argnames if name in item.funcargs}
        args["student"] = reference
        seed_all(0)
        curves = take_curves()  # the student's; the reference's run must not replace them
        try:
            item.obj(**args)
        except BaseException:  # noqa: BLE001 - whatever it is, the reference shares the failure
            return False
        finally:
            put_back_curves(curves)
        return True

    def reference_module(self) -> ModuleType:
        if self._reference is None:
            self._reference = load_reference(self.problem)
        return self._reference

    # -- results --------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._resuming = False
        resumed = self._resumed
        if resumed is not None and resumed.nodeid == item.nodeid:  # set up already (`grade_ahead`)
            self._output_start = resumed.output_start
            self._cannot_run_at_start = resumed.cannot_run_at_start
            self._resuming = True
            if resumed.stream is None:
                self._resumed = None
            return
        self._replay_output = None
        take_curves()  # none left over from another test
        self._output_start = self.session.output_size()
        self._cannot_run_at_start = self.cannot_run()
        self.session.begin_test()

    def cannot_run(self) -> str | None:
        """Why no test of this problem can run (a missing file, forbidden names, a failed import), if none can."""
        return self.forced_failure or self.session.import_failure

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        skip_hypothesis_patch(item)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
        outcome: Any = yield
        report: pytest.TestReport = outcome.get_result()
        meta = self.collected.get(item.name)
        if meta is None:
            return
        if report.when == "call":
            self._curves[item.name] = take_curves()
        try:
            self._record(item, call, report, meta)
        finally:
            result = self.results.get(item.name)
            if result is not None and self._curves.get(item.name):
                self.results[item.name] = replace(result, curves=self._curves[item.name])

    def _record(
        self, item: pytest.Item, call: pytest.CallInfo[Any], report: pytest.TestReport, meta: _Collected
    ) -> None:
        previous = self.results.get(item.name)
        duration = report.duration + (previous.duration if previous else 0.0)
        if report.when == "call" and report.passed and previous is None:
            result = self.results[item.name] = self._passed(meta, duration)
            self._keep_run(self._transcript_kept.pop(item.nodeid, None), result, report.duration)
            return
        if not report.failed or (previous is not None and previous.outcome != "passed"):
            if previous is not None:
                self.results[item.name] = replace(previous, duration=duration)
            return
        assert call.excinfo is not None
        exc = call.excinfo.value
        kept = self._failure_kept.pop(item.nodeid, None) if report.when == "call" else None
        whole = self._transcript_kept.pop(item.nodeid, None) if report.when == "call" else None
        if isinstance(exc, lockstep.RepeatedFailure):
            self.results[item.name] = replace(exc.result, output=self._output(), duration=duration)
            return
        reason = self._not_run_reason(exc)
        if reason is not None:
            self.results[item.name] = self._not_run(meta, reason, duration)
            return
        examples = item.__dict__.get(_HYPOTHESIS_EXAMPLES) or ()
        result = self.results[item.name] = _failure(
            meta,
            exc,
            self._output(),
            duration,
            test_function=getattr(item, "originalname", item.name),
            examples=tuple(str(e) for e in examples),
            failing_input=describe_calls(self.session.last_calls()),
            student_caused=item.nodeid in self._student_caused,
        )
        # A student's failure (a grader error never repeats) is kept for later jobs with the same replies:
        # the test's exchanges from its start, else its run under Hypothesis alone.
        if result.outcome == "failed" and not self._keep_run(whole, result, report.duration):
            self._keep_run(kept, result, report.duration)

    def _keep_run(self, kept: tuple[str, call_stream.CallStream] | None, result: TestResult, duration: float) -> bool:
        """Keep a run's stream (test key, stream) with the test's result, without its output and duration, for
        later jobs with the same replies (grader.grading.lockstep.failure_streams): only a run well inside
        the time that could end shrinking early. Whether it was kept."""
        if kept is None or duration >= _SHRINK_SECONDS / 4:
            return False
        key, stream = kept
        stream.verdict = replace(result, output="", duration=0.0)
        lockstep.keep_failure_stream(key, stream)
        return True

    def _passed(self, meta: _Collected, duration: float) -> TestResult:
        return TestResult(
            name=meta.name,
            outcome="passed",
            points=meta.points,
            max_points=meta.points,
            hidden=meta.hidden,
            output=self._output(),
            duration=duration,
        )

    def _not_run(self, meta: _Collected, reason: str, duration: float) -> TestResult:
        """A test that failed because nothing of the problem could run (`_not_run_reason`)."""
        fault = self.session.import_fault
        return TestResult(
            name=meta.name,
            outcome="failed",
            points=0.0,
            max_points=meta.points,
            hidden=meta.hidden,
            message=NOT_RUN + reason,
            student_traceback=fault.student_traceback if fault is not None and reason == str(fault) else "",
            output=self._output(),
            duration=duration,
        )

    def _not_run_reason(self, exc: BaseException) -> str | None:
        """The problem's reason when this test failed because nothing of the problem could run.

        Every such test says the same thing, whichever exception pytest re-raised for it: the reason
        known before the test started (a forced failure, an import that failed for an earlier test),
        or the import failure that this very test ran into.
        """
        if not _is_student_failure(exc):
            return None  # anything else is a grader error, reported as one
        if self._cannot_run_at_start is not None:
            return self._cannot_run_at_start
        fault = self.session.import_fault
        if fault is not None and (exc is fault or (isinstance(exc, StudentFault) and str(exc) == str(fault))):
            return str(fault)
        return None

    def _output(self) -> str:
        return self.session.read_output(self._output_start, OUTPUT_PER_TEST, self._replay_output)

    def test_results(self) -> list[TestResult]:
        """Every collected test's result in file order; a test that did not report counts as an error."""
        out = []
        for meta in self.collected.values():
            result = self.results.get(meta.name)
            if result is None:
                result = TestResult(
                    name=meta.name,
                    outcome="error",
                    points=0.0,
                    max_points=meta.points,
                    hidden=meta.hidden,
                    message="the test did not run to completion (grader error)",
                )
            out.append(result)
        return out


def module_state(module: ModuleType | None) -> dict[str, Any]:
    """What a test module's globals hold, as far as a test's body could change it for a later test:
    each name's object, and the items of a dict, list or set it holds (by identity, shallowly)."""
    state: dict[str, Any] = {}
    for name, value in vars(module).items() if module is not None else ():
        if isinstance(value, dict):
            state[name] = (id(value), tuple((k, id(v)) for k, v in value.items()))
        elif isinstance(value, (list, set, bytearray)):
            state[name] = (id(value), tuple(id(v) for v in value))
        else:
            state[name] = id(value)
    return state


@dataclass
class ModuleSnapshot:
    """A test module's globals as `module_state` sees them, kept to be put back: each name's object, and
    the items of a dict, list, set or bytearray it holds (shallowly; dunder names left alone).

    A test that starts over under Hypothesis after its replay failed (grader.grading.lockstep) starts
    from its module as it was, as it would have with lockstep off: a body that kept something in a
    global for a later test (a list of what it saw) did so in the replay too.
    """

    module: ModuleType | None
    names: dict[str, Any]
    items: dict[str, Any]

    @classmethod
    def take(cls, module: ModuleType | None) -> ModuleSnapshot:
        names = {n: v for n, v in vars(module).items() if not n.startswith("__")} if module is not None else {}
        items: dict[str, Any] = {}
        for name, value in names.items():
            if isinstance(value, dict):
                items[name] = list(value.items())
            elif isinstance(value, (list, set, bytearray)):
                items[name] = list(value)
        return cls(module, names, items)

    def restore(self) -> None:
        """Put back what changed: a name added, removed or rebound, a container's items (by identity)."""
        if self.module is None:
            return
        space = vars(self.module)
        for name in [n for n in space if not n.startswith("__") and n not in self.names]:
            del space[name]
        for name, value in self.names.items():
            if space.get(name, _MISSING) is not value:
                space[name] = value
        for name, saved in self.items.items():
            value = self.names[name]
            if isinstance(value, dict):
                now = list(value.items())
                if len(now) != len(saved) or any(k is not j or v is not w for (k, v), (j, w) in zip(now, saved)):
                    value.clear()
                    value.update(saved)
                continue
            now = list(value)
            if len(now) != len(saved) or any(a is not b for a, b in zip(now, saved)):
                value.clear()
                if isinstance(value, set):
                    value.update(saved)
                else:
                    value.extend(saved)


_MISSING = object()


def _leavings(item: pytest.Function) -> tuple[Any, dict[str, Any]]:
    """What a test's body could leave for a later test: the curves recorded, and its module's globals.

    A body that changes either must run in every job: a job that passed it on its call stream
    (grader.grading.call_stream) would lack what it left.
    """
    return curves_written(), module_state(item.module)


class _Replayer:
    """The lockstep hook: registered beside GradingPlugin, it runs before pytest's own test call."""

    def __init__(self, grading: GradingPlugin) -> None:
        self.grading = grading

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        return self.grading.lockstep_call(pyfuncitem)


def current_example() -> object | None:
    """The run of a test that is under way: Hypothesis's build context of the example, or None."""
    try:
        return current_build_context()
    except InvalidArgument:  # not inside a Hypothesis example
        return None


EXAMPLE_LABEL = "Falsifying example: "
# Labels Hypothesis has used for a failing example's note: "Falsifying example:" (to 6.15x) and
# "Failing test case:" (6.16x on), with "explicit" variants for @example.
_KNOWN_EXAMPLE_LABEL = re.compile(r"^\s*(?:Falsifying|Failing) (?:explicit )?(?:example|test case):\s*")
_REPRODUCE = re.compile(r"@reproduce_failure\((?:'[^']*'|\"[^\"]*\"|[^()'\"])*\)")


@dataclass(frozen=True)
class HypothesisReport:
    """What Hypothesis reported about a failing test, in the grader's own words."""

    example: str  # "Falsifying example: test_x(n=2, ...)", one line per failing example
    notes: str  # what the test recorded with note() (and st.data() draws) for that example
    reproduce: str  # the `@reproduce_failure(...)` decorator, alone


def hypothesis_report(exc: BaseException, *, test_function: str, examples: tuple[str, ...] = ()) -> HypothesisReport:
    """The failing example, notes and replay decorator that Hypothesis attached to `exc`.

    `examples` is Hypothesis's own record of the failing examples without their label (what its pytest
    plugin stores on the item); a note that ends with one of them is that example. Without such a record,
    a note is the example when it starts with a label Hypothesis is known to use, or with any short label
    followed by the test function's name and an opening parenthesis. Whatever the label, the grader
    writes it as `EXAMPLE_LABEL`; the decorator is taken out of its sentence.
    """
    notes = [str(n) for n in getattr(exc, "__notes__", None) or []]
    bodies: list[str] = []
    reproduce: list[str] = []
    other: list[str] = []
    for note in notes:
        body = _example_body(note, test_function, examples)
        match = _REPRODUCE.search(note)
        if body is not None:
            bodies.append(body)
        elif match is not None:
            reproduce.append(match.group())
        else:
            other.append(note)
    return HypothesisReport(
        example="\n".join(EXAMPLE_LABEL + b for b in bodies),
        notes="\n".join(other),
        reproduce="\n".join(reproduce),
    )


def _example_body(note: str, test_function: str, examples: tuple[str, ...]) -> str | None:
    text = note.strip()
    for example in examples:
        body = example.strip()
        if body and text.endswith(body) and ":" in text[: len(text) - len(body)]:
            return body
    known = _KNOWN_EXAMPLE_LABEL.match(note)
    if known is not None:
        return note[known.end() :].strip()
    generic = re.match(rf"^[A-Za-z][\w ]{{0,40}}:\s*({re.escape(test_function)}\(.*)$", text, re.DOTALL)
    return generic.group(1) if generic is not None else None


def _failure(
    meta: _Collected,
    exc: BaseException,
    output: str,
    duration: float,
    *,
    test_function: str = "",
    examples: tuple[str, ...] = (),
    failing_input: str = "",
    student_caused: bool = False,
) -> TestResult:
    """Turn an exception from a test into a result: a student's failure, or a grader error.

    `student_caused`: the exception is not a student failure by type, but the test passes with the
    reference, so what the student's code returned caused it.
    """
    found = hypothesis_report(exc, test_function=test_function or meta.name, examples=examples)
    outcome: Outcome = "failed"
    traceback = ""
    leaves = _leaf_exceptions(exc)
    if _is_flaky(exc):
        message = (
            "the results were not reproducible: the same input gave different outcomes on different runs "
            "(is the code nondeterministic?)"
        )
        inner = [e for e in leaves if _is_student_failure(e) or student_caused and not _is_flaky(e)]
        if inner:
            message += f"\n{_message(inner[0]) if _is_student_failure(inner[0]) else _caused_message(inner[0])}"
        if not student_caused and not all(_is_student_failure(e) for e in leaves):
            outcome = "error"
    elif _is_student_failure(exc):
        message = _message(exc)
        traceback = getattr(exc, "student_traceback", "")
    elif student_caused:
        message = _caused_message(exc)
    else:
        outcome = "error"
        message = f"grader error in {meta.name}: {type(exc).__name__}: {exc}"
    return TestResult(
        name=meta.name,
        outcome=outcome,
        points=0.0,
        max_points=meta.points,
        hidden=meta.hidden,
        message=message,
        falsifying_example=found.example,
        reproduce=found.reproduce,
        notes=found.notes,
        student_traceback=traceback,
        output=output,
        duration=duration,
        failing_input=failing_input,
    )


_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")


def _message(exc: BaseException) -> str:
    """What a failure says, with memory addresses (`<... object at 0x7f...>`) blanked out.

    pytest's assertion introspection prints the reprs of what it evaluated, and an address differs
    from run to run: the same files must give the same messages.
    """
    text = str(exc)
    if isinstance(exc, AssertionError):
        text = text.strip() or "assertion failed"
    return _ADDRESS.sub("0x…", text)


def _caused_message(exc: BaseException) -> str:
    """A failure of the test's own code on what the student's code returned, in plain words."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001
        text = ""
    text = _ADDRESS.sub("0x…", text)[:2000]
    return f"the test could not use what the student's code returned: {type(exc).__name__}" + (
        f": {text}" if text else ""
    )


def _is_student_failure(exc: BaseException) -> bool:
    return isinstance(exc, (AssertionError, StudentError, StudentFault))


def _is_flaky(exc: BaseException) -> bool:
    from hypothesis.errors import Flaky

    return isinstance(exc, Flaky)


def _leaf_exceptions(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for e in exc.exceptions for leaf in _leaf_exceptions(e)]
    return [exc]


# Failures that are never the student's, whatever the reference does: the machine refused to run
# student code, the bank is broken, or the run was interrupted.
_NEVER_THE_STUDENTS: tuple[type[BaseException], ...] = (
    SandboxSetupError,
    BankError,
    KeyboardInterrupt,
    SystemExit,
    pytest.skip.Exception,
    pytest.fail.Exception,
)


class _ReferenceModule(ModuleType):
    def __repr__(self) -> str:
        return "<reference implementation>"


def load_reference(problem: ProblemSpec) -> ModuleType:
    """Import the problem's reference under a private name (never `sys.modules[module]`)."""
    name = f"_grader_reference_{problem.assignment}_{problem.id}"
    spec = importlib.util.spec_from_file_location(name, problem.reference)
    if spec is None or spec.loader is None:
        raise BankError(f"{problem.reference}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise BankError(f"{problem.reference}: the reference failed to import: {type(exc).__name__}: {exc}") from exc
    module.__class__ = _ReferenceModule  # so that failure reports never show the reference's path
    missing = [n for n in problem.names if not hasattr(module, n)]
    if missing:
        raise BankError(f"{problem.reference}: the reference does not define {', '.join(missing)}")
    sys.modules.pop(name, None)
    return module
