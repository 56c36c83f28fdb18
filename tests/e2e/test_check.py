"""`grader check`: a student's self-check in the terminal."""

from __future__ import annotations

from .conftest import REPO, run_cli


def test_a_correct_submission_passes(tmp_path, monkeypatch):
    # In a temporary folder too deep for a Unix socket's path (as a CI runner's can be): the check's
    # sandbox zygote listens elsewhere (it was an internal error).
    deep = tmp_path / ("t" * 100)
    deep.mkdir()
    monkeypatch.setenv("TMPDIR", str(deep))
    result = run_cli("check", "hw7", str(REPO / "submissions/hw7/alice_correct"), "--jobs", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "true_softmax" in result.stdout and "10 / 10" in result.stdout


def test_a_failing_submission_shows_the_smallest_input(tmp_path):
    result = run_cli("check", "hw7", str(REPO / "submissions/hw7/carol_no_max_shift"), "--jobs", "2")
    assert result.returncode == 1
    assert "Smallest failing input" in result.stdout
    assert "test_nu_is_finite_for_huge_beta_times_x" in result.stdout
