"""Spec validation: errors name the file, the key, the value and the rule."""

import shutil
from pathlib import Path

import pytest

from grader.course.spec import SpecError, load_assignment, load_problem

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def course(tmp_path):
    for part in ("problems/hw7/true_softmax", "reference/hw7"):
        shutil.copytree(REPO / part, tmp_path / part)
    (tmp_path / "problems/hw7/assignment.toml").write_text('title = "HW7"\nproblems = ["true_softmax"]\n')
    return tmp_path


def edit(course, old, new):
    path = course / "problems/hw7/true_softmax/problem.toml"
    path.write_text(path.read_text().replace(old, new))
    return path


def test_the_bundled_bank_loads(course):
    a = load_assignment(course, "hw7")
    assert [p.id for p in a.problems] == ["true_softmax"] and a.problems[0].points == 10


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("points = 10", "points = -1", "problem.toml: points = -1 must not be negative"),
        ("points = 10", 'points = "10"', "problem.toml: points = '10' must be of type int or float (got str)"),
        ('module = "true_softmax"', 'module = "true-softmax"', "problem.toml: module = 'true-softmax' must be a Python identifier"),
        ('id = "true_softmax"', 'id = "softmax"', "problem.toml: id = 'softmax' must equal the folder's name 'true_softmax'"),
        ("max_examples = 40", "max_examples = 0", "problem.toml: hypothesis.max_examples = 0 must be between 1 and 10000"),
        ("memory_mb = 1024", "memory_mb = 1024\nmemroy = 3", "problem.toml: unknown key 'limits.memroy'"),
        ("forbidden = []", 'forbidden = ["torch autograd"]', "must be a list of dotted names like 'torch.autograd' (not 'torch autograd')"),
    ],
)
def test_bad_values_are_named(course, old, new, expected):
    path = edit(course, old, new)
    with pytest.raises(SpecError) as info:
        load_problem(course, "hw7", "true_softmax")
    assert str(path) in str(info.value) and expected in str(info.value)


def test_missing_reference_is_named(course):
    (course / "reference/hw7/true_softmax.py").unlink()
    with pytest.raises(SpecError, match="needs the file .*reference/hw7/true_softmax.py"):
        load_problem(course, "hw7", "true_softmax")


def test_mutant_without_declaration(course):
    (course / "problems/hw7/true_softmax/mutants/silent.py").write_text("def nu(x, beta):\n    return x\n")
    with pytest.raises(SpecError, match="silent.py: a mutant must declare the tests it fails"):
        load_problem(course, "hw7", "true_softmax")


def test_assignment_listing_a_missing_problem(course):
    (course / "problems/hw7/assignment.toml").write_text('title = "HW7"\nproblems = ["true_softmax", "nope"]\n')
    with pytest.raises(SpecError, match="problems lists 'nope', but .* does not exist"):
        load_assignment(course, "hw7")


def test_unknown_assignment(course):
    with pytest.raises(SpecError, match="no assignment 'hw9' .*assignments: hw7"):
        load_assignment(course, "hw9")
