"""What a job produces: one result per test and one per job, as frozen dataclasses with a JSON form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Outcome = Literal["passed", "failed", "error"]
Status = Literal["graded", "crashed", "forbidden", "missing", "error"]
# A failed test's message when nothing of the problem could run (a missing file, forbidden names, a
# module that does not import): this prefix, then the problem's reason, the same for every test.
NOT_RUN = "not run: "


@dataclass(frozen=True)
class TestResult:
    """One test of one job. `error` means a grader error (instructor-facing), never a student's fault."""

    __test__ = False  # not a pytest test class

    name: str
    outcome: Outcome
    points: float
    max_points: float
    hidden: bool = False
    message: str = ""
    falsifying_example: str = ""
    reproduce: str = ""
    notes: str = ""
    student_traceback: str = ""
    output: str = ""
    duration: float = 0.0
    # The calls into the student's code that gave the failure, described (grader.grading.failing_input);
    # "" for a passed test and in results stored before the field existed.
    failing_input: str = ""
    # Figures per epoch the test recorded (grader.grading.training.record_curve): dicts with a title, axis
    # labels and the student's and the reference's series; () for tests that record none.
    curves: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestResult:
        """A stored test result; fields it lacks take their defaults, fields this version does not know are ignored."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "curves" in values:
            values["curves"] = tuple(c for c in values["curves"] or () if isinstance(c, dict))
        return cls(**values)


@dataclass(frozen=True)
class JobResult:
    """One student's module on one problem."""

    student: str
    assignment: str
    problem: str
    status: Status
    score: float
    max_score: float
    message: str = ""
    tests: tuple[TestResult, ...] = field(default=())
    duration: float = 0.0
    key: str = ""
    warnings: tuple[str, ...] = ()
    cpu_seconds: float = 0.0  # the trusted worker's and the sandboxes' CPU time
    # The sandboxes' share of cpu_seconds: the student's code and the sandbox's side of its calls (unpickling
    # arguments, sending replies), as the kernel counted it for each sandbox. A fact about the run.
    sandbox_cpu_seconds: float = 0.0
    # The most memory one of its sandboxes held at once, in bytes (0: not measured), and who counted it:
    # "cgroup" (the sandbox's memory cgroup: what the memory limit counts) or "rss" (its peak resident
    # set, pages shared with the zygote included: where there is no memory cgroup).
    memory_peak: int = 0
    memory_counted_by: str = ""
    # The most CPU time one training call (grader.call_training) used, in seconds, as the kernel counted
    # it for the sandbox (0: no training call). A fact about the run, never part of a score or message.
    training_cpu_seconds: float = 0.0
    # The text of the submission's Python files as graded (name, text), capped (grader.results.codeview); ()
    # in results stored before the field existed. Shown on the student's page, never in exports.
    sources: tuple[tuple[str, str], ...] = ()
    # How many of the job's Hypothesis tests ran each way (grader.grading.lockstep): replayed recorded examples,
    # recorded them, ran under Hypothesis only, passed on a call stream's replies (grader.grading.call_stream),
    # failed as an earlier job's run had, on the same replies (its call stream). Facts about the run, never
    # part of a score or message; results stored with fewer counts read a 0 for each missing one.
    modes: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobResult:
        tests = tuple(TestResult.from_dict(t) for t in data.get("tests", ()))
        sources = tuple((str(name), str(text)) for name, text in data.get("sources", ()))
        counts = [int(n) for n in data.get("modes", ())][:5]
        modes = tuple(counts + [0] * (5 - len(counts)))
        return cls(
            **{**data, "tests": tests, "warnings": tuple(data.get("warnings", ())), "sources": sources, "modes": modes}
        )
