"""The late policy: validation in assignment.toml, submission times, and exactly what a late submission loses."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from grader.course.layouts import discover, marked_late
from grader.course.spec import AssignmentSpec, LatePolicy, SpecError, load_assignment
from grader.results.late import (
    SOURCE_CANVAS,
    SOURCE_CSV,
    SOURCE_MTIME,
    SubmissionTime,
    assess,
    read_submitted_csv,
    submission_times,
)

REPO = Path(__file__).resolve().parents[2]
ZONE = dt.timezone(dt.timedelta(hours=2))
DUE = dt.datetime(2026, 10, 1, 23, 59, tzinfo=ZONE)


@pytest.fixture
def course(tmp_path):
    for part in ("problems/hw7/true_softmax", "reference/hw7"):
        shutil.copytree(REPO / part, tmp_path / part)
    return tmp_path


def with_toml(course: Path, text: str) -> AssignmentSpec:
    (course / "problems/hw7/assignment.toml").write_text('title = "HW7"\nproblems = ["true_softmax"]\n' + text)
    return load_assignment(course, "hw7")


def test_a_late_policy_loads(course):
    a = with_toml(course, 'due = 2026-10-01T23:59:00+02:00\n[late]\nper_hour = 0.01\ngrace_minutes = 5\nmax_deduction = 0.5\n')
    assert a.due_at == DUE
    assert a.late == LatePolicy(per_hour=0.01, grace_minutes=5, max_deduction=0.5)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[late]\nper_day = 0.1\n", '[late] needs a due date to count from: add due = "2026-10-01T23:59:00+02:00"'),
        ('due = "2026-10-01"\n[late]\nper_day = 0.1\n',
         "due = '2026-10-01' must be a date and time with a time zone, like 2026-10-01T23:59:00+02:00 ([late] counts from it)"),
        ('due = "2026-10-01T23:59:00+02:00"\n[late]\nper_day = 1.5\n',
         "late.per_day = 1.5 must be between 0 and 1 (a fraction of the assignment's points)"),
        ('due = "2026-10-01T23:59:00+02:00"\n[late]\nper_day = 0.1\nper_hour = 0.01\n',
         "late.per_day = 0.1 and late.per_hour = 0.01: give one of them, not both"),
        ('due = "2026-10-01T23:59:00+02:00"\n[late]\nper_day = 0.1\ngrace_minutes = -1\n',
         "late.grace_minutes = -1 must not be negative"),
        ('due = "2026-10-01T23:59:00+02:00"\n[late]\nnot_accepted_after = "2026-09-30T00:00:00+02:00"\n',
         "late.not_accepted_after = '2026-09-30T00:00:00+02:00' must be after due = '2026-10-01T23:59:00+02:00'"),
        ('due = "2026-10-01T23:59:00+02:00"\n[late]\nper_dya = 0.1\n', "unknown key 'late.per_dya'"),
        ('due = "2026-10-01T23:59:00+02:00"\n[late]\ngrace_minutes = 5\n',
         "[late] = {'grace_minutes': 5} must set per_day, per_hour or not_accepted_after"),
    ],
)
def test_a_bad_late_policy_names_the_file_key_value_and_rule(course, text, expected):
    with pytest.raises(SpecError) as info:
        with_toml(course, text)
    assert str(info.value).startswith(str(course / "problems/hw7/assignment.toml") + ": ")
    assert expected in str(info.value)


def assignment(course: Path, late: str) -> AssignmentSpec:
    return with_toml(course, f'due = "2026-10-01T23:59:00+02:00"\n[late]\n{late}\n')  # true_softmax: 10 points


def at(**delta: float) -> SubmissionTime:
    return SubmissionTime(DUE + dt.timedelta(**delta), SOURCE_CSV)


@pytest.mark.parametrize(
    "late, submitted, units, deduction",
    [
        ("per_day = 0.1", at(minutes=-1), 0, 0.0),
        ("per_day = 0.1\ngrace_minutes = 15", at(minutes=15), 0, 0.0),  # within the grace period
        ("per_day = 0.1\ngrace_minutes = 15", at(minutes=16), 1, 1.0),  # counted from the due date
        ("per_day = 0.1", at(days=1, seconds=1), 2, 2.0),  # a part of a day counts as a day
        ("per_day = 0.1\nmax_deduction = 0.3", at(days=9), 9, 3.0),  # capped
        ("per_hour = 0.05", at(hours=2, minutes=30), 3, 1.5),
        ("per_day = 0.5", at(days=5), 5, 8.0),  # never more than the score
    ],
)
def test_a_late_submission_loses_exactly_what_the_policy_says(course, late, submitted, units, deduction):
    result = assess(assignment(course, late), 8.0, submitted)
    assert result is not None
    assert (result.units, result.deduction, result.rejected) == (units, deduction, False)


def test_after_not_accepted_after_the_score_is_zero_and_an_extension_moves_both_dates(course):
    a = assignment(course, 'per_day = 0.1\nnot_accepted_after = "2026-10-03T23:59:00+02:00"')
    rejected = assess(a, 9.0, at(days=3))
    assert rejected is not None and rejected.rejected and rejected.deduction == 9.0
    assert "not accepted" in rejected.describe()
    extended = assess(a, 9.0, at(days=3), extension=DUE + dt.timedelta(days=2))
    assert extended is not None and not extended.rejected and (extended.units, extended.deduction) == (1, 1.0)
    assert extended.extended and "(extended)" in extended.describe()


def test_a_marker_without_a_time_deducts_nothing_and_says_so(course):
    result = assess(assignment(course, "per_day = 0.1"), 8.0, SubmissionTime(None, SOURCE_CANVAS, marked_late=True))
    assert result is not None and result.deduction == 0.0 and result.late_seconds < 0
    assert "marked late (Canvas late marker) but no time is known: nothing deducted" in result.describe()


def test_no_due_date_no_lateness(course):
    assert assess(with_toml(course, ""), 8.0, at(days=3)) is None


def test_submitted_csv_times_and_their_errors(tmp_path):
    path = tmp_path / "submitted.csv"
    path.write_text("student,submitted_at\nann,2026-10-02T10:00:00+02:00\nbob,2026-10-02T10:00:00\n")
    times = read_submitted_csv(path, ZONE)
    assert times["ann"] == SubmissionTime(dt.datetime(2026, 10, 2, 10, tzinfo=ZONE), SOURCE_CSV)
    assert times["bob"].at == dt.datetime(2026, 10, 2, 10, tzinfo=ZONE)  # no zone: the due date's
    with pytest.raises(SpecError, match="line 3: submitted_at = '2026-10-02T10:00:00' must carry a time zone"):
        read_submitted_csv(path)
    path.write_text("student,submitted_at\nann,yesterday\n")
    with pytest.raises(SpecError, match=r"submitted.csv: line 2: submitted_at = 'yesterday' must be a date and time"):
        read_submitted_csv(path, ZONE)


def test_times_from_the_layout_the_csv_and_modification_times(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "annlee_late_12345_67890_true_softmax.py").write_text("x = 1\n")
    (folder / "bobsmith_12345_67890_true_softmax.py").write_text("x = 2\n")
    (folder / "submitted.csv").write_text("student,submitted_at\nbobsmith,2026-10-05T12:00:00+02:00\n")
    found = discover(folder, tmp_path / "staging", modules=("true_softmax.py",))
    assert sorted(found.students) == ["annlee", "bobsmith"] and found.notes == []  # submitted.csv is no student's
    assert found.marked_late == {"annlee"} and marked_late("annlee_late_12345_67890_true_softmax.py")
    auto = submission_times(folder, found.students, how="auto", entries=found.entries, marked_late=found.marked_late)
    assert auto["annlee"] == SubmissionTime(None, SOURCE_CANVAS, marked_late=True)
    assert auto["bobsmith"].source == SOURCE_CSV
    stamp = dt.datetime(2026, 10, 2, 8, 30, tzinfo=dt.UTC).timestamp()
    os.utime(folder / "annlee_late_12345_67890_true_softmax.py", (stamp, stamp))
    mtimes = submission_times(folder, found.students, how="mtime", entries=found.entries, marked_late=found.marked_late)
    assert mtimes["annlee"] == SubmissionTime(dt.datetime(2026, 10, 2, 8, 30, tzinfo=dt.UTC), SOURCE_MTIME, marked_late=True)
    assert mtimes["bobsmith"].source == SOURCE_CSV  # the instructor's file wins
    assert submission_times(folder, found.students, how="none", entries=found.entries) == {}
    with pytest.raises(SpecError, match="--times nowhere.csv: expected auto, mtime, none or a CSV file"):
        submission_times(folder, found.students, how="nowhere.csv", entries=found.entries)
