"""Rendering the store: `index.html` for the class, a page per student, and `results.json`.

HTML goes only through autoescaped jinja2 templates (student output and messages are untrusted);
pages are self-contained, with inline styles and no network access needed to view them.
`results.json` follows the versioned schema documented in docs/results-schema.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from grader.results import JobResult
from grader.spec import AssignmentSpec
from grader.store import Store

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class StudentRow:
    id: str
    page: str
    total: float
    max_total: float
    problems: dict[str, JobResult | None]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("grader", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pts"] = lambda x: f"{x:g}"
    return env


def page_name(student: str) -> str:
    """A safe file name for a student's page."""
    return "students/" + re.sub(r"[^A-Za-z0-9_.-]", "_", student) + ".html"


def build_rows(assignment: AssignmentSpec, results: list[JobResult]) -> list[StudentRow]:
    by_student: dict[str, dict[str, JobResult]] = {}
    for r in results:
        by_student.setdefault(r.student, {})[r.problem] = r
    max_total = sum(p.points for p in assignment.problems)
    rows = []
    for student in sorted(by_student):
        jobs = by_student[student]
        problems = {p.id: jobs.get(p.id) for p in assignment.problems}
        total = sum(r.score for r in problems.values() if r is not None and r.status != "error")
        rows.append(StudentRow(student, page_name(student), total, max_total, problems))
    return rows


def results_document(assignment: AssignmentSpec, rows: list[StudentRow], run: dict[str, Any]) -> dict[str, Any]:
    """The `results.json` document (schema version 1)."""
    return {
        "schema": "grader.results",
        "schema_version": SCHEMA_VERSION,
        "assignment": {
            "id": assignment.id,
            "title": assignment.title,
            "course": assignment.course,
            "due": assignment.due,
            "max_score": sum(p.points for p in assignment.problems),
            "problems": [{"id": p.id, "title": p.title, "max_score": p.points} for p in assignment.problems],
        },
        "run": run,
        "students": [
            {
                "id": row.id,
                "score": row.total,
                "max_score": row.max_total,
                "problems": [
                    _problem_entry(pid, assignment.problem(pid).points, result) for pid, result in row.problems.items()
                ],
            }
            for row in rows
        ],
    }


def _problem_entry(problem_id: str, max_score: float, result: JobResult | None) -> dict[str, Any]:
    if result is None:
        return {"id": problem_id, "status": "not graded", "score": 0.0, "max_score": max_score, "message": "", "tests": []}
    return {
        "id": problem_id,
        "status": result.status,
        "score": result.score,
        "max_score": max_score,
        "message": result.message,
        "warnings": list(result.warnings),
        "tests": [
            {
                "name": t.name,
                "outcome": t.outcome,
                "points": t.points,
                "max_points": t.max_points,
                "hidden": t.hidden,
                "message": t.message,
                "falsifying_example": t.falsifying_example,
                "reproduce": t.reproduce,
                "student_traceback": t.student_traceback,
                "output": t.output,
                "duration": round(t.duration, 4),
            }
            for t in result.tests
        ],
    }


def render(assignment: AssignmentSpec, out: Path) -> Path:
    """Render everything in `out` from the store `out/grades.sqlite`; returns the index page."""
    store = Store(out / "grades.sqlite")
    try:
        results = list(store.results())
        run = store.last_run()
    finally:
        store.close()
    rows = build_rows(assignment, results)
    env = _environment()
    statements = {p.id: p.statement.read_text() for p in assignment.problems}
    (out / "students").mkdir(parents=True, exist_ok=True)
    errors = [r for r in results if r.status == "error"]
    warnings = sorted({w for r in results for w in r.warnings})
    index = out / "index.html"
    index.write_text(
        env.get_template("index.html").render(assignment=assignment, rows=rows, run=run, errors=errors, warnings=warnings)
    )
    for row in rows:
        (out / row.page).write_text(
            env.get_template("student.html").render(assignment=assignment, row=row, statements=statements, run=run)
        )
    document = results_document(assignment, rows, run)
    (out / "results.json").write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    return index
