"""The student kit: what a course hands to students so that `grader check` runs on their machines.

A kit is a course folder of its own, with no secret in it:

    README.md                    for students: set-up, checking, what the kit can and cannot tell
    requirements.txt             the grader's requirements; `pip install -r requirements.txt`
    pyproject.toml, grader/      the grader itself (the harness holds no secret)
    problems/<a>/assignment.toml
    problems/<a>/<p>/problem.toml, README.md, test_<p>.py, mutants/README.md (mutants are not shipped)
    problems/<a>/<p>/kit_answers.pt   recorded inputs and salted hashes of the reference's answers
    reference/<a>/<p>.py         a stand-in that holds no code: references are never shipped

The kit's tests are the public tests (hidden tests are removed by parsing the test file with `ast`,
with the helpers only they used). A test that needs the `reference` fixture, and every test of a
problem whose reference is secret (`secret = true`: its tests may compute the answer themselves),
is replaced by a test of the same name and points that replays fixed inputs and compares the
student's answers with salted hashes (grader.grading.answers). The inputs are the ones the test gave the
student's module when the kit was built with the reference in the student's place; only calls that
return plain data are recorded. A replaced test for which nothing could be recorded (it only used
objects returned by the student's code) is left out of the kit, and its points with it; the kit's
README lists it as checked by the instructor only.
"""

from __future__ import annotations

import ast
import copy
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader.course import extensions
from grader.course.spec import AssignmentSpec, ProblemSpec, load_assignment
from grader.distribute.packaging import requirements, write_installable
from grader.errors import KitError
from grader.grading.answers import ANSWERS_FILE

MAX_CHECKS_PER_TEST = 8


# -- reading a test file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicTest:
    name: str
    points: float
    uses_reference: bool
    start: int  # first line (of the first decorator), 1-based
    end: int  # last line


@dataclass
class TestFile:
    """A test file with its hidden tests (and the helpers only they used) removed."""

    source: str
    public: list[PublicTest] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)


def _is_hidden_marker(node: ast.expr) -> bool:
    if isinstance(node, ast.Call):
        node = node.func
    return (isinstance(node, ast.Name) and node.id == "hidden") or (
        isinstance(node, ast.Attribute) and node.attr == "hidden"
    )


def _points(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> float:
    for d in node.decorator_list:
        if (
            isinstance(d, ast.Call)
            and d.args
            and (
                (isinstance(d.func, ast.Name) and d.func.id == "points")
                or (isinstance(d.func, ast.Attribute) and d.func.attr == "points")
            )
        ):
            try:
                return float(ast.literal_eval(d.args[0]))
            except (ValueError, TypeError):
                return 0.0
    return 0.0


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decorators])


def _defined_name(node: ast.stmt) -> str | None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if len(targets) == 1 and isinstance(targets[0], ast.Name):
            return targets[0].id
    return None


def _names_used(nodes: list[ast.stmt]) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for node in nodes for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def strip_hidden(source: str) -> TestFile:
    """Remove every test marked hidden (functions, classes, methods) and the helpers only they used."""
    tree = ast.parse(source)
    everything_hidden = any(
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
        and any(_is_hidden_marker(e) for e in ast.walk(node.value) if isinstance(e, ast.expr))
        for node in tree.body
    )
    drop: list[tuple[int, int]] = []
    hidden: list[str] = []
    removed: list[ast.stmt] = []
    kept: list[ast.stmt] = []
    for node in tree.body:
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.name.startswith(("test", "Test"))
            and (everything_hidden or any(_is_hidden_marker(d) for d in node.decorator_list))
        ):
            hidden.append(node.name)
            drop.append((_first_line(node), node.end_lineno or node.lineno))
            removed.append(node)
            continue
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                    _is_hidden_marker(d) for d in item.decorator_list
                ):
                    hidden.append(f"{node.name}.{item.name}")
                    drop.append((_first_line(item), item.end_lineno or item.lineno))
                    removed.append(item)
        kept.append(node)
    # Helpers that only hidden tests used go too (a hidden test's secret inputs often live in one).
    while True:
        used_by_removed = _names_used(removed)
        alive = [n for n in kept if n not in removed]
        orphans = [
            n
            for n in alive
            if (name := _defined_name(n)) is not None
            and name in used_by_removed
            and not name.startswith(("test", "Test"))
            and name not in _names_used([m for m in alive if m is not n])
        ]
        if not orphans:
            break
        for n in orphans:
            drop.append((_first_line(n), n.end_lineno or n.lineno))
            removed.append(n)
    lines = source.splitlines(keepends=True)
    for start, end in drop:
        for i in range(start - 1, end):
            lines[i] = ""
    stripped = "".join(lines)
    return TestFile(source=stripped, public=_public_tests(stripped), hidden=hidden)


def _public_tests(source: str) -> list[PublicTest]:
    tree = ast.parse(source)
    reference_fixtures = {"reference"}
    for node in tree.body:  # fixtures in the file that take the reference count as the reference
        if (
            isinstance(node, ast.FunctionDef)
            and not node.name.startswith("test")
            and any("fixture" in ast.unparse(d) for d in node.decorator_list)
            and any(a.arg == "reference" for a in node.args.args)
        ):
            reference_fixtures.add(node.name)
    tests = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            args = {a.arg for a in node.args.args + node.args.kwonlyargs}
            tests.append(
                PublicTest(
                    name=node.name,
                    points=_points(node),
                    uses_reference=bool(args & reference_fixtures),
                    start=_first_line(node),
                    end=node.end_lineno or node.lineno,
                )
            )
    return tests


# -- recording the reference's answers ------------------------------------------------------------------


def _describe(value: Any, limit: int = 200) -> str:
    import torch

    if isinstance(value, torch.Tensor):
        return f"tensor(shape={tuple(value.shape)}, dtype={str(value.dtype).replace('torch.', '')})"
    if isinstance(value, (list, tuple)) and len(value) <= 8:
        inner = ", ".join(_describe(v, limit) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    text = repr(value).replace("\n", " ")
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Recorder:
    """Stands in for the student's module at kit-build time: the reference, with every answer recorded."""

    def __init__(self, reference: Any, names: tuple[str, ...], sink: list[dict[str, Any]], plugin: Any) -> None:
        self._reference = reference
        self._names = names
        self._sink = sink
        self._plugin = plugin

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name not in self._names:
            raise AttributeError(name)
        value = getattr(self._reference, name)
        if isinstance(value, type) or not callable(value):
            if not isinstance(value, type):
                self._record(name, "attribute", (), {}, value)
            return copy.deepcopy(value)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                saved = copy.deepcopy((args, kwargs))
                pickle.dumps(saved)
            except Exception:  # noqa: BLE001  (an argument that cannot be copied is simply not recorded)
                saved = None
            result = value(*args, **kwargs)
            if saved is not None:
                self._record(name, "call", saved[0], saved[1], result)
            return result

        return call

    def _record(self, name: str, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        from grader.grading.answers import NotPlainData, hash_answer
        from grader.grading.proxy import plain_calls

        if "training" in plain_calls():
            return  # a training call (grader.grading.training): what it returns depends on choices the statement leaves open
        try:
            answer = hash_answer(result)
        except NotPlainData:
            return  # an object (a module, a closure): the kit cannot check it by hash
        description = ", ".join([_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kwargs.items()])
        self._sink.append(
            {
                "test": self._plugin.current,
                "name": name,
                "kind": kind,
                "args": list(args),
                "kwargs": dict(kwargs),
                "description": description,
                "answer": asdict(answer),
                "pure": "pure" in plain_calls(),
            }
        )


class _RecordingPlugin:
    """Runs a problem's public tests with the reference in the student's place (trusted, at kit-build time)."""

    def __init__(self, problem: ProblemSpec) -> None:
        from grader.course import extensions
        from grader.grading.plugin import load_reference

        extensions.install(extensions.course_root(problem.folder))  # the course's helpers, for its tests
        self.problem = problem
        self.reference = load_reference(problem)
        self.current = ""
        self.sink: list[dict[str, Any]] = []
        self.failed: list[str] = []

    def pytest_configure(self, config: Any) -> None:
        from grader.grading.plugin import register_profile

        config.addinivalue_line("markers", "points(n): the points a test is worth")
        config.addinivalue_line("markers", "hidden: students see only whether the test passed")
        register_profile(self.problem.max_examples)

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed:
            self.failed.append(f"{report.nodeid.split('::')[-1]}: {report.longreprtext[-500:]}")


def _fixtures(plugin: _RecordingPlugin) -> object:
    import pytest

    class Fixtures:
        @pytest.fixture(scope="session")
        def student(self) -> Any:
            return _Recorder(plugin.reference, plugin.problem.names, plugin.sink, plugin)

        @pytest.fixture(scope="session")
        def reference(self) -> Any:
            return plugin.reference

        @pytest.fixture(autouse=True)
        def _kit_per_test(self, request: Any) -> None:
            from grader.sandbox.seeding import seed_all

            plugin.current = request.node.name
            seed_all(0)

    return Fixtures()


def record(root: Path, assignment: str, problem_id: str, tests: list[str], out: Path) -> None:
    """Run `tests` with the reference as the student; write their recorded answers to `out` (a torch file)."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    import pytest
    import torch

    from grader.course.spec import load_problem
    from grader.grading.plugin import installed_plugins_off, session_args, session_plugins

    sys.dont_write_bytecode = True
    problem = load_problem(root, assignment, problem_id)
    plugin = _RecordingPlugin(problem)

    with tempfile.TemporaryDirectory(prefix="grader-kit-") as tmp:
        args = [f"{problem.test_file}::{t}" for t in tests] + session_args(problem.folder, Path(tmp) / "pytest.ini")
        log = io.StringIO()
        with redirect_stdout(log), redirect_stderr(log), installed_plugins_off():
            code = pytest.main(args, plugins=[plugin, _fixtures(plugin), *session_plugins()])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise KitError(f"{problem.test_file}: recording the reference's answers failed:\n{log.getvalue()[-2000:]}")
    checks = []
    for test in tests:
        mine = [c for c in plugin.sink if c["test"] == test]
        unique: dict[tuple[str, bytes], dict[str, Any]] = {}
        for c in mine:
            unique.setdefault((c["name"], pickle.dumps((c["args"], c["kwargs"]))), c)
        checks.extend(_select(list(unique.values()), problem, test))
    torch.save({"version": 1, "checks": checks, "failed": plugin.failed}, out)


def _select(recorded: list[dict[str, Any]], problem: ProblemSpec, test: str) -> list[dict[str, Any]]:
    """The checks a kit keeps for `test`: one that tells each declared mutant apart, then a spread.

    Which inputs a Hypothesis run happens to draw differs between releases; choosing by the declared
    mutants (bank code, trusted) makes the hashed checks fail every mutant that the instructor's test
    fails, whatever the release, instead of by luck. The rest is spread over the run: small inputs
    first, larger ones later.
    """
    if len(recorded) <= MAX_CHECKS_PER_TEST:
        return recorded
    chosen: list[int] = []
    for mutant in problem.mutants():
        if test not in mutant.fails:
            continue
        module = _load_bank_module(mutant.source, f"_kit_mutant_{problem.id}_{mutant.name}")
        telling = next((i for i, c in enumerate(recorded) if module is None or _disagrees(module, c)), None)
        if telling is not None and telling not in chosen:
            chosen.append(telling)
    step = len(recorded) / MAX_CHECKS_PER_TEST
    for i in (int(k * step) for k in range(MAX_CHECKS_PER_TEST)):
        if len(chosen) >= MAX_CHECKS_PER_TEST:
            break
        if i not in chosen:
            chosen.append(i)
    return [recorded[i] for i in sorted(chosen)]


def _load_bank_module(source: str, name: str) -> Any:
    """A module of the bank (a mutant's code), run here on the trusted side; None if it does not import."""
    import types

    try:
        module = types.ModuleType(name)
        exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102  (bank code: trusted)
        return module
    except Exception:  # noqa: BLE001  (a mutant that cannot import fails every check anyway)
        return None


def _disagrees(module: Any, check: dict[str, Any]) -> bool:
    """Whether `module` gives another answer than the recorded one (raising counts as another answer)."""
    from grader.grading.answers import HashedAnswer, matches

    try:
        value = getattr(module, check["name"])
        if check["kind"] == "call":
            args, kwargs = copy.deepcopy((check["args"], check["kwargs"]))
            value = value(*args, **kwargs)
        return not matches(value, HashedAnswer(**check["answer"]))[0]
    except Exception:  # noqa: BLE001
        return True


def _record_in_subprocess(root: Path, problem: ProblemSpec, tests: list[str], out: Path) -> dict[str, Any]:
    """Record in a fresh process, so the kit's builder keeps no test module, profile or seed."""
    import torch

    command = [
        sys.executable,
        "-m",
        "grader.distribute.kit",
        str(root),
        problem.assignment,
        problem.id,
        str(out),
        *tests,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise KitError(f"{problem.test_file}: recording the reference's answers failed:\n{done.stderr[-3000:]}")
    data: dict[str, Any] = torch.load(out, weights_only=False)
    return data


# -- building the kit ---------------------------------------------------------------------------------


@dataclass
class KitProblem:
    id: str
    points: float
    tests: list[str] = field(default_factory=list)  # as shipped
    hashed: list[str] = field(default_factory=list)  # replaced by hashed-answer checks
    instructor_only: list[str] = field(default_factory=list)  # left out: nothing the kit could check
    hidden: int = 0


@dataclass
class Kit:
    folder: Path
    assignment: str
    problems: list[KitProblem]
    warnings: list[str] = field(default_factory=list)


def _stub(test: PublicTest) -> str:
    # Its own imports, so that it works whatever the test file imported, and in place, so that no line
    # above it moves (a derandomized test's inputs depend on its own source only, but a reader's do not).
    return (
        "from grader import points as _kit_points  # noqa: E402\n"
        "from grader.grading.answers import check_answers as _kit_check_answers  # noqa: E402\n\n\n"
        f"@_kit_points({test.points:g})\n"
        f"def {test.name}(student):\n"
        f'    """The reference\'s answers on fixed inputs, checked against salted hashes."""\n'
        f"    _kit_check_answers(student, __file__, {test.name!r})\n"
    )


_SECRET_HEADER = '''"""Kit tests for {assignment}/{problem}: the reference is secret, so answers are checked against hashes.

Each test replays the inputs that the instructor's test of the same name gave the reference, and
compares your answers with salted hashes of the reference's answers (numbers to about four
significant digits). The inputs are in kit_answers.pt next to this file:
torch.load("kit_answers.pt", weights_only=False)["checks"].
"""

'''


def build_kit(root: Path, assignment_id: str, out: Path) -> Kit:
    """Write the student kit for an assignment into `out` (which must not exist or be empty)."""
    assignment = load_assignment(root, assignment_id)
    if out.exists() and any(out.iterdir()):
        raise KitError(f"{out}: the kit's folder must be new or empty")
    out.mkdir(parents=True, exist_ok=True)
    kit = Kit(folder=out, assignment=assignment.id, problems=[])
    a_dir = out / "problems" / assignment.id
    a_dir.mkdir(parents=True)
    shutil.copy(root / "problems" / assignment.id / "assignment.toml", a_dir / "assignment.toml")
    helpers = extensions.folder(root)
    if helpers is not None:  # public tests may import the course's helpers (grader.course.extensions)
        shutil.copytree(
            helpers, out / extensions.PACKAGE, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True
        )
    (out / "reference" / assignment.id).mkdir(parents=True)
    for problem in assignment.problems:
        kit.problems.append(_kit_problem(root, problem, a_dir / problem.id, out, kit.warnings))
    _write_grader(out)
    (out / "conftest.py").write_text(_KIT_CONFTEST)
    (out / "README.md").write_text(student_readme(assignment, kit))
    return kit


# Plain pytest finds the grader's plugin through its entry point once the kit is installed (`pip install .`);
# this lets `python -m pytest problems/...` work from the kit's folder without installing it.
_KIT_CONFTEST = '''"""Lets plain pytest run this kit's tests on your files: python -m pytest problems/... --student PATH."""

from importlib import metadata

_INSTALLED = any(ep.value == "grader.grading.pytest_plugin" for ep in metadata.entry_points(group="pytest11"))
pytest_plugins = [] if _INSTALLED else ["grader.grading.pytest_plugin"]
'''


def _kit_problem(root: Path, problem: ProblemSpec, folder: Path, out: Path, warnings: list[str]) -> KitProblem:
    folder.mkdir()
    shutil.copy(problem.statement, folder / "README.md")
    (folder / "mutants").mkdir()
    (folder / "mutants" / "README.md").write_text("The instructor's mutants (wrong solutions) are not shipped.\n")
    (out / "reference" / problem.assignment / f"{problem.id}.py").write_text(
        f'"""Not shipped: references never leave the instructor. The kit checks {problem.id} against its '
        'public tests and hashed answers."""\n'
    )
    parsed = strip_hidden(problem.test_file.read_text())
    replace = [t for t in parsed.public if problem.secret or t.uses_reference]
    recorded: dict[str, int] = {}
    if replace:
        with tempfile.TemporaryDirectory(prefix="grader-kit-") as tmp:
            data = _record_in_subprocess(root, problem, [t.name for t in replace], Path(tmp) / ANSWERS_FILE)
        for failure in data.get("failed", []):
            warnings.append(f"{problem.id}: a test failed with the reference as the student: {failure}")
        for c in data["checks"]:
            recorded[c["test"]] = recorded.get(c["test"], 0) + 1
        if data["checks"]:
            import torch

            torch.save({"version": 1, "checks": data["checks"]}, folder / ANSWERS_FILE)
    kp = KitProblem(id=problem.id, points=0.0, hidden=len(parsed.hidden))
    stubs: dict[str, str] = {}
    for t in replace:
        if recorded.get(t.name):
            stubs[t.name] = _stub(t)
            kp.hashed.append(t.name)
        else:
            stubs[t.name] = ""
            kp.instructor_only.append(t.name)
    shipped = [t for t in parsed.public if stubs.get(t.name, None) != ""]
    kp.tests = [t.name for t in shipped]
    kp.points = sum(t.points for t in shipped)
    if problem.secret:
        body = "\n\n".join(stubs[t.name] for t in parsed.public if stubs[t.name])
        source = _SECRET_HEADER.format(assignment=problem.assignment, problem=problem.id) + "\n" + body
    else:
        lines = parsed.source.splitlines(keepends=True)
        for t in sorted((t for t in parsed.public if t.name in stubs), key=lambda t: -t.start):
            lines[t.start - 1 : t.end] = [stubs[t.name]]
        source = "".join(lines)
    (folder / problem.test_file.name).write_text(source)
    toml = (problem.folder / "problem.toml").read_text()
    if kp.points != problem.points:
        toml, n = re.subn(r"(?m)^points\s*=.*$", f"points = {kp.points:g}  # the kit's tests only", toml, count=1)
        if n != 1:
            raise KitError(f"{problem.folder / 'problem.toml'}: no 'points = ...' line to adjust for the kit")
    (folder / "problem.toml").write_text(toml)
    return kp


def _write_grader(out: Path) -> None:
    """The grader itself and its requirements, so that the kit needs nothing from the course's repository."""
    write_installable(out, requirements_header="# The grader's requirements: python -m pip install -r requirements.txt")


def _requirement_specs() -> dict[str, str]:
    """The version range of each of the grader's requirements, by name ("torch": ">=2.4,<2.14.2")."""
    from packaging.requirements import Requirement

    specs = {}
    for line in requirements():
        req = Requirement(line)
        specs[req.name.lower()] = ",".join(sorted((str(s) for s in req.specifier), key=lambda s: s[0] != ">"))
    return specs


def student_readme(assignment: AssignmentSpec, kit: Kit) -> str:
    rows = []
    for kp, problem in zip(kit.problems, assignment.problems, strict=True):
        notes = []
        if kp.hashed:
            notes.append(f"{len(kp.hashed)} checked against hashed answers")
        if kp.instructor_only:
            notes.append(f"{len(kp.instructor_only)} checked by the instructor only ({', '.join(kp.instructor_only)})")
        if kp.hidden:
            notes.append(f"{kp.hidden} hidden (graded by the instructor only)")
        rows.append(
            f"| {problem.id} | `{problem.module_file}` | {len(kp.tests)} | {kp.points:g} / {problem.points:g} | "
            f"{'; '.join(notes) or 'all public tests'} |"
        )
    table = "\n".join(rows)
    specs = _requirement_specs()
    torch_spec, torchvision_spec = specs.get("torch", ""), specs.get("torchvision", "")
    torch_range = f"torch{torch_spec}, torchvision{torchvision_spec}"
    return f"""# {assignment.title}: student kit

This kit lets you check your solutions on your own machine with the same public tests the
instructor runs. It holds the problem statements (`problems/{assignment.id}/<problem>/README.md`),
the public tests, and the grader. It holds no hidden test and no reference solution.

## Set-up (once)

In a fresh virtual environment (`python3 -m venv .venv && . .venv/bin/activate`; Python 3.11 or newer):

```sh
# Without an NVIDIA GPU (most laptops), first take PyTorch's CPU-only build: a few hundred MB instead of
# several GB. The versions must be within the ranges of requirements.txt ({torch_range}).
python -m pip install "torch{torch_spec}" "torchvision{torchvision_spec}" --index-url https://download.pytorch.org/whl/cpu
python -m pip install -r requirements.txt     # torch, hypothesis, pytest, ... (the grader's requirements)
python -m pip install .                       # the `grader` command (or use `python -m grader` from here)
```

## Checking your work

Put one file per problem in a folder (a Jupyter notebook works too: its definitions are used and
top-level work such as a training loop is not run), then, from this folder:

```sh
grader check {assignment.id} path/to/your/folder                   # every problem
grader check {assignment.id} path/to/your/folder --problem ID      # one problem, in a few seconds
```

You see each problem's score on the kit's tests, and for each failed test what was compared, the
smallest failing input, what your code was given, your own traceback and how to reproduce it.
A check (and a `python -m pytest ... --student` run, below) leaves the process that starts its
sandboxes running for ten minutes, so that the next one starts sooner; it never runs your code itself
and ends on its own (`GRADER_KEEP_WARM=0 grader check ...` keeps none).

To replay one failing test with plain pytest, from this folder (add the `@reproduce_failure(...)` line
that the feedback shows above the test's `def` to replay exactly the failing input):

```sh
python -m pytest problems/{assignment.id}/<problem>/test_<problem>.py::<test> --student path/to/your/file_or_folder
```

| Problem | Your file | Kit tests | Kit points | Notes |
|---|---|---|---|---|
{table}

## What the kit can and cannot tell you

- The public tests marked "all public tests" above are the instructor's, copied as they are: a test
  that passes here passes there, on the same inputs, in the same way.
- Hidden tests are not in the kit; the instructor's grade includes them.
- Where the tests need the reference solution (or the reference is secret), the kit replays fixed
  inputs and compares your answers with salted hashes of the reference's answers: it says right or
  wrong, and the structure expected (types and shapes), never the expected values. Numbers are
  compared to about four significant digits of the largest value. The inputs are in
  `kit_answers.pt` next to the tests (`torch.load(path, weights_only=False)["checks"]`).
"""


def main(argv: list[str] | None = None) -> int:
    """`python -m grader.distribute.kit ROOT ASSIGNMENT PROBLEM OUT TEST...`: the recorder, run by the kit builder."""
    args = sys.argv[1:] if argv is None else argv
    root, assignment, problem, out, *tests = args
    record(Path(root), assignment, problem, tests, Path(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
