"""Reading and validating the problem bank's specs (`assignment.toml`, `problem.toml`).

Every spec is checked before anything runs; an error names the file, the key, the value and the rule,
for example ``problems/hw7/bn_fold/problem.toml: points = -1 must not be negative``.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import SpecError
from grader.sandbox.protocol import SandboxLimits

# How a problem uses a GPU: "never" (the default), or "when-present" (the sandbox admits the GPU's
# device files where the grading machine has one; elsewhere the same tests run on the CPU).
GPU_USES = ("never", "when-present")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_MUTANT_FAILS = re.compile(r"^#\s*fails:\s*(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Limits:
    """Resource limits for one job (one student's module on one problem): `[limits]` of problem.toml.

    The trusted side enforces the times from outside; the sandbox applies the rest to itself, as
    `sandbox_limits()` gives them (grader.sandbox.protocol.SandboxLimits, which holds their defaults).
    """

    call_timeout: float = 10.0
    import_timeout: float = 10.0
    job_timeout: float = 300.0
    memory_mb: int = SandboxLimits.memory_mb
    # A call made with grader.call_training (a model trained in place) has its own budget.
    train_timeout: float = 60.0  # wall-clock seconds per training call
    train_cpu_seconds: float = 30.0  # CPU seconds per training call, as the kernel counts them for the sandbox
    train_reference_seconds: float | None = None  # the reference's CPU time for one, shown in budget messages
    # What a sandbox process may use over its life, whatever its calls' own limits.
    cpu_seconds: int | None = None  # CPU seconds (RLIMIT_CPU); None: the job's time and 5 s more
    file_bytes: int = SandboxLimits.file_bytes  # the size of a file it writes (RLIMIT_FSIZE)
    open_files: int = SandboxLimits.open_files  # descriptors it may hold (RLIMIT_NOFILE)
    disk_mb: int = SandboxLimits.disk_mb  # its working directory, where that is a tmpfs of its own
    output_bytes: int = SandboxLimits.output_bytes  # what it may print; further output is dropped with a note

    def sandbox_limits(self) -> SandboxLimits:
        """The limits a sandbox of this job applies to itself."""
        return SandboxLimits(
            memory_mb=self.memory_mb,
            cpu_seconds=int(self.job_timeout) + 5 if self.cpu_seconds is None else self.cpu_seconds,
            file_bytes=self.file_bytes,
            open_files=self.open_files,
            disk_mb=self.disk_mb,
            output_bytes=self.output_bytes,
        )


@dataclass(frozen=True)
class Mutant:
    """A deliberately wrong solution and the tests it must fail (a file, or a diff against the reference)."""

    name: str
    path: Path
    fails: frozenset[str]
    source: str  # the mutant's code: the file itself, or the reference with the diff applied


@dataclass(frozen=True)
class ProblemSpec:
    assignment: str
    id: str
    title: str
    module: str
    names: tuple[str, ...]
    points: float
    forbidden: tuple[str, ...]
    secret: bool
    limits: Limits
    max_examples: int
    folder: Path
    reference: Path
    # automatic mutants (grader.run.mutate) recorded as equivalent to the reference: "ID  reason"
    equivalent_mutants: tuple[str, ...] = ()
    gpu: str = "never"  # one of GPU_USES

    @property
    def test_file(self) -> Path:
        return self.folder / f"test_{self.id}.py"

    @property
    def statement(self) -> Path:
        return self.folder / "README.md"

    @property
    def module_file(self) -> str:
        return f"{self.module}.py"

    def mutants(self) -> list[Mutant]:
        """The problem's mutants, each with the tests it declares it fails (`# fails: a, b`)."""
        found = []
        for path in _solutions(self.folder / "mutants"):
            text = path.read_text()
            match = _MUTANT_FAILS.search(text)
            if match is None:
                raise SpecError(f"{path}: a mutant must declare the tests it fails in a '# fails: test_a, test_b' line")
            fails = frozenset(t.strip() for t in match.group(1).split(",") if t.strip())
            found.append(Mutant(name=path.stem, path=path, fails=fails, source=self.solution_source(path)))
        return found

    def alternatives(self) -> list[tuple[str, str]]:
        """The problem's correct alternative solutions (`alternatives/*.py` or `*.diff`): (name, code)."""
        return [(path.stem, self.solution_source(path)) for path in _solutions(self.folder / "alternatives")]

    def solution_source(self, path: Path) -> str:
        """The code of a mutant or alternative: a `.py` file as it is, a `.diff` applied to the reference."""
        if path.suffix != ".diff":
            return path.read_text()
        from grader.course.patches import apply_diff

        return apply_diff(self.reference.read_text(), path.read_text(), where=str(path))


def _solutions(folder: Path) -> list[Path]:
    """The `.py` and `.diff` files of a mutants/ or alternatives/ folder, by name; two of one name are an error."""
    paths = sorted([*folder.glob("*.py"), *folder.glob("*.diff")], key=lambda p: (p.stem, p.suffix))
    for a, b in zip(paths, paths[1:]):
        if a.stem == b.stem:
            raise SpecError(f"{b}: {a.name} has the same name; keep one of the two")
    return paths


@dataclass(frozen=True)
class LatePolicy:
    """`[late]` of assignment.toml: what a late submission loses (grader.results.late applies it).

    A deduction is a fraction of the assignment's points per day (or per hour) late or part of one,
    counted from the due date once the grace period is over, capped at `max_deduction`; a submission
    after `not_accepted_after` scores 0.
    """

    per_day: float = 0.0
    per_hour: float = 0.0
    grace_minutes: float = 0.0
    max_deduction: float = 1.0
    not_accepted_after: dt.datetime | None = None


@dataclass(frozen=True)
class AssignmentSpec:
    id: str
    title: str
    course: str
    due: str | None
    problems: tuple[ProblemSpec, ...] = field(default=())
    due_at: dt.datetime | None = None  # `due` as a date and time with a zone, where it is one
    late: LatePolicy | None = None
    folder: Path | None = None  # problems/<assignment>/ (None for specs built in memory)

    def problem(self, problem_id: str) -> ProblemSpec:
        for p in self.problems:
            if p.id == problem_id:
                return p
        raise SpecError(f"assignment {self.id} has no problem {problem_id!r}")


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    types: tuple[type, ...]
    required: bool = False
    rule: Callable[[Any], str | None] | None = None


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be positive"


def _not_negative(v: Any) -> str | None:
    return None if v >= 0 else "must not be negative"


def _identifier(v: Any) -> str | None:
    return None if _IDENTIFIER.match(v) else "must be a Python identifier"


def _identifiers(v: Any) -> str | None:
    if not v:
        return "must name at least one name"
    bad = [x for x in v if not isinstance(x, str) or not _IDENTIFIER.match(x)]
    return f"must be a list of Python identifiers (not {bad[0]!r})" if bad else None


def _dotted_names(v: Any) -> str | None:
    bad = [x for x in v if not isinstance(x, str) or not _DOTTED.match(x)]
    return f"must be a list of dotted names like 'torch.autograd' (not {bad[0]!r})" if bad else None


def _nonempty(v: Any) -> str | None:
    return None if v.strip() else "must not be empty"


def _between(lo: int, hi: int) -> Callable[[Any], str | None]:
    return lambda v: None if lo <= v <= hi else f"must be between {lo} and {hi}"


_NUMBER = (int, float)

_PROBLEM_KEYS: dict[str, _Key] = {
    # id, module, names and points may be left out: they come from the folder's name, the id, the
    # reference's __all__ and the tests' @points markers (see _implied).
    "id": _Key((str,), rule=_identifier),
    "title": _Key((str,), required=True, rule=_nonempty),
    "module": _Key((str,), rule=_identifier),
    "names": _Key((list,), rule=_identifiers),
    "points": _Key(_NUMBER, rule=_not_negative),
    "forbidden": _Key((list,), rule=_dotted_names),
    "secret": _Key((bool,)),
    "limits": _Key((dict,)),
    "hypothesis": _Key((dict,)),
    "mutation": _Key((dict,)),
    "gpu": _Key((str,), rule=lambda v: None if v in GPU_USES else f"must be one of {', '.join(map(repr, GPU_USES))}"),
}


def _equivalent_entries(v: Any) -> str | None:
    bad = [x for x in v if not isinstance(x, str) or len(x.split(None, 1)) != 2]
    return f"must be a list of 'MUTANT-ID  reason' strings (not {bad[0]!r})" if bad else None


_MUTATION_KEYS: dict[str, _Key] = {"equivalent": _Key((list,), rule=_equivalent_entries)}
_LIMIT_KEYS: dict[str, _Key] = {
    "call_timeout": _Key(_NUMBER, rule=_positive),
    "import_timeout": _Key(_NUMBER, rule=_positive),
    "job_timeout": _Key(_NUMBER, rule=_positive),
    "memory_mb": _Key((int,), rule=_between(64, 1 << 20)),
    "train_timeout": _Key(_NUMBER, rule=_positive),
    "train_cpu_seconds": _Key(_NUMBER, rule=_positive),
    "train_reference_seconds": _Key(_NUMBER, rule=_positive),
    "cpu_seconds": _Key((int,), rule=_between(1, 1_000_000)),
    "file_bytes": _Key((int,), rule=_between(0, 1 << 40)),
    "open_files": _Key((int,), rule=_between(32, 1 << 20)),
    "disk_mb": _Key((int,), rule=_between(1, 1 << 20)),
    "output_bytes": _Key((int,), rule=_between(0, 1 << 40)),
}
_HYPOTHESIS_KEYS: dict[str, _Key] = {"max_examples": _Key((int,), rule=_between(1, 10_000))}
_ASSIGNMENT_KEYS: dict[str, _Key] = {
    "title": _Key((str,), required=True, rule=_nonempty),
    "course": _Key((str,)),
    "problems": _Key((list,), required=True, rule=_identifiers),
    "due": _Key((str, dt.date, dt.datetime)),
    "late": _Key((dict,)),
}


def _fraction(v: Any) -> str | None:
    return None if 0 <= v <= 1 else "must be between 0 and 1 (a fraction of the assignment's points)"


_LATE_KEYS: dict[str, _Key] = {
    "per_day": _Key(_NUMBER, rule=_fraction),
    "per_hour": _Key(_NUMBER, rule=_fraction),
    "grace_minutes": _Key(_NUMBER, rule=_not_negative),
    "max_deduction": _Key(_NUMBER, rule=_fraction),
    "not_accepted_after": _Key((str, dt.datetime)),
}
_DATE_TIME_EXAMPLE = "2026-10-01T23:59:00+02:00"


def parse_date_time(value: object) -> dt.datetime | None:
    """A TOML or ISO 8601 date and time with a time zone, or None when `value` is not one."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo is not None and parsed.utcoffset() is not None else None


def _late_policy(path: Path, data: dict[str, Any]) -> tuple[dt.datetime | None, LatePolicy | None]:
    """The due date (where it is a date and time with a zone) and the `[late]` policy, validated."""
    due = data.get("due")
    due_at = parse_date_time(due) if due is not None else None
    if "late" not in data:
        return due_at, None
    late = data["late"]
    _check(path, late, _LATE_KEYS, "late.")
    if due is None:
        raise SpecError(f'{path}: [late] needs a due date to count from: add due = "{_DATE_TIME_EXAMPLE}"')
    if due_at is None:
        raise SpecError(
            f"{path}: due = {due!r} must be a date and time with a time zone, like {_DATE_TIME_EXAMPLE} "
            "([late] counts from it)"
        )
    if "per_day" in late and "per_hour" in late:
        raise SpecError(
            f"{path}: late.per_day = {late['per_day']!r} and late.per_hour = {late['per_hour']!r}: give one of them, not both"
        )
    cutoff = None
    if "not_accepted_after" in late:
        cutoff = parse_date_time(late["not_accepted_after"])
        if cutoff is None:
            raise SpecError(
                f"{path}: late.not_accepted_after = {late['not_accepted_after']!r} must be a date and time with a "
                f"time zone, like {_DATE_TIME_EXAMPLE}"
            )
        if cutoff <= due_at:
            raise SpecError(
                f"{path}: late.not_accepted_after = {late['not_accepted_after']!r} must be after due = {due!r}"
            )
    if not any(k in late for k in ("per_day", "per_hour", "not_accepted_after")):
        raise SpecError(f"{path}: [late] = {late!r} must set per_day, per_hour or not_accepted_after")
    policy = LatePolicy(
        per_day=float(late.get("per_day", 0.0)),
        per_hour=float(late.get("per_hour", 0.0)),
        grace_minutes=float(late.get("grace_minutes", 0.0)),
        max_deduction=float(late.get("max_deduction", 1.0)),
        not_accepted_after=cutoff,
    )
    return due_at, policy


def _check(path: Path, table: dict[str, Any], keys: dict[str, _Key], prefix: str = "") -> None:
    for name in table:
        if name not in keys:
            known = ", ".join(sorted(keys))
            raise SpecError(f"{path}: unknown key '{prefix}{name}' (known keys: {known})")
    for name, key in keys.items():
        if name not in table:
            if key.required:
                raise SpecError(f"{path}: missing required key {prefix}{name!r}")
            continue
        value = table[name]
        if isinstance(value, bool) and bool not in key.types or not isinstance(value, key.types):
            want = " or ".join(t.__name__ for t in key.types)
            raise SpecError(f"{path}: {prefix}{name} = {value!r} must be of type {want} (got {type(value).__name__})")
        if key.rule is not None:
            problem = key.rule(value)
            if problem:
                raise SpecError(f"{path}: {prefix}{name} = {value!r} {problem}")


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SpecError(f"{path}: file not found")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None


def load_problem(root: Path, assignment: str, problem_id: str) -> ProblemSpec:
    folder = root / "problems" / assignment / problem_id
    path = folder / "problem.toml"
    data = _read_toml(path)
    _check(path, data, _PROBLEM_KEYS)
    _check(path, data.get("limits", {}), _LIMIT_KEYS, "limits.")
    _check(path, data.get("hypothesis", {}), _HYPOTHESIS_KEYS, "hypothesis.")
    _check(path, data.get("mutation", {}), _MUTATION_KEYS, "mutation.")
    if data.get("id", problem_id) != problem_id:
        raise SpecError(f"{path}: id = {data['id']!r} must equal the folder's name {problem_id!r}")
    _check_budgets(path, data.get("limits", {}))
    reference = root / "reference" / assignment / f"{problem_id}.py"
    data = _implied(path, data, problem_id, folder / f"test_{problem_id}.py", reference)
    spec = ProblemSpec(
        assignment=assignment,
        id=problem_id,
        title=data["title"],
        module=data["module"],
        names=tuple(data["names"]),
        points=float(data["points"]),
        forbidden=tuple(data.get("forbidden", [])),
        secret=bool(data.get("secret", False)),
        limits=Limits(**data.get("limits", {})),
        max_examples=int(data.get("hypothesis", {}).get("max_examples", 50)),
        equivalent_mutants=tuple(data.get("mutation", {}).get("equivalent", [])),
        gpu=data.get("gpu", "never"),
        folder=folder,
        reference=reference,
    )
    for needed in (spec.test_file, spec.statement, spec.reference):
        if not needed.is_file():
            raise SpecError(f"{path}: problem {problem_id!r} needs the file {needed}, which does not exist")
    if not (folder / "mutants").is_dir():
        raise SpecError(f"{path}: problem {problem_id!r} needs a mutants/ folder")
    spec.mutants()  # validates the mutants' declarations
    return spec


def _implied(path: Path, data: dict[str, Any], problem_id: str, tests: Path, reference: Path) -> dict[str, Any]:
    """problem.toml with what it left out filled in from what says it already.

    `id` is the folder's name; `module` is the id; `names` is the reference's `__all__` (a literal
    list or tuple of strings); `points` is the sum of the test file's `@points(n)` markers (literal
    numbers). Each is read from the source without running it; a key that cannot be implied must be
    written, and the error says so.
    """
    data = dict(data)
    data.setdefault("id", problem_id)
    data.setdefault("module", problem_id)
    if "names" not in data:
        names = _literal_all(reference)
        if not names:
            raise SpecError(
                f"{path}: names is missing and {reference} defines no literal __all__: list the API in "
                "names = [...], or define __all__ = [...] in the reference"
            )
        problem = _identifiers(names)
        if problem:
            raise SpecError(f"{path}: names (from {reference}'s __all__) {problem}")
        data["names"] = names
    if "points" not in data:
        total = _points_in(tests)
        if total is None:
            raise SpecError(
                f"{path}: points is missing and {tests} does not give every test a literal @points(n): write points = N"
            )
        data["points"] = total
    return data


def _literal_all(reference: Path) -> list[str] | None:
    """The reference's `__all__` if it is a literal list or tuple of strings."""
    import ast

    try:
        tree = ast.parse(reference.read_text())
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    return None
                if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                    return list(value)
                return None
    return None


def _points_in(tests: Path) -> float | None:
    """The sum of the test functions' `@points(n)` (or `@grader.points(n)`) markers; None if any is not literal."""
    import ast

    try:
        tree = ast.parse(tests.read_text())
    except (OSError, SyntaxError, ValueError):
        return None
    total, found = 0.0, False
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.name.startswith("test"):
            continue
        marks = [
            d
            for d in node.decorator_list
            if isinstance(d, ast.Call)
            and (
                (isinstance(d.func, ast.Name) and d.func.id == "points")
                or (isinstance(d.func, ast.Attribute) and d.func.attr == "points")
            )
        ]
        parametrized = any("parametrize" in ast.unparse(d) for d in node.decorator_list)
        if len(marks) != 1 or len(marks[0].args) != 1 or parametrized:  # a parametrized test counts per case
            return None
        try:
            value = ast.literal_eval(marks[0].args[0])
        except ValueError:
            return None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        total += float(value)
        found = True
    return total if found else None


def _check_budgets(path: Path, limits: dict[str, Any]) -> None:
    """A training call's budget fits in the job's time, and its CPU budget in its wall-clock time."""
    full = Limits(**limits)
    if full.train_timeout > full.job_timeout and "train_timeout" in limits:
        raise SpecError(
            f"{path}: limits.train_timeout = {full.train_timeout:g} must not exceed limits.job_timeout = "
            f"{full.job_timeout:g} (a training call runs within the job's time)"
        )
    if full.train_cpu_seconds > full.train_timeout and "train_cpu_seconds" in limits:
        raise SpecError(
            f"{path}: limits.train_cpu_seconds = {full.train_cpu_seconds:g} must not exceed limits.train_timeout = "
            f"{full.train_timeout:g} (training runs on one thread: its CPU time cannot outgrow its wall-clock time)"
        )
    reference = full.train_reference_seconds
    if reference is not None and reference * 2 > full.train_cpu_seconds:
        raise SpecError(
            f"{path}: limits.train_reference_seconds = {reference:g} must be at most half of limits.train_cpu_seconds = "
            f"{full.train_cpu_seconds:g} (a correct solution written another way needs room)"
        )


def load_assignment(root: Path, assignment: str) -> AssignmentSpec:
    """Load and validate an assignment and all its problems."""
    path = root / "problems" / assignment / "assignment.toml"
    if not path.parent.is_dir():
        known = ", ".join(list_assignments(root)) or "none"
        raise SpecError(f"no assignment {assignment!r} in {root / 'problems'} (assignments: {known})")
    data = _read_toml(path)
    _check(path, data, _ASSIGNMENT_KEYS)
    names = data["problems"]
    if len(set(names)) != len(names):
        raise SpecError(f"{path}: problems = {names!r} must not list a problem twice")
    for name in names:
        if not (path.parent / name).is_dir():
            raise SpecError(f"{path}: problems lists {name!r}, but {path.parent / name} does not exist")
    due = data.get("due")
    due_at, late = _late_policy(path, data)
    return AssignmentSpec(
        id=assignment,
        title=data["title"],
        course=data.get("course", ""),
        due=None if due is None else str(due),
        problems=tuple(load_problem(root, assignment, name) for name in names),
        due_at=due_at,
        late=late,
        folder=path.parent,
    )


def list_assignments(root: Path) -> list[str]:
    base = root / "problems"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / "assignment.toml").is_file())
