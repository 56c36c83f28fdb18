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

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_MUTANT_FAILS = re.compile(r"^#\s*fails:\s*(.*)$", re.MULTILINE)


class SpecError(Exception):
    """A problem or assignment spec that breaks a rule; the message names file, key, value and rule."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one job (one student's module on one problem)."""

    call_timeout: float = 10.0
    import_timeout: float = 10.0
    job_timeout: float = 300.0
    memory_mb: int = 1024


@dataclass(frozen=True)
class Mutant:
    """A deliberately wrong solution and the tests it must fail."""

    name: str
    path: Path
    fails: frozenset[str]


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
        for path in sorted((self.folder / "mutants").glob("*.py")):
            match = _MUTANT_FAILS.search(path.read_text())
            if match is None:
                raise SpecError(f"{path}: a mutant must declare the tests it fails in a '# fails: test_a, test_b' line")
            fails = frozenset(t.strip() for t in match.group(1).split(",") if t.strip())
            found.append(Mutant(name=path.stem, path=path, fails=fails))
        return found


@dataclass(frozen=True)
class AssignmentSpec:
    id: str
    title: str
    course: str
    due: str | None
    problems: tuple[ProblemSpec, ...] = field(default=())

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
    "id": _Key((str,), required=True, rule=_identifier),
    "title": _Key((str,), required=True, rule=_nonempty),
    "module": _Key((str,), required=True, rule=_identifier),
    "names": _Key((list,), required=True, rule=_identifiers),
    "points": _Key(_NUMBER, required=True, rule=_not_negative),
    "forbidden": _Key((list,), rule=_dotted_names),
    "secret": _Key((bool,)),
    "limits": _Key((dict,)),
    "hypothesis": _Key((dict,)),
}
_LIMIT_KEYS: dict[str, _Key] = {
    "call_timeout": _Key(_NUMBER, rule=_positive),
    "import_timeout": _Key(_NUMBER, rule=_positive),
    "job_timeout": _Key(_NUMBER, rule=_positive),
    "memory_mb": _Key((int,), rule=_between(64, 1 << 20)),
}
_HYPOTHESIS_KEYS: dict[str, _Key] = {"max_examples": _Key((int,), rule=_between(1, 10_000))}
_ASSIGNMENT_KEYS: dict[str, _Key] = {
    "title": _Key((str,), required=True, rule=_nonempty),
    "course": _Key((str,)),
    "problems": _Key((list,), required=True, rule=_identifiers),
    "due": _Key((str, dt.date, dt.datetime)),
}


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
            raise SpecError(
                f"{path}: {prefix}{name} = {value!r} must be of type {want} (got {type(value).__name__})"
            )
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
    if data["id"] != problem_id:
        raise SpecError(f"{path}: id = {data['id']!r} must equal the folder's name {problem_id!r}")
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
        folder=folder,
        reference=root / "reference" / assignment / f"{problem_id}.py",
    )
    for needed in (spec.test_file, spec.statement, spec.reference):
        if not needed.is_file():
            raise SpecError(f"{path}: problem {problem_id!r} needs the file {needed}, which does not exist")
    if not (folder / "mutants").is_dir():
        raise SpecError(f"{path}: problem {problem_id!r} needs a mutants/ folder")
    spec.mutants()  # validates the mutants' declarations
    return spec


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
    return AssignmentSpec(
        id=assignment,
        title=data["title"],
        course=data.get("course", ""),
        due=None if due is None else str(due),
        problems=tuple(load_problem(root, assignment, name) for name in names),
    )


def list_assignments(root: Path) -> list[str]:
    base = root / "problems"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / "assignment.toml").is_file())
