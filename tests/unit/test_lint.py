"""The package stays lint-clean and typed: `ruff check`, `ruff format --check` and `mypy` on every
test run, with the versions `.ci/constraints.txt` pins (the README's install brings them: `.[dev]`).
The import contracts are checked by test_architecture.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CODE = ["grader", "bench"]  # the bank (problems/, reference/) is course material and keeps its own style


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    out = _run("ruff", "check", "--no-cache", *CODE, "tests")
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_code_is_formatted():
    out = _run("ruff", "format", "--check", "--no-cache", *CODE)
    assert out.returncode == 0, "run `ruff format grader bench`:\n" + out.stdout + out.stderr


@pytest.mark.slow  # mypy reads torch's stubs: about half a minute without a cache
def test_mypy_finds_nothing(tmp_path):
    out = _run("mypy", "--cache-dir", str(tmp_path / "mypy-cache"), "grader")
    assert out.returncode == 0, out.stdout + out.stderr
