"""Reports and exports rendered from results built in memory: escaping, hidden tests, common mistakes, CSV rows."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader.course.spec import AssignmentSpec, Limits, ProblemSpec
from grader.records import JobResult, TestResult
from grader.results.classbook import (
    MISSING_NOTE,
    RETIRED_NOTE,
    build_rows,
    common_mistakes,
    histogram,
    per_test_stats,
    problem_stats,
    shape,
    slug,
)
from grader.results.exports import HIDDEN_NOTE, grades_csv, gradescope_document, junit_tree, write_exports
from grader.results.report import render_pages, results_document
from grader.results.statements import statement_html

SCRIPT = "<script>alert('pwned')</script>"
RUN = {"grader_version": "0.1.0", "bank_hash": "abc123", "profile": "derandomized", "finished_at": "2026-11-24 21:00:00 UTC", "seconds": 3.5}


def make_assignment(root: Path) -> AssignmentSpec:
    problems = []
    for pid, points in (("conv", 4.0), ("fold", 2.0)):
        folder = root / "problems/hw/" / pid
        folder.mkdir(parents=True)
        (folder / "README.md").write_text(f"# {pid}\n\nCompute $x_i$ here. <b>raw html</b>\n")
        problems.append(
            ProblemSpec(
                assignment="hw", id=pid, title=f"The {pid} problem", module=pid, names=("f",), points=points,
                forbidden=(), secret=False, limits=Limits(), max_examples=10, folder=folder,
                reference=root / "reference/hw" / f"{pid}.py",
            )
        )
    return AssignmentSpec(id="hw", title="Homework", course="Course", due=None, problems=tuple(problems))


def passed(name: str, points: float = 1.0, **kw: object) -> TestResult:
    return TestResult(name=name, outcome="passed", points=points, max_points=points, **kw)  # type: ignore[arg-type]


def failed(name: str, points: float = 1.0, **kw: object) -> TestResult:
    return TestResult(name=name, outcome="failed", points=0.0, max_points=points, **kw)  # type: ignore[arg-type]


def job(student: str, problem: str, *tests: TestResult, status: str = "graded", message: str = "") -> JobResult:
    score = sum(t.points for t in tests) if status == "graded" else 0.0
    return JobResult(
        student=student, assignment="hw", problem=problem, status=status, score=score,  # type: ignore[arg-type]
        max_score=sum(t.max_points for t in tests), message=message, tests=tests, duration=0.5,
    )


def stride_failure(expected: float, got: float, stride: int) -> TestResult:
    return failed(
        "test_stride_backward",
        2.0,
        message=f"dw: values are not close\nMismatched elements: 3 / 8 (37.5%)\nAt index (0, {stride}): expected {expected}, got {got}",
        falsifying_example=f"Falsifying example: test_stride_backward(\n    stride={stride},\n    dtype=torch.float32,\n)",
        reproduce=f"You can reproduce this example by temporarily adding @reproduce_failure('6.1', b'AX{stride}') as a decorator on your test case",
    )


def fold_tests(ok: bool) -> tuple[TestResult, ...]:
    return (passed("test_fold", 2.0),) if ok else (failed("test_fold", 2.0, message="fold: wrong"),)


@pytest.fixture
def assignment(tmp_path: Path) -> AssignmentSpec:
    return make_assignment(tmp_path / "course")


def class_results() -> list[JobResult]:
    return [
        job("ann", "conv", passed("test_forward", 2.0), passed("test_stride_backward", 2.0)),
        job("ann", "fold", *fold_tests(True)),
        job("ben", "conv", passed("test_forward", 2.0), stride_failure(1.5, 2.25, 2)),
        job("ben", "fold", *fold_tests(True)),
        job("cat", "conv", passed("test_forward", 2.0), stride_failure(-0.125, 3e-05, 3)),
        job("cat", "fold", *fold_tests(False)),
        job("dan", "conv", passed("test_forward", 2.0), stride_failure(7.0, 0.0, 4)),
        job("dan", "fold", status="crashed", message="fold.py could not be imported: the import raised NameError (fold.py, line 3)"),
        job("eve", "conv", passed("test_forward", 2.0), failed("test_stride_backward", 2.0, message="dw has shape (2, 3); expected (2, 4)")),
        job("eve", "fold", status="crashed", message="fold.py could not be imported: the import raised NameError (fold.py, line 17)"),
        job("fay", "conv", status="error", message="reference raised ValueError"),
        job("fay", "fold", *fold_tests(True)),
    ]


# --- common mistakes ------------------------------------------------------------------------------


def test_shape_sets_numbers_aside_but_keeps_identifiers():
    assert shape("At index (0, 3): expected -1.5e-05, got 4.61629 (37.5%) in float32 conv2d at 0x7f3a2c")  == (
        "At index (#, #): expected #, got # (#%) in float32 conv2d at 0x#"
    )
    assert shape("  a   b \n\n c ") == "a b\n\nc"


def test_common_mistakes_group_failures_by_test_and_shape(assignment):
    rows = build_rows(assignment, class_results())
    mistakes = common_mistakes(assignment, rows)
    summary = [(m.problem, m.test, [s.id for s in m.students]) for m in mistakes]
    assert summary == [
        ("conv", "test_stride_backward", ["ben", "cat", "dan"]),
        ("fold", "", ["dan", "eve"]),
        ("conv", "test_stride_backward", ["eve"]),
        ("fold", "test_fold", ["cat"]),
    ]
    stride = mistakes[0]
    assert stride.example_student.id == "ben"
    assert stride.message.endswith("expected 1.5, got 2.25")
    assert "stride=2" in stride.falsifying_example
    # Grader errors are the instructor's, never a student's mistake.
    assert all("fay" not in [s.id for s in m.students] for m in mistakes)


def test_class_page_shows_the_groups_with_links_to_each_student(assignment, tmp_path):
    out = tmp_path / "out"
    index = render_pages(assignment, class_results(), RUN, out).read_text()
    assert "3 students fail <code>test_stride_backward</code> in conv</h3>" in index
    for student in ("ben", "cat", "dan"):
        assert f'<a href="students/{student}.html#conv--test_stride_backward">{student}</a>' in index
    assert "2 students whose fold module did not run</h3>" in index
    once = index[index.index('<details id="mistakes-once">') :]
    assert "<summary>Failures seen once (2)</summary>" in once
    assert '<a href="students/eve.html#conv--test_stride_backward">eve</a></th>\n      <td class="name">dw has shape (2, 3); expected (2, 4)</td>' in once
    assert '<a href="students/fay.html#conv">fay / conv</a>' in index  # grader errors banner
    assert "reference raised ValueError" in index
    assert '<svg class="chart" id="histogram"' in index
    assert "<dt>Problem bank hash</dt><dd>abc123</dd>" in index and "<dt>Time taken</dt><dd>3.5 s</dd>" in index


# --- statistics -----------------------------------------------------------------------------------


def test_histogram_bins_whole_points_up_to_twenty_and_tenths_beyond():
    h = histogram([0, 10, 10, 19.5, 20], 20)
    assert [b.label for b in h.bins] == [str(k) for k in range(21)]
    assert {b.label: b.count for b in h.bins if b.count} == {"0": 1, "10": 2, "19": 1, "20": 1}
    assert h.mean == 11.9 and h.median == 10
    wide = histogram([0, 49.9, 50, 100], 100)
    assert len(wide.bins) == 10 and [b.count for b in wide.bins] == [1, 0, 0, 0, 1, 1, 0, 0, 0, 1]


def test_problem_and_test_stats_leave_grader_errors_out(assignment):
    rows = build_rows(assignment, class_results())
    conv, fold = problem_stats(assignment, rows)
    assert (conv.graded, conv.full_marks, conv.mean) == (5, 1, 2.4)
    assert (fold.graded, fold.full_marks) == (6, 3)
    tests = per_test_stats(assignment, rows)["conv"]
    assert [(t.name, t.passed, t.ran) for t in tests] == [("test_forward", 5, 5), ("test_stride_backward", 1, 5)]


# --- escaping and hidden tests --------------------------------------------------------------------


def hostile_results() -> list[JobResult]:
    return [
        job(
            "<b>mallory</b>",
            "conv",
            failed("test_forward", 2.0, message=SCRIPT, output="<img src=x onerror=alert(1)>", student_traceback="</pre>" + SCRIPT),
            passed("test_stride_backward", 2.0),
        ),
        job("<b>mallory</b>", "fold", *fold_tests(True)),
    ]


def test_student_text_is_escaped_on_every_page(assignment, tmp_path):
    out = tmp_path / "out"
    index = render_pages(assignment, hostile_results(), RUN, out).read_text()
    page = (out / "students" / f"{slug('<b>mallory</b>')}.html").read_text()
    escaped = "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"
    assert escaped in page and escaped in index
    assert "<script" not in page
    assert index.count("<script") == 1  # the class page's own table sorter, allowed by its CSP hash
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>mallory</b>" not in index + page and "&lt;b&gt;mallory&lt;/b&gt;" in index
    assert "&lt;b&gt;raw html&lt;/b&gt;" in page  # the statement's raw HTML is escaped too
    assert "default-src &#39;none&#39;" in page and "script-src &#39;sha256-" in index


def test_slug_is_safe_and_never_collides():
    assert slug("alice_correct") == "alice_correct"
    assert slug("a b") != slug("a_b") and slug("a b").startswith("a_b-")
    assert "/" not in slug("../../etc/passwd") and not slug("..").startswith(".")


def hidden_results() -> list[JobResult]:
    secret = {
        "message": "SECRET-MESSAGE",
        "falsifying_example": "SECRET-EXAMPLE",
        "reproduce": "SECRET-REPRODUCE",
        "notes": "SECRET-NOTES",
        "student_traceback": "SECRET-TRACEBACK",
        "output": "SECRET-OUTPUT",
    }
    return [
        job(
            "ann",
            "conv",
            failed("test_forward", 2.0, hidden=True, **secret),
            passed("test_stride_backward", 2.0, hidden=True, output="SECRET-PASSED-OUTPUT"),
        ),
        job("ann", "fold", *fold_tests(True)),
    ]


def test_hidden_tests_show_students_only_their_outcome(assignment, tmp_path):
    out = tmp_path / "out"
    index = render_pages(assignment, hidden_results(), RUN, out).read_text()
    page = (out / "students/ann.html").read_text()
    assert "SECRET" not in page
    assert "<code>test_forward</code> <span class=\"muted\">(hidden)</span></th>" in page
    assert '<td class="failed">failed</td>' in page and '<td class="passed">passed</td>' in page
    assert "This test is hidden: only its outcome is shown." in page
    assert "SECRET-MESSAGE" in index  # the instructor's class page shows everything
    rows = build_rows(assignment, hidden_results())
    gradescope = json.dumps(gradescope_document(assignment, rows[0]))
    junit = ET.tostring(junit_tree(assignment, rows, RUN).getroot(), encoding="unicode")
    assert "SECRET" not in gradescope and "SECRET" not in junit
    assert HIDDEN_NOTE in gradescope and HIDDEN_NOTE in junit


def test_statement_markdown_escapes_html_and_keeps_math():
    html = statement_html("# T\n\n<script>x()</script> $a_i \\, b_i$ ![img](http://example.com/a.png)")
    assert html == (
        "<h1>T</h1>\n<p>&lt;script&gt;x()&lt;/script&gt; <code>$a_i \\, b_i$</code> "
        '!<a href="http://example.com/a.png">img</a></p>\n'
    )


# --- exports --------------------------------------------------------------------------------------


def test_grades_csv_has_a_row_per_student_and_a_column_per_problem(assignment):
    results = class_results() + [job("=cmd|calc", "conv", passed("test_forward", 2.0)), job("=cmd|calc", "fold", *fold_tests(True))]
    text = grades_csv(assignment, build_rows(assignment, results))
    assert text == (
        "student,conv,fold,tests,adjustments,late,total\n"
        "'=cmd|calc,2,2,4,0,0,4\n"
        "ann,4,2,6,0,0,6\n"
        "ben,2,2,4,0,0,4\n"
        "cat,2,0,2,0,0,2\n"
        "dan,2,0,2,0,0,2\n"
        "eve,2,0,2,0,0,2\n"
        "fay,,2,2,0,0,2\n"
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[1] == {"student": "ann", "conv": "4", "fold": "2", "tests": "6", "adjustments": "0", "late": "0", "total": "6"}


def test_gradescope_document_adds_up_and_says_why_a_problem_scored_zero(assignment):
    rows = {r.id: r for r in build_rows(assignment, class_results())}
    doc = gradescope_document(assignment, rows["dan"])
    assert doc["score"] == 2.0 and sum(t["score"] for t in doc["tests"]) == 2.0
    assert [t["name"] for t in doc["tests"]] == ["conv: test_forward", "conv: test_stride_backward"]
    assert doc["tests"][1]["status"] == "failed" and "stride=4" in doc["tests"][1]["output"]
    assert "fold: Your module could not be imported\nfold.py could not be imported" in doc["output"]
    fay = gradescope_document(assignment, rows["fay"])
    assert fay["score"] == 2.0 and "conv: Grader error" in fay["output"]


def test_junit_xml_is_valid_and_escaped(assignment, tmp_path):
    results = hostile_results()
    results[0] = job("<b>mallory</b>", "conv", failed("test_forward", 2.0, message="bad \x1b[31mred\x00 & <tag>", output="\x07bell"))
    out = tmp_path / "out"
    out.mkdir()
    rows = build_rows(assignment, results)
    paths = write_exports(assignment, rows, RUN, out)
    assert paths == [out / "grades.csv", out / "gradescope", out / "junit.xml"]
    root = ET.parse(out / "junit.xml").getroot()
    assert root.tag == "testsuites" and root.get("tests") == "2" and root.get("failures") == "1"
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == "bad \\x1b[31mred\\x00 & <tag>"
    assert root.find("testsuite/testcase/system-out").text == "\\x07bell"  # type: ignore[union-attr]
    assert [s.get("name") for s in root.findall("testsuite")] == ["<b>mallory</b>.conv", "<b>mallory</b>.fold"]
    assert json.loads((out / "gradescope" / f"{slug('<b>mallory</b>')}.json").read_text())["score"] == 2.0


# --- students and problems the latest run did not grade --------------------------------------------


def test_students_missing_from_the_latest_folder_are_listed_with_a_note(assignment, tmp_path):
    out = tmp_path / "out"
    run = {**RUN, "submissions": "/course/submissions/hw-section-b"}
    index = render_pages(assignment, class_results(), run, out, missing=["ben", "cat"]).read_text()
    notes = index[index.index('<section class="note" id="store-notes"') : index.index('<section id="distribution"')]
    assert (
        "2 students were not in the latest run's submissions folder (<code>/course/submissions/hw-section-b</code>)."
        " Their stored results are kept and listed below; <code>grader forget hw --missing</code> removes them." in notes
    )
    assert '<li><a href="students/ben.html">ben</a></li><li><a href="students/cat.html">cat</a></li>' in notes
    assert 'ben</a> <span class="muted">(not in the latest folder)</span></th>' in index
    assert 'ann</a></th>' in index  # a student of the latest run has no note
    assert "<dt>Submissions folder</dt><dd>/course/submissions/hw-section-b</dd>" in index
    assert '<p class="note" id="missing-note">Not in the latest run\'s submissions folder: these results are kept' in (
        out / "students/ben.html"
    ).read_text()
    assert 'id="missing-note"' not in (out / "students/ann.html").read_text()
    rows = {r.id: r for r in build_rows(assignment, class_results(), missing=["ben", "cat"])}
    doc = results_document(assignment, list(rows.values()), run)
    ben = next(s for s in doc["students"] if s["id"] == "ben")
    ann = next(s for s in doc["students"] if s["id"] == "ann")
    assert ben["in_latest_run"] is False and ben["notes"] == [MISSING_NOTE]
    assert ann["in_latest_run"] is True and ann["notes"] == []


def test_results_of_a_problem_no_longer_in_the_assignment_are_kept_apart_and_not_counted(assignment, tmp_path):
    results = class_results() + [
        job("ann", "old", passed("test_old", 3.0)),
        job("ben", "old", status="error", message="the old reference is gone"),
    ]
    rows = {r.id: r for r in build_rows(assignment, results)}
    assert rows["ann"].total == 6 and list(rows["ann"].retired) == ["old"]
    assert rows["ann"].notes == [f"{RETIRED_NOTE}: old (3 / 3)"]
    out = tmp_path / "out"
    index = render_pages(assignment, results, RUN, out).read_text()
    assert "<li><code>old</code>: 2 students</li>" in index
    assert "<code>grader forget hw --problem ID</code> removes them" in index
    assert "the old reference is gone" not in index  # not a grader error of this assignment
    page = (out / "students/ann.html").read_text()
    assert "<h1>ann: 6 / 6</h1>" in page
    assert "<li><code>old</code>: 3 / 3</li>" in page
    doc = results_document(assignment, list(rows.values()), RUN)
    assert doc["assignment"]["retired_problems"] == [{"id": "old", "students": 2}]
    ann = next(s for s in doc["students"] if s["id"] == "ann")
    assert ann["score"] == 6 and [p["id"] for p in ann["problems"]] == ["conv", "fold"]
    assert [(p["id"], p["score"], p["max_score"]) for p in ann["retired_problems"]] == [("old", 3.0, 3.0)]
    assert grades_csv(assignment, list(rows.values())).splitlines()[1] == "ann,4,2,6,0,0,6"


def test_a_student_with_only_results_of_retired_problems_still_has_a_row(assignment, tmp_path):
    results = [job("zoe", "old", passed("test_old", 3.0))]
    index = render_pages(assignment, results, RUN, tmp_path / "out").read_text()
    assert '<a href="students/zoe.html">zoe</a>' in index
    assert grades_csv(assignment, build_rows(assignment, results)) == "student,conv,fold,tests,adjustments,late,total\nzoe,,,0,0,0,0\n"
