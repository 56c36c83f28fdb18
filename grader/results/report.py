"""Rendering the store: `index.html` for the class, a page per student, `results.json`, and the exports.

HTML goes only through autoescaped jinja2 templates (student output and messages are untrusted), SVG
charts included: Python computes their geometry as numbers, the templates write the markup. Pages are
self-contained (inline styles, no network), and a Content-Security-Policy forbids every fetch and
every script but the class page's own table sorter. `results.json` follows the versioned schema
documented in docs/results-schema.md; the exports are written by `grader.results.exports`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from grader.course.spec import AssignmentSpec
from grader.records import JobResult
from grader.results.adjustments import now
from grader.results.classbook import (
    Histogram,
    StudentRow,
    build_rows,
    common_mistakes,
    histogram,
    per_test_stats,
    problem_stats,
    retired_problems,
    slug,
)
from grader.results.codeview import CodeFile, CodeLink, failure_refs, links, render_files, student_files, style_css
from grader.results.curves import curve_chart, final_values
from grader.results.exports import write_exports
from grader.results.history import Diff, diff, record
from grader.results.late import SUBMITTED_CSV
from grader.results.similarity import REPORT_PAIRS, compare_class
from grader.results.similarity import WORDING as SIMILARITY_WORDING
from grader.results.statements import statement_html
from grader.results.store import Store
from grader.results.term import Standing, Term, load_term
from grader.safetext import one_line

if TYPE_CHECKING:
    from grader.results.gradebook import Gradebook

SCHEMA_VERSION = 1
OUTPUT_SHOWN = 4000  # characters of a test's captured output shown on a page
_REPRODUCE = re.compile(r"@reproduce_failure\(.*?\)")
_RUN_LABELS = {
    "finished_at": "Finished",
    "seconds": "Time taken",
    "grader_version": "Grader version",
    "bank_hash": "Problem bank hash",
    "profile": "Hypothesis profile and seed",
    "jobs_run": "Jobs graded in this run",
    "jobs_reused": "Jobs unchanged since the last run",
    "lockstep": "Lockstep grading",
    "lockstep_split": "Lockstep tests by how they ran (varies with the workers' timing)",
    "submissions": "Submissions folder",
    "students": "Students in that folder",
}
# (label, relative link) of the files the class page points to, beside the student table.
EXPORT_LINKS = (
    ("grades.csv", "grades.csv"),
    ("results.json", "results.json"),
    ("Gradescope results (one file per student)", "gradescope/"),
    ("JUnit XML", "junit.xml"),
    ("Similar submissions", "similarity.html"),
)
# The run's facts key for what reading the submissions folder noticed (two submissions of one name, ...).
SUBMISSION_NOTES = "submission_notes"
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

__all__ = ["SCHEMA_VERSION", "StudentRow", "build_rows", "page_name", "render", "results_document"]


def page_name(student: str) -> str:
    """A student's page, relative to the reports folder."""
    return f"students/{slug(student)}.html"


def _capped(text: str, limit: int = OUTPUT_SHOWN) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… ({len(text) - limit} more characters not shown)"


def _reproduce_line(text: str) -> str:
    """The `@reproduce_failure(...)` decorator in Hypothesis's message, or the whole message."""
    match = _REPRODUCE.search(text)
    return match.group() if match else text


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("grader.results", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pts"] = lambda x: f"{x:g}"
    env.filters["pct"] = lambda x: f"{100 * x:.0f}%"
    env.filters["capped"] = _capped
    env.filters["reproduce_line"] = _reproduce_line
    env.filters["student_slug"] = slug
    env.filters["first_line"] = lambda text: text.strip().splitlines()[0] if text.strip() else ""
    env.filters["curve_chart"] = curve_chart
    return env


# --- SVG geometry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    center: float
    count: int
    label: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class HistogramChart:
    """The score histogram laid out in a `width` × `height` viewBox."""

    width: int
    height: int
    left: int
    top: int
    bottom: float  # y of the x axis
    right: float  # x where the plot ends
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    label_size: int
    data: Histogram


def histogram_chart(h: Histogram, *, width: int = 720, height: int = 300) -> HistogramChart:
    left, right, top, bottom = 48, 12, 28, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(len(h.bins), 1)
    top_count = max(h.max_count, 1)
    bars = []
    for i, b in enumerate(h.bins):
        bar_h = plot_h * b.count / top_count
        x = left + i * slot + slot * 0.1
        bars.append(
            Bar(
                round(x, 2),
                round(top + plot_h - bar_h, 2),
                round(slot * 0.8, 2),
                round(bar_h, 2),
                round(left + (i + 0.5) * slot, 2),
                b.count,
                b.label,
            )
        )
    step = max(1, -(-top_count // 4))
    ticks = tuple(Tick(round(top + plot_h - plot_h * c / top_count, 2), str(c)) for c in range(0, top_count + 1, step))
    return HistogramChart(
        width=width,
        height=height,
        left=left,
        top=top,
        bottom=top + plot_h,
        right=width - right,
        bars=tuple(bars),
        ticks=ticks,
        label_size=13 if len(h.bins) <= 12 else 11,
        data=h,
    )


# --- results.json ---------------------------------------------------------------------------------


def results_document(assignment: AssignmentSpec, rows: list[StudentRow], run: dict[str, Any]) -> dict[str, Any]:
    """The `results.json` document (schema version 1): every student of the store, with notes."""
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
            "retired_problems": [{"id": pid, "students": n} for pid, n in retired_problems(rows).items()],
        },
        "run": run,
        "students": [
            {
                "id": row.id,
                "score": row.total,
                "max_score": row.max_total,
                "test_score": row.test_total,
                **_standing_entry(row.standing),
                "in_latest_run": not row.missing,
                "notes": row.notes,
                "problems": [
                    _problem_entry(pid, assignment.problem(pid).points, result) for pid, result in row.problems.items()
                ],
                "retired_problems": [_problem_entry(pid, r.max_score, r) for pid, r in row.retired.items()],
            }
            for row in rows
        ],
    }


def _standing_entry(s: Standing | None) -> dict[str, Any]:
    """What made the final score beyond the tests: adjustments (with who, when, why), extension, lateness."""
    if s is None:
        return {"adjustments": [], "extension": None, "late": None}
    late = None
    if s.late is not None and s.late.submitted is not None:
        late = {
            "submitted_at": s.late.submitted.at.isoformat() if s.late.submitted.at else None,
            "source": s.late.submitted.source,
            "due": s.late.due.isoformat(),
            "late_seconds": max(s.late.late_seconds, 0.0),
            "units": s.late.units,
            "unit": s.late.unit,
            "deduction": s.late.deduction,
            "not_accepted": s.late.rejected,
            "description": s.late.describe(),
        }
    return {
        "adjustments": [
            {
                "problem": a.adjustment.problem or None,
                "change": a.adjustment.change,
                "points": a.effect,
                "reason": a.adjustment.reason,
                "by": a.adjustment.by,
                "at": a.adjustment.at,
            }
            for a in s.adjustments
        ],
        "extension": s.extension.isoformat() if s.extension else None,
        "late": late,
    }


def _problem_entry(problem_id: str, max_score: float, result: JobResult | None) -> dict[str, Any]:
    if result is None:
        return {
            "id": problem_id,
            "status": "not graded",
            "score": 0.0,
            "max_score": max_score,
            "message": "",
            "tests": [],
        }
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
                "notes": t.notes,
                "failing_input": t.failing_input,
                "student_traceback": t.student_traceback,
                "output": t.output,
                "duration": round(t.duration, 4),
                "curves": [dict(c) for c in t.curves],
            }
            for t in result.tests
        ],
    }


# --- pages ----------------------------------------------------------------------------------------


def _script_csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return f"{_CSP}; script-src 'sha256-{digest}'"


def run_facts(run: dict[str, Any]) -> list[tuple[str, str]]:
    """The last run's facts as (label, value), known facts first in a fixed order."""
    facts = []
    for key, label in _RUN_LABELS.items():
        if key in run:
            value = run[key]
            facts.append(
                (label, f"{value:g} s" if key == "seconds" and isinstance(value, (int, float)) else _fact(value))
            )
    facts.extend(
        (key, _fact(value)) for key, value in run.items() if key not in _RUN_LABELS and key != SUBMISSION_NOTES
    )
    return facts


def _fact(value: Any) -> str:
    """A fact's value as text: a mapping as "name value, name value" (a run's lockstep split, say)."""
    if isinstance(value, dict):
        return ", ".join(f"{key} {item}" for key, item in value.items())
    return str(value)


@dataclass(frozen=True)
class GraderErrorRow:
    student: str
    problem: str
    test: str  # "" for the whole job
    message: str

    @property
    def page(self) -> str:
        return page_name(self.student)


def grader_errors(results: list[JobResult]) -> list[GraderErrorRow]:
    """Jobs that ended in a grader error, and tests of other jobs that did: the instructor's to fix."""
    errors: list[GraderErrorRow] = []
    for r in results:
        if r.status == "error":
            errors.append(GraderErrorRow(r.student, r.problem, "", r.message))
            continue
        errors.extend(GraderErrorRow(r.student, r.problem, t.name, t.message) for t in r.tests if t.outcome == "error")
    return errors


def _student_code(row: StudentRow) -> tuple[list[CodeFile], dict[str, list[CodeLink]]]:
    """The student's files, highlighted with the failures' lines marked, and each failure's links to them."""
    files = student_files(row.problems.values())
    slugs = {name: slug(name) for name in files}
    marked: dict[str, set[int]] = {}
    per_test: dict[str, list[CodeLink]] = {}
    for pid, r in row.problems.items():
        if r is None:
            continue
        for t in r.tests:
            refs = [ref for ref in failure_refs(t) if ref[0] in files]
            for name, line in refs:
                marked.setdefault(name, set()).add(line)
            if refs:
                per_test[f"{pid}--{t.name}"] = links(refs, files, slugs)
    return render_files(files, marked, slugs), per_test


def render_pages(
    assignment: AssignmentSpec,
    results: list[JobResult],
    run: dict[str, Any],
    out: Path,
    *,
    missing: Collection[str] = (),
    term: Term | None = None,
    changes: Diff | None = None,
) -> Path:
    """Write `index.html`, `students/<student>.html` and `similarity.html` into `out`; returns the index page.

    Every student in `results` gets a row and a page; `missing` (stored students the latest run did
    not see) and results of problems no longer in the assignment are noted, never dropped. `term`
    brings the adjustments and submission times, `changes` what changed since the previous snapshot.
    """
    rows = build_rows(assignment, results, missing=missing, term=term)
    env = _environment()
    statements = {p.id: statement_html(p.statement.read_text()) for p in assignment.problems}
    students = out / "students"
    students.mkdir(parents=True, exist_ok=True)
    current = [r for r in results if r.problem in statements]  # results of retired problems are only noted
    errors = grader_errors(current)
    warnings = sorted({w for r in current for w in r.warnings})
    similar = compare_class(assignment, current)
    (out / "similarity.html").write_text(
        env.get_template("similarity.html").render(
            assignment=assignment, problems=similar, wording=SIMILARITY_WORDING, csp=_CSP, code_css=""
        ),
        encoding="utf-8",
    )
    script = env.get_template("sort_script.html").render()
    index = out / "index.html"
    term_notes = list(term.notes) if term is not None else []
    unknown_times = [
        row.id for row in rows if row.standing and row.standing.late and row.standing.late.late_seconds < 0
    ]
    if unknown_times:
        term_notes.append(
            f"{len(unknown_times)} marked late with no submission time ({', '.join(unknown_times)}): nothing was "
            f"deducted; give their times in {SUBMITTED_CSV} (student,submitted_at) and grade again"
        )
    index.write_text(
        env.get_template("index.html").render(
            assignment=assignment,
            rows=rows,
            run=run_facts(run),
            errors=errors,
            warnings=warnings,
            chart=histogram_chart(histogram([row.total for row in rows], sum(p.points for p in assignment.problems))),
            finals=final_values(assignment, rows),
            problems=problem_stats(assignment, rows),
            tests=per_test_stats(assignment, rows),
            mistakes=common_mistakes(assignment, rows),
            missing=[row for row in rows if row.missing],
            retired=retired_problems(rows),
            submissions=run.get("submissions", ""),
            adjusted=any(row.adjusted for row in rows),
            term_notes=term_notes,
            submission_notes=[one_line(n, 2000) for n in run.get(SUBMISSION_NOTES, [])],
            changes=changes,
            similar=[(p, p.pairs[:REPORT_PAIRS]) for p in similar],
            similarity_wording=SIMILARITY_WORDING,
            exports=EXPORT_LINKS,
            csp=_script_csp(script),
            code_css="",
        ),
        encoding="utf-8",
    )
    keep = {Path(row.page).name for row in rows}
    for stale in students.glob("*.html"):
        if stale.name not in keep:
            stale.unlink()
    student_page = env.get_template("student.html")
    css = style_css()
    for row in rows:
        code, code_links = _student_code(row)
        (out / row.page).write_text(
            student_page.render(
                assignment=assignment,
                row=row,
                statements=statements,
                run=run_facts(run),
                csp=_CSP,
                code=code,
                code_links=code_links,
                code_css=css,
            ),
            encoding="utf-8",
        )
    return index


def render(assignment: AssignmentSpec, out: Path, *, event: str = "report") -> Path:
    """Render everything in `out` from the store `out/grades.sqlite`; returns the index page.

    The adjustments file is read (and mirrored into the store), a snapshot of the class is kept if it
    changed (`event` says what changed it), and the class page shows what changed since the last one.
    """
    store = Store(out / "grades.sqlite")
    try:
        results = list(store.results())
        run = store.last_run()
        missing = store.missing_from_last_run()
        term = load_term(assignment, store)
        rows = build_rows(assignment, results, missing=missing, term=term)
        record(store, rows, event=event, at=now())
        changes = diff(store)
    finally:
        store.close()
    index = render_pages(assignment, results, run, out, missing=missing, term=term, changes=changes)
    document = results_document(assignment, rows, run)
    (out / "results.json").write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    write_exports(assignment, rows, run, out)
    return index


def render_gradebook(book: Gradebook) -> str:
    """The course gradebook page (grader.results.gradebook)."""
    return _environment().get_template("gradebook.html").render(book=book, csp=_CSP, code_css="")
