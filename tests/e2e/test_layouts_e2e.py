"""`grader grade` on the layouts instructors download: the same class gets the same scores in each."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest

from .conftest import make_course, run_cli

pytestmark = pytest.mark.slow

STUDENTS = ["alice_correct", "carol_no_max_shift", "dave_forgot_eps"]
EXPECTED = {
    "alice_correct": {"true_softmax": 10, "bn_fold": 10},
    "carol_no_max_shift": {"true_softmax": 6, "bn_fold": 10},
    "dave_forgot_eps": {"true_softmax": 10, "bn_fold": 2},
}
CANVAS_IDS = {"alice_correct": "1001_2001", "carol_no_max_shift": "1002_2002", "dave_forgot_eps": "1003_2003"}


def scores(root: Path, out: Path) -> dict[str, dict[str, float]]:
    doc = json.loads((out / "hw7/results.json").read_text())
    return {s["id"]: {p["id"]: p["score"] for p in s["problems"]} for s in doc["students"]}


def grade(root: Path, folder: Path, out: Path) -> dict[str, dict[str, float]]:
    result = run_cli("--root", str(root), "grade", "hw7", str(folder), "--out", str(out), "--jobs", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    return scores(root, out)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_course(tmp_path_factory.mktemp("layouts"), STUDENTS)


def test_a_folder_per_student(course):
    assert grade(course, course / "submissions/hw7", course / "out-folders") == EXPECTED


def test_a_flat_folder_of_canvas_named_files(course, tmp_path):
    flat = tmp_path / "canvas"
    flat.mkdir()
    for student in STUDENTS:
        name = student.replace("_", "")  # Canvas: lastnamefirstname
        for module in sorted((course / "submissions/hw7" / student).iterdir()):
            shutil.copy(module, flat / f"{name}_{CANVAS_IDS[student]}_{module.name}")
    got = grade(course, flat, tmp_path / "out")
    assert got == {s.replace("_", ""): v for s, v in EXPECTED.items()}


def test_a_zip_per_student(course, tmp_path):
    zips = tmp_path / "zips"
    zips.mkdir()
    for student in STUDENTS:
        with zipfile.ZipFile(zips / f"{student}.zip", "w") as zf:
            for module in sorted((course / "submissions/hw7" / student).iterdir()):
                zf.write(module, f"{student}-hw7/{module.name}")  # inside a sub-folder, as zipped by a student
    assert grade(course, zips, tmp_path / "out") == EXPECTED


def test_a_notebook_with_a_training_loop_is_graded_without_running_the_loop(course, tmp_path):
    folder = tmp_path / "notebooks/carol_no_max_shift"
    folder.mkdir(parents=True)
    canary = tmp_path / "the-loop-ran"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Homework 7"),
        nbformat.v4.new_code_cell("%matplotlib inline"),
        nbformat.v4.new_code_cell((course / "submissions/hw7/carol_no_max_shift/true_softmax.py").read_text()),
        nbformat.v4.new_code_cell(
            f"for epoch in range(3):\n    open({str(canary)!r}, 'a').write('ran')\nwhile True:\n    pass"
        ),
    ]
    (folder / "homework7.ipynb").write_text(nbformat.writes(nb))
    shutil.copy(course / "submissions/hw7/carol_no_max_shift/bn_fold.py", folder)
    got = grade(course, tmp_path / "notebooks", tmp_path / "out")
    assert got == {"carol_no_max_shift": EXPECTED["carol_no_max_shift"]}
    assert not canary.exists()
