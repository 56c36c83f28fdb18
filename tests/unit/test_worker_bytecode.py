"""A trusted worker's bytecode: the bank's files compile into the worker's private folder, while an
installed library imported later (the first `torch.optim` optimizer imports TorchDynamo) loads the
bytecode installed beside it instead of being compiled from source in every worker."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path


def _in_a_prepared_worker(code: str, tmp_path: Path) -> dict:
    script = textwrap.dedent(
        """
        import importlib, json, os, sys
        sys.dont_write_bytecode = False
        from grader.grading.worker import prepare
        prepare()
        from importlib import _bootstrap_external as external
        prefix = sys.pycache_prefix
        def written():
            return sorted(os.path.relpath(os.path.join(d, f), prefix) for d, _, fs in os.walk(prefix) for f in fs)
        """
    ) + textwrap.dedent(code)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_installed_modules_keep_their_bytecode_and_the_banks_files_go_to_the_private_folder(tmp_path):
    bank = tmp_path / "course" / "problems" / "hw1" / "p"
    bank.mkdir(parents=True)
    (bank / "helper_of_the_bank.py").write_text("VALUE = 41 + 1\n")
    out = _in_a_prepared_worker(
        f"""
        import colorsys  # installed, and imported by nothing before
        sys.path.insert(0, {str(bank)!r})
        import helper_of_the_bank
        print(json.dumps({{
            "prefix": prefix,
            "stdlib": external.cache_from_source(colorsys.__file__),
            "bank": external.cache_from_source(helper_of_the_bank.__file__),
            "written": written(),
            "value": helper_of_the_bank.VALUE,
        }}))
        """,
        tmp_path,
    )
    assert out["value"] == 42
    assert Path(out["stdlib"]).parent.name == "__pycache__"
    assert not out["stdlib"].startswith(out["prefix"])
    assert out["bank"].startswith(out["prefix"])
    assert any("helper_of_the_bank" in name for name in out["written"]), out["written"]
    assert not any("colorsys" in name for name in out["written"]), out["written"]
    assert not (bank / "__pycache__").exists()  # nothing written into the bank


def test_a_library_imported_during_a_job_is_not_compiled_again(tmp_path):
    """TorchDynamo, as a trusted oracle's first optimizer imports it: no file of it in the private folder."""
    out = _in_a_prepared_worker(
        """
        import torch
        before = set(sys.modules)
        torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1)
        loaded = len(set(sys.modules) - before)
        print(json.dumps({"loaded": loaded, "written": [n for n in written() if "site-packages" in n]}))
        """,
        tmp_path,
    )
    assert out["loaded"] > 0  # the optimizer did import installed modules lazily
    assert out["written"] == []
