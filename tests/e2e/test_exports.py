"""`grader grade` and `grader export` write grades.csv, Gradescope results and JUnit XML that other tools accept."""

from __future__ import annotations

import csv
import json
import math
import xml.etree.ElementTree as ET
from numbers import Real
from pathlib import Path
from typing import Any

from .conftest import make_course, run_cli

TOTALS = {
    "alice_correct": 20,
    "bob_loops_and_float64": 20,
    "carol_no_max_shift": 16,
    "dave_forgot_eps": 12,
    "erin_syntax_error": 10,
    "frank_missing_functions": 12,
    "grace_endless_import": 10,
    "heidi_raises_at_import": 10,
    "ivan_fake_output": 0,
    "judy_monkeypatches": 0,
}

# Gradescope's autograder output format (gradescope-autograders.readthedocs.io, "Autograder Specifications").
GRADESCOPE_TOP = {
    "score", "execution_time", "output", "output_format", "test_output_format", "test_name_format", "visibility",
    "stdout_visibility", "extra_data", "tests", "leaderboard",
}
GRADESCOPE_TEST = {
    "score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
    "visibility", "extra_data",
}
VISIBILITY = {"visible", "hidden", "after_due_date", "after_published"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def gradescope_problems(doc: Any) -> list[str]:
    """What breaks Gradescope's documented results.json format in `doc` (empty when it is valid)."""
    problems = []

    def check(where: str, value: Any, ok: bool, rule: str) -> None:
        if not ok:
            problems.append(f"{where} = {value!r} {rule}")

    def number(x: Any) -> bool:
        return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(x)

    check("document", type(doc).__name__, isinstance(doc, dict), "must be an object")
    if problems:
        return problems
    check("keys", sorted(set(doc) - GRADESCOPE_TOP), not set(doc) - GRADESCOPE_TOP, "are not in the format")
    check("score/tests", sorted(doc), "score" in doc or "tests" in doc, "needs a score or tests")
    if "score" in doc:
        check("score", doc["score"], number(doc["score"]), "must be a number")
    for key in ("execution_time",):
        if key in doc:
            check(key, doc[key], number(doc[key]) and doc[key] >= 0, "must be a number of seconds")
    for key in ("output",):
        if key in doc:
            check(key, doc[key], isinstance(doc[key], str), "must be a string")
    for key in ("visibility", "stdout_visibility"):
        if key in doc:
            check(key, doc[key], doc[key] in VISIBILITY, f"must be one of {sorted(VISIBILITY)}")
    for key in ("output_format", "test_output_format", "test_name_format"):
        if key in doc:
            check(key, doc[key], doc[key] in FORMATS, f"must be one of {sorted(FORMATS)}")
    tests = doc.get("tests", [])
    check("tests", type(tests).__name__, isinstance(tests, list), "must be a list")
    for i, t in enumerate(tests):
        where = f"tests[{i}]"
        check(where, t, isinstance(t, dict), "must be an object")
        if not isinstance(t, dict):
            continue
        check(f"{where} keys", sorted(set(t) - GRADESCOPE_TEST), not set(t) - GRADESCOPE_TEST, "are not in the format")
        if "score" not in doc:
            check(f"{where}.score", t.get("score"), "score" in t, "is required without a top-level score")
        for key in ("score", "max_score"):
            if key in t:
                check(f"{where}.{key}", t[key], number(t[key]) and t[key] >= 0, "must be a number >= 0")
        if "score" in t and "max_score" in t:
            check(f"{where}.score", t["score"], t["score"] <= t["max_score"], "must not exceed max_score")
        if "status" in t:
            check(f"{where}.status", t["status"], t["status"] in ("passed", "failed"), "must be 'passed' or 'failed'")
        for key in ("name", "output", "number"):
            if key in t:
                check(f"{where}.{key}", t[key], isinstance(t[key], str), "must be a string")
        if "visibility" in t:
            check(f"{where}.visibility", t["visibility"], t["visibility"] in VISIBILITY, "must be a known visibility")
        if "tags" in t:
            check(f"{where}.tags", t["tags"], isinstance(t["tags"], list) and all(isinstance(x, str) for x in t["tags"]),
                  "must be a list of strings")
    return problems


def test_the_format_checker_rejects_what_gradescope_would():
    assert gradescope_problems({"score": 1, "tests": []}) == []
    bad = {"score": "1", "visibility": "public", "tests": [{"score": 3, "max_score": 2, "status": "ok", "colour": 1}]}
    assert gradescope_problems(bad) == [
        "score = '1' must be a number",
        "visibility = 'public' must be one of ['after_due_date', 'after_published', 'hidden', 'visible']",
        "tests[0] keys = ['colour'] are not in the format",
        "tests[0].score = 3 must not exceed max_score",
        "tests[0].status = 'ok' must be 'passed' or 'failed'",
    ]


def test_grade_writes_every_export(graded_course):
    root, result = graded_course
    assert result.returncode == 0, result.stderr
    out = root / "reports/hw7"
    assert (out / "grades.csv").is_file() and (out / "junit.xml").is_file()
    assert sorted(p.stem for p in (out / "gradescope").glob("*.json")) == sorted(TOTALS)


def test_export_csv_is_one_row_per_student_with_a_column_per_problem(graded_course):
    root, _ = graded_course
    result = run_cli("--root", str(root), "export", "hw7", "--format", "csv")
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path == root / "reports/hw7/grades.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["student", "true_softmax", "bn_fold", "tests", "adjustments", "late", "total"]
    assert {r["student"]: float(r["total"]) for r in rows} == TOTALS
    assert all(float(r["true_softmax"]) + float(r["bn_fold"]) == float(r["tests"]) == float(r["total"]) for r in rows)
    assert {(r["adjustments"], r["late"]) for r in rows} == {("0", "0")}


def test_export_gradescope_results_follow_the_documented_format(graded_course):
    root, _ = graded_course
    result = run_cli("--root", str(root), "export", "hw7", "--format", "gradescope")
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip())
    assert folder == root / "reports/hw7/gradescope"
    stored = {s["id"]: s for s in json.loads((root / "reports/hw7/results.json").read_text())["students"]}
    for student, total in TOTALS.items():
        doc = json.loads((folder / f"{student}.json").read_text())
        assert gradescope_problems(doc) == [], student
        assert doc["score"] == total and sum(t["score"] for t in doc["tests"]) == total
        assert sum(t["max_score"] for t in doc["tests"]) == 20
        expected = [(f"{p['id']}: {t['name']}", t["outcome"]) for p in stored[student]["problems"] for t in p["tests"]]
        assert [(t["name"], t["status"]) for t in doc["tests"]] == expected
    dave = json.loads((folder / "dave_forgot_eps.json").read_text())
    failed = next(t for t in dave["tests"] if t["name"] == "bn_fold: test_fold_conv_bn_equals_conv_then_bn")
    assert failed["output"].startswith("fold_conv_bn(conv in training mode, bn)(x): values are not close\nMismatched elements: 1 / 1")
    assert "Falsifying example: test_fold_conv_bn_equals_conv_then_bn(" in failed["output"]
    assert "@reproduce_failure" in failed["output"]
    erin = json.loads((folder / "erin_syntax_error.json").read_text())
    assert "bn_fold: Your module could not be imported\nbn_fold.py could not be imported" in erin["output"]


def test_exports_show_a_hidden_test_with_its_outcome_only(graded_course):
    root, _ = graded_course
    hidden = "test_fold_conv_bn_on_extreme_statistics"
    note = "This test is hidden: only its outcome is shown."
    folder = root / "reports/hw7/gradescope"
    for student, status, output in (("dave_forgot_eps", "failed", note), ("alice_correct", "passed", "")):
        doc = json.loads((folder / f"{student}.json").read_text())
        test = next(t for t in doc["tests"] if t["name"] == f"bn_fold: {hidden}")
        assert (test["status"], test["output"], test["tags"]) == (status, output, ["bn_fold", "hidden"]), student
    tree = ET.parse(root / "reports/hw7/junit.xml").getroot()
    case = tree.find(f"testsuite[@name='dave_forgot_eps.bn_fold']/testcase[@name='{hidden}']")
    assert case is not None and case.find("system-out") is None
    failure = case.find("failure")
    assert failure is not None and failure.get("message") == note and failure.text == note


def test_export_junit_is_valid_xml_with_a_failure_per_failed_test(graded_course):
    root, _ = graded_course
    result = run_cli("--root", str(root), "export", "hw7", "--format", "junit")
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path == root / "reports/hw7/junit.xml"
    tree = ET.parse(path).getroot()
    assert tree.tag == "testsuites" and tree.get("name") == "hw7"
    suites = tree.findall("testsuite")
    assert len(suites) == 20
    stored = json.loads((root / "reports/hw7/results.json").read_text())
    failures = 0
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.get("tests", -1)) == len(cases)
        assert int(suite.get("failures", -1)) == len(suite.findall("testcase/failure"))
        assert suite.get("errors") == "0"
        failures += len(suite.findall("testcase/failure"))
    assert failures == sum(
        t["outcome"] == "failed" for s in stored["students"] for p in s["problems"] for t in p["tests"]
    )
    assert int(tree.get("tests", -1)) == sum(int(s.get("tests", 0)) for s in suites)
    assert int(tree.get("failures", -1)) == failures
    ivan = next(s for s in suites if s.get("name") == "ivan_fake_output.true_softmax")
    out = ivan.find("testcase/system-out")
    assert out is not None and "7 passed" in (out.text or "")  # shown as output, never believed


def test_export_writes_all_formats_by_default_and_needs_a_store(graded_course, tmp_path):
    root, _ = graded_course
    result = run_cli("--root", str(root), "export", "hw7")
    assert result.returncode == 0, result.stderr
    out = root / "reports/hw7"
    assert result.stdout.split() == [str(out / "grades.csv"), str(out / "gradescope"), str(out / "junit.xml")]
    empty = make_course(tmp_path / "empty", students=[])
    missing = run_cli("--root", str(empty), "export", "hw7", "--format", "csv")
    assert missing.returncode == 2
    assert "no results for hw7" in missing.stderr and "run 'grader grade hw7' first" in missing.stderr
