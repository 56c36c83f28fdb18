"""The term's commands on a store built in memory (no grading): adjust, extend, diff, similarity, gradebook, and their errors."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from grader.cli import main
from grader.course.spec import SpecError
from grader.records import JobResult
from grader.results.gradebook import gradebook_csv, read_weights
from grader.results.store import Store

REPO = Path(__file__).resolve().parents[2]
ALICE = (REPO / "submissions/hw7/alice_correct/true_softmax.py").read_text()


@pytest.fixture
def course(tmp_path: Path) -> Path:
    for part in ("problems/hw7/true_softmax", "reference/hw7"):
        shutil.copytree(REPO / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "problems/hw7/assignment.toml").write_text('title = "HW7"\nproblems = ["true_softmax"]\n')
    store = Store(tmp_path / "reports/hw7/grades.sqlite")
    for student, score in (("=ann", 10.0), ("bob", 6.0)):
        store.put(JobResult(student=student, assignment="hw7", problem="true_softmax", status="graded", score=score,
                            max_score=10.0, key=f"k-{student}", sources=(("true_softmax.py", ALICE),)))
    store.close()
    return tmp_path


def run(course: Path, *args: str) -> int:
    return main(["--root", str(course), *args])


def test_adjust_and_its_errors(course, capsys):
    assert run(course, "adjust", "hw7", "bob", "true_softmax", "+2") == 2
    assert "say why with --reason" in capsys.readouterr().err
    assert run(course, "adjust", "hw7", "carol", "+2", "--reason", "x") == 2
    assert "no stored results for 'carol'" in capsys.readouterr().err
    assert run(course, "adjust", "hw7", "bob", "true_softmax", "2", "--reason", "x") == 2
    assert "change = '2' must be +N, -N or =N" in capsys.readouterr().err
    assert run(course, "adjust", "hw7", "bob", "nope", "+1", "--reason", "x") == 2
    assert "problem = 'nope' must be a problem of hw7" in capsys.readouterr().err
    assert run(course, "adjust", "hw7", "bob", "true_softmax", "=12", "--reason", "x") == 2
    assert "points = 12 must be between 0 and the problem's 10 points" in capsys.readouterr().err
    assert not (course / "adjustments/hw7.csv").exists()  # nothing written by a refused command
    assert run(course, "adjust", "hw7", "bob", "true_softmax", "+2", "--reason", "regrade request", "--by", "ta") == 0
    assert "hw7: bob on true_softmax +2 (regrade request; by ta)" in capsys.readouterr().out
    with (course / "reports/hw7/grades.csv").open(newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert (rows["bob"]["tests"], rows["bob"]["adjustments"], rows["bob"]["total"]) == ("6", "2", "8")
    assert "'=ann" in rows  # quoted as in every CSV the grader writes
    assert run(course, "adjust", "hw7", "--list") == 0
    listing = capsys.readouterr().out
    assert "bob: tests 6, final 8 / 10\n  true_softmax +2 (+2): regrade request [by ta, " in listing


def test_extend_diff_and_similarity(course, capsys):
    assert run(course, "diff", "hw7") == 0
    assert "one snapshot so far" in capsys.readouterr().out
    assert run(course, "extend", "hw7", "bob", "--until", "next week") == 2
    assert "until = 'next week' must be a date and time with a time zone" in capsys.readouterr().err
    assert run(course, "extend", "hw7", "bob", "--until", "2026-10-05T23:59:00+02:00", "--reason", "illness") == 0
    out = capsys.readouterr().out
    assert "hw7: bob due 2026-10-05T23:59:00+02:00" in out and "no late policy applies" in out
    assert run(course, "diff", "hw7", "--list") == 0
    assert [line.split()[-1] for line in capsys.readouterr().out.splitlines()] == ["report", "extend"]
    assert run(course, "diff", "hw7", "1", "9") == 2
    assert "no snapshot 9 (snapshots: 1, 2)" in capsys.readouterr().err
    assert run(course, "similarity", "hw7") == 0
    out = capsys.readouterr().out
    assert "hw7/true_softmax: 2 modules compared\n   1. =ann and bob: 100% of =ann's code and 100% of bob's is in both" in out
    assert (course / "reports/hw7/similarity.html").is_file()


def test_gradebook_weights_are_validated_and_cells_quoted(course, capsys):
    assert read_weights(course) is None
    (course / "problems/course.toml").write_text("[weights]\nhw9 = 1\n")
    with pytest.raises(SpecError, match="course.toml: weights.hw9 names no assignment"):
        read_weights(course)
    (course / "problems/course.toml").write_text("[weights]\nhw7 = -1\n")
    with pytest.raises(SpecError, match="course.toml: weights.hw7 = -1 must not be negative"):
        read_weights(course)
    (course / "problems/course.toml").write_text('title = "DL"\n[weights]\nhw7 = 2\n')
    assert run(course, "gradebook") == 0
    assert "gradebook: 2 students, hw7 100%" in capsys.readouterr().out
    assert (course / "reports/gradebook.csv").read_text() == "student,hw7,percent\n'=ann,10,100\nbob,6,60\n"
    from grader.results.gradebook import build_gradebook

    assert gradebook_csv(build_gradebook(course, course / "reports")).startswith("student,hw7,percent\n'=ann")
