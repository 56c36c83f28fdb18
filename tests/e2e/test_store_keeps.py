"""No grade is ever lost: grading a subset, another folder, a typo'd path or an interrupted run keeps every stored job.

A class of three is graded once; each test works on its own copy of that course, reports included.
Only `grader forget` removes results, and it says which.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from .conftest import interrupt_when, make_course, run_cli, slow_copy

pytestmark = pytest.mark.slow

STUDENTS = ["alice_correct", "carol_no_max_shift", "dave_forgot_eps"]
TOTALS = {"alice_correct": 20.0, "carol_no_max_shift": 16.0, "dave_forgot_eps": 12.0}
EXPECTED = "expected a folder with one sub-folder (or zip, or LMS-named files) per student"


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_course(tmp_path_factory.mktemp("keeps"), STUDENTS)
    result = run_cli("--root", str(root), "grade", "hw7", "--jobs", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    return root


@pytest.fixture
def course(graded: Path, tmp_path: Path) -> Path:
    """A copy of the graded course, store and reports included."""
    root = tmp_path / "course"
    shutil.copytree(graded, root)
    return root


def jobs(root: Path) -> dict[tuple[str, str], tuple[str, str]]:
    """Every stored job: (student, problem) -> (key, result)."""
    with sqlite3.connect(root / "reports/hw7/grades.sqlite") as db:
        return {(s, p): (k, r) for s, p, k, r in db.execute("SELECT student, problem, key, result FROM jobs")}


def runs(root: Path) -> int:
    with sqlite3.connect(root / "reports/hw7/grades.sqlite") as db:
        return int(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])


def csv_totals(root: Path) -> dict[str, float]:
    with (root / "reports/hw7/grades.csv").open(newline="") as f:
        return {row["student"]: float(row["total"]) for row in csv.DictReader(f)}


def results(root: Path) -> dict[str, dict]:
    return {s["id"]: s for s in json.loads((root / "reports/hw7/results.json").read_text())["students"]}


def folder_of(root: Path, name: str, students: dict[str, str]) -> Path:
    """A submissions folder `name` holding new students (new name -> the demo student whose files they hand in)."""
    folder = root / "submissions" / name
    for new, old in students.items():
        shutil.copytree(root / "submissions/hw7" / old, folder / new)
    return folder


def test_grading_a_subset_keeps_the_other_students(course):
    before = jobs(course)
    subset = course / "submissions/hw7-late"
    shutil.copytree(course / "submissions/hw7/alice_correct", subset / "alice_correct")
    result = run_cli("--root", str(course), "grade", "hw7", str(subset))
    assert result.returncode == 0, result.stderr
    assert "hw7: 1 students, 2 jobs (0 graded, 2 unchanged)" in result.stdout
    assert (
        f"  note: 2 students with stored results were not in {subset}; their results are kept "
        "('grader forget hw7 --missing' removes them)" in result.stdout
    )
    assert jobs(course) == before
    assert csv_totals(course) == TOTALS
    doc = results(course)
    assert {s: d["score"] for s, d in doc.items()} == TOTALS
    assert [s for s, d in doc.items() if not d["in_latest_run"]] == ["carol_no_max_shift", "dave_forgot_eps"]
    assert doc["carol_no_max_shift"]["notes"] == [
        "not in the latest run's submissions folder: these results are kept from an earlier run"
    ]
    index = (course / "reports/hw7/index.html").read_text()
    assert f"2 students were not in the latest run's submissions folder (<code>{subset}</code>)." in index
    assert sorted(p.stem for p in (course / "reports/hw7/students").glob("*.html")) == STUDENTS
    assert sorted(p.stem for p in (course / "reports/hw7/gradescope").glob("*.json")) == STUDENTS


def test_a_typod_path_is_an_error_and_leaves_store_and_reports_untouched(course):
    before = jobs(course), runs(course)
    reports = {p.name: p.read_bytes() for p in (course / "reports/hw7").iterdir() if p.is_file() and "sqlite" not in p.name}
    result = run_cli("--root", str(course), "grade", "hw7", "submissions/hw7x", cwd=course)
    assert result.returncode == 2
    assert result.stderr == f"grader: submissions/hw7x does not exist; {EXPECTED}\n"
    assert result.stdout == ""
    assert (jobs(course), runs(course)) == before
    assert {p.name: p.read_bytes() for p in (course / "reports/hw7").iterdir() if p.is_file() and "sqlite" not in p.name} == reports


def test_an_empty_folder_is_an_error_that_writes_nothing(course, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("--root", str(course), "grade", "hw7", str(empty), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr == f"grader: {empty} holds no student; {EXPECTED}\n"
    assert not (tmp_path / "out").exists()


def test_another_folder_adds_its_students_and_forget_removes_the_others_explicitly(course):
    before = jobs(course)
    other = folder_of(course, "hw7-section-b", {"zoe": "carol_no_max_shift"})
    result = run_cli("--root", str(course), "grade", "hw7", str(other), "--jobs", "2")
    assert result.returncode == 0, result.stderr
    assert "hw7: 1 students, 2 jobs (2 graded, 0 unchanged)" in result.stdout
    after = jobs(course)
    assert {k: v for k, v in after.items() if k[0] != "zoe"} == before
    assert csv_totals(course) == {**TOTALS, "zoe": 16.0}
    assert [s for s, d in results(course).items() if not d["in_latest_run"]] == STUDENTS

    listed = run_cli("--root", str(course), "forget", "hw7", "--missing")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "hw7: would forget 6 results (run again with --yes to remove them):",
        *(f"  {s} / {p}" for s in STUDENTS for p in ("bn_fold", "true_softmax")),
    ]
    assert jobs(course) == after  # a dry run removes nothing

    forgot = run_cli("--root", str(course), "forget", "hw7", "--missing", "--yes")
    assert forgot.returncode == 0, forgot.stderr
    assert forgot.stdout.splitlines()[0] == "hw7: forgot 6 results:"
    assert sorted(jobs(course)) == [("zoe", "bn_fold"), ("zoe", "true_softmax")]
    assert csv_totals(course) == {"zoe": 16.0}
    assert [p.stem for p in (course / "reports/hw7/students").glob("*.html")] == ["zoe"]


def test_an_interrupted_run_over_another_folder_keeps_everything(course):
    before = jobs(course)
    other = folder_of(course, "hw7-resubmitted", {"yan": "dave_forgot_eps", "zoe": "carol_no_max_shift"})
    # Graded last: the run is still going when the first new job is stored.
    slow_copy(course / "submissions/hw7/alice_correct", other / "zz_slow_but_right")
    args = ["-m", "grader", "--root", str(course), "grade", "hw7", str(other), "--jobs", "1"]
    stopped = interrupt_when(args, lambda: len(jobs(course)) >= len(before) + 1)
    assert stopped.returncode == 130, stopped.stderr
    after = jobs(course)
    assert len(before) < len(after) < len(before) + 6  # some of the new folder's jobs, not all
    assert {k: v for k, v in after.items() if k in before} == before

    report = run_cli("--root", str(course), "report", "hw7")
    assert report.returncode == 0, report.stderr
    assert {s: d["score"] for s, d in results(course).items() if s in TOTALS} == TOTALS


def test_results_of_a_problem_removed_from_the_assignment_are_kept_and_not_counted(course):
    before = jobs(course)
    (course / "problems/hw7/assignment.toml").write_text('title = "Homework 7"\ncourse = "Demo"\nproblems = ["true_softmax"]\n')
    report = run_cli("--root", str(course), "report", "hw7")
    assert report.returncode == 0, report.stderr
    assert jobs(course) == before
    doc = results(course)
    assert {s: d["score"] for s, d in doc.items()} == {"alice_correct": 10.0, "carol_no_max_shift": 6.0, "dave_forgot_eps": 10.0}
    assert [(p["id"], p["score"]) for p in doc["dave_forgot_eps"]["retired_problems"]] == [("bn_fold", 2.0)]
    assert doc["dave_forgot_eps"]["notes"] == [
        "results of problems no longer in the assignment, kept but not counted in the total: bn_fold (2 / 10)"
    ]
    assert "<li><code>bn_fold</code>: 3 students</li>" in (course / "reports/hw7/index.html").read_text()
    assert csv_totals(course) == {"alice_correct": 10.0, "carol_no_max_shift": 6.0, "dave_forgot_eps": 10.0}
