"""The Gradescope autograder bundle: `autograder.zip` with setup.sh, run_autograder and the grader.

Gradescope unpacks the zip into /autograder/source, runs `setup.sh` once to build the image, and
runs `run_autograder` for each submission, which must write /autograder/results/results.json. The
bundle is the instructor's side (it holds the assignment's full tests and references, which stay on
Gradescope's machine and are never shown to students), so it grades exactly as `grader grade` does.

- `setup.sh` installs the grader into /autograder/venv (the PyTorch CPU index is asked once, briefly,
  and used only when it answers), then records in `protections.json` which sandbox protections the
  image applies (`python -m grader.distribute.gradescope_bundle probe`).
- `run_autograder` calls `python -m grader.distribute.gradescope_bundle run`, defined here: it finds the
  student's files in the submission (grader.course.layouts), grades them as a one-student class with the
  protections the bundle requires (by default every one recorded at set-up, so that a protection
  lost later makes jobs refuse instead of running unprotected), and converts the result with
  grader.results.exports. Protections that are off, and how the student's files were found, are written
  into results.json (`output` for the student, `extra_data` and the log for the instructor).

`GRADER_AUTOGRADER_ROOT` stands in for /autograder (tests run the scripts in a temporary folder).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.course import extensions
from grader.course.spec import AssignmentSpec, SpecError, load_assignment
from grader.distribute.packaging import write_installable

if TYPE_CHECKING:
    from grader.course.layouts import FilesFound
    from grader.grading.sandbox_client import Zygote

ROOT_VARIABLE = "GRADER_AUTOGRADER_ROOT"
BUNDLE_CONFIG = "grader-bundle.json"  # in the bundle: the assignment and the protections it requires
PROTECTIONS_FILE = "protections.json"  # written by setup.sh: what the image's sandbox applies
_OFF_WARNING = "sandbox protection off: "  # grader.grading.jobs.protection_warnings

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
ROOT="${GRADER_AUTOGRADER_ROOT:-/autograder}"
TORCH_INDEX=https://download.pytorch.org/whl/cpu
cd "$ROOT/source"
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
"$PY" -m venv "$ROOT/venv"
# pip's defaults (15 s a try, 5 retries a request) spend minutes on an index that does not answer.
PIP=("$ROOT/venv/bin/python" -m pip --disable-pip-version-check --timeout 20 --retries 1)
index_answers() {  # one try of at most 10 s
    if command -v curl >/dev/null; then
        curl --silent --show-error --fail --max-time 10 --output /dev/null "$TORCH_INDEX/torch/"
    else
        "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)' "$TORCH_INDEX/torch/"
    fi
}
"${PIP[@]}" install --upgrade pip || echo "setup.sh: pip was not upgraded; going on with the venv's own"
if index_answers; then
    INDEX=(--extra-index-url "$TORCH_INDEX")  # CPU-only torch: a fraction of the default download
else
    echo "setup.sh: $TORCH_INDEX does not answer; torch comes from PyPI"
    INDEX=()
fi
"${PIP[@]}" install ${INDEX[@]+"${INDEX[@]}"} -r requirements.txt
"${PIP[@]}" install --no-deps .
# The sandbox protections this image applies: every submission's jobs require them (or the bundle's list).
"$ROOT/venv/bin/python" -m grader.distribute.gradescope_bundle probe > "$ROOT/source/protections.json"
cat "$ROOT/source/protections.json"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; it writes /autograder/results/results.json.
set -uo pipefail
ROOT="${GRADER_AUTOGRADER_ROOT:-/autograder}"
cd "$ROOT/source"
mkdir -p "$ROOT/results"
"$ROOT/venv/bin/python" -m grader.distribute.gradescope_bundle run
"""


def autograder_root() -> Path:
    """Gradescope's /autograder, or the folder that `GRADER_AUTOGRADER_ROOT` names."""
    return Path(os.environ.get(ROOT_VARIABLE) or "/autograder")


def build_bundle(root: Path, assignment_id: str, out: Path, *, require: Sequence[str] | None = None) -> Path:
    """Write the bundle's files into `out` and zip them into `out/autograder.zip`; returns the zip.

    `require`: the sandbox protections every job must have; None (the default) requires every
    protection that the image's sandbox applies when setup.sh runs.
    """
    from grader.sandbox.confine import PROTECTIONS

    assignment = load_assignment(root, assignment_id)  # validates the bank before anything is written
    unknown = [p for p in require or () if p not in PROTECTIONS]
    if unknown:
        raise SpecError(f"unknown sandbox protection {unknown[0]!r}; known: {', '.join(PROTECTIONS)}")
    out.mkdir(parents=True, exist_ok=True)
    staging = out / "autograder"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    write_installable(staging, requirements_header="# The grader's requirements")
    shutil.copytree(root / "problems" / assignment.id, staging / "problems" / assignment.id, ignore=ignore)
    helpers = extensions.folder(root)
    if helpers is not None:  # the course's helpers, which its tests import (grader.course.extensions)
        shutil.copytree(helpers, staging / extensions.PACKAGE, ignore=ignore)
    (staging / "reference" / assignment.id).mkdir(parents=True)
    for problem in assignment.problems:
        shutil.copy(problem.reference, staging / "reference" / assignment.id / problem.reference.name)
    config = {"assignment": assignment.id, "require": None if require is None else sorted(set(require))}
    (staging / BUNDLE_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
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


def submission_folder(path: Path, assignment: AssignmentSpec) -> FilesFound:
    """Where the student's files are in a Gradescope submission: a grader.course.layouts.FilesFound.

    The student's own files win over course material (a copy of the kit, its stand-ins); a notebook
    counts; when two folders hold files, the choice is made the same way every time and noted.
    """
    from grader.course.layouts import find_student_files

    return find_student_files(path, tuple(p.module_file for p in assignment.problems))


# -- the sandbox's protections ----------------------------------------------------------------------


def probe(zygote: Zygote | None = None) -> dict[str, str | None]:
    """The sandbox protections this machine applies: {name: description, or None when off}.

    A sandbox is forked (from `zygote`, or from one started for the probe) with an empty module and
    nothing of a student's in it, so what it reports is the grader's own view, not a student's claim.
    Protections switched off with GRADER_SANDBOX_DISABLE read as off.
    """
    from grader.course.spec import Limits
    from grader.grading.proxy import StudentSession
    from grader.grading.sandbox_client import Zygote
    from grader.sandbox.confine import PROTECTIONS

    own = zygote is None
    sandboxes = Zygote.start() if zygote is None else zygote
    try:
        with tempfile.TemporaryDirectory(prefix="grader-probe-") as tmp:
            student, work = Path(tmp) / "student", Path(tmp) / "work"
            student.mkdir()
            work.mkdir()
            (student / "grader_probe.py").write_text("")
            session = StudentSession(
                zygote=sandboxes, student_dir=str(student), module="grader_probe", workdir=str(work), limits=Limits()
            )
            try:
                session.module()
            finally:
                session.close()
            return {name: session.protections.get(name) for name in PROTECTIONS}
    finally:
        if own:
            sandboxes.close()


def bundle_config(root: Path) -> dict[str, Any]:
    """The bundle's grader-bundle.json (the assignment, the required protections or None); {} when absent."""
    path = root / BUNDLE_CONFIG
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def required_protections(root: Path) -> tuple[tuple[str, ...], str]:
    """The protections every job of this bundle must have, and where that list comes from."""
    require = bundle_config(root).get("require")
    if require is not None:
        return tuple(require), f"chosen by the instructor ({BUNDLE_CONFIG})"
    recorded = root / PROTECTIONS_FILE
    if not recorded.is_file():
        return (), f"none: {PROTECTIONS_FILE} is missing (setup.sh did not record the image's protections)"
    return tuple(
        json.loads(recorded.read_text()).get("available", ())
    ), f"every one available at set-up ({PROTECTIONS_FILE})"


def probe_main(root: Path) -> int:
    """setup.sh's `probe`: print the image's protections as JSON; 1 when a required one is unavailable."""
    from grader.grading.proxy import disabled_protections

    require = bundle_config(root).get("require")
    try:
        protections = probe()
    except Exception as exc:  # noqa: BLE001  (any failure means no sandbox on this image: set-up must fail)
        print(f"grader: the sandbox cannot start on this image ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    available = [name for name, on in protections.items() if on is not None]
    document = {
        "protections": protections,
        "available": available,
        "off": [name for name, on in protections.items() if on is None],
        "disabled": list(disabled_protections()),
        "require": require,
    }
    print(json.dumps(document, indent=2))
    missing = [name for name in require or () if name not in available]
    if missing:
        print(
            f"grader: this bundle requires the sandbox protection(s) {', '.join(missing)}, which this image does "
            "not apply; rebuild the bundle without them (grader gradescope --require ...) or fix the image",
            file=sys.stderr,
        )
        return 1
    return 0


# -- results.json -----------------------------------------------------------------------------------


def results_document(assignment: AssignmentSpec, results: list[Any]) -> dict[str, Any]:
    """Gradescope's results.json for one student, through grader.results.exports."""
    from grader.results.classbook import build_rows
    from grader.results.exports import gradescope_document

    rows = build_rows(assignment, results)
    if not rows:
        return {"score": 0.0, "output": "No result: the grader graded nothing.", "tests": []}
    return gradescope_document(assignment, rows[0])


def sandbox_report(
    required: Sequence[str], now: dict[str, str | None] | None, results: list[Any], warnings: Sequence[str]
) -> tuple[list[str], list[str], list[str]]:
    """(protections off, required ones among them, lines for the student) from the probe and the jobs' warnings."""
    from grader.sandbox.confine import PROTECTIONS

    off = {name for name, on in (now or {}).items() if on is None}
    off.update(w[len(_OFF_WARNING) :] for w in warnings if w.startswith(_OFF_WARNING))
    ordered = [name for name in PROTECTIONS if name in off]
    refused = [name for name in ordered if name in required]
    lines = []
    if refused and any(r.status == "error" for r in results):
        lines.append(
            f"The grader did not run your code: the sandbox protection(s) {', '.join(refused)}, which "
            "this course requires, are off on this machine. It is not your fault; the score is not final "
            "and your instructor will regrade."
        )
    if ordered:
        lines.append(f"Sandbox protections off on this machine: {', '.join(ordered)}.")
    return ordered, refused, lines


def run(
    assignment_id: str | None = None,
    submission: Path | None = None,
    results_path: Path | None = None,
    root: Path | None = None,
) -> int:
    """Grade one Gradescope submission and write its results.json; never leaves Gradescope without one.

    Defaults: the bundle's assignment, GRADER_AUTOGRADER_ROOT's (or /autograder's) submission/ and
    results/results.json, and the course folder in the working directory (run_autograder's source/).
    """
    from grader.run.runner import default_workers
    from grader.run.session import GradingSession, find_root

    root = root or find_root(None)
    submission = submission or autograder_root() / "submission"
    results_path = results_path or autograder_root() / "results" / "results.json"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    extra: dict[str, Any] = {}
    try:
        required, why = required_protections(root)
        extra.update(required_protections=list(required), required_because=why)
        with GradingSession(root, workers=default_workers(), require=required) as session:
            assignment = session.assignment(assignment_id or bundle_config(root)["assignment"])
            files = submission_folder(submission.resolve(), assignment)
            extra.update(
                submission_folder=os.path.relpath(files.folder, submission.resolve()),
                submission_notes=list(files.notes),
            )
            now: dict[str, str | None] | None = None
            try:
                now = probe(session.zygote.get())
            except Exception as exc:  # noqa: BLE001  (the jobs still enforce `required` in their sandboxes)
                extra["probe_error"] = f"{type(exc).__name__}: {exc}"
            extra["protections"] = now
            summary, results = session.grade_one_folder(assignment, files.folder, "submission")
        document = results_document(assignment, results)
        off, refused, lines = sandbox_report(required, now, results, summary.warnings)
        extra.update(
            protections_off=off,
            refused_for=refused,
            warnings=list(summary.warnings),
            errors=[f"{r.problem}: {r.message}" for r in results if r.status == "error"],
        )
        notes = [f"Your files: {note}" for note in files.notes]
        document["output"] = "\n\n".join(part for part in (document.get("output", ""), *notes, *lines) if part)
        status = 0
    except Exception as exc:  # noqa: BLE001  (a grader error must never read as a silent zero)
        document = {
            "score": 0.0,
            "output": f"A grader error stopped the grading ({type(exc).__name__}: {exc}). It is not your fault; "
            "the score is not final and your instructor will regrade.",
            "tests": [],
        }
        extra["error"] = f"{type(exc).__name__}: {exc}"
        status = 1
    document["extra_data"] = {"grader": extra}
    results_path.write_text(json.dumps(document, indent=2) + "\n")
    # The log (run_autograder's output) is the instructor's view: Gradescope hides it from students.
    print(json.dumps({"results": str(results_path), "score": document.get("score"), **extra}, indent=2))
    return status


USAGE = """usage: python -m grader.distribute.gradescope_bundle run [ASSIGNMENT SUBMISSION_DIR RESULTS_JSON]
       python -m grader.distribute.gradescope_bundle probe"""


def main(argv: list[str] | None = None) -> int:
    """`run` (run_autograder's grading of one submission) or `probe` (setup.sh's record of the protections)."""
    from grader.run.session import find_root

    args = sys.argv[1:] if argv is None else argv
    if args == ["probe"]:
        return probe_main(find_root(None))
    if args == ["run"]:
        return run()
    if len(args) == 4 and args[0] == "run":
        return run(args[1], Path(args[2]), Path(args[3]))
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
