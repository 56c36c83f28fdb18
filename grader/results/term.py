"""A student's standing on an assignment over the term: the test score, each adjustment, the late deduction, the final score.

The order is fixed: problem adjustments apply to their problem's test score in the file's order (a
problem stays between 0 and its points); then adjustments to the whole assignment (its score stays
at least 0, and may pass the maximum: a bonus); then the late deduction, taken from that score. Each
step's effect is recorded as the points it actually changed, so the test score, the adjustments and
the late deduction always add up to the final score.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from grader.course.spec import AssignmentSpec
from grader.records import JobResult
from grader.results.adjustments import Adjustment, extensions, file_path, now, read
from grader.results.late import Lateness, SubmissionTime, assess
from grader.results.store import Store


@dataclass(frozen=True)
class Applied:
    """An adjustment and the points it changed (after the bounds above)."""

    adjustment: Adjustment
    effect: float


@dataclass(frozen=True)
class Term:
    """What, beyond the test scores, decides an assignment's final scores."""

    adjustments: tuple[Adjustment, ...] = ()
    times: Mapping[str, SubmissionTime] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what the reader should know (adjustments withdrawn from the file)

    def of(self, student: str) -> tuple[Adjustment, ...]:
        return tuple(a for a in self.adjustments if a.student == student)


@dataclass(frozen=True)
class Standing:
    test_score: float
    problem_scores: Mapping[str, float]  # after problem adjustments
    adjustments: tuple[Applied, ...] = ()
    late: Lateness | None = None
    final: float = 0.0
    extension: dt.datetime | None = None

    @property
    def adjustment_total(self) -> float:
        return round(sum(a.effect for a in self.adjustments), 6)

    @property
    def late_deduction(self) -> float:
        return self.late.deduction if self.late is not None else 0.0


def standing(
    assignment: AssignmentSpec, student: str, jobs: Mapping[str, JobResult | None], term: Term | None = None
) -> Standing:
    """The student's standing from their results of the assignment's problems (`jobs`, by problem id)."""
    term = term or Term()
    tests: dict[str, float] = {}
    for p in assignment.problems:
        r = jobs.get(p.id)
        tests[p.id] = r.score if r is not None and r.status != "error" else 0.0  # a grader error counts nothing
    test_score = sum(tests.values())
    scores = dict(tests)
    applied: list[Applied] = []
    mine = term.of(student)
    points = {p.id: p.points for p in assignment.problems}
    for a in mine:
        if a.kind == "extend" or not a.problem:
            continue
        before = scores[a.problem]
        after = a.points if a.kind == "set" else before + a.points
        scores[a.problem] = min(max(after, 0.0), points[a.problem])
        applied.append(Applied(a, round(scores[a.problem] - before, 6)))
    total = sum(scores.values())
    for a in mine:
        if a.kind == "extend" or a.problem:
            continue
        after = max(a.points if a.kind == "set" else total + a.points, 0.0)
        applied.append(Applied(a, round(after - total, 6)))
        total = after
    extension = extensions(mine).get(student)
    late = assess(assignment, total, term.times.get(student), extension=extension)
    final = round(total - (late.deduction if late else 0.0), 6)
    order = {id(a): i for i, a in enumerate(mine)}
    applied.sort(key=lambda x: order[id(x.adjustment)])
    return Standing(round(test_score, 6), scores, tuple(applied), late, final, extension)


def load_term(assignment: AssignmentSpec, store: Store) -> Term:
    """The adjustments file (mirrored into the store: the file wins) and the stored submission times."""
    path = file_path(assignment)
    rows = read(path, assignment)
    added, withdrawn = store.sync_adjustments([a.to_dict() for a in rows], at=now())
    notes = []
    if withdrawn:
        notes.append(
            f"{withdrawn} adjustment{'s' if withdrawn != 1 else ''} no longer in {path} "
            f"{'were' if withdrawn != 1 else 'was'} withdrawn (kept in the store's log: grader adjust {assignment.id} --list --all)"
        )
    times = {s: SubmissionTime.from_dict(t) for s, (_, t) in store.submissions().items() if t}
    return Term(tuple(rows), times, tuple(notes))
