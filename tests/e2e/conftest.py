"""End-to-end fixtures: a course folder built from the bundled hw7 problems and demo students."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBLEMS = ("true_softmax", "bn_fold")
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every end-to-end test is `slow`: `pytest -m "not slow"` runs the fast unit tests alone."""
    for item in items:
        if item.path.resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.slow)


def make_course(root: Path, students: list[str] | None = None) -> Path:
    """A course with hw7's first two problems and the demo students' files for them."""
    for p in PROBLEMS:
        shutil.copytree(REPO / "problems/hw7" / p, root / "problems/hw7" / p, ignore=shutil.ignore_patterns("__pycache__"))
        (root / "reference/hw7").mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "reference/hw7" / f"{p}.py", root / "reference/hw7")
    (root / "problems/hw7/assignment.toml").write_text(
        'title = "Homework 7"\ncourse = "Demo"\nproblems = ["true_softmax", "bn_fold"]\n'
    )
    for folder in sorted((REPO / "submissions/hw7").iterdir()):
        if students is not None and folder.name not in students:
            continue
        target = root / "submissions/hw7" / folder.name
        target.mkdir(parents=True)
        for p in PROBLEMS:
            if (folder / f"{p}.py").exists():
                shutil.copy(folder / f"{p}.py", target)
    return root


def slow_copy(source: Path, target: Path, seconds: float = 3.0) -> Path:
    """A copy of a student's folder whose modules first sleep `seconds` at import, scoring as the source does.

    Graded last, it keeps a run busy for a while after the others' jobs are stored, so a test that
    interrupts the run once some jobs are stored finds it still running, however fast the rest went.
    """
    shutil.copytree(source, target)
    for module in target.glob("*.py"):
        module.write_text(f"import time\ntime.sleep({seconds})\n" + module.read_text())
    return target


def interrupt_when(
    args: list[str], ready: Callable[[], bool], *, within: float = 300, sig: int = signal.SIGINT
) -> subprocess.CompletedProcess[str]:
    """Run `python ARGS` in a session of its own, press Ctrl-C once `ready()` holds, and return how it ended.

    Ctrl-C is SIGINT sent to the whole process group, as a terminal sends it (`sig` another signal, sent
    the same way: SIGTERM, as a CI runner cancels a job). The child starts with
    SIGINT's default action whatever this process inherited: a shell that runs the tests in the
    background (`pytest ... &`) starts them with SIGINT ignored, and the grader, like any Python
    program, would then rightly ignore Ctrl-C too. Fails if the run ended before it could be
    interrupted, or did not stop within 60 s of it.
    """

    def default_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=default_sigint,
    )
    deadline = time.monotonic() + within
    while not ready() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    if proc.poll() is not None:
        out, err = proc.communicate()
        raise AssertionError(f"the run ended (exit {proc.returncode}) before it could be interrupted:\n{out}\n{err}")
    os.killpg(proc.pid, sig)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"the run did not stop within 60 s of {signal.Signals(sig).name}") from None
    # No process of the run outlives it: not its workers, its forkserver or its zygote.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError(f"processes of the run were still running 30 s after it ended:\n{out}\n{err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def grader_leftovers(folder: Path) -> list[str]:
    """What the grader left in the temporary folder `folder` (torch's own cache, torchinductor_*, stays as
    torch leaves it)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(("grader", "pymp-")))


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The command line as `grader ARGS` runs it: the installed grader, not the checkout the tests run in.

    With `cwd`, `python -m grader` from that folder (as a kit's README suggests), which imports the
    folder's own copy of the grader where it has one.
    """
    isolated = [] if cwd is not None else ["-P"]  # -P: the working directory is not put on sys.path
    return subprocess.run(
        [sys.executable, *isolated, "-m", "grader", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )



def without_times(value):
    """The document without the tests' durations, the one thing that differs from run to run."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k != "duration"}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def copy_of(graded: tuple[Path, object], tmp_path: Path) -> Path:
    """A copy of a graded course (`graded_course`), with its store and reports, for a test that changes it:
    the session's course is shared by every test that uses it, in whatever order they run."""
    return Path(shutil.copytree(graded[0], tmp_path / "course"))


@pytest.fixture(scope="session")
def graded_course(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The demo class graded once through the real command line."""
    root = make_course(tmp_path_factory.mktemp("course"))
    result = run_cli("--root", str(root), "grade", "hw7", "--jobs", "2")
    return root, result
