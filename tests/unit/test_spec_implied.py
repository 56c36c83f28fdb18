"""problem.toml keeps only what nothing else can say: id, module, names and points are implied by the
folder, the reference's __all__ and the tests' @points markers when left out (grader.course.spec._implied)."""

from __future__ import annotations

import pytest

from grader.course.spec import load_assignment
from grader.errors import SpecError


def _minimal_problem(tmp_path, toml: str, reference: str, tests: str):
    problem = tmp_path / "problems/a/p"
    (problem / "mutants").mkdir(parents=True)
    (tmp_path / "problems/a/assignment.toml").write_text('title = "A"\nproblems = ["p"]\n')
    (problem / "problem.toml").write_text(toml)
    (problem / "README.md").write_text("f\n")
    (problem / "test_p.py").write_text(tests)
    (tmp_path / "reference/a").mkdir(parents=True)
    (tmp_path / "reference/a/p.py").write_text(reference)
    return tmp_path


TESTS = "from grader import points, hidden\n\n@points(3)\ndef test_a(student): pass\n\n@hidden\n@points(1.5)\ndef test_b(student): pass\n"


def test_problem_toml_needs_only_what_nothing_else_says(tmp_path):
    root = _minimal_problem(tmp_path, 'title = "P"\n', '__all__ = ["f", "g"]\n\ndef f(): pass\n\ndef g(): pass\n', TESTS)
    spec = load_assignment(root, "a").problem("p")
    assert (spec.id, spec.module, spec.names, spec.points) == ("p", "p", ("f", "g"), 4.5)


@pytest.mark.parametrize(
    ("reference", "tests", "message"),
    [("def f(): pass\n", TESTS, "names is missing and .* defines no literal __all__"),
     ("__all__ = ['f']\n", "from grader import points\n\n@points(n)\ndef test_a(student): pass\n",
      "points is missing and .* does not give every test a literal @points"),
     ("__all__ = ['f']\n", "import pytest\nfrom grader import points\n\n@pytest.mark.parametrize('x', [1, 2])\n"
      "@points(1)\ndef test_a(student, x): pass\n", "points is missing")],
)
def test_what_cannot_be_implied_must_be_written(tmp_path, reference, tests, message):
    root = _minimal_problem(tmp_path, 'title = "P"\n', reference, tests)
    with pytest.raises(SpecError, match=message):
        load_assignment(root, "a")
