"""One job: one student's module on one problem, graded in a trusted worker process.

`run_job` is the function every executor runs (the local process pool, a Dask worker). The job
carries the submission's bytes, so a worker needs only the installed grader and the problem bank.
It copies the submission into a private temporary folder, scans it for forbidden names, runs the
problem's tests with pytest and the grading plugin, and returns a :class:`JobResult`. Student code
runs only in the sandbox that the plugin's `student` fixture talks to.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grader import __version__
from grader.course.spec import ProblemSpec, load_problem
from grader.errors import BankError
from grader.grading.forbidden import find_forbidden
from grader.grading.sandbox_client import Zygote
from grader.records import JobResult, Status

_MAX_SUBMISSION_BYTES = 32 << 20
REFUSED_FILE = "SUBMISSION_REFUSED.txt"  # written by grader.course.layouts in place of files it could not read


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs to grade one job."""

    root: str  # the course folder: problems/, reference/
    assignment: str
    problem: str
    student: str
    files: tuple[tuple[str, bytes], ...]  # the submission: relative path, contents
    key: str
    zygote_address: str | None = None
    require: tuple[str, ...] = ()  # sandbox protections that must be on, or the job is refused
    # Lockstep grading (grader.grading.lockstep) as the run that made the job had it; None: as the worker's
    # environment says. Never part of the key: results are the same either way.
    lockstep: bool | None = None


def read_submission(folder: Path) -> tuple[tuple[str, bytes], ...]:
    """A student's files as (relative path, bytes), sorted; links and oversized folders are skipped."""
    from grader.course.layouts import plain_files

    files = []
    total = 0
    for path in plain_files(folder):  # bounded: no deep folders, no names that are not UTF-8
        rel = path.relative_to(folder)
        if any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        total += len(data)
        if total > _MAX_SUBMISSION_BYTES:
            break
        files.append((rel.as_posix(), data))
    return tuple(files)


def _hash_tree(h: hashlib._Hash, folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")


def hash_problem(h: hashlib._Hash, problem: ProblemSpec) -> None:
    """Feed `h` what a problem's grading depends on besides the submission: the grader's version, the
    problem's folder, its reference, and the course's helpers (its tests import them)."""
    from grader.course import extensions

    h.update(f"grader {__version__}\0problem\0".encode())
    _hash_tree(h, problem.folder)
    h.update(b"reference\0" + problem.reference.read_bytes())
    helpers = extensions.folder(extensions.course_root(problem.folder))
    if helpers is not None:
        h.update(b"helpers\0")
        _hash_tree(h, helpers)


def job_key(problem: ProblemSpec, files: tuple[tuple[str, bytes], ...]) -> str:
    """Hash of everything a job's result depends on: submission, problem folder, reference, course
    helpers, grader (a changed helper regrades the jobs of every problem, as a changed test does)."""
    h = hashlib.sha256()
    for name, data in files:
        h.update(name.encode() + b"\0" + data + b"\0")
    hash_problem(h, problem)
    return h.hexdigest()


@contextlib.contextmanager
def _zygote_for(job: JobSpec) -> Iterator[Zygote]:
    """The zygote the executor gave the job, or one started for this job alone and closed after it."""
    if job.zygote_address is not None:
        yield Zygote(address=job.zygote_address)
        return
    zygote = Zygote.start()
    try:
        yield zygote
    finally:
        zygote.close()


def run_job(job: JobSpec) -> JobResult:
    """Grade one job; never raises for anything the student did."""
    from grader.grading import lockstep

    with lockstep.switched(job.lockstep), _zygote_for(job) as zygote:
        return _run_job(job, zygote)


def _run_job(job: JobSpec, zygote: Zygote) -> JobResult:
    from grader.grading.worker import prepare

    prepare()  # once per process; a worker forked from the preloaded forkserver is ready already

    started = time.monotonic()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    sys.dont_write_bytecode = False  # compiled code goes to the private sys.pycache_prefix (grader.grading.worker)
    problem = load_problem(Path(job.root), job.assignment, job.problem)
    # Named by a hash of the id: an id may be long or odd; the folder's name must stay short and plain.
    tag = hashlib.sha256(job.student.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    tmp = Path(tempfile.mkdtemp(prefix=f"grader-{tag}-{job.problem}-"))
    tmp.chmod(0o711)  # the sandbox's own (unprivileged) user passes through to its two folders
    cwd = os.getcwd()
    try:
        submission = tmp / "submission"
        workdir = tmp / "sandbox"
        trusted = tmp / "trusted"
        for folder in (submission, workdir, trusted):
            folder.mkdir(mode=0o700 if folder is trusted else 0o755)
        for name, data in job.files:
            target = submission / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        os.chdir(trusted)  # Hypothesis and pytest write into the working directory
        result = _grade(job, zygote, problem, submission, str(workdir), trusted)
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = result.cpu_seconds + usage.ru_utime + usage.ru_stime - cpu_before
    return dataclasses.replace(result, duration=time.monotonic() - started, key=job.key, cpu_seconds=cpu)


def _grade(
    job: JobSpec, zygote: Zygote, problem: ProblemSpec, submission: Path, workdir: str, trusted: Path
) -> JobResult:
    import pytest

    from grader.grading import lockstep
    from grader.grading.plugin import GradingPlugin, installed_plugins_off, session_args, session_plugins
    from grader.grading.proxy import StudentSession

    status, forced = screen_submission(problem, submission)
    session = StudentSession(
        zygote=zygote,
        student_dir=str(submission),
        module=problem.module,
        workdir=workdir,
        limits=problem.limits,
        forbidden_calls=problem.forbidden,
        required_names=problem.names,
        hidden=(job.root, *([sys.pycache_prefix] if sys.pycache_prefix else [])),
        require=job.require,
    )
    plugin = GradingPlugin(problem=problem, session=session, forced_failure=forced)
    args = [
        str(problem.test_file),
        *session_args(problem.folder, trusted / "pytest.ini"),
        "-p",
        "no:unraisableexception",  # its gc.collect() calls cost a second on a heap that holds torch
        "-p",
        "no:threadexception",
        "-p",
        "no:logging",
        "--tb=native",  # the cheapest traceback; messages come from the exception itself
    ]
    log = io.StringIO()  # pytest's own report: only shown when the bank itself is broken
    plan_key = lockstep.plan_key(problem.test_file, problem.max_examples, problem.points)
    try:
        from grader.course import extensions

        try:
            extensions.install(extensions.course_root(problem.folder))  # the course's helpers, for its tests
        except BankError as exc:
            plugin.errors.append(str(exc))
        plan = lockstep.job_plan(plan_key) if lockstep.enabled() and lockstep.streams_enabled() else None
        if (
            plan is not None
            and status == "graded"
            and forced is None
            and not plugin.errors
            and plugin.grade_ahead(plan)
        ):
            exit_code: int = pytest.ExitCode.OK  # every test passed on its stream: no pytest session needed
        else:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), installed_plugins_off():
                exit_code = pytest.main(args, plugins=[plugin, *session_plugins()])
            if exit_code in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and not plugin.errors:
                lockstep.keep_job_plan(plan_key, tuple(plugin.plan))
    finally:
        session.close()
        session.end_job()  # on every way out: the session may outlive the job (StudentSession.end_job)
    if plugin.interrupted is not None:  # a job run in the run's own process (a check): the run stops here
        raise plugin.interrupted
    if session.zygote.failure is not None:  # not the student's doing: the run grades the job again
        raise session.zygote.failure
    tests = plugin.test_results()
    message = forced or ""
    if plugin.errors or exit_code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        status = "error"
        message = (
            "\n".join(plugin.errors) or f"pytest stopped with exit code {int(exit_code)}:\n{log.getvalue()[-3000:]}"
        )
        tests = []
    elif any(t.outcome == "error" for t in tests):
        status = "error"
        message = next(t.message for t in tests if t.outcome == "error")
    elif session.tripped:  # a forbidden function ran, however the code reached it: the problem's points go
        status = "forbidden"
        message = forbidden_use_message(problem.module_file, session.tripped)
        tests = [
            dataclasses.replace(t, outcome="failed", points=0.0, message=_joined(message, t.message)) for t in tests
        ]
    elif status == "graded" and session.import_failure is not None:
        status = "crashed"
        message = session.import_failure
    score = sum(t.points for t in tests if t.outcome == "passed")
    return JobResult(
        student=job.student,
        assignment=job.assignment,
        problem=job.problem,
        status=status,
        score=score,
        max_score=problem.points,
        message=message,
        tests=tuple(tests),
        warnings=protection_warnings(session.protections),
        cpu_seconds=session.sandbox_cpu_seconds,
        sandbox_cpu_seconds=session.sandbox_cpu_seconds,
        memory_peak=session.sandbox_memory[0],
        memory_counted_by=session.sandbox_memory[1],
        training_cpu_seconds=session.training_cpu_seconds,
        modes=plugin.modes.as_tuple(),
    )


def forbidden_use_message(module_file: str, called: list[str]) -> str:
    """Why a problem scores zero when its code called forbidden functions while it ran."""
    return f"{module_file} called {', '.join(called)} while it ran; this problem forbids it"


def _joined(first: str, then: str) -> str:
    return first if not then or then == first else f"{first}\n{then}"


def screen_submission(problem: ProblemSpec, submission: Path) -> tuple[Status, str | None]:
    """Why no test can run on `submission` before anything of it runs: a missing file or forbidden names.

    ("graded", None) when the tests may run; grading and the plain-pytest plugin both ask here.
    """
    module_file = submission / problem.module_file
    if not module_file.is_file():
        refused = submission / REFUSED_FILE  # grader.course.layouts could not read the student's files: say why
        if refused.is_file() and not refused.is_symlink():
            return "missing", refused.read_text(errors="replace")[:1000].strip()
        return "missing", f"the submission has no file {problem.module_file}"
    try:
        violations = find_forbidden(module_file.read_text(errors="replace"), problem.forbidden)
    except SyntaxError:
        return "graded", None  # the import reports it, with the student's line
    if violations:
        return "forbidden", "\n".join(v.message(problem.module_file) for v in violations)
    return "graded", None


def protection_warnings(protections: dict[str, object]) -> tuple[str, ...]:
    """One warning per sandbox protection that was off for this job (as established from outside the sandbox)."""
    from grader.sandbox.confine import PROTECTIONS

    if not protections:
        return ()
    return tuple(f"sandbox protection off: {name}" for name in PROTECTIONS if protections.get(name) is None)


def make_job(
    root: Path,
    problem: ProblemSpec,
    student: str,
    folder: Path,
    zygote_address: str | None = None,
    require: tuple[str, ...] = (),
) -> JobSpec:
    from grader.grading import lockstep

    files = read_submission(folder)
    return JobSpec(
        root=str(root),
        assignment=problem.assignment,
        problem=problem.id,
        student=student,
        files=files,
        key=job_key(problem, files),
        zygote_address=zygote_address,
        require=require,
        lockstep=lockstep.enabled(),
    )
