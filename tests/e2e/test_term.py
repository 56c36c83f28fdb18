"""Over a term, end to end: adjustments that survive a regrade, a late policy, extensions, `grader diff` after a
test is fixed, similarity with a planted near-copy, and the course gradebook.

One small class is graded once with a due date, a [late] policy and a submitted.csv; the scenario then
runs the commands an instructor would, in order, and each test checks one part of what came out.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import REPO, make_course, run_cli

pytestmark = pytest.mark.slow

STUDENTS = ["alice_correct", "bob_loops_and_float64", "carol_no_max_shift", "frank_missing_functions"]
COPY = "zed_copies_bob"  # bob's files with other names and comments: a planted near-copy
DUE = "2026-10-01T23:59:00+02:00"
ASSIGNMENT = f"""title = "Homework 7"
course = "Demo"
problems = ["true_softmax", "bn_fold"]
due = "{DUE}"

[late]
per_day = 0.1
max_deduction = 0.3
grace_minutes = 15
not_accepted_after = "2026-10-08T23:59:00+02:00"
"""
SUBMITTED = """student,submitted_at
alice_correct,2026-10-02T00:10:00+02:00
carol_no_max_shift,2026-10-03T10:00:00+02:00
frank_missing_functions,2026-10-09T08:00:00+02:00
"""
# Test scores of the graded class (true_softmax + bn_fold, 20 points).
TESTS = {"alice_correct": 20.0, "bob_loops_and_float64": 20.0, "carol_no_max_shift": 16.0,
         "frank_missing_functions": 12.0, COPY: 20.0}
FIXED_TEST = "test_fold_model_removes_every_batchnorm"  # only frank fails it


def near_copy(text: str) -> str:
    renames = {"flat": "rows", "out": "result", "values": "vals", "top": "peak", "w": "weights", "scale": "factor"}
    for old, new in renames.items():
        text = re.sub(rf"\b{old}\b", new, text)
    return "# My own solution, written from scratch.\n" + text.replace("\n\n\ndef ", "\n\n\n# helper\ndef ")


@dataclass
class Scenario:
    root: Path
    out: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    grades: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    results: dict[str, dict] = field(default_factory=dict)


def grades(root: Path, assignment: str = "hw7") -> list[dict[str, str]]:
    with (root / f"reports/{assignment}/grades.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def by_student(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {r["student"]: r for r in rows}


def cli(scenario: Scenario, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_cli("--root", str(scenario.root), *args)
    assert result.returncode == 0, f"{name}: {result.stdout}\n{result.stderr}"
    scenario.out[name] = result
    return result


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    root = make_course(tmp_path_factory.mktemp("term"), STUDENTS)
    (root / "problems/hw7/assignment.toml").write_text(ASSIGNMENT)
    copy_dir = root / "submissions/hw7" / COPY
    copy_dir.mkdir()
    for name in ("true_softmax.py", "bn_fold.py"):
        (copy_dir / name).write_text(near_copy((REPO / "submissions/hw7/bob_loops_and_float64" / name).read_text()))
    (root / "submissions/hw7/submitted.csv").write_text(SUBMITTED)
    s = Scenario(root)
    cli(s, "grade", "grade", "hw7", "--jobs", "2")
    s.grades["graded"] = grades(root)
    cli(s, "adjust", "adjust", "hw7", "carol_no_max_shift", "true_softmax", "+2", "--reason", "partial credit: the idea is right",
        "--by", "prof")
    cli(s, "adjust-total", "adjust", "hw7", "alice_correct", "-1", "--reason", "no README")
    s.grades["adjusted"] = grades(root)
    cli(s, "diff-adjusted", "diff", "hw7")
    # The instructor fixes a test mid-term: only the students who failed it can change.
    test_file = root / "problems/hw7/bn_fold/test_bn_fold.py"
    source = test_file.read_text()
    head = re.search(rf"def {FIXED_TEST}\(.*?\):\n", source)
    assert head is not None
    test_file.write_text(source[: head.end()] + "    return  # fixed: the check was wrong\n" + source[head.end():])
    cli(s, "regrade", "grade", "hw7", "--jobs", "2")
    s.grades["regraded"] = grades(root)
    cli(s, "diff", "diff", "hw7")
    cli(s, "extend", "extend", "hw7", "carol_no_max_shift", "--until", "2026-10-04T23:59:00+02:00", "--reason", "illness")
    s.grades["extended"] = grades(root)
    cli(s, "diff-extended", "diff", "hw7")
    cli(s, "list", "adjust", "hw7", "--list")
    cli(s, "similarity", "similarity", "hw7")
    s.results = {st["id"]: st for st in json.loads((root / "reports/hw7/results.json").read_text())["students"]}
    return s


def test_the_class_is_graded_with_test_scores_and_late_deductions(scenario):
    rows = by_student(scenario.grades["graded"])
    assert {s: float(r["tests"]) for s, r in rows.items()} == TESTS
    # alice: 11 minutes late, within the 15-minute grace: nothing. carol: 1 d 10 h late, 2 days at 10% of 20
    # points. frank: after "not accepted after": 0. bob and the copy: no time known, nothing deducted.
    assert {s: float(r["late"]) for s, r in rows.items()} == {
        "alice_correct": 0.0, "bob_loops_and_float64": 0.0, "carol_no_max_shift": -4.0,
        "frank_missing_functions": -12.0, COPY: 0.0,
    }
    assert float(rows["carol_no_max_shift"]["total"]) == 12.0
    assert float(rows["frank_missing_functions"]["total"]) == 0.0


def test_an_adjustment_is_recorded_in_the_file_and_the_store_and_shown_apart(scenario):
    rows = by_student(scenario.grades["adjusted"])
    carol, alice = rows["carol_no_max_shift"], rows["alice_correct"]
    assert (carol["true_softmax"], carol["tests"], carol["adjustments"], carol["late"], carol["total"]) == ("6", "16", "2", "-4", "14")
    assert (alice["tests"], alice["adjustments"], alice["total"]) == ("20", "-1", "19")
    with (scenario.root / "adjustments/hw7.csv").open(newline="") as f:
        file_rows = list(csv.DictReader(f))
    assert [(r["student"], r["problem"], r["kind"], r["points"], r["reason"], r["by"]) for r in file_rows[:2]] == [
        ("carol_no_max_shift", "true_softmax", "add", "2", "partial credit: the idea is right", "prof"),
        ("alice_correct", "", "add", "-1", "no README", file_rows[1]["by"]),
    ]
    assert file_rows[1]["by"] and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", file_rows[1]["at"])
    # The last two snapshots: before and after alice's adjustment.
    assert scenario.out["diff-adjusted"].stdout.splitlines()[1:] == [
        "  alice_correct", "    total 20 → 19: adjustment -1 added (no README)"
    ]


def test_an_adjusted_score_survives_a_regrade(scenario):
    rows = by_student(scenario.grades["regraded"])
    assert float(rows["carol_no_max_shift"]["adjustments"]) == 2.0
    assert float(rows["carol_no_max_shift"]["total"]) == 14.0
    assert float(rows["alice_correct"]["total"]) == 19.0
    carol = scenario.results["carol_no_max_shift"]
    assert carol["test_score"] == 16.0
    assert [(a["problem"], a["change"], a["points"], a["reason"], a["by"]) for a in carol["adjustments"][:1]] == [
        ("true_softmax", "+2", 2.0, "partial credit: the idea is right", "prof")
    ]
    gradescope = json.loads((scenario.root / "reports/hw7/gradescope/carol_no_max_shift.json").read_text())
    assert gradescope["score"] == scenario.results["carol_no_max_shift"]["score"]
    assert "Adjustment on true_softmax: +2 (+2 points): partial credit: the idea is right" in gradescope["output"]
    page = (scenario.root / "reports/hw7/students/carol_no_max_shift.html").read_text()
    assert "How your score is made up" in page and "partial credit: the idea is right" in page


def test_diff_after_a_fixed_test_names_exactly_the_affected_students(scenario):
    text = scenario.out["diff"].stdout
    students = re.findall(r"^  (\S+)$", text, re.MULTILINE)
    assert students == ["frank_missing_functions"], text
    assert "bn_fold 7 → 8: the problem folder changed (test_bn_fold.py)" in text
    rows = by_student(scenario.grades["regraded"])
    assert rows["frank_missing_functions"]["bn_fold"] == "8"
    assert "jobs graded again with the same score" in text  # the other students' bn_fold jobs
    index = (scenario.root / "reports/hw7/index.html").read_text()
    assert '<section id="changes"' in index


def test_an_extension_moves_the_due_date_for_one_student(scenario):
    rows = by_student(scenario.grades["extended"])
    assert float(rows["carol_no_max_shift"]["late"]) == 0.0
    assert float(rows["carol_no_max_shift"]["total"]) == 18.0
    text = scenario.out["diff-extended"].stdout
    assert re.findall(r"^  (\S+)$", text, re.MULTILINE) == ["carol_no_max_shift"]
    assert "late deduction 4 → 0" in text and "extension until 2026-10-04T23:59:00+02:00" in text
    listing = scenario.out["list"].stdout
    assert "carol_no_max_shift: tests 16, final 18 / 20" in listing
    assert "extended until 2026-10-04T23:59:00+02:00" in listing
    assert "frank_missing_functions: tests 13, final 0 / 20" in listing
    assert "not accepted" in listing


def test_similarity_ranks_the_planted_near_copy_first(scenario):
    text = scenario.out["similarity"].stdout
    first = re.search(r"hw7/true_softmax: 5 modules compared\n\s+1\. (\S+) and (\S+): 100%", text)
    assert first is not None, text
    assert {first.group(1), first.group(2)} == {"bob_loops_and_float64", COPY}
    assert "not a finding" in text
    page = (scenario.root / "reports/hw7/similarity.html").read_text()
    assert "<mark>" in page and COPY in page
    index = (scenario.root / "reports/hw7/index.html").read_text()
    assert '<section id="similarity"' in index
    # Facts for instructors only: never on a student's page or in an export.
    for path in [*(scenario.root / "reports/hw7/students").glob("*.html"), *(scenario.root / "reports/hw7/gradescope").glob("*.json"),
                 scenario.root / "reports/hw7/grades.csv", scenario.root / "reports/hw7/results.json"]:
        assert "similar" not in path.read_text().lower(), path


def test_the_gradebook_weights_every_assignment(scenario, tmp_path):
    root = tmp_path / "course"
    shutil.copytree(scenario.root, root)
    # A second assignment with one problem, graded too.
    shutil.copytree(root / "problems/hw7/true_softmax", root / "problems/hw8/true_softmax")
    (root / "problems/hw8/assignment.toml").write_text('title = "Homework 8"\ncourse = "Demo"\nproblems = ["true_softmax"]\n')
    (root / "reference/hw8").mkdir()
    shutil.copy(root / "reference/hw7/true_softmax.py", root / "reference/hw8/true_softmax.py")
    for student in ("alice_correct", "carol_no_max_shift"):
        (root / "submissions/hw8" / student).mkdir(parents=True)
        shutil.copy(root / "submissions/hw7" / student / "true_softmax.py", root / "submissions/hw8" / student)
    graded = run_cli("--root", str(root), "grade", "hw8", "--jobs", "2")
    assert graded.returncode == 0, graded.stderr
    (root / "problems/course.toml").write_text('title = "Deep learning"\n[weights]\nhw7 = 0.75\nhw8 = 0.25\n')
    result = run_cli("--root", str(root), "gradebook")
    assert result.returncode == 0, result.stderr
    with (root / "reports/gradebook.csv").open(newline="") as f:
        book = by_student(list(csv.DictReader(f)))
    hw7 = by_student(grades(root))
    hw8 = by_student(grades(root, "hw8"))
    assert list(next(iter(book.values()))) == ["student", "hw7", "hw8", "percent"]
    assert set(book) == set(hw7)
    for student, row in book.items():
        final7 = float(hw7[student]["total"])
        final8 = float(hw8[student]["total"]) if student in hw8 else 0.0
        assert row["hw7"] == hw7[student]["total"]
        assert row["hw8"] == (hw8[student]["total"] if student in hw8 else "")
        assert float(row["percent"]) == pytest.approx(100 * (0.75 * final7 / 20 + 0.25 * final8 / 10), abs=1e-3)
    assert float(book["carol_no_max_shift"]["percent"]) == pytest.approx(100 * (0.75 * 18 / 20 + 0.25 * 6 / 10))
    page = (root / "reports/gradebook.html").read_text()
    assert "Deep learning: gradebook" in page and "weight 75%" in page
