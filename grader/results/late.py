"""Late submissions: when each student handed in, and what the assignment's `[late]` policy takes for it.

A submission time comes, per student, from the first of these that knows it: a `submitted.csv` the
instructor provides (`student,submitted_at`, in the submissions folder or named with `--times FILE`),
the files' modification times when asked (`--times mtime`), or the layout (Canvas's `_late_` marker in
a file name, which says late but not when). Each time keeps its source, and the reports show it.

The deduction is a fraction of the assignment's points per day (or hour) late or part of one, counted
from the student's due date (the assignment's, or the student's extension) once the grace period is
over, capped at `max_deduction`; after `not_accepted_after` (moved by an extension as much as the due
date) the submission scores 0. It is taken from the score after adjustments, never below 0.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from grader.course.layouts import SUBMISSION_TIMES_FILE, plain_files
from grader.course.spec import AssignmentSpec, LatePolicy, SpecError, parse_date_time

SUBMITTED_CSV = SUBMISSION_TIMES_FILE
SOURCE_CSV = SUBMISSION_TIMES_FILE
SOURCE_MTIME = "file modification time"
SOURCE_CANVAS = "Canvas late marker"
TIMES_CHOICES = ("auto", "mtime", "none")


@dataclass(frozen=True)
class SubmissionTime:
    """When a student handed in (None where only a marker says late), and how the grader knows."""

    at: dt.datetime | None
    source: str
    marked_late: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"at": self.at.isoformat() if self.at else None, "source": self.source, "marked_late": self.marked_late}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> SubmissionTime:
        at = data.get("at")
        return cls(
            at=parse_date_time(at) if isinstance(at, str) else None,
            source=str(data.get("source", "")),
            marked_late=bool(data.get("marked_late", False)),
        )


@dataclass(frozen=True)
class Lateness:
    """What the late policy makes of one student's submission."""

    due: dt.datetime  # the student's due date: the assignment's, or the extension's
    extended: bool
    submitted: SubmissionTime | None
    late_seconds: float  # 0 when on time (grace included); -1 when not known
    units: int  # days or hours (or parts of one) counted late
    unit: str  # "day" or "hour"
    fraction: float  # of the assignment's points, after the cap
    deduction: float  # points taken from the score (never more than the score)
    rejected: bool  # handed in after `not_accepted_after`: scores 0

    @property
    def late(self) -> bool:
        return self.late_seconds > 0 or self.rejected

    def describe(self) -> str:
        """One line: when, from which source, against which due date, and what it cost."""
        due = f"due {self.due.isoformat()}" + (" (extended)" if self.extended else "")
        if self.submitted is None:
            return f"no submission time known; {due}"
        if self.submitted.at is None:
            return (
                f"marked late ({self.submitted.source}) but no time is known: nothing deducted; "
                f"give the time in {SUBMITTED_CSV} to apply the late policy; {due}"
            )
        when = f"submitted {self.submitted.at.astimezone(self.due.tzinfo).isoformat()} ({self.submitted.source})"
        if self.rejected:
            return f"{when}, after the last accepted time: not accepted, -{self.deduction:g} points; {due}"
        if not self.late:
            return f"{when}: on time; {due}"
        late = _duration(self.late_seconds)
        return (
            f"{when}: {late} late, {self.units} {self.unit}{'s' if self.units != 1 else ''} counted, "
            f"{100 * self.fraction:g}% of the points: -{self.deduction:g} points; {due}"
        )


def _duration(seconds: float) -> str:
    minutes = int(math.ceil(seconds / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes or not parts else []
    return " ".join(parts)


def assess(
    assignment: AssignmentSpec, score: float, submitted: SubmissionTime | None, *, extension: dt.datetime | None = None
) -> Lateness | None:
    """The late policy applied to one student's `score` (after adjustments); None without a due date and time."""
    if assignment.due_at is None:
        return None
    policy = assignment.late or LatePolicy()
    due = extension if extension is not None else assignment.due_at
    unit, rate = ("hour", policy.per_hour) if policy.per_hour else ("day", policy.per_day)
    none = Lateness(due, extension is not None, submitted, 0.0, 0, unit, 0.0, 0.0, rejected=False)
    if submitted is None or submitted.at is None:
        return Lateness(due, extension is not None, submitted, -1.0 if submitted else 0.0, 0, unit, 0.0, 0.0, False)
    late_seconds = (submitted.at - due).total_seconds()
    if late_seconds <= policy.grace_minutes * 60:
        return none
    cutoff = policy.not_accepted_after
    if cutoff is not None and extension is not None:
        cutoff = cutoff + (extension - assignment.due_at)  # the window after the due date keeps its length
    if cutoff is not None and submitted.at > cutoff:
        return Lateness(due, extension is not None, submitted, late_seconds, 0, unit, 1.0, max(score, 0.0), True)
    seconds = 3600 if unit == "hour" else 86400
    units = math.ceil(late_seconds / seconds)
    fraction = min(units * rate, policy.max_deduction)
    max_points = sum(p.points for p in assignment.problems)
    deduction = round(min(fraction * max_points, max(score, 0.0)), 6)
    return Lateness(due, extension is not None, submitted, late_seconds, units, unit, fraction, deduction, False)


# --- where times come from ------------------------------------------------------------------------


def read_submitted_csv(path: Path, default_zone: dt.tzinfo | None = None) -> dict[str, SubmissionTime]:
    """`student,submitted_at` rows; a time without a zone is in `default_zone` (the due date's), else an error."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SpecError(f"{path}: cannot be read ({exc.strerror})") from None
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or not {"student", "submitted_at"} <= set(reader.fieldnames):
        raise SpecError(f"{path}: the header must name the columns student,submitted_at (got {reader.fieldnames!r})")
    times: dict[str, SubmissionTime] = {}
    for line, row in enumerate(reader, start=2):
        student = (row.get("student") or "").strip()
        value = (row.get("submitted_at") or "").strip()
        if not student:
            raise SpecError(f"{path}: line {line}: student = '' must name a student")
        try:
            at = dt.datetime.fromisoformat(value)
        except ValueError:
            raise SpecError(
                f"{path}: line {line}: submitted_at = {value!r} must be a date and time like 2026-10-01T23:59:00+02:00"
            ) from None
        if at.tzinfo is None:
            if default_zone is None:
                raise SpecError(f"{path}: line {line}: submitted_at = {value!r} must carry a time zone, like +02:00")
            at = at.replace(tzinfo=default_zone)
        times[student] = SubmissionTime(at, SOURCE_CSV)
    return times


def modification_time(entries: Iterable[Path]) -> dt.datetime | None:
    """The latest modification time of the files in `entries` (files, folders searched, zips as files)."""
    latest: float | None = None
    for entry in entries:
        paths = [entry] if not entry.is_dir() else plain_files(entry)
        for p in paths:
            try:
                mtime = p.stat().st_mtime
            except OSError:
                continue
            latest = mtime if latest is None else max(latest, mtime)
    return None if latest is None else dt.datetime.fromtimestamp(int(latest), dt.UTC)


def submission_times(
    folder: Path,
    students: Iterable[str],
    *,
    how: str,
    entries: Mapping[str, Iterable[Path]],
    marked_late: Iterable[str] = (),
    default_zone: dt.tzinfo | None = None,
) -> dict[str, SubmissionTime]:
    """The submission time of each student this run found, by `how`: auto, mtime, none, or a CSV file's path.

    `auto` reads `submitted.csv` in the submissions folder where there is one; a CSV always wins for
    the students it lists; the layout's markers fill in the rest.
    """
    if how == "none":
        return {}
    csv_path = folder / SUBMITTED_CSV if how in ("auto", "mtime") else Path(how)
    if how not in TIMES_CHOICES and not csv_path.is_file():
        raise SpecError(
            f"--times {how}: expected auto, mtime, none or a CSV file (student,submitted_at), and no such file exists"
        )
    from_csv = read_submitted_csv(csv_path, default_zone) if csv_path.is_file() else {}
    late = set(marked_late)
    times: dict[str, SubmissionTime] = {}
    for student in students:
        if student in from_csv:
            times[student] = from_csv[student]
        elif how == "mtime" and (at := modification_time(entries.get(student, ()))) is not None:
            times[student] = SubmissionTime(at, SOURCE_MTIME, marked_late=student in late)
        elif student in late:
            times[student] = SubmissionTime(None, SOURCE_CANVAS, marked_late=True)
    return times
