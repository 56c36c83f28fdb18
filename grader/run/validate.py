"""The bank checks itself: references and alternatives score full marks, every mutant fails exactly its tests.

A problem's `alternatives/` holds correct solutions written far from the reference (float64 inside,
loops, numpy, another formula): the mirror of its mutants. Each must score full marks, and its time
and peak memory are printed beside the problem's limits: a reference or alternative that uses more
than half of its job's time or of its memory limit fails the check, so every limit leaves at least
a 2x margin over the most expensive correct solution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.course.spec import Limits, ProblemSpec
from grader.grading.jobs import JobSpec
from grader.records import JobResult
from grader.run.mutate import equivalent_ids, mutants
from grader.run.session import GradingSession

MARGIN = 2.0  # a limit must be at least this many times what a correct solution uses


@dataclass(frozen=True)
class Check:
    """One verdict of the self-check: a reference or a mutant of one problem."""

    assignment: str
    problem: str
    subject: str  # "reference", "mutant <name>" or "alternative <name>"
    ok: bool
    detail: str


def _job(root: Path, problem: ProblemSpec, subject: str, source: bytes) -> JobSpec:
    return JobSpec(
        root=str(root),
        assignment=problem.assignment,
        problem=problem.id,
        student=subject,
        files=((problem.module_file, source),),
        key="",
    )


def _verdict(problem: ProblemSpec, expected_fails: frozenset[str] | None, result: JobResult) -> tuple[bool, str]:
    if result.status == "error":
        return False, f"grader error: {result.message}"
    failed = {t.name for t in result.tests if t.outcome != "passed"}
    if expected_fails is None:
        who = "the reference" if result.student == "reference" else f"the {result.student}"
        if failed or result.status != "graded":
            details = (
                "; ".join(
                    f"{t.name}: {t.message.splitlines()[0] if t.message else ''}"
                    for t in result.tests
                    if t.outcome != "passed"
                )
                or result.message
            )
            return False, f"{who} scores {result.score:g}/{problem.points:g}: {details}"
        usage, tight = usage_against_limits(problem.limits, result)
        if tight:
            return False, (
                f"{who} scores {result.score:g}/{problem.points:g} but leaves less than a {MARGIN:g}x margin "
                f"under a limit: {'; '.join(tight)} ({usage})"
            )
        return True, f"{result.score:g}/{problem.points:g} {usage}"
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


def usage_against_limits(limits: Limits, result: JobResult) -> tuple[str, list[str]]:
    """What a job used, beside its problem's limits, and each limit it uses more than 1/MARGIN of.

    Time is the job's wall time against `job_timeout`. A call's own time is not measured, but no call
    takes longer than the test that makes it, so the slowest test is shown beside `call_timeout` (a
    bound, not judged: one test makes many calls). Memory is the largest peak of its sandboxes against
    `memory_mb`, judged only where a memory cgroup counted it (a resident set also holds the pages
    shared with the zygote, which the limit does not count). A training call's CPU time is measured
    (grader.call_training): the slowest one is judged against `train_cpu_seconds`. The job's CPU time is
    shown with the sandbox's share of it (the code graded), the rest being the tests' own work.
    """
    mib = result.memory_peak / (1 << 20)
    if result.memory_counted_by == "cgroup":
        memory = f"peak {mib:.0f} of {limits.memory_mb} MiB"
    elif result.memory_counted_by == "rss":
        memory = f"peak resident {mib:.0f} MiB, shared pages included (limit {limits.memory_mb} MiB)"
    else:
        memory = f"peak memory not measured (limit {limits.memory_mb} MiB)"
    slowest = max((t.duration for t in result.tests), default=0.0)
    usage = (
        f"in {result.duration:.1f} of {limits.job_timeout:g} s ({result.cpu_seconds:.1f} s CPU, "
        f"{result.sandbox_cpu_seconds:.1f} s of it in the sandbox; slowest test "
        f"{slowest:.1f} s, {limits.call_timeout:g} s a call), {memory}"
    )
    tight = []
    if result.training_cpu_seconds > 0:
        usage += f"; slowest training call {result.training_cpu_seconds:.2f} of {limits.train_cpu_seconds:g} s CPU" + (
            ""
            if limits.train_reference_seconds is None
            else f" (recorded for the reference: {limits.train_reference_seconds:g} s)"
        )
        if result.training_cpu_seconds * MARGIN > limits.train_cpu_seconds:
            tight.append(
                f"a training call used {result.training_cpu_seconds:.2f} s of the {limits.train_cpu_seconds:g} s CPU budget"
            )
    if result.duration * MARGIN > limits.job_timeout:
        tight.append(f"it took {result.duration:.1f} s of the job's {limits.job_timeout:g} s")
    if result.memory_counted_by == "cgroup" and result.memory_peak * MARGIN > limits.memory_mb << 20:
        tight.append(f"it held {mib:.0f} MiB of the {limits.memory_mb} MiB memory limit")
    return usage, tight


def alternatives(problem: ProblemSpec) -> list[tuple[str, str]]:
    """The problem's correct alternative solutions (`alternatives/*.py`, or `*.diff` against the reference)."""
    return problem.alternatives()


AUTO = "auto "  # the subject of an automatic mutant (grader.run.mutate): "auto L12C8:compare:Gt->GtE"


def _auto_verdict(problem: ProblemSpec, mutant_id: str, result: JobResult) -> tuple[bool, str]:
    equivalent = equivalent_ids(list(problem.equivalent_mutants))
    if result.status == "error":
        return False, f"grader error: {result.message.splitlines()[0] if result.message else ''}"
    if result.score < problem.points or result.status != "graded":
        failed = sorted(t.name for t in result.tests if t.outcome != "passed")
        if mutant_id in equivalent:
            return False, f"declared equivalent in problem.toml, but the tests kill it ({', '.join(failed)})"
        return True, f"killed by {', '.join(failed) or result.status}"
    if mutant_id in equivalent:
        return True, f"equivalent: {equivalent[mutant_id]}"
    return False, "survives: no test tells it from the reference (strengthen a test, or record it as equivalent)"


def validate(root: Path, assignments: Sequence[str], *, workers: int, mutate: bool = False) -> list[Check]:
    """Grade every reference, alternative and mutant of `assignments` and compare with what they declare.

    An entry of `assignments` may name one problem as `ASSIGNMENT/PROBLEM`. With `mutate`, every
    automatic mutant of each reference (grader.run.mutate) is graded too: each must lose points, or be
    recorded as equivalent in the problem's `problem.toml`.
    """
    with GradingSession(root, workers=workers) as session:
        problems = []
        for name in assignments:
            assignment_id, _, problem_id = name.partition("/")
            spec = session.assignment(assignment_id)
            problems += [spec.problem(problem_id)] if problem_id else list(spec.problems)
        expected: dict[tuple[str, str, str], frozenset[str] | None] = {}
        stale_checks: list[Check] = []
        jobs = []
        for problem in problems:
            jobs.append(_job(root, problem, "reference", problem.reference.read_bytes()))
            expected[(problem.assignment, problem.id, "reference")] = None
            for name, source in alternatives(problem):
                subject = f"alternative {name}"
                jobs.append(_job(root, problem, subject, source.encode()))
                expected[(problem.assignment, problem.id, subject)] = None
            if mutate:
                generated = set()
                for auto in mutants(problem.reference.read_text()):
                    generated.add(auto.id)
                    jobs.append(_job(root, problem, AUTO + auto.id, auto.source.encode()))
                    expected[(problem.assignment, problem.id, AUTO + auto.id)] = None
                for stale in sorted(set(equivalent_ids(list(problem.equivalent_mutants))) - generated):
                    stale_checks.append(
                        Check(
                            problem.assignment,
                            problem.id,
                            AUTO + stale,
                            False,
                            "declared equivalent in problem.toml, but no such mutant is generated any more",
                        )
                    )
            for mutant in problem.mutants():
                subject = f"mutant {mutant.name}"
                jobs.append(_job(root, problem, subject, mutant.source.encode()))
                expected[(problem.assignment, problem.id, subject)] = mutant.fails
        by_id = {(p.assignment, p.id): p for p in problems}
        checks: list[Check] = []

        def judge(result: JobResult) -> None:
            problem = by_id[(result.assignment, result.problem)]
            if result.student.startswith(AUTO):
                ok, detail = _auto_verdict(problem, result.student[len(AUTO) :], result)
            else:
                ok, detail = _verdict(problem, expected[(result.assignment, result.problem, result.student)], result)
            checks.append(Check(result.assignment, result.problem, result.student, ok, detail))

        session.run_jobs(jobs, judge)
    order = {key: i for i, key in enumerate(expected)}
    return sorted(checks, key=lambda c: order[(c.assignment, c.problem, c.subject)]) + stale_checks


def kill_table(checks: Sequence[Check]) -> list[tuple[str, int, int, int, int]]:
    """Per problem: (assignment/problem, automatic mutants, killed, equivalent, surviving or wrong)."""
    rows: dict[str, list[int]] = {}
    for c in checks:
        if not c.subject.startswith(AUTO):
            continue
        row = rows.setdefault(f"{c.assignment}/{c.problem}", [0, 0, 0, 0])
        row[0] += 1
        if not c.ok:
            row[3] += 1
        elif c.detail.startswith("equivalent:"):
            row[2] += 1
        else:
            row[1] += 1
    return [(name, *counts) for name, counts in rows.items()]  # type: ignore[misc]
