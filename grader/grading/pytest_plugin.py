"""Plain pytest on the problem bank: `python -m pytest problems/hw7/bn_fold/test_bn_fold.py::test_x --student PATH`.

Registered through the `pytest11` entry point (pyproject.toml), so pytest loads it in every session.
It registers the `points` and `hidden` markers and the `--student` option, and nothing else, unless
the session runs tests of a problem bank (a path on the command line inside the `problems/` folder of
a course or of a student kit) and no other plugin provides the `student` fixture (grading and the
kit's recorder bring their own). Then it makes the bank's tests run as they do when grading:

- `student`: the student's module, in a sandbox forked from a zygote (grader.grading.proxy.StudentSession),
  from `--student PATH` (a file or a folder; a notebook works too); without it, the problem's
  reference, so that an author can run `pytest problems/hw7/bn_fold`;
- `reference`: the reference, imported on the trusted side;
- the grading Hypothesis profile, per-test seeding, one torch thread, deterministic algorithms, and
  warnings ignored in the bank's tests (as `grader grade` does);
- a missing module file or a forbidden name fails every test with the reason grading gives;
- a failing test's report has a section with the input the student's code was given.

The replay command that reports print is `replay_command` (grader.results.terminal).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from grader.grading.failing_input import describe_calls

FAILING_INPUT_SECTION = "What the student's code was given (the last calls into it before the failure)"
_PLUGIN_NAME = "grader-bank"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader", "grader: the problem bank's tests on a student's files")
    group.addoption(
        "--student",
        action="store",
        default=None,
        metavar="PATH",
        help="the student's file or folder for the problem bank's tests (default: each problem's reference)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): the points a test is worth (all or nothing)")
    config.addinivalue_line("markers", "hidden: students see only whether the test passed")
    if _student_fixture_provided(config):
        return  # grading, the kit's recorder or a course's own conftest is in charge
    option = config.getoption("student", None)
    if not any(_in_bank(path) for path in _argument_paths(config)):
        if option is not None:
            raise pytest.UsageError("--student applies to the problem bank's tests: name a path under problems/")
        return
    student = None
    if option is not None:
        student = (config.invocation_params.dir / Path(option).expanduser()).resolve()
        if not student.exists():
            raise pytest.UsageError(f"--student {option}: no such file or folder")
    config.pluginmanager.register(BankRun(student), _PLUGIN_NAME)


def _student_fixture_provided(config: pytest.Config) -> bool:
    return any(hasattr(p, "student") for p in config.pluginmanager.get_plugins() if not isinstance(p, BankRun))


def _argument_paths(config: pytest.Config) -> list[Path]:
    paths = []
    for arg in config.args:
        if arg.startswith("-"):
            continue
        paths.append((config.invocation_params.dir / arg.split("::", 1)[0]).resolve())
    return paths


def _in_bank(path: Path) -> bool:
    """Whether `path` lies inside the `problems/` folder of a course or a kit (one with `reference/` beside it)."""
    return any(p.name == "problems" and (p.parent / "reference").is_dir() for p in [path, *path.parents])


def bank_test_problem(path: Path) -> tuple[Path, str, str] | None:
    """(course root, assignment, problem) for a test file `root/problems/<a>/<p>/test_*.py`, else None."""
    folder = path.parent
    if not (path.name.startswith("test_") and path.suffix == ".py" and (folder / "problem.toml").is_file()):
        return None
    problems = folder.parent.parent
    if problems.name != "problems" or not (problems.parent / "reference").is_dir():
        return None
    return problems.parent, folder.parent.name, folder.name


def forced_failure(problem: Any, submission: Path) -> str | None:
    """Why no test can run on `submission` before anything of it runs: a missing file or forbidden names.

    The same checks and messages as grading (grader.grading.jobs.screen_submission).
    """
    from grader.grading.jobs import screen_submission

    return screen_submission(problem, submission)[1]


class _ProblemRun:
    """The student's files for one problem, copied to a private folder, and their sandbox session."""

    def __init__(self, problem: Any, source: Path, zygote: Any, tmp: Path) -> None:
        from grader.grading.plugin import current_example
        from grader.grading.proxy import StudentSession

        self.problem = problem
        folder = tmp / f"{problem.assignment}-{problem.id}"
        self.submission = folder / "submission"
        workdir = folder / "sandbox"
        workdir.mkdir(parents=True)
        _copy_student(source, problem, self.submission)
        self.cannot_run = forced_failure(problem, self.submission)
        self.session = StudentSession(
            zygote=zygote,
            student_dir=str(self.submission),
            module=problem.module,
            workdir=str(workdir),
            limits=problem.limits,
            forbidden_calls=problem.forbidden,
            required_names=problem.names,
            hidden=(str(problem.folder.parent.parent.parent),),
        )
        self.session.call_scope = current_example


def _copy_student(source: Path, problem: Any, target: Path) -> None:
    """The student's files as grading sees them: a folder's plain files, or one file as the problem's module
    (a `.diff` is applied to the reference first, as grader validate does with a diff mutant)."""
    from grader.course.layouts import convert_notebooks
    from grader.grading.jobs import read_submission

    target.mkdir(parents=True)
    if source.is_dir():
        for name, data in read_submission(source):
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    elif source.suffix == ".ipynb":
        shutil.copy(source, target / source.name)
    elif source.suffix == ".diff":  # a mutant or alternative written as a diff against the reference
        (target / problem.module_file).write_text(problem.solution_source(source))
    else:
        shutil.copy(source, target / problem.module_file)
    convert_notebooks(target, modules=(problem.module_file,), keep_names=frozenset(problem.names))


class BankRun:
    """The bank's fixtures and hooks for one plain pytest session (see the module's docstring)."""

    def __init__(self, student: Path | None) -> None:
        import torch

        from grader.grading.worker import deterministic_algorithms

        self.student_path = student
        self._runs: dict[Path, _ProblemRun] = {}
        self._problems: dict[Path, Any] = {}
        self._zygote: Any = None  # a SharedZygote (kept between runs) once a problem's tests run
        self._tmp: Path | None = None
        torch.set_num_threads(1)  # as a grading worker does (grader.grading.worker)
        deterministic_algorithms()  # as a worker sets them: without importing TorchDynamo (2 s a start)

    # -- which problem ----------------------------------------------------------------------------------

    def problem_of(self, path: Path) -> Any:
        """The problem whose test file is `path`, or None for a test outside the bank."""
        from grader.course.spec import load_problem

        if path not in self._problems:
            found = bank_test_problem(path)
            self._problems[path] = load_problem(*found) if found is not None else None
        return self._problems[path]

    def _run(self, problem: Any) -> _ProblemRun:
        from grader.errors import UsageError
        from grader.grading.sandbox_client import SharedZygote, keep_warm_seconds

        run = self._runs.get(problem.folder)
        if run is None:
            source = self.student_path or problem.reference
            if self.student_path is None and not _defines_any(problem.reference, problem.names):
                pytest.fail(
                    f"{problem.reference} holds no reference solution (is this a student kit?): name your file "
                    "or folder with --student PATH",
                    pytrace=False,
                )
            if self._zygote is None:
                # Kept for the next run, as `grader check` keeps it (GRADER_KEEP_WARM seconds): a
                # student who runs the tests again after an edit skips the zygote's start.
                try:
                    self._zygote = SharedZygote(keep=keep_warm_seconds())
                except UsageError as exc:
                    pytest.fail(str(exc), pytrace=False)
            zygote = self._zygote.get()
            if self._tmp is None:
                self._tmp = Path(tempfile.mkdtemp(prefix="grader-pytest-"))
            run = self._runs[problem.folder] = _ProblemRun(problem, source, zygote, self._tmp)
        return run

    # -- fixtures -----------------------------------------------------------------------------------------

    @pytest.fixture(scope="module")
    def student(self, request: pytest.FixtureRequest) -> Any:
        """The student's module, running in the sandbox."""
        from grader.grading.proxy import StudentFault

        problem = self.problem_of(request.path)
        if problem is None:
            pytest.fail(f"{request.path}: the student fixture is for tests in a problem's folder", pytrace=False)
        run = self._run(problem)
        if run.cannot_run is not None:
            raise StudentFault(run.cannot_run)
        return run.session.module()

    @pytest.fixture(scope="module")
    def reference(self, request: pytest.FixtureRequest) -> Any:
        """The reference implementation, imported here on the trusted side."""
        from grader.grading.plugin import load_reference

        problem = self.problem_of(request.path)
        if problem is None:
            pytest.fail(f"{request.path}: the reference fixture is for tests in a problem's folder", pytrace=False)
        return load_reference(problem)

    @pytest.fixture(autouse=True)
    def _grader_bank_per_test(self, request: pytest.FixtureRequest) -> None:
        from grader.sandbox.seeding import seed_all

        problem = self.problem_of(request.path)
        if problem is None:
            return
        seed_all(0)
        run = self._runs.get(problem.folder)
        if run is not None:
            run.session.begin_test()

    # -- hooks --------------------------------------------------------------------------------------------

    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        from grader.grading.plugin import register_profile

        # @given takes the settings in force when the test module is imported: pin them before it is,
        # and make the course's own helpers importable (grader.course.extensions).
        if isinstance(collector, pytest.Module) and (problem := self.problem_of(collector.path)) is not None:
            register_profile(problem.max_examples)
            from grader.course import extensions

            extensions.install(extensions.course_root(problem.folder))

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            if self.problem_of(item.path) is not None:
                item.add_marker(pytest.mark.filterwarnings("ignore"))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        if not report.failed or report.when != "call":
            return
        problem = self.problem_of(item.path)
        run = self._runs.get(problem.folder) if problem is not None else None
        if run is not None:
            text = describe_calls(run.session.last_calls())
            if text:
                report.sections.append((FAILING_INPUT_SECTION, text))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        from grader.grading.plugin import skip_hypothesis_patch

        if self.problem_of(item.path) is not None:
            skip_hypothesis_patch(item)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        for run in self._runs.values():
            run.session.close()
        self._runs.clear()
        if self._zygote is not None:
            self._zygote.close()
            self._zygote = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def _defines_any(path: Path, names: tuple[str, ...]) -> bool:
    """Whether a module's source mentions any of `names` (a kit's stand-in for a reference mentions none)."""
    try:
        source = path.read_text(errors="replace")
    except OSError:
        return False
    return any(name in source for name in names)
