"""`grader new` as an author uses it: scaffold a problem in an empty course folder, run its tests with
plain pytest against the reference and a mutant, and validate it, without touching grader/."""

from __future__ import annotations

import subprocess
import sys

from .conftest import run_cli


def test_a_scaffolded_problem_validates_out_of_the_box(tmp_path):
    made = run_cli("new", "hw9", "leaky", cwd=tmp_path)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "next: pytest problems/hw9/leaky   then   grader validate hw9/leaky" in made.stdout

    result = run_cli("validate", "hw9/leaky", "--jobs", "1", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   hw9/leaky reference: 10/10" in result.stdout
    assert "ok   hw9/leaky mutant mask_includes_zero: loses 3 points as declared (7/10)" in result.stdout
    assert "6 passed, 0 failed" in result.stdout

    mutant = tmp_path / "problems/hw9/leaky/mutants/mask_includes_zero.diff"  # a diff mutant, applied
    pytest_run = subprocess.run(
        [sys.executable, "-m", "pytest", "problems/hw9/leaky", "-q", "-p", "no:cacheprovider", "--student", str(mutant)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert pytest_run.returncode == 1, pytest_run.stdout + pytest_run.stderr
    assert "1 failed, 2 passed" in pytest_run.stdout
    assert "test_grad_at_zero" in pytest_run.stdout

    again = run_cli("new", "hw9", "leaky", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
