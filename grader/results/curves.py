"""Learning curves in reports: per-epoch figures laid out as SVG geometry, and the class's final values.

A training test records curves (grader.grading.training.record_curve) that are stored with its result. Python
lays the pictures out as numbers here; the templates (charts.html) only write the markup, through
autoescaped jinja2. The student page draws each curve, the student's beside the reference's; the class
page shows, per curve, how the students' final values are distributed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.course.spec import AssignmentSpec
    from grader.results.classbook import StudentRow

_BINS = 10


@dataclass(frozen=True)
class CurveTick:
    position: float  # x or y in the viewBox
    label: str


@dataclass(frozen=True)
class CurveChart:
    """One curve: the student's and the reference's series as polylines in a `width` × `height` viewBox."""

    width: int
    height: int
    left: int
    top: int
    right: float
    bottom: float
    student: str  # "x,y x,y ..." for an SVG polyline; "" when there is nothing to draw
    reference: str
    student_points: tuple[tuple[float, float, str], ...]  # (x, y, "epoch 3: 0.75") for markers with a title
    x_ticks: tuple[CurveTick, ...]
    y_ticks: tuple[CurveTick, ...]
    title: str
    x_label: str
    y_label: str
    summary: str  # the figures in words, for the picture's description and for readers without SVG


def curve_chart(curve: dict[str, Any], *, width: int = 420, height: int = 220) -> CurveChart:
    """Lay out a recorded curve (a dict from TestResult.curves); values it cannot use are skipped."""
    student = _values(curve.get("student"))
    reference = _values(curve.get("reference"))
    left, right_margin, top, bottom_margin = 44, 12, 14, 40
    plot_w, plot_h = width - left - right_margin, height - top - bottom_margin
    finite = [v for v in student + reference if v is not None]
    low, high = (0.0, 1.0) if all(0.0 <= v <= 1.0 for v in finite) else _bounds(finite)
    epochs = max(len(student), len(reference), 1)

    def x(i: int) -> float:
        return round(left + plot_w * (i / (epochs - 1) if epochs > 1 else 0.5), 2)

    def y(v: float) -> float:
        return round(top + plot_h * (1 - (v - low) / (high - low)), 2)

    def line(series: list[float | None]) -> str:
        return " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(series) if v is not None)

    middle = (low + high) / 2
    y_ticks = tuple(CurveTick(y(v), _number(v)) for v in (low, middle, high))
    marks = sorted({0, epochs - 1, (epochs - 1) // 2})
    x_ticks = tuple(CurveTick(x(i), str(i + 1)) for i in marks)
    x_label = str(curve.get("x_label", "epoch"))
    return CurveChart(
        width=width,
        height=height,
        left=left,
        top=top,
        right=width - right_margin,
        bottom=top + plot_h,
        student=line(student),
        reference=line(reference),
        student_points=tuple(
            (x(i), y(v), f"{x_label} {i + 1}: {_number(v)}") for i, v in enumerate(student) if v is not None
        ),
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        title=str(curve.get("title", "")),
        x_label=x_label,
        y_label=str(curve.get("y_label", "")),
        summary=_summary(student, reference, x_label),
    )


@dataclass(frozen=True)
class FinalBar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str


@dataclass(frozen=True)
class FinalValues:
    """The distribution of one curve's final student values over a class, as 10 bars over [0, 1]."""

    problem: str
    test: str
    title: str
    values: tuple[float, ...]  # one per student with a final value, sorted
    reference: float | None  # the reference's final value (the same for every student)
    bars: tuple[FinalBar, ...]
    reference_x: float | None
    width: int
    height: int
    left: int
    top: int
    right: float
    bottom: float
    max_count: int


def final_values(
    assignment: AssignmentSpec, rows: Sequence[StudentRow], *, width: int = 420, height: int = 180
) -> list[FinalValues]:
    """Per problem, test and curve title (in the assignment's order): the class's final values of the curve.

    Only curves whose values lie in [0, 1] (accuracies, rates) are summarised; a student whose test
    recorded no curve (it failed before training, or the problem could not run) is not counted.
    """
    found: dict[tuple[str, str, str], tuple[list[float], float | None]] = {}
    for problem in assignment.problems:
        for row in rows:
            result = row.problems.get(problem.id)
            if result is None:
                continue
            for t in result.tests:
                if t.hidden:
                    continue
                for curve in t.curves:
                    student = [v for v in _values(curve.get("student")) if v is not None]
                    reference_series = [v for v in _values(curve.get("reference")) if v is not None]
                    key = (problem.id, t.name, str(curve.get("title", "")))
                    values, _ = found.setdefault(key, ([], reference_series[-1] if reference_series else None))
                    if student and 0.0 <= student[-1] <= 1.0:
                        values.append(student[-1])
    out = []
    left, right_margin, top, bottom_margin = 36, 12, 16, 40
    plot_w, plot_h = width - left - right_margin, height - top - bottom_margin
    for (problem_id, test, title), (values, reference) in found.items():
        if not values:
            continue
        counts = [0] * _BINS
        for v in values:
            counts[min(int(v * _BINS), _BINS - 1)] += 1
        top_count = max(counts)
        slot = plot_w / _BINS
        bars = tuple(
            FinalBar(
                round(left + i * slot + slot * 0.1, 2),
                round(top + plot_h * (1 - c / top_count), 2),
                round(slot * 0.8, 2),
                round(plot_h * c / top_count, 2),
                c,
                f"{i / _BINS:.1f}–{(i + 1) / _BINS:.1f}" + (" (the upper bound included)" if i == _BINS - 1 else ""),
            )
            for i, c in enumerate(counts)
        )
        ref_x = None if reference is None or not 0.0 <= reference <= 1.0 else round(left + plot_w * reference, 2)
        out.append(
            FinalValues(
                problem=problem_id,
                test=test,
                title=title,
                values=tuple(sorted(values)),
                reference=reference,
                bars=bars,
                reference_x=ref_x,
                width=width,
                height=height,
                left=left,
                top=top,
                right=width - right_margin,
                bottom=top + plot_h,
                max_count=top_count,
            )
        )
    return out


def _values(series: Any) -> list[float | None]:
    if not isinstance(series, (list, tuple)):
        return []
    out: list[float | None] = []
    for v in series[:1000]:
        out.append(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None)
    return out


def _bounds(values: list[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    if high - low < 1e-12:
        return low - 0.5, high + 0.5
    return low, high


def _number(v: float) -> str:
    return f"{v:.2f}" if abs(v) < 1000 else f"{v:.3g}"


def _summary(student: list[float | None], reference: list[float | None], x_label: str) -> str:
    def last(series: list[float | None]) -> str:
        finite = [(i, v) for i, v in enumerate(series) if v is not None]
        if not finite:
            return "nothing to draw"
        i, v = finite[-1]
        return f"{_number(v)} after {x_label} {i + 1}"

    return f"yours: {last(student)}; the reference's: {last(reference)}"
