"""The bank checks itself: every reference scores full marks, every mutant fails exactly as declared."""

from __future__ import annotations

import pytest

from grader.course.spec import list_assignments

from .conftest import REPO, run_cli


@pytest.mark.parametrize("assignment", list_assignments(REPO))
def test_validate(assignment):
    result = run_cli("validate", assignment, cwd=REPO, timeout=1500)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout


def test_list_shows_every_assignment():
    result = run_cli("list", cwd=REPO)
    assert result.returncode == 0
    for assignment in list_assignments(REPO):
        assert assignment in result.stdout


def test_one_problem_validates_alone_and_an_alternative_must_score_full_marks(tmp_path):
    from .conftest import make_course

    root = make_course(tmp_path, students=[])
    alternatives = root / "problems/hw7/true_softmax/alternatives"
    wrong = alternatives / "rounded_nu.py"
    wrong.write_text((root / "problems/hw7/true_softmax/mutants/grad_from_rounded_nu.py").read_text())
    result = run_cli("--root", str(root), "validate", "hw7/true_softmax", "--jobs", "2", timeout=900)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL hw7/true_softmax alternative rounded_nu: the alternative rounded_nu scores 9/10" in result.stdout
    assert "ok   hw7/true_softmax alternative float64_inside: 10/10" in result.stdout
    assert "bn_fold" not in result.stdout  # only the problem named (test_validate: a bank that passes exits 0)


def test_mutation_analysis_lists_a_survivor_until_it_is_recorded_as_equivalent(tmp_path):
    problem = tmp_path / "problems/a/p"
    (problem / "mutants").mkdir(parents=True)
    (tmp_path / "problems/a/assignment.toml").write_text('title = "A"\nproblems = ["p"]\n')
    toml = 'id = "p"\ntitle = "P"\nmodule = "p"\nnames = ["f"]\npoints = 1\n'
    (problem / "problem.toml").write_text(toml)
    (problem / "README.md").write_text("f(x) = x + 1\n")
    (problem / "test_p.py").write_text(
        "from grader import points\n\n\n@points(1)\ndef test_f_at_zero(student):\n    assert student.f(0) == 1\n"
    )
    (tmp_path / "reference/a").mkdir(parents=True)
    (tmp_path / "reference/a/p.py").write_text("def f(x):\n    return x + 1\n")

    weak = run_cli("--root", str(tmp_path), "validate", "a", "--mutate", "--jobs", "1",
                   "--mutation-report", str(tmp_path / "mutation.md"), timeout=600)
    assert weak.returncode == 1, weak.stdout + weak.stderr
    survivor = "L2C11:drop:left-term"  # `return 1`: right at 0, the only input the weak test tries
    assert f"FAIL a/p auto {survivor}: survives" in weak.stdout
    assert "a/p" in weak.stdout and "killed" in weak.stdout
    assert survivor in (tmp_path / "mutation.md").read_text()

    (problem / "problem.toml").write_text(toml + f'\n[mutation]\nequivalent = ["{survivor}  only f(0) is asked"]\n')
    recorded = run_cli("--root", str(tmp_path), "validate", "a", "--mutate", "--jobs", "1",
                       "--mutation-report", str(tmp_path / "mutation.md"), timeout=600)
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    report = (tmp_path / "mutation.md").read_text()
    surviving, equivalent = report.split("## Recorded as equivalent")
    assert survivor not in surviving and f"`a/p` `{survivor}`: only f(0) is asked" in equivalent
