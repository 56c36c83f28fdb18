"""Snapshots of the class and what changed between two of them, with the reasons taken from each job's inputs."""

from __future__ import annotations

from pathlib import Path

from grader.course.spec import AssignmentSpec, Limits, ProblemSpec
from grader.records import JobResult
from grader.results.adjustments import Adjustment
from grader.results.classbook import build_rows
from grader.results.history import NO_INPUTS, diff, record
from grader.results.store import Store
from grader.results.term import Term


def assignment(root: Path) -> AssignmentSpec:
    problems = tuple(
        ProblemSpec(assignment="hw", id=pid, title=pid, module=pid, names=("f",), points=5.0, forbidden=(), secret=False,
                    limits=Limits(), max_examples=1, folder=root / pid, reference=root / f"{pid}.ref.py")
        for pid in ("conv", "fold")
    )
    return AssignmentSpec(id="hw", title="HW", course="", due=None, problems=problems)


def job(student: str, problem: str, score: float, key: str) -> JobResult:
    return JobResult(student=student, assignment="hw", problem=problem, status="graded", score=score, max_score=5.0, key=key)


def inputs(test: str = "t1", submission: str = "s1", reference: str = "r1") -> dict[str, object]:
    return {"problem": {"test_fold.py": test, "README.md": "x"}, "submission": {"fold.py": submission},
            "reference": reference, "grader": "0.1.0"}


def snapshot(store: Store, a: AssignmentSpec, term: Term | None = None, event: str = "grade") -> int | None:
    return record(store, build_rows(a, list(store.results()), term=term), event=event, at="2026-10-05T10:00:00+00:00")


def test_a_fixed_test_names_exactly_the_students_whose_score_changed(tmp_path):
    a = assignment(tmp_path)
    store = Store(tmp_path / "grades.sqlite")
    try:
        for student, fold in (("ann", 5.0), ("bob", 2.0), ("cat", 3.0)):
            store.put(job(student, "conv", 5.0, f"{student}-conv"), inputs=inputs())
            store.put(job(student, "fold", fold, f"{student}-fold-1"), inputs=inputs())
        assert snapshot(store, a) == 1
        assert snapshot(store, a, event="report") is None  # nothing changed: no new snapshot
        assert diff(store) is None
        # The fold test is fixed: every fold job is graded again; bob's score changes, ann's and cat's do not.
        for student, fold in (("ann", 5.0), ("bob", 4.0), ("cat", 3.0)):
            store.put(job(student, "fold", fold, f"{student}-fold-2"), inputs=inputs(test="t2"))
        # cat also hands in again: her conv score changes for another reason.
        store.put(job("cat", "conv", 1.0, "cat-conv-2"), inputs=inputs(submission="s2"))
        assert snapshot(store, a) == 2
        found = diff(store)
        assert found is not None
        assert found.students == ["bob", "cat"]
        assert [c.text for c in found.changes] == [
            "fold 2 → 4: the problem folder changed (test_fold.py)",
            "total 7 → 9",
            "conv 5 → 1: the submission changed (fold.py)",
            "total 8 → 4",
        ]
        assert found.regraded_same_score == 2  # ann's and cat's fold
        assert found.lines()[0] == "snapshot 1 (grade, 2026-10-05T10:00:00+00:00) → snapshot 2 (grade, 2026-10-05T10:00:00+00:00)"
    finally:
        store.close()


def test_adjustments_and_unknown_inputs_are_reasons_too(tmp_path):
    a = assignment(tmp_path)
    store = Store(tmp_path / "grades.sqlite")
    try:
        store.put(job("ann", "conv", 2.0, "old-key"))  # graded by a grader that recorded no inputs
        snapshot(store, a)
        store.put(job("ann", "conv", 3.0, "new-key"), inputs=inputs())
        term = Term(adjustments=(Adjustment("ann", "conv", "add", 1.0, reason="regrade request"),))
        snapshot(store, a, term, event="adjust")
        found = diff(store, 1, 2)
        assert found is not None
        assert [c.text for c in found.changes] == [
            f"conv 2 → 4: {NO_INPUTS}; adjustment +1 added (regrade request)", "total 2 → 4"
        ]
        try:
            diff(store, 1, 7)
        except KeyError as exc:
            assert exc.args[0] == "no snapshot 7 (snapshots: 1, 2)"
        else:
            raise AssertionError("expected KeyError")
    finally:
        store.close()
