"""The README's two set-up commands are the ones CI runs, on the pinned constraints."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Set-up: two commands.*?```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no set-up block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_ci_runs_the_readmes_test_command():
    grade, test = _setup_commands()
    assert grade.endswith("grader grade") and " && pytest" in test
    ci = (REPO / ".ci/run").read_text().splitlines()
    assert test in [line.strip() for line in ci]


def test_the_constraints_pin_every_runtime_requirement_within_its_range():
    import tomllib

    from packaging.requirements import Requirement

    pins = {}
    for line in (REPO / ".ci/constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    for spec in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]:
        req = Requirement(spec)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in .ci/constraints.txt"
        assert req.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {req.specifier}"
        assert req.specifier.filter([]) is not None
        assert any(s.operator in ("<", "<=", "==", "~=") for s in req.specifier), f"{name} has no upper bound"
