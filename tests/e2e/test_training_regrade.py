"""A problem that trains is as deterministic as the rest: regrading hw5's demo class on label_memorization
gives the same scores, messages, failing inputs and learning curves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .conftest import REPO, run_cli


def training_course(root: Path) -> Path:
    shutil.copytree(REPO / "problems/hw5/label_memorization", root / "problems/hw5/label_memorization",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "reference/hw5").mkdir(parents=True)
    shutil.copy(REPO / "reference/hw5/label_memorization.py", root / "reference/hw5")
    (root / "problems/hw5/assignment.toml").write_text('title = "Homework 5"\nproblems = ["label_memorization"]\n')
    for folder in sorted((REPO / "submissions/hw5").iterdir()):
        (root / "submissions/hw5" / folder.name).mkdir(parents=True)
        shutil.copy(folder / "label_memorization.py", root / "submissions/hw5" / folder.name)
    return root


def said(out: Path) -> dict[tuple[str, str], object]:
    doc = json.loads((out / "hw5/results.json").read_text())
    return {
        (s["id"], p["id"]): (p["score"], p["status"], p["message"], [
            {k: v for k, v in t.items() if k != "duration"} for t in p["tests"]
        ])
        for s in doc["students"] for p in s["problems"]
    }


def test_regrading_a_training_problem_gives_the_same_scores_messages_and_curves(tmp_path):
    root = training_course(tmp_path / "course")
    first = run_cli("--root", str(root), "grade", "hw5", "--out", str(tmp_path / "first"), "--jobs", "2")
    assert first.returncode == 0, first.stderr
    again = run_cli("--root", str(root), "grade", "hw5", "--regrade", "--out", str(tmp_path / "again"), "--jobs", "1")
    assert again.returncode == 0, again.stderr
    before, after = said(tmp_path / "first"), said(tmp_path / "again")
    assert before == after
    scores = {student: value[0] for (student, _), value in before.items()}
    assert scores == {
        "alice_correct": 10, "bob_loops_and_float64": 9, "carol_sigmoid_everywhere": 8, "dave_off_by_one": 8,
        "erin_uses_autograd": 10, "frank_raises": 7, "grace_einsum": 10, "heidi_forgot_loss_derivative": 7,
    }
    curves = [t["curves"] for value in before.values() for t in value[3] if t["curves"]]
    assert len(curves) == 8  # every student's memorization test drew its curve
