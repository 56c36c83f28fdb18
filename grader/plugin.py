"""The pytest plugin that turns a problem's test file into a scored result for one job.

Built like pytest's own junitxml plugin: registered per run, state on the plugin object, results
collected in `pytest_runtest_makereport`. It provides the `student` and `reference` fixtures, the
`points` and `hidden` markers, the pinned Hypothesis grading profile, and per-test seeding.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from grader.proxy import StudentError, StudentFault, StudentModule, StudentSession
from grader.results import Outcome, TestResult
from grader.seeding import seed_all
from grader.spec import ProblemSpec

PROFILE = "grader"
OUTPUT_PER_TEST = 4096
_SHRINK_SECONDS = 4


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
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
    )
    settings.load_profile(PROFILE)
    try:  # a time budget for shrinking; Hypothesis has no public setting for it
        from hypothesis.internal.conjecture import engine

        engine.MAX_SHRINKING_SECONDS = _SHRINK_SECONDS  # type: ignore[attr-defined]
    except (ImportError, AttributeError):
        pass


class GraderError(Exception):
    """A fault of the problem bank (bad spec, broken test or reference): shown to the instructor."""


@dataclass
class _Collected:
    name: str
    points: float
    hidden: bool


@dataclass(eq=False)
class GradingPlugin:
    """State of one job's pytest session."""

    problem: ProblemSpec
    session: StudentSession
    forced_failure: str | None = None  # e.g. a forbidden name: every test fails with this message
    results: dict[str, TestResult] = field(default_factory=dict)
    collected: dict[str, _Collected] = field(default_factory=dict)  # by test name, in file order
    errors: list[str] = field(default_factory=list)
    _reference: ModuleType | None = None
    _output_start: int = 0

    # -- configuration and collection ----------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "points(n): the points a test is worth (all or nothing)")
        config.addinivalue_line("markers", "hidden: students see only whether the test passed")
        register_profile(self.problem.max_examples)

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
        if not self.errors and abs(total - self.problem.points) > 1e-9:
            self.errors.append(
                f"{self.problem.test_file}: the tests' points add up to {total:g}, but problem.toml says "
                f"points = {self.problem.points:g}"
            )
        if self.errors:
            items.clear()

    # -- fixtures -------------------------------------------------------------------------------

    @pytest.fixture(scope="session")
    def student(self) -> StudentModule:
        """The student's module, running in the sandbox."""
        return self.session.module()

    @pytest.fixture(scope="session")
    def reference(self) -> ModuleType:
        """The reference implementation, imported here on the trusted side."""
        if self._reference is None:
            self._reference = load_reference(self.problem)
        return self._reference

    @pytest.fixture(autouse=True)
    def _grader_per_test(self) -> Iterator[None]:
        if self.forced_failure is not None:
            raise StudentFault(self.forced_failure)
        seed_all(0)
        self.session.begin_test()
        yield

    # -- results --------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._output_start = self.session.output_size()

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
        previous = self.results.get(item.name)
        duration = report.duration + (previous.duration if previous else 0.0)
        if report.when == "call" and report.passed and previous is None:
            self.results[item.name] = TestResult(
                name=item.name, outcome="passed", points=meta.points, max_points=meta.points,
                hidden=meta.hidden, output=self._output(), duration=duration,
            )
            return
        if not report.failed or (previous is not None and previous.outcome != "passed"):
            if previous is not None:
                self.results[item.name] = replace(previous, duration=duration)
            return
        assert call.excinfo is not None
        self.results[item.name] = _failure(meta, call.excinfo.value, self._output(), duration)

    def _output(self) -> str:
        return self.session.read_output(self._output_start, OUTPUT_PER_TEST)

    def test_results(self) -> list[TestResult]:
        """Every collected test's result in file order; a test that did not report counts as an error."""
        out = []
        for meta in self.collected.values():
            result = self.results.get(meta.name)
            if result is None:
                result = TestResult(
                    name=meta.name, outcome="error", points=0.0, max_points=meta.points, hidden=meta.hidden,
                    message="the test did not run to completion (grader error)",
                )
            out.append(result)
        return out


_FALSIFYING = re.compile(r"^\s*Falsifying (explicit )?example")


def _failure(meta: _Collected, exc: BaseException, output: str, duration: float) -> TestResult:
    """Turn an exception from a test into a result: a student's failure, or a grader error."""
    notes = [str(n) for n in getattr(exc, "__notes__", [])]
    example = "\n".join(n for n in notes if _FALSIFYING.match(n))
    reproduce = "\n".join(n.strip() for n in notes if "@reproduce_failure" in n)
    other = "\n".join(n for n in notes if not _FALSIFYING.match(n) and "@reproduce_failure" not in n)
    outcome: Outcome = "failed"
    traceback = ""
    leaves = _leaf_exceptions(exc)
    if _is_flaky(exc):
        message = (
            "the results were not reproducible: the same input gave different outcomes on different runs "
            "(is the code nondeterministic?)"
        )
        inner = [e for e in leaves if _is_student_failure(e)]
        if inner:
            message += f"\n{_message(inner[0])}"
        if not all(_is_student_failure(e) for e in leaves):
            outcome = "error"
    elif _is_student_failure(exc):
        message = _message(exc)
        traceback = getattr(exc, "student_traceback", "")
    else:
        outcome = "error"
        message = f"grader error in {meta.name}: {type(exc).__name__}: {exc}"
    return TestResult(
        name=meta.name, outcome=outcome, points=0.0, max_points=meta.points, hidden=meta.hidden,
        message=message, falsifying_example=example, reproduce=reproduce, notes=other,
        student_traceback=traceback, output=output, duration=duration,
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


def _is_student_failure(exc: BaseException) -> bool:
    return isinstance(exc, (AssertionError, StudentError, StudentFault))


def _is_flaky(exc: BaseException) -> bool:
    from hypothesis.errors import Flaky

    return isinstance(exc, Flaky)


def _leaf_exceptions(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for e in exc.exceptions for leaf in _leaf_exceptions(e)]
    return [exc]


class _ReferenceModule(ModuleType):
    def __repr__(self) -> str:
        return "<reference implementation>"


def load_reference(problem: ProblemSpec) -> ModuleType:
    """Import the problem's reference under a private name (never `sys.modules[module]`)."""
    name = f"_grader_reference_{problem.assignment}_{problem.id}"
    spec = importlib.util.spec_from_file_location(name, problem.reference)
    if spec is None or spec.loader is None:
        raise GraderError(f"{problem.reference}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise GraderError(f"{problem.reference}: the reference failed to import: {type(exc).__name__}: {exc}") from exc
    module.__class__ = _ReferenceModule  # so that failure reports never show the reference's path
    missing = [n for n in problem.names if not hasattr(module, n)]
    if missing:
        raise GraderError(f"{problem.reference}: the reference does not define {', '.join(missing)}")
    sys.modules.pop(name, None)
    return module
