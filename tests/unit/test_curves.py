"""grader.results.curves: learning curves laid out as numbers for the report templates."""

from dataclasses import replace
from pathlib import Path

from grader.course.spec import load_assignment
from grader.records import JobResult, TestResult
from grader.results.classbook import StudentRow
from grader.results.curves import curve_chart, final_values

REPO = Path(__file__).resolve().parents[2]


def curve(student, reference, title="training accuracy"):
    return {"title": title, "x_label": "epoch", "y_label": "accuracy", "student": student, "reference": reference}


def test_a_curve_of_accuracies_spans_zero_to_one_with_one_point_per_epoch():
    chart = curve_chart(curve([0.1, 0.5, 1.0], [0.2, 0.6, 1.0]))
    points = [tuple(map(float, p.split(","))) for p in chart.student.split()]
    assert len(points) == 3 and points[0][0] == chart.left and points[-1][0] == chart.right
    assert points[-1][1] == chart.top and [t.label for t in chart.y_ticks] == ["0.00", "0.50", "1.00"]
    assert [t.label for t in chart.x_ticks] == ["1", "2", "3"]
    assert chart.summary == "yours: 1.00 after epoch 3; the reference's: 1.00 after epoch 3"


def test_values_it_cannot_draw_are_skipped_and_other_ranges_scale():
    chart = curve_chart(curve([2.0, None, "x", 4.0], [3.0]))
    assert len(chart.student.split()) == 2 and len(chart.student_points) == 2
    assert [t.label for t in chart.y_ticks] == ["2.00", "3.00", "4.00"]
    empty = curve_chart(curve("garbage", None))
    assert empty.student == "" and empty.reference == "" and empty.summary.startswith("yours: nothing to draw")


def test_final_values_are_binned_per_problem_test_and_title():
    assignment = load_assignment(REPO, "hw5")
    problem = next(p for p in assignment.problems if p.id == "label_memorization")
    assignment = replace(assignment, problems=(problem,))

    def row(name, final):
        test = TestResult(name="test_memorizes_random_labels", outcome="passed", points=1, max_points=1,
                          curves=(curve([0.3, final], [0.5, 1.0]),))
        result = JobResult(student=name, assignment="hw5", problem=problem.id, status="graded", score=1, max_score=10,
                           tests=(test,))
        return StudentRow(id=name, slug=name, total=1, max_total=10, problems={problem.id: result})

    finals = final_values(assignment, [row("a", 1.0), row("b", 0.95), row("c", 0.31)])
    assert len(finals) == 1
    f = finals[0]
    assert (f.problem, f.test, f.title) == ("label_memorization", "test_memorizes_random_labels", "training accuracy")
    assert f.values == (0.31, 0.95, 1.0) and f.reference == 1.0 and f.reference_x == f.right
    assert [b.count for b in f.bars] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 2]
