"""The architecture as contracts (pyproject.toml's [tool.importlinter], checked with import-linter):
the sandbox side imports nothing from the trusted side, and lower layers never import higher ones.
Every module of the package is placed on one side of the trust boundary, so a new module cannot
slip past the first contract by being in neither list."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import grader

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "pyproject.toml"


def _contract(contract_id: str) -> dict:
    contracts = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["id"] == contract_id)


def test_the_import_contracts_hold():
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(CONFIG), no_cache=True, no_logo=True) == 0


def _under(module: str, packages: list[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_every_module_is_on_one_side_of_the_boundary():
    modules = {info.name for info in pkgutil.walk_packages(grader.__path__, "grader.") if not info.ispkg}
    contract = _contract("sandbox-side")
    sandbox, trusted = contract["source_modules"], contract["forbidden_modules"]
    both = sorted(m for m in modules if _under(m, sandbox) and _under(m, trusted))
    assert both == [], both
    unplaced = sorted(m for m in modules if not _under(m, sandbox) and not _under(m, trusted))
    assert unplaced == [], f"add these to the sandbox-side contract in pyproject.toml, on their side: {unplaced}"
    stale = [p for p in sandbox + trusted if not any(_under(m, [p]) for m in modules)]
    assert stale == [], stale


def test_every_sub_package_is_a_layer():
    """A new sub-package is placed in the layers contract, so that nothing below it may import it."""
    packages = {info.name for info in pkgutil.iter_modules(grader.__path__, "grader.") if info.ispkg}
    unlayered = sorted(packages - set(_contract("layers")["layers"]))
    assert unlayered == [], f"add these to the layers contract in pyproject.toml: {unlayered}"


def test_the_sandbox_process_loads_no_trusted_module():
    """What the contract says of the source, checked in a real interpreter: importing the sandbox's
    entry points (as the zygote does) loads none of the trusted side's modules."""
    import subprocess
    import sys

    trusted = _contract("sandbox-side")["forbidden_modules"]
    code = (
        "import sys, grader.sandbox.zygote, grader.sandbox.server\n"
        f"print(sorted(m for m in sys.modules if any(m == p or m.startswith(p + '.') for p in {trusted!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
