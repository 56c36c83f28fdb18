"""The grading session: one run of the grader over a course folder, from submissions to the store.

A course folder holds `problems/`, `reference/`, `submissions/` and `reports/`. The bundled demo is
the grader's own checkout, so `grader grade` works with no arguments.

Every command that grades goes through a :class:`GradingSession`: `grader grade` (a class, or every
assignment), `grader check` and the Gradescope run (one student's folder, as a one-student class) and
`grader validate` (the bank's own references and mutants). The session loads each assignment once,
owns the sandbox zygote that every job's sandbox is forked from and the private folder where
archives and notebooks are staged, and runs jobs in one way: on a Dask cluster, in this process for
a single job, or on the local pool, with a job the zygote failed graded again on a fresh zygote.
Closing the session stops the zygote (a kept one, for a student's check, runs on) and removes the
folder; nothing of it lives in module globals.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader import __version__
from grader.course.layouts import Discovered
from grader.course.spec import AssignmentSpec, SpecError, load_assignment
from grader.errors import SubmissionsError
from grader.grading.jobs import JobSpec, make_job
from grader.grading.sandbox_client import SharedZygote, zygote_failed
from grader.records import JobResult
from grader.results.store import Store
from grader.run.run_record import RunRecord
from grader.run.runner import run_jobs, run_jobs_here, start_forkserver
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
    raise SpecError(
        f"{cwd} has no problems/ folder: run grader from a course folder (with problems/ and reference/) "
        "or name one with --root"
    )


_ZYGOTE_RETRIES = 2  # a job the sandbox zygote failed is graded again at most this many times

EXPECTED_LAYOUT = "expected a folder with one sub-folder (or zip, or LMS-named files) per student"


def lockstep_fact(replayed: int, recorded: int, hypothesis: int, streamed: int = 0, repeated: int = 0) -> str:
    """The run's fact about lockstep grading (grader.grading.lockstep): how many tests ran each way.

    A test that passed in lockstep was replayed, recorded (by the first job to pass it in a worker
    process) or passed on its call stream's replies (grader.grading.call_stream); one that did not ran
    under Hypothesis, or repeated the failure of an earlier job's run with the same replies. Which job
    does which depends on which worker reaches the test first, so the fact counts them together and
    gives the same sentence for the same class, run after run.
    """
    from grader.grading.lockstep import enabled

    if not enabled():
        return "off (GRADER_LOCKSTEP=0): every Hypothesis test ran under Hypothesis"
    return (
        f"{replayed + recorded + streamed} Hypothesis tests passed in lockstep (their examples drawn once, then "
        f"replayed for the rest of the class), {hypothesis + repeated} ran under Hypothesis (a failure, a "
        "replay that diverged, or not recordable) or repeated the failure of such a run with the same replies"
    )


def lockstep_split(replayed: int, recorded: int, streamed: int = 0, repeated: int = 0) -> dict[str, int]:
    """The run's lockstep tests by what each job did: recorded the examples, replayed them through the
    test's body, or passed on the call stream's replies alone (the body not run again); and the failures
    repeated from an earlier job's failing run, on its call stream's replies (Hypothesis not run again).

    A fact about the run's execution, like its duration: on more than one worker it depends on timing.
    """
    return {"recorded": recorded, "replayed": replayed, "streamed": streamed, "repeated": repeated}


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


class GradingSession:
    """One run of the grader over the course folder `root`; use it as a context manager.

    `workers` local processes grade jobs at once (or the Dask scheduler at `cluster` runs them);
    `require` names sandbox protections without which no student code runs; `keep_warm` seconds keep
    the sandbox zygote for the next run of this user (a student's `grader check`), 0 keeps none.
    """

    def __init__(
        self,
        root: Path,
        *,
        workers: int = 1,
        require: tuple[str, ...] = (),
        cluster: str | None = None,
        keep_warm: float = 0.0,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers = {workers} must be at least 1")
        self.root = root
        self.workers = workers
        self.require = require
        self.cluster = cluster
        self.zygote = SharedZygote(keep=keep_warm)
        self._assignments: dict[str, AssignmentSpec] = {}
        self._staging: Path | None = None
        self._stagings = 0

    def __enter__(self) -> GradingSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the zygote (a kept one runs on) and remove the staged submissions."""
        self.zygote.close()
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    def assignment(self, assignment_id: str) -> AssignmentSpec:
        """The assignment's spec, read and validated once per session (SpecError names a bad file)."""
        if assignment_id not in self._assignments:
            self._assignments[assignment_id] = load_assignment(self.root, assignment_id)
        return self._assignments[assignment_id]

    def staging(self) -> Path:
        """A fresh, private folder for one discovery's archives and notebooks, removed with the session."""
        if self._staging is None:
            self._staging = Path(tempfile.mkdtemp(prefix="grader-submissions-"))
        self._stagings += 1
        folder = self._staging / str(self._stagings)
        folder.mkdir()
        return folder

    def find_submissions(
        self, folder: Path, assignment: AssignmentSpec, *, require_modules: bool = False
    ) -> Discovered:
        """The students of `folder`, each as one folder of files, and what was noticed reading them;
        SubmissionsError when it holds none.

        The layouts (a folder per student, a flat folder of LMS-named files, a zip per student, and
        notebooks) are read by grader.course.layouts; what is not a plain folder is staged into this
        session's private folder; hidden entries are ignored. With `require_modules`, a folder in which
        no student has any of the assignment's module files (after zips and notebooks are read) is an
        error too: it is a wrong folder, such as the folder of all assignments or of one student, not a
        class that handed in nothing.
        """
        from grader.course.layouts import discover

        if not folder.exists():
            raise SubmissionsError(f"{folder} does not exist; {EXPECTED_LAYOUT}")
        if not folder.is_dir():
            raise SubmissionsError(f"{folder} is not a folder; {EXPECTED_LAYOUT}")
        modules = [p.module_file for p in assignment.problems]
        names = frozenset(n for p in assignment.problems for n in p.names)
        found = discover(folder, self.staging(), modules=tuple(modules), keep_names=names)
        students = found.students
        if students and (not require_modules or any((f / m).is_file() for f in students.values() for m in modules)):
            return found
        wanted = ", ".join(modules)
        if any((folder / m).is_file() or (folder / m).with_suffix(".ipynb").is_file() for m in modules):
            raise SubmissionsError(f"{folder} holds one student's files ({wanted}), not a class; {EXPECTED_LAYOUT}")
        what = "no student" if not students else f"no student with any of {assignment.id}'s files ({wanted})"
        hint = f" (did you mean {folder / assignment.id}?)" if (folder / assignment.id).is_dir() else ""
        raise SubmissionsError(f"{folder} holds {what}; {EXPECTED_LAYOUT}{hint}")

    def run_jobs(self, jobs: Sequence[JobSpec], on_result: Callable[[JobResult], None]) -> None:
        """Run `jobs` and call `on_result` here with each result as it comes.

        On a cluster, each Dask worker uses its own zygote. Locally, sandboxes are forked from this
        session's zygote, started now (it imports torch in its own process while this one starts what
        runs the jobs); a single job runs in this process, more on the local pool. A job the zygote
        failed (not the student, not the bank) is graded again on a fresh zygote, at most
        `_ZYGOTE_RETRIES` times.
        """
        if not jobs:  # a run with nothing to grade starts no sandbox zygote
            return
        if self.cluster:
            from grader.run.cluster import run_jobs_on_cluster

            run_jobs_on_cluster(jobs, address=self.cluster, on_result=on_result)
            return
        by_key = {(job.assignment, job.problem, job.student): job for job in jobs}
        tries: dict[tuple[str, str, str], int] = {}
        again: list[JobSpec] = []

        def finished(result: JobResult) -> None:
            key = (result.assignment, result.problem, result.student)
            if result.status == "error" and zygote_failed(result.message) and tries.get(key, 0) < _ZYGOTE_RETRIES:
                tries[key] = tries.get(key, 0) + 1
                self.zygote.recover()
                again.append(by_key[key])
                return
            on_result(result)

        self.zygote.launch()
        single = len(jobs) == 1  # a student's one-problem check: no forkserver, no worker to fork
        batch = list(jobs)
        while batch:  # then the jobs a failing zygote spoiled, on its replacement (same address)
            if single:
                from grader.grading.worker import prepare

                prepare()  # imports torch, pytest and Hypothesis here while the zygote imports torch there
            else:
                start_forkserver()
            address = self.zygote.get().address
            batch = [dataclasses.replace(job, zygote_address=address) for job in batch]
            if single:
                run_jobs_here(batch, on_result=finished)
            else:
                run_jobs(batch, workers=self.workers, on_result=finished)
            batch, again[:] = list(again), []

    def grade(
        self,
        assignment: AssignmentSpec | str,
        submissions: Path,
        out: Path,
        *,
        regrade: bool = False,
        on_result: Callable[[JobResult, int, int], None] | None = None,
        only: tuple[str, ...] = (),
        require_modules: bool = False,
        times: str = "auto",
    ) -> GradeSummary:
        """Grade every student in `submissions` on every problem (or the `only` ones); results go to `out/grades.sqlite`.

        A folder with no student raises SubmissionsError, and so does one where no student has a file a
        problem asks for when `require_modules` is set (a class folder; a one-student Gradescope class
        that handed in nothing is graded as missing files instead). Stored jobs of students or problems
        this run does not grade are kept, and an unchanged job is not graded again unless `regrade`.
        Each student's files and submission time (`times`: auto, mtime, none, or a CSV file;
        grader.results.late) are recorded, and each graded job's result keeps the submission's Python
        files and what its key was made of.
        """
        started = time.monotonic()
        if isinstance(assignment, str):
            assignment = self.assignment(assignment)
        if only:
            assignment = dataclasses.replace(assignment, problems=tuple(assignment.problem(p) for p in only))
        found = self.find_submissions(submissions, assignment, require_modules=require_modules)
        students, layout_notes = found.students, list(found.notes)
        record = RunRecord(assignment, submissions, students, found, times=times)
        # Nothing is written before the folder is known to hold submissions; then nothing is ever removed:
        # a run over a subset or another folder updates what it grades and keeps every other stored job.
        store = Store(out / "grades.sqlite")
        try:
            run_id = store.start_run(
                {
                    "submissions": str(submissions.resolve()),
                    "students": len(students),
                    "submission_notes": layout_notes,
                },
                students=students,
            )
            stored = store.keys()
            errors = {(r.student, r.problem) for r in store.results() if r.status == "error"}
            jobs: list[JobSpec] = []
            total = 0
            for student, folder in students.items():
                for problem in assignment.problems:
                    total += 1
                    job = make_job(self.root, problem, student, folder, require=self.require)
                    record.saw(job)
                    key = (student, problem.id)
                    if not regrade and stored.get(key) == job.key and key not in errors:
                        continue
                    jobs.append(job)
            record.save(store, run_id)
            failures: list[JobResult] = []
            warnings: set[str] = set(layout_notes)
            modes = [
                0
            ] * 5  # tests replayed, recorded, run under Hypothesis, streamed, repeated (grader.grading.lockstep)
            done = 0

            def finished(result: JobResult) -> None:
                nonlocal done
                result = bounded_result(result)  # what a job says is the student's text, bounded where it arrives
                record.put(store, result)
                done += 1
                modes[:] = [a + b for a, b in zip(modes, result.modes)]
                if result.status == "error":
                    failures.append(result)
                warnings.update(result.warnings)
                if on_result is not None:
                    on_result(result, done, len(jobs))

            self.run_jobs(jobs, finished)
            seconds = time.monotonic() - started
            store.finish_run(
                run_id,
                {
                    "grader_version": __version__,
                    "bank_hash": bank_hash(self.root, assignment),
                    "profile": "derandomized Hypothesis, no database, no deadline; torch seed 0 per test",
                    "finished_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                    "seconds": round(seconds, 2),
                    "jobs_run": len(jobs),
                    "jobs_reused": total - len(jobs),
                    "lockstep": lockstep_fact(*modes),
                    "lockstep_split": lockstep_split(modes[0], modes[1], modes[3], modes[4]),
                },
            )
            missing = store.missing_from_last_run()
        finally:
            store.close()
        return GradeSummary(
            assignment=assignment.id,
            students=len(students),
            jobs=total,
            ran=len(jobs),
            reused=total - len(jobs),
            seconds=seconds,
            errors=failures,
            warnings=sorted(warnings),
            missing=missing,
        )

    def grade_one_folder(
        self,
        assignment: AssignmentSpec | str,
        folder: Path,
        name: str,
        *,
        only: tuple[str, ...] = (),
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
            summary = self.grade(assignment, class_dir, Path(tmp) / "out", only=only, require_modules=require_modules)
            store = Store(Path(tmp) / "out" / "grades.sqlite")
            try:
                results = list(store.results())
            finally:
                store.close()
        return summary, results
