"""A course folder and the grading of one assignment in it, from submissions to the store.

A course folder holds `problems/`, `reference/`, `submissions/` and `reports/`. The bundled demo is
the grader's own checkout, so `grader grade` works with no arguments.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader import __version__
from grader.course.layouts import Discovered
from grader.course.spec import AssignmentSpec, load_assignment
from grader.errors import SubmissionsError
from grader.grading.jobs import JobSpec, make_job
from grader.grading.sandbox_client import SharedZygote, zygote_failed
from grader.records import JobResult
from grader.results.store import Store
from grader.run.run_record import RunRecord
from grader.run.runner import run_jobs, run_jobs_here, run_jobs_on_cluster, start_forkserver
from grader.safetext import bounded_result

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def find_root(explicit: Path | None = None) -> Path:
    """The course folder: the one given, else the working directory if it has `problems/`, else the bundled demo."""
    if explicit is not None:
        return explicit.resolve()
    cwd = Path.cwd()
    if (cwd / "problems").is_dir():
        return cwd
    if (_PACKAGE_ROOT / "problems").is_dir():  # a checkout of the grader, with its demo course
        return _PACKAGE_ROOT
    from grader.course.spec import SpecError

    raise SpecError(
        f"{cwd} has no problems/ folder: run grader from a course folder (with problems/ and reference/) "
        "or name one with --root"
    )


def discover_students(
    folder: Path, assignment: AssignmentSpec | None = None, notes: list[str] | None = None,
    discovered: list[Discovered] | None = None,
) -> dict[str, Path]:
    """Every student in `folder`, each as one folder of files (hidden entries are ignored).

    The layouts (a folder per student, a flat folder of LMS-named files, a zip per student, and
    notebooks) are read by grader.course.layouts; what is not a plain folder is staged into a private
    temporary folder that lasts as long as this process. What was skipped is appended to `notes`.
    """
    from grader.course.layouts import discover

    modules = tuple(p.module_file for p in assignment.problems) if assignment else ()
    names = frozenset(n for p in assignment.problems for n in p.names) if assignment else frozenset()
    found = discover(folder, _staging(), modules=modules, keep_names=names)
    if notes is not None:
        notes.extend(found.notes)
    if discovered is not None:
        discovered.append(found)
    return found.students


_staging_dir: Path | None = None


def _staging() -> Path:
    global _staging_dir
    if _staging_dir is None:
        import atexit
        import shutil
        import tempfile

        _staging_dir = Path(tempfile.mkdtemp(prefix="grader-submissions-"))
        atexit.register(shutil.rmtree, _staging_dir, True)
    staging = _staging_dir / str(len(list(_staging_dir.iterdir())))  # one fresh folder per discovery
    staging.mkdir()
    return staging


_ZYGOTE_RETRIES = 2  # a job the sandbox zygote failed is graded again at most this many times

EXPECTED_LAYOUT = "expected a folder with one sub-folder (or zip, or LMS-named files) per student"


def lockstep_fact(replayed: int, recorded: int, hypothesis: int) -> str:
    """The run's fact about lockstep grading (grader.grading.lockstep): which tests ran in which mode."""
    from grader.grading.lockstep import enabled

    if not enabled():
        return "off (GRADER_LOCKSTEP=0): every Hypothesis test ran under Hypothesis"
    return (
        f"{replayed} Hypothesis tests replayed recorded examples, {recorded} recorded them, "
        f"{hypothesis} ran under Hypothesis (a failure, a replay that diverged, or not recordable)"
    )


def find_submissions(
    folder: Path, assignment: AssignmentSpec, notes: list[str] | None = None, *, require_modules: bool = False,
    discovered: list[Discovered] | None = None,
) -> dict[str, Path]:
    """The students of `folder` (as discover_students), or SubmissionsError when it holds none.

    With `require_modules`, a folder in which no student has any of the assignment's module files
    (after zips and notebooks are read) is an error too: it is a wrong folder, such as the folder of
    all assignments or of one student, not a class that handed in nothing.
    """
    if not folder.exists():
        raise SubmissionsError(f"{folder} does not exist; {EXPECTED_LAYOUT}")
    if not folder.is_dir():
        raise SubmissionsError(f"{folder} is not a folder; {EXPECTED_LAYOUT}")
    students = discover_students(folder, assignment, notes, discovered)
    modules = [p.module_file for p in assignment.problems]
    if students and (not require_modules or any((f / m).is_file() for f in students.values() for m in modules)):
        return students
    wanted = ", ".join(modules)
    if any((folder / m).is_file() or (folder / m).with_suffix(".ipynb").is_file() for m in modules):
        raise SubmissionsError(
            f"{folder} holds one student's files ({wanted}), not a class; {EXPECTED_LAYOUT}"
        )
    what = "no student" if not students else f"no student with any of {assignment.id}'s files ({wanted})"
    hint = f" (did you mean {folder / assignment.id}?)" if (folder / assignment.id).is_dir() else ""
    raise SubmissionsError(f"{folder} holds {what}; {EXPECTED_LAYOUT}{hint}")


def bank_hash(root: Path, assignment: AssignmentSpec) -> str:
    h = hashlib.sha256()
    for problem in assignment.problems:
        for path in sorted(problem.folder.rglob("*")) + [problem.reference]:
            if path.is_file() and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


@dataclass
class GradeSummary:
    assignment: str
    students: int
    jobs: int
    ran: int
    reused: int
    seconds: float
    errors: list[JobResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # stored students this run's folder did not hold (kept)


def grade_assignment(
    root: Path,
    assignment_id: str,
    submissions: Path,
    out: Path,
    *,
    workers: int,
    regrade: bool = False,
    require: tuple[str, ...] = (),
    cluster: str | None = None,
    on_result: Callable[[JobResult, int, int], None] | None = None,
    only: tuple[str, ...] = (),
    zygote: SharedZygote | None = None,
    require_modules: bool = False,
    times: str = "auto",
) -> GradeSummary:
    """Grade every student in `submissions` on every problem (or the `only` ones); results go to `out/grades.sqlite`.

    Sandboxes are forked from `zygote`, which a run of several assignments shares (and closes); without
    one, this call starts its own and closes it. A folder with no student raises SubmissionsError, and
    so does one where no student has a file a problem asks for when `require_modules` is set (a class
    folder; a one-student Gradescope class that handed in nothing is graded as missing files instead).
    Stored jobs of students or problems this run does not grade are kept. Each student's files and
    submission time (`times`: auto, mtime, none, or a CSV file; grader.results.late) are recorded, and each
    graded job's result keeps the submission's Python files and what its key was made of.
    """
    if workers < 1:
        raise ValueError(f"workers = {workers} must be at least 1")
    started = time.monotonic()
    assignment = load_assignment(root, assignment_id)
    if only:
        assignment = dataclasses.replace(assignment, problems=tuple(assignment.problem(p) for p in only))
    layout_notes: list[str] = []
    discovered: list[Discovered] = []
    students = find_submissions(
        submissions, assignment, layout_notes, require_modules=require_modules, discovered=discovered
    )
    record = RunRecord(assignment, submissions, students, discovered[-1] if discovered else None, times=times)
    # Nothing is written before the folder is known to hold submissions; then nothing is ever removed:
    # a run over a subset or another folder updates what it grades and keeps every other stored job.
    store = Store(out / "grades.sqlite")
    run_id = store.start_run(
        {"submissions": str(submissions.resolve()), "students": len(students), "submission_notes": layout_notes},
        students=students,
    )
    stored = store.keys()
    errors = {(r.student, r.problem) for r in store.results() if r.status == "error"}
    jobs: list[JobSpec] = []
    total = 0
    for student, folder in students.items():
        for problem in assignment.problems:
            total += 1
            job = make_job(root, problem, student, folder, require=require)
            record.saw(job)
            key = (student, problem.id)
            if not regrade and stored.get(key) == job.key and key not in errors:
                continue
            jobs.append(job)
    record.save(store, run_id)
    done = [0]
    failures: list[JobResult] = []
    warnings: set[str] = set(layout_notes)
    sandboxes = zygote or SharedZygote()
    by_key = {(job.student, job.problem): job for job in jobs}
    regrade_later: list[JobSpec] = []
    tries: dict[tuple[str, str], int] = {}
    modes = [0, 0, 0]  # tests replayed, recorded, run under Hypothesis only (grader.grading.lockstep)

    def finished(result: JobResult) -> None:
        result = bounded_result(result)  # what a job says is the student's text, bounded where it arrives
        key = (result.student, result.problem)
        if result.status == "error" and zygote_failed(result.message) and tries.get(key, 0) < _ZYGOTE_RETRIES and not cluster:
            # The zygote failed this job, not the student or the bank: a fresh zygote grades it again.
            tries[key] = tries.get(key, 0) + 1
            sandboxes.recover()
            regrade_later.append(by_key[key])
            return
        record.put(store, result)
        done[0] += 1
        modes[:] = [a + b for a, b in zip(modes, result.modes)]
        if result.status == "error":
            failures.append(result)
        warnings.update(result.warnings)
        if on_result is not None:
            on_result(result, done[0], len(jobs))

    if cluster:
        run_jobs_on_cluster(jobs, address=cluster, on_result=finished)
    elif jobs:  # a run with nothing to grade starts no sandbox zygote
        try:
            # The zygote imports torch in its own process while this one starts what runs the jobs.
            sandboxes.launch()
            batch = jobs
            while batch:  # then the jobs a failing zygote spoiled, on its replacement (same address)
                if len(jobs) == 1:  # a student's one-problem check: no forkserver, no worker to fork
                    from grader.grading.worker import prepare

                    prepare()  # imports torch, pytest and Hypothesis here while the zygote imports torch there
                    address = sandboxes.get().address
                    run_jobs_here([dataclasses.replace(job, zygote_address=address) for job in batch], on_result=finished)
                else:
                    start_forkserver()
                    address = sandboxes.get().address
                    batch = [dataclasses.replace(job, zygote_address=address) for job in batch]
                    run_jobs(batch, workers=workers, on_result=finished)
                batch, regrade_later[:] = list(regrade_later), []
        finally:
            if zygote is None:  # this call's own
                sandboxes.close()
    seconds = time.monotonic() - started
    store.finish_run(
        run_id,
        {
            "grader_version": __version__,
            "bank_hash": bank_hash(root, assignment),
            "profile": "derandomized Hypothesis, no database, no deadline; torch seed 0 per test",
            "finished_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "seconds": round(seconds, 2),
            "jobs_run": len(jobs),
            "jobs_reused": total - len(jobs),
            "lockstep": lockstep_fact(*modes),
        },
    )
    missing = store.missing_from_last_run()
    store.close()
    return GradeSummary(
        assignment=assignment_id, students=len(students), jobs=total, ran=len(jobs), reused=total - len(jobs),
        seconds=seconds, errors=failures, warnings=sorted(warnings), missing=missing,
    )


def grade_one_folder(
    root: Path,
    assignment_id: str,
    folder: Path,
    name: str,
    *,
    zygote: SharedZygote,
    workers: int,
    only: tuple[str, ...] = (),
    require: tuple[str, ...] = (),
    require_modules: bool = False,
) -> tuple[GradeSummary, list[JobResult]]:
    """Grade one student's `folder` as a one-student class called `name`, in a store of its own that is
    gone when this returns; the run's summary and the student's results (a self-check, a Gradescope run).

    The folder is graded exactly as it would be in a class (the same discovery of files, notebooks and
    archives, the same jobs), so a student's own check and the instructor's grading cannot drift apart.
    """
    with tempfile.TemporaryDirectory(prefix="grader-one-") as tmp:
        class_dir = Path(tmp) / "class"
        class_dir.mkdir()
        (class_dir / name).symlink_to(folder, target_is_directory=True)
        summary = grade_assignment(
            root, assignment_id, class_dir, Path(tmp) / "out", workers=workers, only=only, require=require,
            require_modules=require_modules, zygote=zygote,
        )
        store = Store(Path(tmp) / "out" / "grades.sqlite")
        try:
            results = list(store.results())
        finally:
            store.close()
    return summary, results
