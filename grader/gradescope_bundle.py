"""The Gradescope autograder bundle: `autograder.zip` with setup.sh, run_autograder and the grader.

Gradescope unpacks the zip into /autograder/source, runs `setup.sh` once to build the image, and
runs `run_autograder` for each submission, which must write /autograder/results/results.json. The
bundle is the instructor's side (it holds the assignment's full tests and references, which stay on
Gradescope's machine and are never shown to students), so it grades exactly as `grader grade` does.
`run_autograder` calls `python3 -m grader.gradescope_bundle run`, defined here: it grades the
submission as a one-student class and converts the result with grader.exports.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from grader.packaging import write_installable
from grader.spec import AssignmentSpec, load_assignment

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
cd /autograder/source
PY=""
for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        PY="$candidate"
        break
    fi
done
if [ -z "$PY" ]; then  # Gradescope's Ubuntu 22.04 images ship Python 3.10
    apt-get update
    apt-get install -y python3.11 python3.11-venv
    PY=python3.11
fi
"$PY" -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --upgrade pip
/autograder/venv/bin/python -m pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt
/autograder/venv/bin/python -m pip install .
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; it writes /autograder/results/results.json.
set -uo pipefail
cd /autograder/source
mkdir -p /autograder/results
/autograder/venv/bin/python -m grader.gradescope_bundle run {assignment} /autograder/submission \\
    /autograder/results/results.json
"""


def build_bundle(root: Path, assignment_id: str, out: Path) -> Path:
    """Write the bundle's files into `out` and zip them into `out/autograder.zip`; returns the zip."""
    assignment = load_assignment(root, assignment_id)  # validates the bank before anything is written
    out.mkdir(parents=True, exist_ok=True)
    staging = out / "autograder"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    write_installable(staging, requirements_header="# The grader's requirements")
    shutil.copytree(root / "problems" / assignment.id, staging / "problems" / assignment.id, ignore=ignore)
    (staging / "reference" / assignment.id).mkdir(parents=True)
    for problem in assignment.problems:
        shutil.copy(problem.reference, staging / "reference" / assignment.id / problem.reference.name)
    for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER.format(assignment=assignment.id))):
        path = staging / name
        path.write_text(text)
        path.chmod(0o755)
    archive = out / "autograder.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo.from_file(path, path.relative_to(staging).as_posix())
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    return archive


def submission_folder(path: Path, assignment: AssignmentSpec) -> Path:
    """The folder holding the student's files: `path`, or the shallowest folder under it with a module."""
    wanted = {p.module_file for p in assignment.problems}
    if any((path / m).exists() for m in wanted) or not path.is_dir():
        return path
    candidates = sorted(
        (f.parent for f in path.rglob("*") if f.name in wanted and f.is_file() and not f.is_symlink()),
        key=lambda p: (len(p.parts), str(p)),
    )
    return candidates[0] if candidates else path


def results_document(assignment: AssignmentSpec, results: list[Any]) -> dict[str, Any]:
    """Gradescope's results.json for one student, through grader.exports where it exists."""
    try:
        from grader.classbook import build_rows
        from grader.exports import gradescope_document
    except ImportError:  # an older grader without the exporter: a minimal conversion
        return _minimal_document(assignment, results)
    rows = build_rows(assignment, results)
    if not rows:
        return _minimal_document(assignment, results)
    return gradescope_document(assignment, rows[0])


def _minimal_document(assignment: AssignmentSpec, results: list[Any]) -> dict[str, Any]:
    by_problem = {r.problem: r for r in results}
    tests = []
    for p in assignment.problems:
        r = by_problem.get(p.id)
        for t in r.tests if r else ():
            tests.append({
                "name": f"{p.id}: {t.name}", "score": t.points, "max_score": t.max_points,
                "status": "passed" if t.outcome == "passed" else "failed",
                "output": "" if t.hidden else t.message, "visibility": "visible",
            })
    return {"score": sum(r.score for r in results if r.status != "error"), "tests": tests, "output_format": "text"}


def run(assignment_id: str, submission: Path, results_path: Path, root: Path | None = None) -> int:
    """Grade one Gradescope submission and write its results.json; never leaves Gradescope without one."""
    from grader.course import find_root, grade_assignment
    from grader.runner import default_workers
    from grader.store import Store

    root = root or find_root(None)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        assignment = load_assignment(root, assignment_id)
        with tempfile.TemporaryDirectory(prefix="grader-gradescope-") as tmp:
            class_dir = Path(tmp) / "class"
            class_dir.mkdir()
            (class_dir / "submission").symlink_to(submission_folder(submission.resolve(), assignment),
                                                  target_is_directory=True)
            grade_assignment(root, assignment.id, class_dir, Path(tmp) / "out", workers=default_workers())
            store = Store(Path(tmp) / "out" / "grades.sqlite")
            results = list(store.results())
            store.close()
        document = results_document(assignment, results)
        status = 0
    except Exception as exc:  # noqa: BLE001  (a grader error must never read as a silent zero)
        document = {
            "score": 0.0,
            "output": f"A grader error stopped the grading ({type(exc).__name__}: {exc}). It is not your fault; "
                      "the score is not final and your instructor will regrade.",
            "tests": [],
        }
        status = 1
    results_path.write_text(json.dumps(document, indent=2) + "\n")
    return status


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4 or args[0] != "run":
        print("usage: python -m grader.gradescope_bundle run ASSIGNMENT SUBMISSION_DIR RESULTS_JSON", file=sys.stderr)
        return 2
    return run(args[1], Path(args[2]), Path(args[3]))


if __name__ == "__main__":
    sys.exit(main())
