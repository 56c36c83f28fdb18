"""Adjustments: the file (the source of truth) read, validated and written; the store's log; the order of a final score."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from grader.course.spec import AssignmentSpec, LatePolicy, Limits, ProblemSpec, SpecError
from grader.records import JobResult
from grader.results.adjustments import Adjustment, append, file_path, parse_change, read, write
from grader.results.late import SOURCE_CSV, SubmissionTime
from grader.results.store import Store
from grader.results.term import Term, load_term, standing

ZONE = dt.timezone(dt.timedelta(hours=2))
DUE = dt.datetime(2026, 10, 1, 23, 59, tzinfo=ZONE)


def make_assignment(root: Path, **kw: object) -> AssignmentSpec:
    problems = tuple(
        ProblemSpec(assignment="hw", id=pid, title=pid, module=pid, names=("f",), points=points, forbidden=(),
                    secret=False, limits=Limits(), max_examples=10, folder=root / "problems/hw" / pid,
                    reference=root / "reference/hw" / f"{pid}.py")
        for pid, points in (("conv", 4.0), ("fold", 6.0))
    )
    return AssignmentSpec(id="hw", title="Homework", course="", due=None, problems=problems,
                          folder=root / "problems/hw", **kw)  # type: ignore[arg-type]


def result(student: str, problem: str, score: float, status: str = "graded") -> JobResult:
    return JobResult(student=student, assignment="hw", problem=problem, status=status, score=score,  # type: ignore[arg-type]
                     max_score=4.0 if problem == "conv" else 6.0, key=f"{student}-{problem}")


def add(student: str, problem: str, points: float, reason: str = "why") -> Adjustment:
    return Adjustment(student, problem, "add", points, reason=reason, by="prof", at="2026-10-05T10:00:00+00:00")


def test_changes_parse_as_the_command_line_spells_them():
    assert parse_change("+2") == ("add", 2.0)
    assert parse_change("-0.5") == ("add", -0.5)
    assert parse_change("=7") == ("set", 7.0)
    with pytest.raises(SpecError, match=r"change = '2' must be \+N, -N or =N"):
        parse_change("2")
    assert add("a", "", -1.5).change == "-1.5" and Adjustment("a", "conv", "set", 3).change == "=3"


def test_the_file_round_trips_and_keeps_spreadsheets_from_reading_formulas(tmp_path):
    a = make_assignment(tmp_path)
    path = file_path(a)
    assert path == tmp_path / "adjustments/hw.csv"
    rows = [add("=cmd|calc", "conv", 1, reason="-1 for style? no: +1"),
            Adjustment("bob", "", "extend", until="2026-10-05T23:59:00+02:00", by="prof", at="x")]
    write(path, rows)
    text = path.read_text()
    assert text.splitlines()[0] == "student,problem,kind,points,until,reason,by,at"
    assert text.splitlines()[1].startswith("'=cmd|calc,conv,add,1,,'-1 for style")
    assert read(path, a) == rows
    assert read(tmp_path / "nowhere.csv", a) == []


@pytest.mark.parametrize(
    "line, expected",
    [
        ("ann,conv,add,two,,why,prof,", "line 2: points = 'two' must be a number"),
        ("ann,nope,add,1,,why,prof,", "line 2: problem = 'nope' must be a problem of hw (conv, fold) or empty"),
        ("ann,conv,add,1,,,prof,", "line 2: reason = '' must say why (it is the audit trail)"),
        ("ann,conv,set,5,,why,prof,", "line 2: points = 5 must be between 0 and the problem's 4 points for kind = set"),
        ("ann,,extend,,tomorrow,,prof,", "line 2: until = 'tomorrow' must be a date and time with a time zone"),
        ("ann,,bonus,1,,why,prof,", "line 2: kind = 'bonus' must be one of add, set, extend"),
    ],
)
def test_a_bad_row_names_the_file_line_column_value_and_rule(tmp_path, line, expected):
    a = make_assignment(tmp_path)
    path = file_path(a)
    path.parent.mkdir(parents=True)
    path.write_text("student,problem,kind,points,until,reason,by,at\n" + line + "\n")
    with pytest.raises(SpecError) as info:
        read(path, a)
    assert str(info.value).startswith(f"{path}: {expected}")


def test_problem_adjustments_then_the_assignment_then_lateness_and_the_parts_add_up(tmp_path):
    a = make_assignment(tmp_path, due_at=DUE, late=LatePolicy(per_day=0.1))
    jobs = {"conv": result("ann", "conv", 3.0), "fold": result("ann", "fold", 6.0)}
    term = Term(
        adjustments=(add("ann", "conv", 5), add("ann", "fold", -2), add("ann", "", 1.5), add("bob", "conv", 1)),
        times={"ann": SubmissionTime(DUE + dt.timedelta(hours=30), SOURCE_CSV)},
    )
    s = standing(a, "ann", jobs, term)
    assert s.test_score == 9.0
    assert dict(s.problem_scores) == {"conv": 4.0, "fold": 4.0}  # +5 capped at the problem's 4 points
    assert [x.effect for x in s.adjustments] == [1.0, -2.0, 1.5]
    assert s.late is not None and (s.late.units, s.late.deduction) == (2, 2.0)  # 2 days at 10% of 10 points
    assert s.final == 7.5 == s.test_score + s.adjustment_total - s.late_deduction


def test_set_replaces_a_grader_error_counts_nothing_and_nothing_goes_below_zero(tmp_path):
    a = make_assignment(tmp_path)
    jobs = {"conv": result("ann", "conv", 0.0, status="error"), "fold": result("ann", "fold", 2.0)}
    term = Term(adjustments=(Adjustment("ann", "conv", "set", 3.0, reason="graded by hand"), add("ann", "", -10)))
    s = standing(a, "ann", jobs, term)
    assert s.test_score == 2.0 and [x.effect for x in s.adjustments] == [3.0, -5.0] and s.final == 0.0


def test_the_file_wins_and_the_store_keeps_withdrawn_rows(tmp_path):
    a = make_assignment(tmp_path)
    store = Store(tmp_path / "reports/hw/grades.sqlite")
    try:
        path = file_path(a)
        append(path, a, add("ann", "conv", 1, reason="first"))
        append(path, a, add("bob", "", 2, reason="second"))
        assert [x.reason for x in load_term(a, store).adjustments] == ["first", "second"]
        write(path, [add("bob", "", 2, reason="second")])  # a person removes a row by hand
        term = load_term(a, store)
        assert [x.reason for x in term.adjustments] == ["second"]
        assert term.notes and "1 adjustment no longer in" in term.notes[0]
        log = store.adjustment_log()
        assert [(row["reason"], gone is not None) for row, _, gone in log] == [("first", True), ("second", False)]
        assert load_term(a, store).notes == ()  # said once; the log keeps it
    finally:
        store.close()
