"""What a grading run records beyond the scores: each student's files and submission time, each job's inputs, the graded code.

`grader diff` explains a changed score by what its job's key was made of (the problem folder's
files, the reference, the grader version, the submission's files); the late policy needs when each
student handed in (grader.results.late); the student's page shows the code that was graded (grader.results.codeview).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grader import __version__
from grader.course.layouts import Discovered
from grader.course.spec import AssignmentSpec, ProblemSpec
from grader.grading.jobs import JobSpec
from grader.records import JobResult
from grader.results.codeview import capture_sources
from grader.results.late import SubmissionTime, submission_times
from grader.results.store import Store


def file_hashes(files: tuple[tuple[str, bytes], ...]) -> dict[str, str]:
    """Each file's name and a short hash of its bytes."""
    return {name: hashlib.sha256(data).hexdigest()[:16] for name, data in files}


def problem_inputs(problem: ProblemSpec) -> dict[str, Any]:
    """The problem folder's files and the reference, hashed as a job's key hashes them."""
    files = {
        path.relative_to(problem.folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        for path in sorted(problem.folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    return {"files": files, "reference": hashlib.sha256(problem.reference.read_bytes()).hexdigest()[:16]}


class RunRecord:
    """Collects, during one run, what the store keeps for the term; the submission times are read first,
    so that a bad `--times` file stops the run before anything is written."""

    def __init__(
        self,
        assignment: AssignmentSpec,
        submissions: Path,
        students: Mapping[str, Path],
        found: Discovered | None,
        *,
        times: str = "auto",
    ) -> None:
        self.assignment = assignment
        found = found or Discovered()
        self.times: dict[str, SubmissionTime] = submission_times(
            submissions,
            students,
            how=times,
            entries=found.entries,
            marked_late=found.marked_late,
            default_zone=assignment.due_at.tzinfo if assignment.due_at else None,
        )
        self.problems = {p.id: problem_inputs(p) for p in assignment.problems}
        self.files: dict[str, dict[str, str]] = {}
        self.jobs: dict[tuple[str, str], JobSpec] = {}

    def saw(self, job: JobSpec) -> None:
        """A job of this run, graded now or unchanged since an earlier run."""
        self.files[job.student] = file_hashes(job.files)
        self.jobs[(job.student, job.problem)] = job

    def save(self, store: Store, run_id: int) -> None:
        """Each student's files and submission time."""
        store.record_submissions(self.files, {s: t.to_dict() for s, t in self.times.items()}, run=run_id)

    def inputs(self, student: str, problem: str) -> dict[str, Any] | None:
        if student not in self.files or problem not in self.problems:
            return None
        return {
            "submission": self.files[student],
            "problem": self.problems[problem]["files"],
            "reference": self.problems[problem]["reference"],
            "grader": __version__,
        }

    def put(self, store: Store, result: JobResult) -> None:
        """Store a job's result with the graded code (capped) and what its key was made of."""
        job = self.jobs.get((result.student, result.problem))
        if job is not None and result.status != "error":
            module = self.assignment.problem(result.problem).module_file
            result = dataclasses.replace(result, sources=capture_sources(job.files, first=module))
        store.put(result, inputs=self.inputs(result.student, result.problem))
