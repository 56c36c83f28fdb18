"""Exports of the stored results for other systems: grades.csv, Gradescope results.json, JUnit XML.

These files may reach students (a Gradescope result, a CI log), so a hidden test appears in them only
with its name, outcome and points, like on a student's page. Grader errors never count as a zero:
the CSV leaves the cell empty, Gradescope and JUnit say that the score is not final. The score they
give is the final one; grades.csv and Gradescope's text also give the test score, the adjustments and
the late deduction apart (grader.results.term).
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader.course.spec import AssignmentSpec
from grader.records import JobResult, TestResult
from grader.results.classbook import StudentRow, build_rows
from grader.results.store import Store
from grader.results.term import load_term

FORMATS = ("csv", "gradescope", "junit")
HIDDEN_NOTE = "This test is hidden: only its outcome is shown."
GRADER_ERROR_NOTE = "A grader error stopped this test. It is not your fault; the score is not final."
_STATUS_NOTES = {
    "crashed": "Your module could not be imported",
    "forbidden": "Forbidden names used",
    "missing": "File missing",
    "error": "Grader error (not your fault; the score is not final)",
}
# A spreadsheet treats a cell starting with these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 cannot hold, even escaped (most control characters, lone surrogates).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _points(x: float) -> str:
    return f"{x:g}"


def spreadsheet_safe(text: str) -> str:
    """`text` with a leading `'` where a spreadsheet would take it for a formula (CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def standing_lines(row: StudentRow) -> list[str]:
    """The test score, each adjustment, the late deduction and the final score, one line each (empty when
    nothing but the tests made the score)."""
    s = row.standing
    if s is None or not row.adjusted:
        return []
    lines = [f"Test score: {_points(s.test_score)}"]
    for applied in s.adjustments:
        a = applied.adjustment
        where = f" on {a.problem}" if a.problem else ""
        lines.append(f"Adjustment{where}: {a.change} ({applied.effect:+g} points): {a.reason}")
    if s.extension is not None:
        lines.append(f"Extension: due {s.extension.isoformat()}")
    if s.late is not None and s.late.submitted is not None:
        lines.append(f"Late: {s.late.describe()}")
    lines.append(f"Final score: {_points(s.final)} / {_points(row.max_total)}")
    return lines


# --- grades.csv -----------------------------------------------------------------------------------


def grades_csv(assignment: AssignmentSpec, rows: list[StudentRow]) -> str:
    """One row per student: `student`, a column per problem (its id: the tests' points), `tests` (their
    sum), `adjustments` (what manual adjustments changed), `late` (the late deduction, negative) and
    `total` (the final score: the three added up).

    A problem's cell is empty where the score is not known (a grader error, or a job not graded yet).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *(p.id for p in assignment.problems), "tests", "adjustments", "late", "total"])
    for row in rows:
        cells = []
        for p in assignment.problems:
            r = row.problems[p.id]
            cells.append("" if r is None or r.status == "error" else _points(r.score))
        s = row.standing
        adjustments = s.adjustment_total if s is not None else 0.0
        late = -s.late_deduction if s is not None and s.late_deduction else 0.0
        writer.writerow(
            [
                spreadsheet_safe(row.id),
                *cells,
                _points(row.test_total),
                _points(adjustments),
                _points(late),
                _points(row.total),
            ]
        )
    return buffer.getvalue()


def write_csv(assignment: AssignmentSpec, rows: list[StudentRow], run: dict[str, Any], out: Path) -> Path:
    path = out / "grades.csv"
    path.write_text(grades_csv(assignment, rows), encoding="utf-8")
    return path


# --- Gradescope -----------------------------------------------------------------------------------


def _test_output(t: TestResult) -> str:
    """What a student may read about a test: everything for a visible test, nothing but the outcome for a hidden one."""
    if t.outcome == "error":
        return GRADER_ERROR_NOTE
    if t.hidden:
        return "" if t.outcome == "passed" else HIDDEN_NOTE
    parts = [
        t.message,
        t.falsifying_example,
        t.reproduce,
        t.notes,
        f"What your code was given (the last calls into it before the failure):\n{t.failing_input}"
        if t.failing_input
        else "",
        f"Your traceback:\n{t.student_traceback}" if t.student_traceback else "",
        f"Your output:\n{t.output}" if t.output else "",
    ]
    return "\n\n".join(p.strip("\n") for p in parts if p)


def gradescope_document(assignment: AssignmentSpec, row: StudentRow) -> dict[str, Any]:
    """A student's results in Gradescope's autograder format (the `results.json` of run_autograder).

    One Gradescope test per test of every problem, named `problem: test`; a problem with no test
    results (not graded) appears as one failed test worth its points, so the maximum adds up.
    """
    tests: list[dict[str, Any]] = []
    notes: list[str] = []
    seconds = 0.0
    for number, p in enumerate(assignment.problems, start=1):
        r: JobResult | None = row.problems[p.id]
        if r is None:
            notes.append(f"{p.id}: not graded yet")
            tests.append(
                {
                    "name": f"{p.id}",
                    "number": str(number),
                    "score": 0.0,
                    "max_score": p.points,
                    "status": "failed",
                    "output": "Not graded yet.",
                    "visibility": "visible",
                }
            )
            continue
        seconds += r.duration
        if r.status != "graded":
            notes.append(f"{p.id}: {_STATUS_NOTES[r.status]}" + (f"\n{r.message}" if r.status != "error" else ""))
        for k, t in enumerate(r.tests, start=1):
            passed = t.outcome == "passed"
            tests.append(
                {
                    "name": f"{p.id}: {t.name}",
                    "number": f"{number}.{k}",
                    "score": t.points if r.status != "error" else 0.0,
                    "max_score": t.max_points,
                    "status": "passed" if passed else "failed",
                    "output": _test_output(t),
                    "visibility": "visible",
                    "tags": [p.id] + (["hidden"] if t.hidden else []),
                }
            )
    header = "\n".join([f"{assignment.title}: {_points(row.total)} / {_points(row.max_total)}", *standing_lines(row)])
    return {
        "score": row.total,
        "execution_time": round(seconds, 2),
        "output": "\n\n".join([header, *notes]),
        "output_format": "text",
        "test_output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write_gradescope(assignment: AssignmentSpec, rows: list[StudentRow], run: dict[str, Any], out: Path) -> Path:
    """`out/gradescope/<student>.json` for every student; files of students no longer in the class are removed."""
    folder = out / "gradescope"
    folder.mkdir(parents=True, exist_ok=True)
    keep = {f"{row.slug}.json" for row in rows}
    for stale in folder.glob("*.json"):
        if stale.name not in keep:
            stale.unlink()
    for row in rows:
        document = gradescope_document(assignment, row)
        (folder / f"{row.slug}.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return folder


# --- JUnit XML ------------------------------------------------------------------------------------


def _xml_text(text: str) -> str:
    """`text` with the characters XML cannot hold written as `\\xNN` (ElementTree escapes the rest)."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def junit_tree(assignment: AssignmentSpec, rows: list[StudentRow], run: dict[str, Any]) -> ET.ElementTree:
    """A `<testsuites>` with a `<testsuite>` per student and problem and a `<testcase>` per test.

    A student's failure is a `<failure>`; a grader error is an `<error>`; a problem not graded yet is one
    `<testcase>` with `<skipped>`. Hidden tests keep their outcome and lose their details.
    """
    root = ET.Element("testsuites", name=_xml_text(assignment.id))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    timestamp = str(run.get("finished_at", ""))
    for row in rows:
        for p in assignment.problems:
            r = row.problems[p.id]
            suite = ET.SubElement(root, "testsuite", name=_xml_text(f"{row.id}.{p.id}"))
            counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
            classname = _xml_text(f"{assignment.id}.{row.id}.{p.id}")
            if r is None:
                case = ET.SubElement(suite, "testcase", classname=classname, name=p.id, time="0")
                ET.SubElement(case, "skipped", message="not graded yet")
                counts["tests"] += 1
                counts["skipped"] += 1
            else:
                if r.message and r.status != "error":
                    ET.SubElement(
                        ET.SubElement(suite, "properties"), "property", name="status", value=_xml_text(r.status)
                    )
                for t in r.tests:
                    counts["tests"] += 1
                    case = ET.SubElement(
                        suite, "testcase", classname=classname, name=_xml_text(t.name), time=f"{t.duration:.3f}"
                    )
                    if t.outcome == "error" or r.status == "error":
                        counts["errors"] += 1
                        ET.SubElement(
                            case, "error", message="grader error", type="GraderError"
                        ).text = GRADER_ERROR_NOTE
                    elif t.outcome == "failed":
                        counts["failures"] += 1
                        details = _test_output(t)
                        failure = ET.SubElement(
                            case, "failure", message=_xml_text(_first_line(details)), type="AssertionError"
                        )
                        failure.text = _xml_text(details)
                    if t.output and not t.hidden:
                        ET.SubElement(case, "system-out").text = _xml_text(t.output)
            suite_time = sum(t.duration for t in r.tests) if r is not None else 0.0
            total_time += suite_time
            for key, value in counts.items():
                suite.set(key, str(value))
                totals[key] += value
            suite.set("time", f"{suite_time:.3f}")
            if timestamp:
                suite.set("timestamp", _xml_text(timestamp))
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(assignment: AssignmentSpec, rows: list[StudentRow], run: dict[str, Any], out: Path) -> Path:
    path = out / "junit.xml"
    junit_tree(assignment, rows, run).write(path, encoding="utf-8", xml_declaration=True)
    return path


# --- all of them ----------------------------------------------------------------------------------

_WRITERS: dict[str, Callable[[AssignmentSpec, list[StudentRow], dict[str, Any], Path], Path]] = {
    "csv": write_csv,
    "gradescope": write_gradescope,
    "junit": write_junit,
}


def write_exports(
    assignment: AssignmentSpec,
    rows: list[StudentRow],
    run: dict[str, Any],
    out: Path,
    formats: tuple[str, ...] = FORMATS,
) -> list[Path]:
    """Write the chosen exports into `out`; returns their paths (a folder for Gradescope)."""
    return [_WRITERS[f](assignment, rows, run, out) for f in formats]


def export(assignment: AssignmentSpec, out: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write the chosen exports from the store `out/grades.sqlite`."""
    store = Store(out / "grades.sqlite")
    try:
        results = list(store.results())
        run = store.last_run()
        term = load_term(assignment, store)
    finally:
        store.close()
    return write_exports(assignment, build_rows(assignment, results, term=term), run, out, formats)
