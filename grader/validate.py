"""The bank checks itself: references and alternatives score full marks, every mutant fails exactly its tests.

A problem's `alternatives/` holds correct solutions written far from the reference (float64 inside,
loops, numpy, another formula): the mirror of its mutants. Each must score full marks, and its time
is printed beside the problem's limits, so that limits that would reject a correct algorithm show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.jobs import JobSpec
from grader.results import JobResult
from grader.runner import run_jobs
from grader.sandbox.client import Zygote
from grader.spec import ProblemSpec, load_assignment


@dataclass(frozen=True)
class Check:
    """One verdict of the self-check: a reference or a mutant of one problem."""

    assignment: str
    problem: str
    subject: str  # "reference", "mutant <name>" or "alternative <name>"
    ok: bool
    detail: str


def _job(root: Path, problem: ProblemSpec, subject: str, source: bytes, zygote: str) -> JobSpec:
    return JobSpec(
        root=str(root), assignment=problem.assignment, problem=problem.id, student=subject,
        files=((problem.module_file, source),), key="", zygote_address=zygote,
    )


def _verdict(problem: ProblemSpec, expected_fails: frozenset[str] | None, result: JobResult) -> tuple[bool, str]:
    if result.status == "error":
        return False, f"grader error: {result.message}"
    failed = {t.name for t in result.tests if t.outcome != "passed"}
    if expected_fails is None:
        who = "the reference" if result.student == "reference" else f"the {result.student}"
        if failed or result.status != "graded":
            details = "; ".join(
                f"{t.name}: {t.message.splitlines()[0] if t.message else ''}" for t in result.tests if t.outcome != "passed"
            ) or result.message
            return False, f"{who} scores {result.score:g}/{problem.points:g}: {details}"
        limits = problem.limits
        return True, (
            f"{result.score:g}/{problem.points:g} in {result.duration:.1f} s ({result.cpu_seconds:.1f} s CPU; "
            f"limits: {limits.call_timeout:g} s a call, {limits.job_timeout:g} s a job, {limits.memory_mb} MiB)"
        )
    known = {t.name for t in result.tests}
    unknown = expected_fails - known
    if unknown:
        return False, f"declares tests that do not exist: {', '.join(sorted(unknown))}"
    if failed != expected_fails:
        parts = []
        if failed - expected_fails:
            parts.append(f"also fails {', '.join(sorted(failed - expected_fails))}")
        if expected_fails - failed:
            parts.append(f"passes {', '.join(sorted(expected_fails - failed))}, which it declares it fails")
        return False, "; ".join(parts)
    lost = sum(t.max_points for t in result.tests if t.name in expected_fails)
    return True, f"loses {lost:g} points as declared ({result.score:g}/{problem.points:g})"


def alternatives(problem: ProblemSpec) -> list[Path]:
    """The problem's correct alternative solutions (`alternatives/*.py`)."""
    return sorted((problem.folder / "alternatives").glob("*.py"))


def validate(root: Path, assignments: Sequence[str], *, workers: int) -> list[Check]:
    """Grade every reference, alternative and mutant of `assignments` and compare with what they declare.

    An entry of `assignments` may name one problem as `ASSIGNMENT/PROBLEM`.
    """
    problems = []
    for name in assignments:
        assignment_id, _, problem_id = name.partition("/")
        spec = load_assignment(root, assignment_id)
        problems += [spec.problem(problem_id)] if problem_id else list(spec.problems)
    zygote = Zygote.start()
    expected: dict[tuple[str, str, str], frozenset[str] | None] = {}
    jobs = []
    try:
        for problem in problems:
            jobs.append(_job(root, problem, "reference", problem.reference.read_bytes(), zygote.address))
            expected[(problem.assignment, problem.id, "reference")] = None
            for path in alternatives(problem):
                subject = f"alternative {path.stem}"
                jobs.append(_job(root, problem, subject, path.read_bytes(), zygote.address))
                expected[(problem.assignment, problem.id, subject)] = None
            for mutant in problem.mutants():
                subject = f"mutant {mutant.name}"
                jobs.append(_job(root, problem, subject, mutant.path.read_bytes(), zygote.address))
                expected[(problem.assignment, problem.id, subject)] = mutant.fails
        by_id = {(p.assignment, p.id): p for p in problems}
        checks: list[Check] = []

        def judge(result: JobResult) -> None:
            problem = by_id[(result.assignment, result.problem)]
            ok, detail = _verdict(problem, expected[(result.assignment, result.problem, result.student)], result)
            checks.append(Check(result.assignment, result.problem, result.student, ok, detail))

        run_jobs(jobs, workers=workers, on_result=judge)
    finally:
        zygote.close()
    order = {key: i for i, key in enumerate(expected)}
    return sorted(checks, key=lambda c: order[(c.assignment, c.problem, c.subject)])
