"""The course gradebook: every assignment's final scores in one CSV and one HTML page, weighted by `problems/course.toml`.

```toml
title = "Deep Learning, fall 2026"   # optional
[weights]
hw3 = 0.25
hw5 = 0.25
```

Each assignment's column is its final score (tests, adjustments and the late deduction: grader.results.term)
read from its store. The course score is the weighted mean of each assignment's final score as a
share of its maximum, in percent; the weights are normalized by their sum. A student with no result
for an assignment counts 0 for it (the cell is empty). Without course.toml, every assignment with a
store counts the same. Cells a spreadsheet would take for a formula are quoted as in grades.csv.
"""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.course.spec import SpecError, list_assignments, load_assignment
from grader.results.classbook import build_rows
from grader.results.exports import spreadsheet_safe
from grader.results.store import Store
from grader.results.term import load_term

COURSE_FILE = "course.toml"


@dataclass(frozen=True)
class Column:
    assignment: str
    title: str
    max_score: float
    weight: float  # normalized: the weights add up to 1
    graded: bool  # whether the assignment has a store


@dataclass(frozen=True)
class Cell:
    final: float | None  # None: no result for this assignment
    tests: float = 0.0
    adjustments: float = 0.0
    late: float = 0.0


@dataclass(frozen=True)
class Gradebook:
    title: str
    columns: tuple[Column, ...]
    students: tuple[str, ...]
    cells: dict[tuple[str, str], Cell]  # (student, assignment)
    notes: tuple[str, ...]

    def percent(self, student: str) -> float:
        """The weighted course score in percent."""
        total = 0.0
        for c in self.columns:
            cell = self.cells.get((student, c.assignment))
            if cell is not None and cell.final is not None and c.max_score > 0:
                total += c.weight * cell.final / c.max_score
        return round(100 * total, 4)


def read_weights(root: Path) -> tuple[str, dict[str, float]] | None:
    """course.toml's title and weights, validated; None where there is no course.toml."""
    path = root / "problems" / COURSE_FILE
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"title", "weights"})
    if unknown:
        raise SpecError(f"{path}: unknown key {unknown[0]!r} (known keys: title, weights)")
    title = data.get("title", "")
    if not isinstance(title, str):
        raise SpecError(f"{path}: title = {title!r} must be of type str (got {type(title).__name__})")
    weights = data.get("weights")
    if not isinstance(weights, dict) or not weights:
        raise SpecError(f"{path}: [weights] must give each assignment's weight, like hw3 = 0.25")
    known = list_assignments(root)
    for name, value in weights.items():
        if name not in known:
            raise SpecError(f"{path}: weights.{name} names no assignment (assignments: {', '.join(known) or 'none'})")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(
                f"{path}: weights.{name} = {value!r} must be of type int or float (got {type(value).__name__})"
            )
        if value < 0:
            raise SpecError(f"{path}: weights.{name} = {value!r} must not be negative")
    if sum(weights.values()) <= 0:
        raise SpecError(f"{path}: [weights] = {weights!r} must not all be 0")
    return title, {k: float(v) for k, v in weights.items()}


def build_gradebook(root: Path, reports: Path) -> Gradebook:
    """Every weighted assignment's final scores, read from `reports/<assignment>/grades.sqlite`."""
    course = read_weights(root)
    notes: list[str] = []
    if course is None:
        names = [a for a in list_assignments(root) if (reports / a / "grades.sqlite").is_file()]
        title, weights = "", {a: 1.0 for a in names}
        notes.append(f"no {COURSE_FILE} in {root / 'problems'}: every graded assignment counts the same")
    else:
        title, weights = course
    total_weight = sum(weights.values()) or 1.0
    columns = []
    cells: dict[tuple[str, str], Cell] = {}
    students: set[str] = set()
    for name, weight in weights.items():
        assignment = load_assignment(root, name)
        title = title or assignment.course
        store_path = reports / name / "grades.sqlite"
        columns.append(
            Column(
                name,
                assignment.title,
                sum(p.points for p in assignment.problems),
                weight / total_weight,
                store_path.is_file(),
            )
        )
        if not store_path.is_file():
            notes.append(f"{name}: no results in {store_path.parent} (every student counts 0 for it)")
            continue
        store = Store(store_path)
        try:
            rows = build_rows(assignment, list(store.results()), term=load_term(assignment, store))
        finally:
            store.close()
        for row in rows:
            students.add(row.id)
            s = row.standing
            cells[(row.id, name)] = Cell(
                row.total, row.test_total, s.adjustment_total if s else 0.0, -s.late_deduction if s else 0.0
            )
    return Gradebook(title or "Course", tuple(columns), tuple(sorted(students)), cells, tuple(notes))


def gradebook_csv(book: Gradebook) -> str:
    """`student`, one column per assignment (its final score), `percent` (the weighted course score)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *(c.assignment for c in book.columns), "percent"])
    for student in book.students:
        cells = []
        for c in book.columns:
            cell = book.cells.get((student, c.assignment))
            cells.append("" if cell is None or cell.final is None else f"{cell.final:g}")
        writer.writerow([spreadsheet_safe(student), *cells, f"{book.percent(student):g}"])
    return buffer.getvalue()


def write_gradebook(root: Path, reports: Path) -> tuple[Path, Path, Gradebook]:
    """`reports/gradebook.csv` and `reports/gradebook.html`."""
    from grader.results.report import render_gradebook

    book = build_gradebook(root, reports)
    reports.mkdir(parents=True, exist_ok=True)
    csv_path = reports / "gradebook.csv"
    csv_path.write_text(gradebook_csv(book), encoding="utf-8")
    html_path = reports / "gradebook.html"
    html_path.write_text(render_gradebook(book), encoding="utf-8")
    return csv_path, html_path, book
