"""What a job produces: one result per test and one per job, as frozen dataclasses with a JSON form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Outcome = Literal["passed", "failed", "error"]
Status = Literal["graded", "crashed", "forbidden", "missing", "error"]


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobResult:
        tests = tuple(TestResult(**t) for t in data.get("tests", ()))
        return cls(**{**data, "tests": tests, "warnings": tuple(data.get("warnings", ()))})
