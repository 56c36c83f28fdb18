"""Feedback through the real command line: the failing input, one reason for a problem that cannot run,
and a printed replay command that runs as printed from the course folder and from a kit.

(A hidden test's outcome-only views are covered by test_grade.py, test_exports.py and test_kit_e2e.py.)"""

from __future__ import annotations

import html
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, make_course, run_cli

pytestmark = pytest.mark.slow

STUDENTS = ["alice_correct", "dave_forgot_eps", "erin_syntax_error"]
FAILING = "test_fold_conv_bn_equals_conv_then_bn"
HIDDEN = "test_fold_conv_bn_on_extreme_statistics"
HIDDEN_NOTE = "This test is hidden: only its outcome is shown."


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hw7 with bn_fold only: a correct student, a wrong one, one whose module does not import, one without it."""
    root = make_course(tmp_path_factory.mktemp("feedback"), STUDENTS)
    (root / "problems/hw7/assignment.toml").write_text('title = "Homework 7"\nproblems = ["bn_fold"]\n')
    nia = root / "submissions/hw7/nia_missing"
    nia.mkdir()
    shutil.copy(REPO / "submissions/hw7/alice_correct/true_softmax.py", nia)  # no bn_fold.py
    result = run_cli("--root", str(root), "grade", "hw7", "--jobs", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def problem(root: Path, student: str) -> dict:
    doc = json.loads((root / "reports/hw7/results.json").read_text())
    s = next(s for s in doc["students"] if s["id"] == student)
    return next(p for p in s["problems"] if p["id"] == "bn_fold")


def result_of(p: dict, name: str) -> dict:
    return next(t for t in p["tests"] if t["name"] == name)


def gradescope(root: Path, student: str) -> dict[str, dict]:
    doc = json.loads((root / f"reports/hw7/gradescope/{student}.json").read_text())
    return {t["name"].removeprefix("bn_fold: "): t for t in doc["tests"]}


def page(root: Path, student: str) -> str:
    return html.unescape((root / f"reports/hw7/students/{student}.html").read_text())


def test_the_input_the_students_code_got_is_shown_wherever_the_failure_is(course):
    failed = result_of(problem(course, "dave_forgot_eps"), FAILING)
    described = failed["failing_input"]
    assert described.startswith("fold_conv_bn(\n    [0] Conv2d(") and "\n    [1] BatchNorm2d(" in described
    assert re.search(r"\n\s+running_var: tensor \(\d+,\) float(32|64) \[", described), described
    # The folded Conv2d the student returned is rebuilt and run here, on the trusted side: calling it is no
    # call into the student's code, so the description ends with the student's one call.
    assert "Conv2d object(" not in described and described.endswith("\n)"), described
    assert described in page(course, "dave_forgot_eps")
    assert described in gradescope(course, "dave_forgot_eps")[FAILING]["output"]
    check = run_cli("--root", str(course), "check", "hw7", str(course / "submissions/hw7/dave_forgot_eps"),
                    "--jobs", "2")
    assert check.returncode == 1
    assert "What your code was given" in check.stdout and "running_var: tensor" in check.stdout


@pytest.mark.parametrize("student, status, reason", [
    ("erin_syntax_error", "crashed", "could not be imported"),
    ("nia_missing", "missing", "has no file bn_fold.py"),
])
def test_a_problem_that_cannot_run_gives_every_test_its_one_reason(course, student, status, reason):
    p = problem(course, student)
    assert p["status"] == status and reason in p["message"]
    expected = "not run: " + p["message"]
    assert [t["message"] for t in p["tests"]] == [expected] * len(p["tests"]) and len(p["tests"]) == 8
    outputs = gradescope(course, student)
    assert all(t["output"].startswith(expected) for name, t in outputs.items() if name != HIDDEN)
    assert outputs[HIDDEN]["output"] == HIDDEN_NOTE
    text = page(course, student)
    assert text.count(expected) == 7  # each visible test; the hidden one shows only its outcome
    if status == "missing":
        return  # `grader check` refuses a folder that holds none of the assignment's files
    check = run_cli("--root", str(course), "check", "hw7", str(course / f"submissions/hw7/{student}"), "--jobs", "2")
    assert check.returncode == 1
    assert check.stdout.count(reason) == 1 and "8 of 8 tests were not run." in check.stdout
    assert "assertion failed" not in check.stdout and "not run:" not in check.stdout


def printed_replay(root: Path, student: str, name: str) -> tuple[str, str]:
    """The replay command and the @reproduce_failure line, as the student's page prints them."""
    text = page(root, student)
    section = text[text.index(f'<details id="bn_fold--{name}"'):]
    command = re.search(r'<pre class="replay">(.*?)</pre>', section).group(1)
    line = re.search(r"<pre>(@reproduce_failure\(.*?\))</pre>", section).group(1)
    return command, line


def run_printed(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    words = shlex.split(command)
    assert words[:3] == ["python", "-m", "pytest"]
    return subprocess.run([sys.executable, *words[1:], "-p", "no:cacheprovider"], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def with_reproduce_line(test_file: Path, name: str, line: str) -> None:
    source = test_file.read_text()
    # The import goes before the file's first plain import, whatever its own imports look like.
    first = source.index("\nimport ") + 1
    source = source[:first] + "from hypothesis import reproduce_failure\n" + source[first:]
    test_file.write_text(source.replace(f"\ndef {name}(", f"\n{line}\ndef {name}(", 1))


def assert_fails_as_graded(done: subprocess.CompletedProcess[str], message: str) -> None:
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-3000:]
    assert "collected 1 item" in out and "1 failed" in out and " passed" not in out, out[-3000:]
    for line in message.splitlines():
        assert line in out, (line, out[-3000:])


def test_the_printed_replay_command_fails_as_graded_from_the_course_folder(course, tmp_path):
    graded = result_of(problem(course, "dave_forgot_eps"), FAILING)
    command, line = printed_replay(course, "dave_forgot_eps", FAILING)
    assert command == f"python -m pytest problems/hw7/bn_fold/test_bn_fold.py::{FAILING} --student bn_fold.py"
    folder = tmp_path / "course"
    for part in ("problems", "reference"):
        shutil.copytree(course / part, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(course / "submissions/hw7/dave_forgot_eps/bn_fold.py", folder / "bn_fold.py")
    done = run_printed(command, folder)
    assert_fails_as_graded(done, graded["message"])
    assert "What the student's code was given" in done.stdout
    # Without --student an author runs the reference, which passes every test, the hidden one too.
    author = subprocess.run([sys.executable, "-m", "pytest", "problems/hw7/bn_fold", "-q", "-p", "no:cacheprovider"],
                            cwd=folder, capture_output=True, text=True, timeout=600)
    assert author.returncode == 0 and "8 passed" in author.stdout, author.stdout[-3000:]
    # With the reproduce line, the same input at once.
    with_reproduce_line(folder / "problems/hw7/bn_fold/test_bn_fold.py", FAILING, line)
    assert_fails_as_graded(run_printed(command, folder), graded["message"])


def test_the_printed_replay_command_fails_as_graded_from_a_student_kit(course, tmp_path):
    graded = result_of(problem(course, "dave_forgot_eps"), FAILING)
    command, _ = printed_replay(course, "dave_forgot_eps", FAILING)
    kit = tmp_path / "kit"
    result = run_cli("--root", str(course), "kit", "hw7", "--out", str(kit))
    assert result.returncode == 0, result.stdout + result.stderr
    assert HIDDEN not in (kit / "problems/hw7/bn_fold/test_bn_fold.py").read_text()
    shutil.copy(course / "submissions/hw7/dave_forgot_eps/bn_fold.py", kit / "bn_fold.py")
    assert_fails_as_graded(run_printed(command, kit), graded["message"])
    # Without --student, a kit has no reference to run: it says so.
    bare = run_printed(command.split(" --student")[0], kit)
    assert bare.returncode == 1 and "holds no reference solution" in bare.stdout and "--student PATH" in bare.stdout
