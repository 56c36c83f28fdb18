"""Lockstep grading changes nothing but the cost: the demo class and a class generated from the
bank's mutants and alternatives (bn_fold's tests draw with st.data()) grade to the same results.json
with lockstep on and off: scores, messages, smallest failing inputs, reproduce lines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from .conftest import make_course, without_times

pytestmark = pytest.mark.slow


def _grade(root, out, lockstep: str) -> dict:
    env = {**os.environ, "GRADER_LOCKSTEP": lockstep}
    result = subprocess.run(
        [sys.executable, "-P", "-m", "grader", "--root", str(root), "grade", "hw7", str(root / "submissions/hw7"),
         "--out", str(out), "--jobs", "2"],
        capture_output=True, text=True, timeout=1500, env=env,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return json.loads((out / "hw7/results.json").read_text())


def test_lockstep_on_and_off_grade_alike(tmp_path):
    root = make_course(tmp_path / "course")
    folder = root / "problems/hw7/bn_fold"
    for kind in ("mutants", "alternatives"):
        for source in sorted((folder / kind).glob("*.py")):
            student = root / "submissions/hw7" / f"gen_{kind}_{source.stem}"  # bn_fold only: true_softmax is missing
            student.mkdir()
            shutil.copy(source, student / "bn_fold.py")
    # Two copies of alice's files, graded first: a worker keeps to one problem (grader.run.runner), records
    # each test from the first job and keeps a call stream from the second, which alice's job then matches
    # bit for bit. The rest of the class differs in its bits and replays.
    for copy in ("aaa_copy_1", "aaa_copy_2"):
        shutil.copytree(root / "submissions/hw7/alice_correct", root / "submissions/hw7" / copy)
    # Two copies of the first mutant, graded right after it: its failing runs under Hypothesis are kept, and
    # the copies fail on the same replies without running Hypothesis again (grader.grading.lockstep).
    first = sorted((root / "submissions/hw7").glob("gen_mutants_*"))[0]
    for n in (1, 2):
        shutil.copytree(first, first.with_name(f"{first.name}_copy{n}"))

    on = _grade(root, tmp_path / "on", "1")
    off = _grade(root, tmp_path / "off", "0")
    a, b = without_times(on["students"]), without_times(off["students"])
    differences = [
        (x["id"], p["id"], t["name"], {k: (t[k], u[k]) for k in t if t[k] != u[k]})
        for x, y in zip(a, b) for p, q in zip(x["problems"], y["problems"]) for t, u in zip(p["tests"], q["tests"])
        if t != u
    ]
    assert differences == [] and a == b, differences
    assert len(on["students"]) >= 18
    split = on["run"]["lockstep_split"]
    # The class did replay, stream and repeat failures, or this proves nothing.
    assert split["replayed"] > 0 and split["streamed"] > 0 and split["repeated"] > 0, on["run"]
    assert " passed in lockstep" in on["run"]["lockstep"]
    assert off["run"]["lockstep"].startswith("off")
