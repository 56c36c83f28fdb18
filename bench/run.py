"""Benchmark: the grader against a naive per-job pytest baseline and an unisolated floor, side by side.

    python bench/run.py [--students 100] [--assignments hw7 hw3 ...] [--naive-sample 16]

It generates a class (every problem of the chosen assignments; per student and problem, a correct
solution (the reference or one of the problem's alternatives, in turn: real classes round in many
ways), a mutant, a module that crashes at import, or a slow correct one) and measures, in one run:

- floor: the same tests in this one process with no isolation at all (student modules imported here);
- naive: `python -m pytest` in a fresh process per job (what a course would do by hand), measured on a
  sample of jobs spread over the class and scaled to it; and a fresh `python -m pytest` per student
  over all of an assignment's problems with one torch thread (the fairer baseline);
- the grader with lockstep off (GRADER_LOCKSTEP=0: every Hypothesis test under Hypothesis), 1 worker;
- the grader with lockstep on but call streams off (GRADER_CALL_STREAMS=0: every replay runs the test's
  body; grader.grading.call_stream), 1 worker;
- the grader with 1 worker and with 2 workers, and a second run with nothing changed;
- the grading process's resident memory after a quarter of the jobs and after all of them (2 workers);
- each job's CPU by the kind of submission (correct, mutant, crash, slow), the grader's (1 worker, as
  its store recorded it) beside the floor's for the same jobs: where the class's time goes;
- per problem, how much of a correct solution's job ran in its sandboxes (the student's code and the
  sandbox's side of its calls) and how much on the trusted side: what any isolated grader must pay.

The grader runs as a fresh process, as `grader grade` would, and its CPU time is that of every
process the run started (forks and exits included); its wall time includes its own start-up.

    python bench/run.py --check [--check-problem hw7/bn_fold] [--repeat 5]

measures a student's self-check instead: `grader check ASSIGNMENT DIR --problem P` on the bundled
correct student, as a fresh command each time: cold (the kernel's page cache dropped first, where
this user may drop it, and no sandbox zygote kept), warm with the zygote the previous check kept
(GRADER_KEEP_WARM, the default) and warm with none kept (medians of repeated runs), side by side with
what bounds them: a fresh `python -c "import torch"`, the sandbox zygote's start alone, and the job's
own tests in one warm process (the floor of one job).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The floor runs in this process: numpy's BLAS on one thread, as in the grader's processes and the naive
# baselines (OMP_NUM_THREADS), set before anything here loads numpy.
from grader.grading.worker import ONE_THREAD  # noqa: E402  (loads no numpy)

os.environ.update(ONE_THREAD)

from inprocess import InProcess  # noqa: E402  (bench/inprocess.py: the baselines' harness)

from grader.course.spec import ProblemSpec, list_assignments, load_assignment  # noqa: E402
from grader.grading.sandbox_client import SharedZygote  # noqa: E402
from grader.run.session import GradingSession  # noqa: E402

SLOW_SUFFIX = """

import functools as _functools
import inspect as _inspect
import time as _time


def _slowly(fn):
    @_functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _time.sleep(0.002)
        return fn(*args, **kwargs)
    return wrapper


for _name, _value in list(globals().items()):
    if _inspect.isfunction(_value) and not _name.startswith("_"):
        globals()[_name] = _slowly(_value)
"""


def kind_of(student: int, problem: str) -> str:
    h = int(hashlib.sha256(f"{student}/{problem}".encode()).hexdigest(), 16) % 20
    return "correct" if h < 10 else "mutant" if h < 15 else "crash" if h < 17 else "slow"


def make_class(course: Path, assignments: list[str], students: int) -> dict[str, list[ProblemSpec]]:
    """Copy the bank into `course` and write `students` generated submissions per assignment."""
    problems: dict[str, list[ProblemSpec]] = {}
    for a in assignments:
        shutil.copytree(ROOT / "problems" / a, course / "problems" / a, ignore=shutil.ignore_patterns("__pycache__"))
        if (ROOT / "course_helpers").is_dir() and not (course / "course_helpers").exists():
            shutil.copytree(
                ROOT / "course_helpers", course / "course_helpers", ignore=shutil.ignore_patterns("__pycache__")
            )
        shutil.copytree(ROOT / "reference" / a, course / "reference" / a, ignore=shutil.ignore_patterns("__pycache__"))
        spec = load_assignment(course, a)
        problems[a] = list(spec.problems)
        for i in range(students):
            folder = course / "submissions" / a / f"student{i:04d}"
            folder.mkdir(parents=True)
            for p in spec.problems:
                kind = kind_of(i, p.id)
                mutants = p.mutants()
                source = p.reference.read_text()
                if kind == "correct":  # the reference or one of the bank's correct solutions written another way
                    correct = [source, *(code for _, code in p.alternatives())]
                    source = correct[i % len(correct)]
                elif kind == "mutant" and mutants:
                    source = p.solution_source(mutants[i % len(mutants)].path)
                elif kind == "crash":
                    source = "raise RuntimeError('this submission crashes at import')\n" + source
                elif kind == "slow":
                    source += SLOW_SUFFIX
                (folder / p.module_file).write_text(source)
    return problems


# -- floor: one process, no isolation -----------------------------------------------------------------


# The grader's own pytest options (grader/grading/jobs.py), so that the floor differs from it only by isolation.
FLOOR_ARGS = [
    "-q",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:unraisableexception",
    "-p",
    "no:threadexception",
    "--tb=native",
    "--import-mode=importlib",
    "-W",
    "ignore",
]


def run_floor(
    course: Path, problems: dict[str, list[ProblemSpec]], students: int
) -> tuple[float, float, dict[str, float], dict[str, list[float]]]:
    """The floor's wall and CPU seconds, per problem the mean CPU seconds of a correct solution's job, and
    each job's CPU seconds by the kind of submission (`kind_of`)."""
    import contextlib
    import io

    import torch

    torch.set_num_threads(1)
    sys.dont_write_bytecode = True
    from grader.course import extensions

    extensions.install(course)
    wall, cpu = time.perf_counter(), time.process_time()
    correct: dict[str, list[float]] = {}
    by_kind: dict[str, list[float]] = {}
    for a, specs in problems.items():
        for i in range(students):
            for p in specs:
                student_file = course / "submissions" / a / f"student{i:04d}" / p.module_file
                plugin = InProcess({str(p.test_file): (str(student_file), str(p.reference), p.max_examples)})
                started = time.process_time()
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    pytest.main(FLOOR_ARGS + [str(p.test_file)], plugins=[plugin])
                spent = time.process_time() - started
                by_kind.setdefault(kind_of(i, p.id), []).append(spent)
                if kind_of(i, p.id) == "correct":
                    correct.setdefault(f"{a}/{p.id}", []).append(spent)
    per_problem = {name: sum(times) / len(times) for name, times in correct.items()}
    return time.perf_counter() - wall, time.process_time() - cpu, per_problem, by_kind


# -- naive: a fresh pytest process per job ----------------------------------------------------------


def _naive_env() -> dict[str, str]:
    """A fresh pytest's environment: bench/inprocess.py importable, one thread for torch's kernels."""
    bench = Path(__file__).resolve().parent
    return {
        **os.environ,
        "PYTHONPATH": f"{bench}{os.pathsep}{ROOT}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
    }


def _naive_command(test_files: list[Path]) -> list[str]:
    # Without the grader's own plugin (its entry point, `grader`): a course's hand-made run has none.
    return [
        sys.executable,
        "-m",
        "pytest",
        *map(str, test_files),
        "-q",
        "-p",
        "inprocess",
        "-p",
        "no:grader",
        "-p",
        "no:cacheprovider",
        "--noconftest",
        "-W",
        "ignore",
    ]


def run_naive(course: Path, problems: dict[str, list[ProblemSpec]], students: int, sample: int) -> float:
    """Mean wall time of one job run as a fresh `python -m pytest` process, with one torch thread."""
    plugin_dir = Path(tempfile.mkdtemp(prefix="bench-naive-"))
    env = _naive_env()
    every = [(a, i, p) for a, specs in problems.items() for i in range(students) for p in specs]
    step = max(1, len(every) // sample)  # spread over the class: every problem, every kind of submission
    jobs = every[::step][:sample]
    start = time.perf_counter()
    for a, i, p in jobs:
        student = course / "submissions" / a / f"student{i:04d}" / p.module_file
        env["BENCH_MODULES"] = json.dumps({str(p.test_file): [str(student), str(p.reference), p.max_examples]})
        subprocess.run(_naive_command([p.test_file]), env=env, capture_output=True, cwd=plugin_dir)
    shutil.rmtree(plugin_dir, ignore_errors=True)
    return (time.perf_counter() - start) / len(jobs)


def run_naive_per_student(course: Path, problems: dict[str, list[ProblemSpec]], students: int, sample: int) -> float:
    """Mean wall time per job of a fresh `python -m pytest` per student over all of an assignment's
    problems, with one torch thread: the baseline a course would more likely script by hand."""
    plugin_dir = Path(tempfile.mkdtemp(prefix="bench-naive-student-"))
    env = _naive_env()
    every = [(a, i) for a, specs in problems.items() for i in range(students)]
    step = max(1, len(every) // sample)
    chosen = every[::step][:sample]
    jobs = 0
    start = time.perf_counter()
    for a, i in chosen:
        specs = problems[a]
        folder = course / "submissions" / a / f"student{i:04d}"
        modules = {str(p.test_file): [str(folder / p.module_file), str(p.reference), p.max_examples] for p in specs}
        env["BENCH_MODULES"] = json.dumps(modules)
        subprocess.run(_naive_command([p.test_file for p in specs]), env=env, capture_output=True, cwd=plugin_dir)
        jobs += len(specs)
    shutil.rmtree(plugin_dir, ignore_errors=True)
    return (time.perf_counter() - start) / jobs


# -- the grader -----------------------------------------------------------------------------------------


def current_rss_mib() -> float:
    """This process's resident memory now (not its peak), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_grader(
    course: Path,
    assignments: list[str],
    workers: int,
    out: Path,
    rss: list[float] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[float, float, int]:
    """Grade the class in a fresh process, as `grader grade` would; wall, CPU and jobs run.

    The CPU time is that of every process the run started (the grading process, its forkserver,
    trusted workers, sandbox zygote and sandboxes), forks and exits included: this process becomes
    their subreaper, so the ones orphaned at exit are reaped here and counted. With `rss`, the grading
    process's resident memory after every job is appended.
    """
    _become_subreaper()
    samples = out / "rss.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run(
        [sys.executable, __file__, "--driver", str(course), str(out), str(workers), *assignments],
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
    )
    while True:  # the forkserver and the zygote outlive the grading process by a moment
        try:
            os.wait()
        except ChildProcessError:
            break
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    report = json.loads(samples.read_text())
    if rss is not None:
        rss.extend(report["rss"])
    return wall, cpu, report["ran"]


def _no_nan(tree: Any) -> Any:
    """The figures with NaN (not measured) as null, which JSON knows."""
    if isinstance(tree, dict):
        return {k: _no_nan(v) for k, v in tree.items()}
    return None if isinstance(tree, float) and tree != tree else tree


def _bank_mean(values: Iterable[float]) -> float:
    """The mean over the bank's problems of a per-problem figure (NaN where none is known)."""
    known = [v for v in values if v == v]
    return sum(known) / len(known) if known else float("nan")


def _stored_cpu(
    out: Path, problems: dict[str, list[ProblemSpec]], students: int
) -> Iterator[tuple[str, int, str, float, float]]:
    """(assignment, student index, problem id, CPU seconds, the sandboxes' share of them) of each job the
    store of a run in `out` holds (the trusted worker's and the sandboxes' CPU, as the job recorded it)."""
    import sqlite3

    for a, specs in problems.items():
        with sqlite3.connect(out / a / "grades.sqlite") as db:
            stored = {(s, p): json.loads(r) for s, p, r in db.execute("SELECT student, problem, result FROM jobs")}
        for p in specs:
            for i in range(students):
                result = stored.get((f"student{i:04d}", p.id))
                if result is not None:
                    yield a, i, p.id, result["cpu_seconds"], result.get("sandbox_cpu_seconds", float("nan"))


def cost_per_problem(out: Path, problems: dict[str, list[ProblemSpec]], students: int) -> dict[str, dict[str, float]]:
    """Per problem, the CPU seconds of a job as the store recorded them.

    `correct_mean` averages the jobs of correct solutions (the generated class's "correct" kind), and
    `correct_sandbox_mean` the part of them their sandboxes used (the student's code and the sandbox's
    side of its calls; the rest is the trusted side's); `max` is the most any job of the problem took (a
    slow or mutant solution included).
    """
    cpu: dict[str, list[float]] = {}
    correct: dict[str, list[float]] = {}
    correct_sandbox: dict[str, list[float]] = {}
    for a, i, problem, seconds, sandbox in _stored_cpu(out, problems, students):
        cpu.setdefault(f"{a}/{problem}", []).append(seconds)
        if kind_of(i, problem) == "correct":
            correct.setdefault(f"{a}/{problem}", []).append(seconds)
            correct_sandbox.setdefault(f"{a}/{problem}", []).append(sandbox)
    return {
        name: {
            "correct_mean": _bank_mean(correct.get(name, [])),
            "correct_sandbox_mean": _bank_mean(correct_sandbox.get(name, [])),
            "mean": sum(times) / len(times),
            "max": max(times),
        }
        for name, times in cpu.items()
    }


def cost_by_kind(
    out: Path, problems: dict[str, list[ProblemSpec]], students: int
) -> dict[str, list[tuple[float, float]]]:
    """Each job's CPU seconds and its sandboxes' share of them as the store recorded them, by the kind of
    submission (`kind_of`): where a class's time goes, passing or failing."""
    by_kind: dict[str, list[tuple[float, float]]] = {}
    for _, i, problem, seconds, sandbox in _stored_cpu(out, problems, students):
        by_kind.setdefault(kind_of(i, problem), []).append((seconds, sandbox))
    return by_kind


def _become_subreaper() -> None:
    import ctypes

    from grader.sandbox.zygote import _PR_SET_CHILD_SUBREAPER

    ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _drive(course: Path, out: Path, workers: int, assignments: list[str]) -> None:
    """The grading process of `run_grader`: grade, then write the jobs run and the memory samples."""
    rss: list[float] = []
    ran = 0
    with GradingSession(course, workers=workers) as session:  # as `grader grade` does: one zygote for the run
        for a in assignments:
            summary = session.grade(
                a,
                course / "submissions" / a,
                out / a,
                on_result=lambda *_: rss.append(current_rss_mib()),
            )
            ran += summary.ran
    out.mkdir(parents=True, exist_ok=True)
    (out / "rss.json").write_text(json.dumps({"ran": ran, "rss": rss}))


# -- a student's self-check ------------------------------------------------------------------------------


def _drop_page_cache() -> bool:
    """Empty the kernel's page cache (needs root); False where this user may not."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def _timed(command: list[str], **kwargs: object) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - start


def _stop_kept_zygotes(run_dir: Path) -> None:
    """End every zygote a check kept under `run_dir` (its own XDG_RUNTIME_DIR), so the next check is cold."""
    import signal
    import socket
    import struct

    for address in run_dir.glob("grader-*/zygote-*.sock"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(str(address))
                pid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
            except OSError:
                continue
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.05)


def run_check(problem_path: str, repeat: int) -> dict[str, float]:
    """Wall times of `grader check --problem` cold, warm, and warm with a kept zygote, and what bounds them."""
    import statistics

    assignment, problem_id = problem_path.split("/")
    student = ROOT / "submissions" / assignment / "alice_correct"
    if not student.is_dir():
        student = sorted((ROOT / "submissions" / assignment).iterdir())[0]
    check = [
        sys.executable,
        "-P",
        "-m",
        "grader",
        "--root",
        str(ROOT),
        "check",
        assignment,
        str(student),
        "--problem",
        problem_id,
    ]
    run_dir = Path(tempfile.mkdtemp(prefix="grader-bench-run-"))
    os.chmod(run_dir, 0o700)
    kept = {**os.environ, "XDG_RUNTIME_DIR": str(run_dir), "GRADER_KEEP_WARM": "600"}
    unkept = {**kept, "GRADER_KEEP_WARM": "0"}
    try:
        dropped = _drop_page_cache()
        cold = _timed(check, env=kept)  # no zygote kept yet: it starts one, and keeps it
        warm_kept = statistics.median(_timed(check, env=kept) for _ in range(repeat))
        _stop_kept_zygotes(run_dir)
        warm = statistics.median(_timed(check, env=unkept) for _ in range(repeat))
    finally:
        _stop_kept_zygotes(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)
    torch_import = statistics.median(_timed([sys.executable, "-c", "import torch"]) for _ in range(repeat))
    zygote = statistics.median(
        _timed([sys.executable, "-c", "from grader.grading.sandbox_client import Zygote; Zygote.start().close()"])
        for _ in range(repeat)
    )
    job = _one_job_in_a_warm_process(assignment, problem_id, student)
    figures = {
        "cold_s": cold,
        "warm_s": warm,
        "warm_kept_zygote_s": warm_kept,
        "import_torch_s": torch_import,
        "zygote_start_s": zygote,
        "one_job_warm_s": job,
        "page_cache_dropped": float(dropped),
    }
    print(f"grader check {assignment} --problem {problem_id}, on {os.cpu_count()} cores, {repeat} repeats")
    print(
        f"  cold{' (page cache dropped)' if dropped else ' (page cache NOT dropped: not root)'}, no zygote kept: "
        f"{cold:6.2f} s   (target <= 5 s)"
    )
    print(f"  warm, the zygote kept by the last check (median):   {warm_kept:6.2f} s   (target <= 3 s)")
    print(f"  warm, no zygote kept (GRADER_KEEP_WARM=0, median):  {warm:6.2f} s")
    print(f"  bounds: python -c 'import torch' {torch_import:6.2f} s; the sandbox zygote's start {zygote:6.2f} s;")
    print(f"          the job's own tests in a warm process {job:6.2f} s")
    print(f"  warm kept check / (import torch + job): {warm_kept / (torch_import + job):5.2f}x")
    return figures


def _one_job_in_a_warm_process(assignment: str, problem_id: str, student: Path) -> float:
    """The job graded twice in one process with a ready zygote; the second run's wall time."""
    from grader.grading.jobs import make_job
    from grader.grading.worker import prepare
    from grader.run.runner import run_job_safely

    prepare()
    problem = load_assignment(ROOT, assignment).problem(problem_id)
    with SharedZygote() as zygote:
        import dataclasses

        job = dataclasses.replace(make_job(ROOT, problem, "bench", student), zygote_address=zygote.get().address)
        run_job_safely(job)
        start = time.perf_counter()
        run_job_safely(job)
        return time.perf_counter() - start


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--driver":
        _drive(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--assignments", nargs="*", default=None, help="default: every assignment in the bank")
    parser.add_argument("--naive-sample", type=int, default=16, help="jobs to time as fresh pytest processes")
    parser.add_argument(
        "--no-ablations",
        action="store_true",
        help="skip the grader's runs with lockstep off and with call streams off (for a large class)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--check", action="store_true", help="measure a student's one-problem self-check instead")
    parser.add_argument("--check-problem", default="hw7/bn_fold", help="ASSIGNMENT/PROBLEM for --check")
    parser.add_argument("--repeat", type=int, default=5, help="warm runs for --check (the median is shown)")
    args = parser.parse_args()
    if args.check:
        figures = run_check(args.check_problem, args.repeat)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        return
    assignments = args.assignments or list_assignments(ROOT)
    course = Path(tempfile.mkdtemp(prefix="grader-bench-"))
    try:
        problems = make_class(course, assignments, args.students)
        n_jobs = sum(len(v) for v in problems.values()) * args.students
        print(
            f"class: {args.students} students x {n_jobs // args.students} problems = {n_jobs} jobs "
            f"({', '.join(assignments)}); machine: {os.cpu_count()} cores, {platform.python_version()}"
        )
        floor_wall, floor_cpu, floor_per_problem, floor_by_kind = run_floor(course, problems, args.students)
        print(f"floor (one process, no isolation): {floor_wall:8.1f} s wall, {floor_cpu:8.1f} s CPU")
        naive_per_job = run_naive(course, problems, args.students, args.naive_sample)
        naive_total = naive_per_job * n_jobs
        print(
            f"naive (fresh pytest per job):      {naive_per_job:8.2f} s per job (sample of {args.naive_sample}), "
            f"{naive_total:8.1f} s for the class serially, {naive_total / 2:8.1f} s two at a time"
        )
        per_student = run_naive_per_student(course, problems, args.students, max(1, args.naive_sample // 4))
        print(
            f"naive (fresh pytest per student):  {per_student:8.2f} s per job (all of an assignment's problems in one "
            "process, one torch thread)"
        )
        one_wall, one_cpu, _ = run_grader(course, assignments, 1, course / "out1")
        print(f"grader, 1 worker:                  {one_wall:8.1f} s wall, {one_cpu:8.1f} s CPU")
        nan = float("nan")
        off_cpu = flat_cpu = nan
        per_problem_off: dict[str, dict[str, float]] = {}
        per_problem_flat: dict[str, dict[str, float]] = {}
        if not args.no_ablations:
            off_wall, off_cpu, _ = run_grader(course, assignments, 1, course / "out1-off", env={"GRADER_LOCKSTEP": "0"})
            print(f"grader, 1 worker, lockstep off:    {off_wall:8.1f} s wall, {off_cpu:8.1f} s CPU")
            flat_wall, flat_cpu, _ = run_grader(
                course, assignments, 1, course / "out1-nostreams", env={"GRADER_CALL_STREAMS": "0"}
            )
            print(f"grader, 1 worker, call streams off: {flat_wall:7.1f} s wall, {flat_cpu:8.1f} s CPU")
            per_problem_off = cost_per_problem(course / "out1-off", problems, args.students)
            per_problem_flat = cost_per_problem(course / "out1-nostreams", problems, args.students)
        per_problem = cost_per_problem(course / "out1", problems, args.students)
        print(
            "CPU per job, by problem (1 worker; a correct solution's mean with lockstep on, with call streams off, with "
            "lockstep off, the floor's for the same solutions, and the most any job took):"
        )
        for name, c in per_problem.items():
            off = per_problem_off.get(name, {}).get("correct_mean", nan)
            flat = per_problem_flat.get(name, {}).get("correct_mean", nan)
            floor = floor_per_problem.get(name, nan)
            print(
                f"  {name:32s} {c['correct_mean']:6.2f} s (sandbox {c['correct_sandbox_mean']:5.2f})   "
                f"no streams {flat:6.2f} s   off {off:6.2f} s   "
                f"floor {floor:6.2f} s   ({c['correct_mean'] / floor:4.2f}x)   max {c['max']:6.2f} s"
            )
        by_kind = cost_by_kind(course / "out1", problems, args.students)
        jobs_cpu = sum(c for jobs in by_kind.values() for c, _ in jobs)
        jobs_sandbox = sum(s for jobs in by_kind.values() for _, s in jobs)
        kinds = {
            kind: {
                "jobs": len(jobs),
                "grader": sum(c for c, _ in jobs) / len(jobs),
                "grader_in_sandboxes": sum(s for _, s in jobs) / len(jobs),
                "floor": _bank_mean(floor_by_kind.get(kind, [])),
                "grader_share": sum(c for c, _ in jobs) / jobs_cpu,
            }
            for kind, jobs in sorted(by_kind.items())
        }
        print("CPU per job, by kind of submission (1 worker, the jobs' own CPU; the floor's for the same jobs):")
        for kind, k in kinds.items():
            print(
                f"  {kind:8s} {k['jobs']:5d} jobs   grader {k['grader']:6.3f} s (sandbox {k['grader_in_sandboxes']:5.3f})   "
                f"floor {k['floor']:6.3f} s   ({k['grader'] / k['floor']:4.2f}x)   "
                f"{100 * k['grader_share']:4.1f}% of the grader's job CPU"
            )
        print(
            f"  all jobs: {jobs_cpu:.1f} s of CPU as the jobs recorded it, {jobs_sandbox:.1f} s of it in the sandboxes "
            f"({100 * jobs_sandbox / jobs_cpu:.0f}%); the run's {one_cpu:.1f} s also counts the zygote, the workers' "
            "start and the run's own work"
        )
        passing = _bank_mean(p["correct_mean"] for p in per_problem.values())
        passing_sandbox = _bank_mean(p["correct_sandbox_mean"] for p in per_problem.values())
        passing_floor = _bank_mean(floor_per_problem.values())
        passing_off = _bank_mean(p["correct_mean"] for p in per_problem_off.values())
        rss: list[float] = []
        two_wall, two_cpu, _ = run_grader(course, assignments, 2, course / "out2", rss)
        print(f"grader, 2 workers:                 {two_wall:8.1f} s wall, {two_cpu:8.1f} s CPU")
        again_wall, _, again_jobs = run_grader(course, assignments, 2, course / "out2")
        print(f"grader, second run, unchanged:     {again_wall:8.1f} s wall ({again_jobs} jobs run again)")
        quarter = max(1, len(rss) // 4)
        rss_quarter, rss_full = rss[quarter - 1], rss[-1]
        figures = {
            "jobs": n_jobs,
            "speedup_vs_naive_serial": naive_total / two_wall,
            "speedup_vs_naive_two_at_a_time": (naive_total / 2) / two_wall,
            "floor_speedup_vs_naive_serial": naive_total / floor_wall,
            "cpu_vs_floor": one_cpu / floor_cpu,
            "cpu_vs_floor_lockstep_off": off_cpu / floor_cpu,
            "lockstep_cpu_vs_off": one_cpu / off_cpu,
            "cpu_vs_floor_call_streams_off": flat_cpu / floor_cpu,
            "call_streams_cpu_vs_off": one_cpu / flat_cpu,
            "cpu_seconds_per_job_by_problem_call_streams_off": per_problem_flat,
            "naive_per_student_seconds_per_job": per_student,
            "speedup_vs_naive_per_student_two_at_a_time": (per_student * n_jobs / 2) / two_wall,
            "cpu_seconds_per_job_by_problem_lockstep_off": per_problem_off,
            "floor_cpu_seconds_per_correct_job_by_problem": floor_per_problem,
            "cpu_seconds_per_job_by_kind": kinds,
            "jobs_cpu_seconds": {"all": jobs_cpu, "in_sandboxes": jobs_sandbox},
            "overhead_ms_per_job_above_floor": 1000 * (one_cpu - floor_cpu) / n_jobs,
            "scaling_1_to_2_workers": one_wall / two_wall,
            "second_run_fraction_of_first": again_wall / two_wall,
            "rss_mib_after_a_quarter_of_the_jobs": rss_quarter,
            "rss_mib_full_class": rss_full,
            "cpu_seconds_per_job_by_problem": per_problem,
            "cpu_ms_per_job": {
                "floor": 1000 * floor_cpu / n_jobs,
                "grader": 1000 * one_cpu / n_jobs,
                "grader_lockstep_off": 1000 * off_cpu / n_jobs,
                "naive_per_job": 1000 * naive_per_job,
                "naive_per_student": 1000 * per_student,
            },
            "cpu_ms_per_passing_job_bank_mean": {
                "floor": 1000 * passing_floor,
                "grader": 1000 * passing,
                "grader_in_sandboxes": 1000 * passing_sandbox,
                "grader_lockstep_off": 1000 * passing_off,
            },
        }
        print()
        per_job = figures["cpu_ms_per_job"]
        print(
            "CPU per job (ms): "
            + ", ".join(f"{name.replace('_', ' ')} {value:.0f}" for name, value in per_job.items())
            + "  (naive: wall, one process at a time)"
        )
        print(
            f"CPU per passing job, mean over the bank: grader {1000 * passing:.0f} ms, floor {1000 * passing_floor:.0f} ms, "
            f"lockstep off {1000 * passing_off:.0f} ms   (target <= 150 ms)"
        )
        print(
            f"  of the grader's, in the sandboxes (the student's code, the sandbox's side of its calls): "
            f"{1000 * passing_sandbox:.0f} ms; on the trusted side: {1000 * (passing - passing_sandbox):.0f} ms"
        )
        print(f"speed-up vs naive (serial):            {figures['speedup_vs_naive_serial']:6.1f}x")
        print(
            f"speed-up vs naive (two at a time):     {figures['speedup_vs_naive_two_at_a_time']:6.1f}x   (no target: the targets are against the per-student baseline below)"
        )
        print(
            f"  bound: the floor over naive, serially {figures['floor_speedup_vs_naive_serial']:5.1f}x   "
            "(what a grader with no overhead at all would reach at equal parallelism)"
        )
        print(f"CPU time vs the floor:                 {figures['cpu_vs_floor']:6.2f}x   (target <= 0.6x)")
        print(f"overhead per job above the floor:      {figures['overhead_ms_per_job_above_floor']:6.0f} ms CPU")
        print(f"CPU time vs the floor, lockstep off:   {figures['cpu_vs_floor_lockstep_off']:6.2f}x")
        print(f"lockstep CPU / lockstep off CPU:       {figures['lockstep_cpu_vs_off']:6.2f}x")
        print(f"CPU time vs the floor, streams off:    {figures['cpu_vs_floor_call_streams_off']:6.2f}x")
        print(f"call streams CPU / streams off CPU:    {figures['call_streams_cpu_vs_off']:6.2f}x")
        print(
            f"speed-up vs naive per student (2 at a time): {figures['speedup_vs_naive_per_student_two_at_a_time']:5.1f}x"
            "   (target >= 5x)"
        )
        print(f"scaling from 1 to 2 workers:           {figures['scaling_1_to_2_workers']:6.2f}x")
        print(
            f"second unchanged run / first run:      {100 * figures['second_run_fraction_of_first']:6.1f}%   (target < 5%)"
        )
        print(f"grading process RSS, after {quarter} vs {len(rss)} jobs: {rss_quarter:6.0f} MiB vs {rss_full:.0f} MiB")
        if args.json:
            args.json.write_text(json.dumps(_no_nan(figures), indent=2) + "\n")
    finally:
        shutil.rmtree(course, ignore_errors=True)


if __name__ == "__main__":
    main()
