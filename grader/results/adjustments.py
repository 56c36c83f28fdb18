"""Manual adjustments and extensions: the course's `adjustments/<assignment>.csv`, read, validated and written.

The file is the source of truth: a course reviews it and keeps it under version control, `grader
adjust` and `grader extend` append to it, and a person may edit it by hand. The store mirrors it
(grader.results.store's adjustment log): each time the file is read, the store's active adjustments become
exactly the file's rows, and rows gone from the file stay in the store's log as withdrawn, with when.
A missing file means no adjustments.

Columns: `student,problem,kind,points,until,reason,by,at`. `kind` is `add` (points may be negative),
`set` (the problem's score, or the assignment's score before the late deduction, becomes `points`)
or `extend` (the student's due date becomes `until`). The change is spelled with words and plain
numbers, so a spreadsheet that opens and saves the file keeps its meaning; a cell a spreadsheet would
take for a formula is written with a leading `'`, which reading removes.
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import io
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from grader.course.spec import AssignmentSpec, SpecError, parse_date_time

FIELDS = ("student", "problem", "kind", "points", "until", "reason", "by", "at")
Kind = Literal["add", "set", "extend"]
KINDS: tuple[Kind, ...] = ("add", "set", "extend")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CHANGE = re.compile(r"^(?P<sign>[+=-])(?P<number>\d+(?:\.\d+)?|\.\d+)\Z")


@dataclass(frozen=True)
class Adjustment:
    """One row of the adjustments file."""

    student: str
    problem: str  # "" for the whole assignment
    kind: Kind
    points: float = 0.0  # for add and set
    until: str = ""  # for extend: an ISO 8601 date and time with a zone
    reason: str = ""
    by: str = ""
    at: str = ""  # when it was recorded (ISO 8601, UTC)

    @property
    def change(self) -> str:
        """The change as the command line spells it: `+2`, `-1.5`, `=7`, or `until DATE`."""
        if self.kind == "extend":
            return f"until {self.until}"
        if self.kind == "set":
            return f"={self.points:g}"
        return f"{self.points:+g}"

    @property
    def until_at(self) -> dt.datetime | None:
        return parse_date_time(self.until) if self.kind == "extend" else None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def file_path(assignment: AssignmentSpec) -> Path:
    """`adjustments/<assignment>.csv` in the course folder (beside problems/)."""
    if assignment.folder is not None:
        root = assignment.folder.parent.parent
    elif assignment.problems:
        root = assignment.problems[0].folder.parents[2]
    else:
        root = Path.cwd()
    return root / "adjustments" / f"{assignment.id}.csv"


def parse_change(text: str) -> tuple[Kind, float]:
    """`+2` or `-1.5` (add) and `=7` (set), as given to `grader adjust`."""
    match = _CHANGE.match(text.strip())
    if match is None:
        raise SpecError(f"change = {text!r} must be +N, -N or =N (a number of points, e.g. +2, -0.5, =7)")
    number = float(match.group("number"))
    sign = match.group("sign")
    return ("set", number) if sign == "=" else ("add", number if sign == "+" else -number)


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def who(explicit: str | None) -> str:
    """`--by NAME`, else the operating system's user."""
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def validate(adjustment: Adjustment, assignment: AssignmentSpec, where: str) -> None:
    """The rules of one row; errors name the file and line (`where`), the column, the value and the rule."""
    if not adjustment.student.strip():
        raise SpecError(f"{where}: student = '' must name a student")
    if adjustment.kind not in KINDS:
        raise SpecError(f"{where}: kind = {adjustment.kind!r} must be one of {', '.join(KINDS)}")
    problems = {p.id: p for p in assignment.problems}
    if adjustment.problem and adjustment.problem not in problems:
        raise SpecError(
            f"{where}: problem = {adjustment.problem!r} must be a problem of {assignment.id} "
            f"({', '.join(problems)}) or empty for the whole assignment"
        )
    if adjustment.kind == "extend":
        if adjustment.problem:
            raise SpecError(
                f"{where}: problem = {adjustment.problem!r} must be empty for an extension (it covers the assignment)"
            )
        if adjustment.until_at is None:
            raise SpecError(
                f"{where}: until = {adjustment.until!r} must be a date and time with a time zone, like 2026-10-05T23:59:00+02:00"
            )
        return
    if not adjustment.reason.strip():
        raise SpecError(f"{where}: reason = '' must say why (it is the audit trail)")
    if adjustment.kind == "set":
        top = problems[adjustment.problem].points if adjustment.problem else None
        if adjustment.points < 0 or (top is not None and adjustment.points > top):
            rule = f"between 0 and the problem's {top:g} points" if top is not None else "at least 0"
            raise SpecError(f"{where}: points = {adjustment.points:g} must be {rule} for kind = set")


def read(path: Path, assignment: AssignmentSpec) -> list[Adjustment]:
    """The file's rows in order, validated; [] where there is no file."""
    if not path.is_file():
        return []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot be read ({exc})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None:
        return []
    missing = [f for f in ("student", "kind") if f not in reader.fieldnames]
    if missing:
        raise SpecError(f"{path}: the header must name the columns {','.join(FIELDS)} (missing: {', '.join(missing)})")
    rows = []
    for row in reader:
        where = f"{path}: line {reader.line_num}"
        cells = {k: _uncell((row.get(k) or "").strip()) for k in FIELDS}
        if not any(cells.values()):
            continue
        points_text = cells["points"] or "0"
        try:
            points = float(points_text)
        except ValueError:
            raise SpecError(f"{where}: points = {points_text!r} must be a number") from None
        kind = cells["kind"]
        adjustment = Adjustment(
            student=cells["student"],
            problem=cells["problem"],
            kind=kind,  # type: ignore[arg-type]
            points=points,
            until=cells["until"],
            reason=cells["reason"],
            by=cells["by"],
            at=cells["at"],
        )
        validate(adjustment, assignment, where)
        rows.append(adjustment)
    return rows


def write(path: Path, adjustments: Iterable[Adjustment]) -> None:
    """Write the whole file atomically (a new file, then renamed over the old one)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FIELDS)
    for a in adjustments:
        points = "" if a.kind == "extend" else f"{a.points:g}"
        writer.writerow(
            [_cell(a.student), _cell(a.problem), a.kind, points, a.until, _cell(a.reason), _cell(a.by), a.at]
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(buffer.getvalue(), encoding="utf-8")
    partial.replace(path)


def append(path: Path, assignment: AssignmentSpec, adjustment: Adjustment) -> list[Adjustment]:
    """Validate `adjustment`, add it at the end of the file, and return every row."""
    validate(adjustment, assignment, str(path))
    rows = read(path, assignment) + [adjustment]
    write(path, rows)
    return rows


def extensions(adjustments: Iterable[Adjustment]) -> dict[str, dt.datetime]:
    """Each student's due date from extensions: the last row for a student wins."""
    found: dict[str, dt.datetime] = {}
    for a in adjustments:
        until = a.until_at
        if until is not None:
            found[a.student] = until
    return found
