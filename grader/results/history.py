"""What changed between two snapshots of an assignment's class, and why.

A snapshot is the class as the reports show it: per student and problem the test score, the status
and the job's key, the score after adjustments, and per student the adjustments, the late deduction
and the final score. One is kept whenever that changes (a grading run, an adjustment, an extension,
an edit of the adjustments file, a result forgotten): `grader diff` compares two of them, by default
the last two. Why a job's score changed comes from what its key was made of (the store's
`job_inputs`): the problem folder's files, the reference, the grader version, the submission's files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from grader.results.classbook import StudentRow
from grader.results.store import Store

NO_INPUTS = "graded again; what changed is not recorded (graded before this grader recorded a job's inputs)"


def state(rows: Iterable[StudentRow], run: int | None) -> dict[str, Any]:
    """The snapshot of the class: plain JSON data, equal for equal classes."""
    students: dict[str, Any] = {}
    for row in rows:
        s = row.standing
        jobs = {}
        for pid, r in row.problems.items():
            if r is None:
                continue
            jobs[pid] = {
                "score": None if r.status == "error" else r.score,
                "status": r.status,
                "key": r.key,
                "final": s.problem_scores.get(pid) if s is not None else r.score,
            }
        adjustments = []
        late = 0.0
        late_text = ""
        extension = None
        if s is not None:
            adjustments = [
                [a.adjustment.problem, a.adjustment.change, a.adjustment.reason, a.effect] for a in s.adjustments
            ]
            late = s.late_deduction
            late_text = s.late.describe() if s.late is not None and s.late.submitted is not None else ""
            extension = s.extension.isoformat() if s.extension is not None else None
        students[row.id] = {
            "jobs": jobs,
            "tests": row.test_total,
            "adjustments": adjustments,
            "late": late,
            "late_text": late_text,
            "extension": extension,
            "final": row.total,
        }
    return {"run": run, "students": students}


@dataclass(frozen=True)
class Snapshot:
    id: int
    taken_at: str
    event: str


@dataclass(frozen=True)
class Change:
    """A score that changed: a problem's (test score and score after adjustments) or the whole assignment's."""

    student: str
    problem: str  # "" for the assignment as a whole: its own adjustments, the late deduction, the total
    before: float | None  # None: no result then
    after: float | None
    reasons: tuple[str, ...]

    @property
    def text(self) -> str:
        def show(x: float | None) -> str:
            return "–" if x is None else f"{x:g}"

        what = self.problem or "total"
        return f"{what} {show(self.before)} → {show(self.after)}" + (
            f": {'; '.join(self.reasons)}" if self.reasons else ""
        )


@dataclass(frozen=True)
class Diff:
    before: Snapshot
    after: Snapshot
    changes: tuple[Change, ...]
    regraded_same_score: int  # jobs graded again whose score did not change

    @property
    def students(self) -> list[str]:
        """The students whose score changed, sorted."""
        return sorted({c.student for c in self.changes})

    def lines(self) -> list[str]:
        head = (
            f"snapshot {self.before.id} ({self.before.event}, {self.before.taken_at}) → "
            f"snapshot {self.after.id} ({self.after.event}, {self.after.taken_at})"
        )
        out = [head]
        if not self.changes:
            out.append("  no score changed")
        for student in self.students:
            out.append(f"  {student}")
            out.extend(f"    {c.text}" for c in self.changes if c.student == student)
        if self.regraded_same_score:
            out.append(f"  ({self.regraded_same_score} jobs graded again with the same score)")
        return out


def _files_changed(a: dict[str, str], b: dict[str, str]) -> list[str]:
    return sorted(name for name in set(a) | set(b) if a.get(name) != b.get(name))


def _why_graded_again(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    if before is None or after is None:
        return [NO_INPUTS]
    reasons = []
    problem = _files_changed(before.get("problem", {}), after.get("problem", {}))
    if problem:
        reasons.append(f"the problem folder changed ({', '.join(problem)})")
    if before.get("reference") != after.get("reference"):
        reasons.append("the reference changed")
    if before.get("grader") != after.get("grader"):
        reasons.append(f"grader version {before.get('grader')} → {after.get('grader')}")
    submission = _files_changed(before.get("submission", {}), after.get("submission", {}))
    if submission:
        reasons.append(f"the submission changed ({', '.join(submission)})")
    return reasons or ["graded again with the same inputs"]


def _adjustment_reasons(before: list[list[Any]], after: list[list[Any]], problem: str) -> list[str]:
    old = [tuple(a[:3]) for a in before if a[0] == problem]
    new = [tuple(a[:3]) for a in after if a[0] == problem]
    reasons = [f"adjustment {c} added ({r})" for _, c, r in new if (_, c, r) not in old]
    reasons += [f"adjustment {c} withdrawn ({r})" for _, c, r in old if (_, c, r) not in new]
    return reasons


def diff(store: Store, before_id: int | None = None, after_id: int | None = None) -> Diff | None:
    """The changes between two snapshots (default: the last two); None when fewer than two exist."""
    known = {s[0]: Snapshot(*s) for s in store.snapshots()}
    if before_id is None and after_id is None:
        ids = sorted(known)
        if len(ids) < 2:
            return None
        before_id, after_id = ids[-2], ids[-1]
    if before_id not in known or after_id not in known:
        missing = before_id if before_id not in known else after_id
        listed = ", ".join(str(i) for i in sorted(known)) or "none"
        raise KeyError(f"no snapshot {missing} (snapshots: {listed})")
    assert before_id is not None and after_id is not None
    a = store.snapshot(before_id) or {}
    b = store.snapshot(after_id) or {}
    a_students, b_students = a.get("students", {}), b.get("students", {})
    keys = [j["key"] for st in (a_students, b_students) for s in st.values() for j in s["jobs"].values()]
    inputs = store.job_inputs(keys)
    changes: list[Change] = []
    same_score = 0
    for student in sorted(set(a_students) | set(b_students)):
        sa = a_students.get(student, {"jobs": {}, "adjustments": [], "late": 0.0, "late_text": "", "final": None})
        sb = b_students.get(student, {"jobs": {}, "adjustments": [], "late": 0.0, "late_text": "", "final": None})
        for pid in sorted(set(sa["jobs"]) | set(sb["jobs"])):
            ja, jb = sa["jobs"].get(pid), sb["jobs"].get(pid)
            if ja is None or jb is None:
                reason = "graded for the first time" if ja is None else "results removed (grader forget)"
                changes.append(Change(student, pid, ja and ja["final"], jb and jb["final"], (reason,)))
                continue
            reasons: list[str] = []
            if ja["key"] != jb["key"]:
                if ja["score"] == jb["score"] and ja["status"] == jb["status"]:
                    same_score += 1
                else:
                    reasons += _why_graded_again(inputs.get(ja["key"]), inputs.get(jb["key"]))
            elif ja["score"] != jb["score"] or ja["status"] != jb["status"]:
                reasons.append("graded again with the same inputs (--regrade)")
            if ja["status"] != jb["status"] and (ja["status"] == "error" or jb["status"] == "error"):
                reasons.append(f"status {ja['status']} → {jb['status']}")
            reasons += _adjustment_reasons(sa["adjustments"], sb["adjustments"], pid)
            if ja["final"] != jb["final"] or ja["score"] != jb["score"]:
                changes.append(Change(student, pid, ja["final"], jb["final"], tuple(reasons)))
        whole = _adjustment_reasons(sa["adjustments"], sb["adjustments"], "")
        if sa.get("extension") != sb.get("extension"):
            whole.append(f"extension until {sb['extension']}" if sb.get("extension") else "extension withdrawn")
        if sa["late"] != sb["late"]:
            whole.append(
                f"late deduction {sa['late']:g} → {sb['late']:g}" + (f" ({sb['late_text']})" if sb["late_text"] else "")
            )
        if sa["final"] != sb["final"] or whole:
            changes.append(Change(student, "", sa["final"], sb["final"], tuple(whole)))
    return Diff(known[before_id], known[after_id], tuple(changes), same_score)


def record(store: Store, rows: Iterable[StudentRow], *, event: str, at: str) -> int | None:
    """Keep a snapshot of the class if it changed since the last one; its id, or None."""
    return store.add_snapshot(event, state(rows, store.latest_run_id()), at=at)
