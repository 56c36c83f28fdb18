"""The class as renderers see it: one row per student, score statistics, and failures grouped into common mistakes.

Everything here is plain data computed from stored `JobResult`s; the HTML, CSV, Gradescope and JUnit
renderers read it and add no grading logic of their own.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from statistics import mean, median

from grader.course.spec import AssignmentSpec
from grader.records import JobResult, TestResult
from grader.results.term import Standing, Term, standing

# Problem-level statuses where the module never ran its tests: one mistake for the whole problem.
MODULE_STATUSES = ("crashed", "forbidden", "missing")


MISSING_NOTE = "not in the latest run's submissions folder: these results are kept from an earlier run"
RETIRED_NOTE = "results of problems no longer in the assignment, kept but not counted in the total"


@dataclass(frozen=True)
class StudentRow:
    id: str
    slug: str  # a file-name-safe, collision-free form of the id
    total: float  # the final score: the test score, adjustments and the late deduction (grader.results.term)
    max_total: float
    problems: dict[str, JobResult | None]
    missing: bool = False  # stored, but not in the latest run's folder
    retired: dict[str, JobResult] = field(default_factory=dict)  # problems no longer in the assignment
    standing: Standing | None = None  # how the total is made up; None only for rows built by hand

    @property
    def test_total(self) -> float:
        """The sum of the tests' points (grader errors count nothing), before adjustments and lateness."""
        return self.standing.test_score if self.standing is not None else self.total

    @property
    def adjusted(self) -> bool:
        """Whether anything beyond the tests changed the score (or may: an extension, a late submission)."""
        s = self.standing
        return s is not None and bool(s.adjustments or s.extension or (s.late is not None and s.late.submitted))

    @property
    def page(self) -> str:
        return f"students/{self.slug}.html"

    @property
    def notes(self) -> list[str]:
        """What a reader of this row should know beyond the scores (empty for a student of the latest run)."""
        notes = [MISSING_NOTE] if self.missing else []
        if self.retired:
            scores = ", ".join(f"{pid} ({r.score:g} / {r.max_score:g})" for pid, r in self.retired.items())
            notes.append(f"{RETIRED_NOTE}: {scores}")
        return notes


SLUG_CHARS = 64  # the readable part of a file name made from an id; the whole name stays far below 255 bytes
_PLAIN_SLUG = re.compile(r"[a-z0-9_][a-z0-9_.-]*")  # fullmatch: `$` would let a final newline through
_HASHED_SLUG = re.compile(r"-[0-9a-f]{16}\Z")


def slug(student: str) -> str:
    """A file name for a student: safe, short, and never the same as another id's, on any file system.

    An id made of lower-case letters, digits, `_`, `.` and `-` is its own file name (`alice_correct`).
    Any other id (upper case, which a case-insensitive file system folds; other characters, which
    are replaced; more than SLUG_CHARS characters, which are cut) gets 16 hex digits of its hash, and
    so does an id that ends like such a name, so that no id can be given another's file name.
    """
    if _PLAIN_SLUG.fullmatch(student) and len(student) <= SLUG_CHARS and not _HASHED_SLUG.search(student):
        return student
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", student[:SLUG_CHARS]).lstrip(".") or "_"
    digest = hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{safe}-{digest}"


def build_rows(
    assignment: AssignmentSpec, results: list[JobResult], *, missing: Collection[str] = (), term: Term | None = None
) -> list[StudentRow]:
    """One row per student in `results` (every student of the store), sorted by id.

    A grader error counts for nothing in the total (the score is not final), and neither does a
    stored result of a problem no longer in the assignment (kept in `retired`). `missing` are the
    students the latest run did not find in its folder. The total is the final score: `term`'s
    adjustments and late deduction applied to the tests' points (grader.results.term).
    """
    by_student: dict[str, dict[str, JobResult]] = {}
    for r in results:
        by_student.setdefault(r.student, {})[r.problem] = r
    max_total = sum(p.points for p in assignment.problems)
    current = {p.id for p in assignment.problems}
    rows = []
    for student in sorted(by_student):
        jobs = by_student[student]
        problems = {p.id: jobs.get(p.id) for p in assignment.problems}
        retired = {pid: r for pid, r in sorted(jobs.items()) if pid not in current}
        made_up = standing(assignment, student, problems, term)
        rows.append(
            StudentRow(student, slug(student), made_up.final, max_total, problems, student in missing, retired, made_up)
        )
    return rows


def retired_problems(rows: list[StudentRow]) -> dict[str, int]:
    """Problems with stored results that are no longer in the assignment, and how many students have one."""
    counts: dict[str, int] = {}
    for row in rows:
        for pid in row.retired:
            counts[pid] = counts.get(pid, 0) + 1
    return dict(sorted(counts.items()))


# --- score distribution ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bin:
    low: float
    high: float  # exclusive, except for the last bin
    count: int
    label: str


@dataclass(frozen=True)
class Histogram:
    bins: tuple[Bin, ...]
    max_total: float
    students: int
    mean: float
    median: float

    @property
    def max_count(self) -> int:
        return max((b.count for b in self.bins), default=0)


def histogram(totals: list[float], max_total: float) -> Histogram:
    """Totals binned by whole points when the maximum is at most 20 points, else in ten equal bins."""
    if max_total <= 0:
        edges = [0.0, 0.0]
        labels = ["0"]
    elif max_total <= 20 and float(max_total).is_integer():
        n = int(max_total)
        edges = [float(k) for k in range(n + 2)]
        labels = [str(k) for k in range(n + 1)]
        edges[-1] = float(n)
    else:
        width = max_total / 10
        edges = [width * k for k in range(11)]
        labels = [f"{edges[k]:.3g}–{edges[k + 1]:.3g}" for k in range(10)]
    counts = [0] * len(labels)
    for total in totals:
        k = len(labels) - 1
        for i in range(len(labels) - 1):
            if total < edges[i + 1]:
                k = i
                break
        counts[k] += 1
    bins = tuple(Bin(edges[i], edges[i + 1], counts[i], labels[i]) for i in range(len(labels)))
    return Histogram(
        bins=bins,
        max_total=max_total,
        students=len(totals),
        mean=mean(totals) if totals else 0.0,
        median=median(totals) if totals else 0.0,
    )


# --- per problem and per test ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemStat:
    id: str
    title: str
    max_score: float
    graded: int  # students with a final score on the problem (not a grader error, not ungraded)
    mean: float
    full_marks: int

    @property
    def mean_fraction(self) -> float:
        return self.mean / self.max_score if self.max_score else 0.0

    @property
    def pass_rate(self) -> float:
        """The share of students with full marks."""
        return self.full_marks / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class TestStat:
    __test__ = False  # not a pytest test class

    problem: str
    name: str
    hidden: bool
    max_points: float
    passed: int
    ran: int  # students whose outcome is passed or failed (grader errors left out)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.ran if self.ran else 0.0


def problem_stats(assignment: AssignmentSpec, rows: list[StudentRow]) -> list[ProblemStat]:
    stats = []
    for p in assignment.problems:
        scores = [r.score for row in rows if (r := row.problems[p.id]) is not None and r.status != "error"]
        stats.append(
            ProblemStat(
                id=p.id,
                title=p.title,
                max_score=p.points,
                graded=len(scores),
                mean=mean(scores) if scores else 0.0,
                full_marks=sum(1 for s in scores if math.isclose(s, p.points)),
            )
        )
    return stats


def per_test_stats(assignment: AssignmentSpec, rows: list[StudentRow]) -> dict[str, list[TestStat]]:
    """Per problem, each test's pass rate, tests in the order the problem's test file runs them."""
    out: dict[str, list[TestStat]] = {}
    for p in assignment.problems:
        order: dict[str, TestResult] = {}
        passed: dict[str, int] = {}
        ran: dict[str, int] = {}
        for row in rows:
            r = row.problems[p.id]
            if r is None or r.status == "error":
                continue
            for t in r.tests:
                order.setdefault(t.name, t)
                if t.outcome == "error":
                    continue
                ran[t.name] = ran.get(t.name, 0) + 1
                passed[t.name] = passed.get(t.name, 0) + (t.outcome == "passed")
        out[p.id] = [
            TestStat(p.id, name, t.hidden, t.max_points, passed.get(name, 0), ran.get(name, 0))
            for name, t in order.items()
        ]
    return out


# --- common mistakes ------------------------------------------------------------------------------

_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")
_SPACE = re.compile(r"[ \t]+")


def shape(text: str) -> str:
    """`text` with its numbers replaced by `#`: two failures differing only in the values have the same shape.

    Identifiers keep their digits (`float32`, `conv2d`), so a dtype or a layer still tells failures apart.
    """
    text = _ADDRESS.sub("0x#", text)
    text = _NUMBER.sub("#", text)
    return "\n".join(_SPACE.sub(" ", line).strip() for line in text.strip().splitlines())


@dataclass(frozen=True)
class Mistake:
    """Students who failed the same test (or whose module failed the same way) with the same shape of failure."""

    problem: str
    test: str  # "" when the whole module failed (did not import, forbidden names, missing file)
    signature: str
    students: tuple[StudentRow, ...]
    example_student: StudentRow
    message: str
    falsifying_example: str
    reproduce: str
    hidden: bool

    @property
    def count(self) -> int:
        return len(self.students)


def common_mistakes(assignment: AssignmentSpec, rows: list[StudentRow]) -> list[Mistake]:
    """Student failures grouped across the class, most common first.

    A failed test is grouped by problem, test and the shape of its message and smallest failing input;
    a module that could not run its tests at all is grouped by problem and the shape of its message.
    Grader errors are not student mistakes and are left out.
    """
    order = {p.id: i for i, p in enumerate(assignment.problems)}
    groups: dict[tuple[str, str, str], list[tuple[StudentRow, str, TestResult | None]]] = {}
    test_order: dict[tuple[str, str], int] = {}
    for row in rows:
        for pid, r in row.problems.items():
            if r is None or r.status == "error":
                continue
            if r.status in MODULE_STATUSES:
                groups.setdefault((pid, "", shape(r.message)), []).append((row, r.message, None))
                continue
            for i, t in enumerate(r.tests):
                test_order.setdefault((pid, t.name), i)
                if t.outcome != "failed":
                    continue
                signature = shape(t.message) + "\n--\n" + shape(t.falsifying_example)
                groups.setdefault((pid, t.name, signature), []).append((row, t.message, t))
    mistakes = []
    for (pid, test, signature), members in groups.items():
        row, message, example = members[0]
        mistakes.append(
            Mistake(
                problem=pid,
                test=test,
                signature=signature,
                students=tuple(m[0] for m in members),
                example_student=row,
                message=message,
                falsifying_example=example.falsifying_example if example else "",
                reproduce=example.reproduce if example else "",
                hidden=example.hidden if example else False,
            )
        )
    mistakes.sort(
        key=lambda m: (-m.count, order.get(m.problem, 0), test_order.get((m.problem, m.test), -1), m.signature)
    )
    return mistakes
