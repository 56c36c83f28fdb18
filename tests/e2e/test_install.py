"""One behaviour for every install: a wheel in a fresh virtual environment grades like an editable install.

Each environment is a fresh venv with only the grader installed in it (from a wheel, or editable from a
fresh copy of the sources); the heavy dependencies (torch, ...) are shared with the running interpreter
through a `.pth` file, which puts them after the venv's own site-packages, so the venv's grader is the
one imported.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, make_course
from .test_deploy import fresh_venv as shared_venv

pytestmark = pytest.mark.slow


def fresh_venv(path: Path) -> Path:
    """A fresh venv sharing the running interpreter's packages (test_deploy's), with a package of its own.

    The small package `venv_only_dependency` lies in the venv's own site-packages beside the grader, as
    every dependency does in a newcomer's venv.
    """
    python = shared_venv(path)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "venv_only_dependency").mkdir()
    Path(purelib, "venv_only_dependency", "__init__.py").write_text("ONE = 1\n")
    return python


def pip_install(python: Path, *args: str) -> None:
    """Install into the venv itself: `--force-reinstall`, since a grader among the shared packages (CI's
    own, same version) would otherwise count as already installed (pip leaves that one alone: it lies
    outside the venv)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--force-reinstall", *args],
        check=True, capture_output=True, text=True,
    )


def sources(dest: Path) -> Path:
    """A copy of the tracked sources, as a fresh clone would have them."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


def grade(python: Path, course: Path, out: Path) -> dict:
    done = subprocess.run(
        [str(python), "-P", "-m", "grader", "--root", str(course), "grade", "hw7", "--out", str(out), "--jobs", "2"],
        capture_output=True, text=True, timeout=900, cwd=out.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((out / "hw7/results.json").read_text())


def said(doc: dict) -> dict:
    """Every score, status, message and test outcome; nothing that depends on time."""
    return {
        (s["id"], p["id"]): (p["score"], p["status"], p["message"], p.get("warnings"), [
            {k: v for k, v in t.items() if k != "duration"} for t in p["tests"]
        ])
        for s in doc["students"] for p in s["problems"]
    }


def where_grader_is(python: Path) -> Path:
    out = subprocess.run([str(python), "-P", "-c", "import grader; print(grader.__file__)"],
                         capture_output=True, text=True, check=True, cwd="/")
    return Path(out.stdout.strip())


def test_a_wheel_grades_the_demo_class_exactly_as_an_editable_install(tmp_path):
    src = sources(tmp_path / "src")
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(src)],
                   check=True, capture_output=True)
    plain = fresh_venv(tmp_path / "plain")
    pip_install(plain, str(next(wheels.glob("grader-*.whl"))))
    editable = fresh_venv(tmp_path / "editable")
    # "compat": the sources' folder on sys.path through a .pth file, read before the shared one, so the
    # editable grader wins over a plain one among the shared packages (CI's own environment has one).
    pip_install(editable, "-e", str(src), "--config-settings", "editable_mode=compat")
    assert where_grader_is(plain).is_relative_to(tmp_path / "plain")  # the wheel, in the venv's own site-packages
    assert where_grader_is(editable).is_relative_to(src)

    course = make_course(tmp_path / "course")
    # Correct work that imports installed modules the sandbox's zygote never loaded: they are read from
    # site-packages at run time, which a plain install must leave readable.
    lena = course / "submissions/hw7/lena_imports_installed_modules"
    shutil.copytree(course / "submissions/hw7/alice_correct", lena)
    for module in lena.glob("*.py"):
        module.write_text("import torch.utils.model_zoo  # noqa: F401\nimport venv_only_dependency  # noqa: F401\n" + module.read_text())
    (tmp_path / "runs").mkdir()
    from_wheel = grade(plain, course, tmp_path / "runs/plain")
    from_checkout = grade(editable, course, tmp_path / "runs/editable")
    assert said(from_wheel) == said(from_checkout)
    scores = {(s["id"], p["id"]): p["score"] for s in from_wheel["students"] for p in s["problems"]}
    for student in ("alice_correct", "lena_imports_installed_modules"):
        assert scores[(student, "true_softmax")] == 10 and scores[(student, "bn_fold")] == 10, student
