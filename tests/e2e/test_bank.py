"""The bank checks itself: every reference scores full marks, every mutant fails exactly as declared."""

from __future__ import annotations

import pytest

from grader.spec import list_assignments

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
