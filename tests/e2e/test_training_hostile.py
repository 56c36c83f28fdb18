"""Hostile training code against hw5/label_memorization: every failure is the student's, with a plain message.

Each file in tests/fixtures/hostile_training/ is a whole label_memorization.py whose `train` attacks or
breaks the training mechanism (grader.call_training): it hangs, burns CPU, claims a perfect history,
returns garbage, changes the architecture, or sends back huge tensors. Graded through the real job path
on a copy of the problem with small budgets, none may cause a grader error, and each test that trains
must fail with the message that says what happened, the same on every run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.course.spec import load_assignment
from grader.run.session import GradingSession
from grader.run.validate import _job

REPO = Path(__file__).resolve().parents[2]
HOSTILE = REPO / "tests/fixtures/hostile_training"
TRAINING_TESTS = {
    "test_one_epoch_is_minibatch_sgd_on_the_mean_loss", "test_plain_sgd_without_momentum_or_weight_decay",
    "test_order_is_reshuffled_each_epoch_from_the_seed",
    "test_trains_in_training_mode_then_restores_the_mode", "test_memorizes_random_labels",
    "test_history_matches_the_trained_weights", "test_fresh_images_stay_at_chance",
}
BUDGET = " (the training budget in problem.toml; the reference trains in about 0.05 s of CPU time)"


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, tuple[str, str]]]:
    root = tmp_path_factory.mktemp("hostile-training")
    shutil.copytree(REPO / "problems/hw5/label_memorization", root / "problems/hw5/label_memorization",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "reference/hw5").mkdir(parents=True)
    shutil.copy(REPO / "reference/hw5/label_memorization.py", root / "reference/hw5")
    (root / "problems/hw5/assignment.toml").write_text('title = "Homework 5"\nproblems = ["label_memorization"]\n')
    spec_file = root / "problems/hw5/label_memorization/problem.toml"
    text = spec_file.read_text()
    for old, new in (("train_timeout = 8 ", "train_timeout = 6 "), ("train_cpu_seconds = 4 ", "train_cpu_seconds = 1 "),
                     ("job_timeout = 120", "job_timeout = 90")):
        assert old in text
        text = text.replace(old, new)
    spec_file.write_text(text)
    problem = load_assignment(root, "hw5").problem("label_memorization")
    results = {}
    with GradingSession(root, workers=1) as session:  # as grader validate runs them
        jobs = [_job(root, problem, path.stem, path.read_bytes()) for path in sorted(HOSTILE.glob("*.py"))]
        assert len(jobs) > 1  # on the pool of trusted workers, not in this process
        session.run_jobs(jobs, lambda r: results.__setitem__(r.student, r))
    for name, r in results.items():
        curves[name] = {t.name: t.curves for t in r.tests if t.curves}
    return {
        name: {"": (r.status, r.message), **{t.name: (t.outcome, t.message) for t in r.tests}} for name, r in results.items()
    }


curves: dict[str, dict[str, tuple[dict, ...]]] = {}  # by fixture and test, filled by `graded`


def test_no_hostile_training_code_causes_a_grader_error(graded):
    assert sorted(graded) == sorted(p.stem for p in HOSTILE.glob("*.py"))
    for name, tests in graded.items():
        assert tests[""][0] == "graded", (name, tests[""])
        errors = {t: m for t, (outcome, m) in tests.items() if outcome == "error"}
        assert not errors, (name, errors)
        # Labels and accuracy are right in every fixture: only training is attacked.
        for t in ("test_labels_cover_every_class_uniformly", "test_labels_depend_only_on_the_seed",
                  "test_accuracy_in_eval_mode_restoring_modes"):
            assert tests[t][0] == "passed", (name, t, tests[t])


def failed(graded, name):
    return {t: m for t, (outcome, m) in graded[name].items() if t and outcome == "failed"}


def test_a_train_that_hangs_runs_out_of_its_wall_clock_budget(graded):
    fails = failed(graded, "hangs_in_train")
    assert set(fails) == TRAINING_TESTS
    assert set(fails.values()) == {"train timed out after 6 s" + BUDGET}


def test_a_train_that_burns_cpu_runs_out_of_its_cpu_budget(graded):
    fails = failed(graded, "burns_cpu_in_train")
    assert set(fails) == TRAINING_TESTS
    assert set(fails.values()) == {"train ran out of its budget: it used more than 1 s of CPU time" + BUDGET}


def test_a_claimed_history_is_checked_against_the_weights(graded):
    fails = failed(graded, "claims_a_perfect_history")
    assert fails["test_history_matches_the_trained_weights"] == (
        "train's history ends with 1.0000, but the trained weights it left have a training accuracy of 0.1133 "
        "(measured by the grader in eval mode): entry e is the accuracy after epoch e + 1, measured in eval mode on "
        "all the images"
    )
    assert fails["test_memorizes_random_labels"] == (
        "training accuracy after 15 epochs (measured by the grader on the trained weights): 0.09; the reference "
        "reaches 1.00; needed ≥ 0.90"
    )
    assert "test_fresh_images_stay_at_chance" not in fails  # an untrained network is at chance too
    # The failed test still carries its learning curve: the claim beside the reference's figures.
    (curve,) = curves["claims_a_perfect_history"]["test_memorizes_random_labels"]
    assert curve["title"] == "training accuracy on random labels"
    assert curve["student"] == [1.0] * 15 and len(curve["reference"]) == 15 and curve["reference"][-1] == 1.0


def test_garbage_in_place_of_a_history_fails_only_the_tests_that_read_it(graded):
    fails = failed(graded, "returns_garbage_history")
    assert fails == {"test_history_matches_the_trained_weights": "train must return a list of floats, got Remote"}


def test_a_replaced_layer_is_refused_with_what_differs(graded):
    fails = failed(graded, "replaces_a_layer")
    assert set(fails) == TRAINING_TESTS
    # A bias-free probe gains a bias (a tensor the architecture does not have); the other models' last
    # layer gets another shape.
    assert fails["test_one_epoch_is_minibatch_sgd_on_the_mean_loss"] == (
        "train changed the model's architecture: its state has 1.bias besides"
    )
    assert fails["test_memorizes_random_labels"] == (
        "train changed the model's 3.weight: it is now (11, 128) torch.float32, but the model's is (10, 128) torch.float32"
    )


def test_huge_tensors_sent_back_are_refused_before_they_are_read(graded):
    fails = failed(graded, "sends_back_huge_weights")
    assert set(fails) == TRAINING_TESTS
    assert all(m.startswith("train sent back more than the ") and m.endswith(
        " the grader accepts for this call (were the arguments' tensors replaced by larger ones?)") for m in fails.values())
