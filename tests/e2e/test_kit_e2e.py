"""`grader kit` through the real command line: a student's self-check from the kit agrees with the instructor."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO, make_course, run_cli

pytestmark = pytest.mark.slow

STUDENTS = ["alice_correct", "carol_no_max_shift"]


def make_course_with_a_secret_problem(root: Path) -> Path:
    """hw7's true_softmax and bn_fold (public references) and layer_ops (secret reference), three students."""
    make_course(root, STUDENTS)
    shutil.copytree(REPO / "problems/hw7/layer_ops", root / "problems/hw7/layer_ops",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "reference/hw7/layer_ops.py", root / "reference/hw7")
    (root / "problems/hw7/assignment.toml").write_text(
        'title = "Homework 7"\ncourse = "Demo"\nproblems = ["true_softmax", "bn_fold", "layer_ops"]\n'
    )
    for student in STUDENTS:
        shutil.copy(REPO / "submissions/hw7" / student / "layer_ops.py", root / "submissions/hw7" / student)
    # A student with a wrong layer_ops (stride ignored) and a wrong bn_fold (eps forgotten).
    kim = root / "submissions/hw7/kim_ignores_stride"
    kim.mkdir()
    shutil.copy(REPO / "submissions/hw7/alice_correct/true_softmax.py", kim)
    shutil.copy(REPO / "submissions/hw7/dave_forgot_eps/bn_fold.py", kim)
    shutil.copy(REPO / "problems/hw7/layer_ops/mutants/stride_ignored.py", kim / "layer_ops.py")
    return root


def verdicts(results: Path, *, public_only: bool = False) -> dict[tuple[str, str], dict[str, str]]:
    doc = json.loads(results.read_text())
    return {(s["id"], p["id"]): {t["name"]: t["outcome"] for t in p["tests"] if not (public_only and t["hidden"])}
            for s in doc["students"] for p in s["problems"]}


@pytest.fixture(scope="module")
def course_and_kit(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = make_course_with_a_secret_problem(tmp_path_factory.mktemp("course"))
    kit = tmp_path_factory.mktemp("student") / "kit"
    result = run_cli("--root", str(root), "kit", "hw7", "--out", str(kit))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"hw7: student kit -> {kit}" in result.stdout
    return root, kit


def test_the_kit_holds_no_reference_and_no_hidden_test(course_and_kit):
    root, kit = course_and_kit
    for ref in (root / "reference/hw7").glob("*.py"):
        body = [line for line in ref.read_text().splitlines() if len(line.strip()) > 20]
        stand_in = (kit / "reference/hw7" / ref.name).read_text()
        assert not [line for line in body if line in stand_in]
    secret_tests = (kit / "problems/hw7/layer_ops/test_layer_ops.py").read_text()
    assert "register_forward_hook" not in secret_tests and "torchvision" not in secret_tests  # its tests are its oracle
    public_tests = (root / "problems/hw7/true_softmax/test_true_softmax.py").read_text()
    assert (kit / "problems/hw7/true_softmax/test_true_softmax.py").read_text() == public_tests
    # bn_fold's hidden test (and the helper only it used) is not in the kit, nor its point.
    hidden = "test_fold_conv_bn_on_extreme_statistics"
    assert hidden in (root / "problems/hw7/bn_fold/test_bn_fold.py").read_text()
    kit_tests = (kit / "problems/hw7/bn_fold/test_bn_fold.py").read_text()
    assert hidden not in kit_tests and "extreme_statistics" not in kit_tests
    assert "def test_fold_conv_bn_equals_conv_then_bn(" in kit_tests
    assert "points = 9  # the kit's tests only" in (kit / "problems/hw7/bn_fold/problem.toml").read_text()
    assert "1 hidden (graded by the instructor only)" in (kit / "README.md").read_text()


def test_a_students_check_from_the_kit_agrees_with_the_instructors_grading(course_and_kit, tmp_path):
    root, kit = course_and_kit
    instructor = run_cli("--root", str(root), "grade", "hw7", "--out", str(tmp_path / "instructor"), "--jobs", "2")
    assert instructor.returncode == 0, instructor.stdout + instructor.stderr
    # The kit is a course folder of its own: grading the class with it is every student's self-check at once.
    students = run_cli("grade", "hw7", str(root / "submissions/hw7"), "--out", str(tmp_path / "kit"), "--jobs", "2",
                       cwd=kit)
    assert students.returncode == 0, students.stdout + students.stderr
    # The kit has every test but the hidden ones, and agrees on each of them.
    expected = verdicts(tmp_path / "instructor/hw7/results.json", public_only=True)
    got = verdicts(tmp_path / "kit/hw7/results.json")
    assert got == expected
    everything = verdicts(tmp_path / "instructor/hw7/results.json")
    assert everything[("kim_ignores_stride", "bn_fold")]["test_fold_conv_bn_on_extreme_statistics"] == "failed"
    assert expected[("kim_ignores_stride", "layer_ops")]["test_conv_with_stride"] == "failed"
    assert expected[("kim_ignores_stride", "bn_fold")]["test_fold_conv_bn_equals_conv_then_bn"] == "failed"


def test_grader_check_runs_from_the_kit_folder(course_and_kit):
    root, kit = course_and_kit
    which = subprocess.run([sys.executable, "-c", "import grader; print(grader.__file__)"], cwd=kit,
                           capture_output=True, text=True, check=True)
    assert Path(which.stdout.strip()).is_relative_to(kit)  # the kit's own copy of the grader
    result = run_cli("check", "hw7", str(root / "submissions/hw7/kim_ignores_stride"), "--problem", "layer_ops",
                     "--jobs", "2", cwd=kit)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "layer_ops/test_conv_with_stride: failed" in result.stdout
    assert "wrong answer on fixed input" in result.stdout
    assert f"grader check hw7 {root / 'submissions/hw7/kim_ignores_stride'} --problem layer_ops" in result.stdout


def test_the_gradescope_bundle(course_and_kit, tmp_path):
    root, kit = course_and_kit
    result = run_cli("--root", str(root), "gradescope", "hw7", "--out", str(tmp_path / "gs"))
    assert result.returncode == 0, result.stdout + result.stderr
    with zipfile.ZipFile(tmp_path / "gs/autograder.zip") as zf:
        names = set(zf.namelist())
        assert zf.getinfo("run_autograder").external_attr >> 16 & 0o111
        assert json.loads(zf.read("grader-bundle.json")) == {"assignment": "hw7", "require": None}
    assert {"setup.sh", "run_autograder", "requirements.txt", "pyproject.toml", "grader/cli.py",
            "problems/hw7/assignment.toml", "reference/hw7/layer_ops.py"} <= names
    # A simulated /autograder: the bundle in source/, this interpreter as the venv's python, setup.sh's
    # record of the protections, and a submission with the files in a sub-folder beside a copy of the kit.
    autograder = tmp_path / "autograder"
    shutil.copytree(tmp_path / "gs/autograder", autograder / "source")
    (autograder / "venv/bin").mkdir(parents=True)
    (autograder / "venv/bin/python").symlink_to(sys.executable)
    probe = subprocess.run([sys.executable, "-m", "grader.distribute.gradescope_bundle", "probe"], cwd=autograder / "source",
                           capture_output=True, text=True, timeout=600, check=False)
    assert probe.returncode == 0, probe.stdout + probe.stderr
    (autograder / "source/protections.json").write_text(probe.stdout)
    shutil.copytree(kit, autograder / "submission/kit")
    (autograder / "submission/repo").mkdir()
    for f in (root / "submissions/hw7/carol_no_max_shift").iterdir():
        shutil.copy(f, autograder / "submission/repo")
    done = subprocess.run(["bash", str(autograder / "source/run_autograder")], capture_output=True, text=True,
                          timeout=600, check=False, env={**os.environ, "GRADER_AUTOGRADER_ROOT": str(autograder)})
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads((autograder / "results/results.json").read_text())
    assert doc["score"] == 26.0
    assert {t["name"] for t in doc["tests"] if t["status"] == "failed"} == {
        "true_softmax: test_nu_is_finite_for_huge_beta_times_x",
        "true_softmax: test_grad_nu_is_a_probability_vector",
        "true_softmax: test_grad_nu_tends_to_one_hot_of_the_argmax",
    }
    assert "Your files: graded the files in repo/ (none at the top of the submission)" in doc["output"]
    assert doc["extra_data"]["grader"]["required_protections"] == json.loads(probe.stdout)["available"]
