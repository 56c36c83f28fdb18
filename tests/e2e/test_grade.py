"""`grader grade` on a real folder: every demo student gets the score they deserve, reproducibly."""

from __future__ import annotations

import html
import json
import re

from .conftest import copy_of, run_cli

EXPECTED = {
    "alice_correct": {"true_softmax": 10, "bn_fold": 10},
    "bob_loops_and_float64": {"true_softmax": 10, "bn_fold": 10},
    "carol_no_max_shift": {"true_softmax": 6, "bn_fold": 10},
    "dave_forgot_eps": {"true_softmax": 10, "bn_fold": 2},
    "erin_syntax_error": {"true_softmax": 10, "bn_fold": 0},
    "frank_missing_functions": {"true_softmax": 5, "bn_fold": 7},
    "grace_endless_import": {"true_softmax": 0, "bn_fold": 10},
    "heidi_raises_at_import": {"true_softmax": 10, "bn_fold": 0},
    "ivan_fake_output": {"true_softmax": 0, "bn_fold": 0},
    "judy_monkeypatches": {"true_softmax": 0, "bn_fold": 0},
}


def load(root):
    return json.loads((root / "reports/hw7/results.json").read_text())


def problem(doc, student, problem_id):
    s = next(s for s in doc["students"] if s["id"] == student)
    return next(p for p in s["problems"] if p["id"] == problem_id)


def test_every_student_gets_the_score_they_deserve(graded_course):
    root, result = graded_course
    assert result.returncode == 0, result.stderr
    assert "hw7: 10 students, 20 jobs (20 graded, 0 unchanged)" in result.stdout
    doc = load(root)
    assert doc["schema"] == "grader.results" and doc["schema_version"] == 1
    scores = {s["id"]: {p["id"]: p["score"] for p in s["problems"]} for s in doc["students"]}
    assert scores == EXPECTED


def test_failures_are_explained(graded_course):
    root, _ = graded_course
    doc = load(root)
    endless = problem(doc, "grace_endless_import", "true_softmax")
    assert endless["status"] == "crashed"
    assert endless["message"] == "true_softmax.py could not be imported: the import timed out after 10 s"
    syntax = problem(doc, "erin_syntax_error", "bn_fold")
    assert syntax["message"].startswith("bn_fold.py could not be imported: the import raised SyntaxError: expected ':'")
    missing = problem(doc, "frank_missing_functions", "bn_fold")
    model_test = next(t for t in missing["tests"] if t["name"] == "test_fold_model_equals_the_model_in_eval_mode")
    assert model_test["message"] == "bn_fold.py does not define fold_model"
    carol = problem(doc, "carol_no_max_shift", "true_softmax")
    huge = next(t for t in carol["tests"] if t["name"] == "test_nu_is_finite_for_huge_beta_times_x")
    assert "values are" in huge["message"] and "where finite values were expected" in huge["message"]
    assert huge["falsifying_example"].startswith("Falsifying example: test_nu_is_finite_for_huge_beta_times_x(")
    assert "@reproduce_failure" in huge["reproduce"]


HIDDEN = "test_fold_conv_bn_on_extreme_statistics"


def test_a_hidden_test_is_graded_and_a_students_page_shows_only_its_outcome(graded_course):
    root, _ = graded_course
    doc = load(root)
    for student, outcome in (("alice_correct", "passed"), ("bob_loops_and_float64", "passed"),
                             ("dave_forgot_eps", "failed")):
        hidden = next(t for t in problem(doc, student, "bn_fold")["tests"] if t["name"] == HIDDEN)
        assert (hidden["hidden"], hidden["outcome"], hidden["max_points"]) == (True, outcome, 1.0), student
    dave = next(t for t in problem(doc, "dave_forgot_eps", "bn_fold")["tests"] if t["name"] == HIDDEN)
    assert dave["message"] and dave["falsifying_example"] and dave["failing_input"]  # the instructor's full record
    page = html.unescape((root / "reports/hw7/students/dave_forgot_eps.html").read_text())
    assert f'<code>{HIDDEN}</code> <span class="muted">(hidden)</span>' in page
    section = page[page.index(f'<details id="bn_fold--{HIDDEN}"'):]
    assert "This test is hidden: only its outcome is shown." in section[:section.index("</details>")]
    for secret in (dave["message"], dave["falsifying_example"], dave["failing_input"], f"::{HIDDEN}"):
        assert secret not in page


def test_fake_output_and_monkeypatching_change_nothing(graded_course):
    root, _ = graded_course
    doc = load(root)
    ivan = problem(doc, "ivan_fake_output", "true_softmax")
    first = ivan["tests"][0]
    assert first["outcome"] == "failed" and "7 passed" in first["output"]  # shown as output, never believed
    judy = problem(doc, "judy_monkeypatches", "bn_fold")
    assert all(t["outcome"] == "failed" for t in judy["tests"] if "geometry" not in t["name"] and "removes" not in t["name"])


def test_reports_are_written_and_escape_student_text(graded_course):
    root, _ = graded_course
    index = (root / "reports/hw7/index.html").read_text()
    assert "alice_correct" in index and "students/alice_correct.html" in index
    for student in EXPECTED:
        assert (root / f"reports/hw7/students/{student}.html").is_file()
    page = (root / "reports/hw7/students/ivan_fake_output.html").read_text()
    assert "&#34;score&#34;: 10" in page or "&quot;score&quot;: 10" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_second_run_regrades_nothing_and_says_the_same(graded_course, tmp_path):
    root = copy_of(graded_course, tmp_path)
    before = load(root)
    again = run_cli("--root", str(root), "grade", "hw7")
    assert again.returncode == 0, again.stderr
    assert "20 jobs (0 graded, 20 unchanged)" in again.stdout
    after = load(root)
    assert before["students"] == after["students"]


def test_a_changed_submission_regrades_only_its_jobs(graded_course, tmp_path):
    root = copy_of(graded_course, tmp_path)
    target = root / "submissions/hw7/dave_forgot_eps/bn_fold.py"
    original = target.read_text()
    target.write_text(original.replace("torch.sqrt(bn.running_var)", "torch.sqrt(bn.running_var + bn.eps)"))
    result = run_cli("--root", str(root), "grade", "hw7")
    assert re.search(r"20 jobs \(2 graded, 18 unchanged\)", result.stdout), result.stdout
    assert problem(load(root), "dave_forgot_eps", "bn_fold")["score"] == 10


def test_regrading_everything_gives_the_same_scores_and_messages(graded_course, tmp_path):
    root, _ = graded_course
    again = run_cli("--root", str(root), "grade", "hw7", "--regrade", "--out", str(tmp_path), "--jobs", "2")
    assert again.returncode == 0, again.stderr
    assert "20 jobs (20 graded, 0 unchanged)" in again.stdout

    def said(doc):
        return {
            (s["id"], p["id"]): (p["score"], p["status"], p["message"], [
                {k: v for k, v in t.items() if k != "duration"} for t in p["tests"]
            ])
            for s in doc["students"] for p in s["problems"]
        }

    assert said(json.loads((tmp_path / "hw7/results.json").read_text())) == said(load(root))
