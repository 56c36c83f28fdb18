"""`grader new`: what it writes, the ids it refuses, and how it extends an assignment."""

from __future__ import annotations

import tomllib

import pytest

from grader.course.scaffold import new_problem
from grader.course.spec import load_assignment
from grader.errors import UsageError


def test_a_new_assignment_gets_its_toml_and_the_problem_loads_as_a_spec(tmp_path):
    written = new_problem(tmp_path, "hw9", "leaky")
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    assert {"problems/hw9/assignment.toml", "problems/hw9/leaky/problem.toml", "problems/hw9/leaky/README.md",
            "problems/hw9/leaky/test_leaky.py", "reference/hw9/leaky.py"} <= names
    assert len([n for n in names if "/mutants/" in n]) == 2 and len([n for n in names if "/alternatives/" in n]) == 3
    assignment = load_assignment(tmp_path, "hw9")
    (problem,) = assignment.problems
    assert (problem.id, problem.module, problem.points) == ("leaky", "leaky", 10)
    assert "hw9/leaky" in (tmp_path / "problems/hw9/leaky/test_leaky.py").read_text()


def test_an_existing_assignment_keeps_its_text_and_gains_the_problem(tmp_path):
    toml = tmp_path / "problems/hw9/assignment.toml"
    toml.parent.mkdir(parents=True)
    toml.write_text('# the ninth homework\ntitle = "Homework 9"\nproblems = ["a", "b",]\ndue = "2026-12-24"\n')
    new_problem(tmp_path, "hw9", "c")
    text = toml.read_text()
    assert text.startswith("# the ninth homework\ntitle = \"Homework 9\"\n") and text.endswith('due = "2026-12-24"\n')
    assert tomllib.loads(text)["problems"] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("assignment", "problem", "message"),
    [("hw9", "2bad", "must be a Python identifier"), ("hw9", "has-dash", "must be a Python identifier"),
     ("a/b", "p", "must be letters, digits"), ("..", "p", "must be letters, digits")],
)
def test_ids_that_cannot_be_used_are_refused_before_anything_is_written(tmp_path, assignment, problem, message):
    with pytest.raises(UsageError, match=message):
        new_problem(tmp_path, assignment, problem)
    assert list(tmp_path.iterdir()) == []


def test_nothing_is_overwritten(tmp_path):
    new_problem(tmp_path, "hw9", "leaky")
    test = tmp_path / "problems/hw9/leaky/test_leaky.py"
    test.write_text("# mine\n")
    with pytest.raises(UsageError, match="already exists"):
        new_problem(tmp_path, "hw9", "leaky")
    assert test.read_text() == "# mine\n"
    (tmp_path / "reference/hw9/other.py").write_text("# a reference without its folder\n")
    with pytest.raises(UsageError, match="already exists"):
        new_problem(tmp_path, "hw9", "other")
    assert not (tmp_path / "problems/hw9/other").exists()


def test_a_problems_list_over_several_lines_is_left_to_the_author(tmp_path):
    toml = tmp_path / "problems/hw9/assignment.toml"
    toml.parent.mkdir(parents=True)
    toml.write_text('title = "H"\nproblems = [\n  "a",\n]\n')
    with pytest.raises(UsageError, match="not on one line"):
        new_problem(tmp_path, "hw9", "c")
    assert not (tmp_path / "problems/hw9/c").exists()
