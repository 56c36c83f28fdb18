"""Feedback a student can act on: the failing input described, a problem that cannot run said once, views of both."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import torch
from rich.console import Console
from torch import nn

from grader.course.spec import Limits, load_assignment
from grader.grading.failing_input import MAX_CHARS, Call, describe_call, describe_calls, describe_tensor, describe_value
from grader.grading.proxy import StudentSession
from grader.records import NOT_RUN, JobResult, TestResult
from grader.results.exports import HIDDEN_NOTE, gradescope_document
from grader.results.report import build_rows, render_pages, results_document
from grader.results.terminal import print_check, replay_command

REPO = Path(__file__).resolve().parents[2]


# -- describing values ---------------------------------------------------------------------------------


def test_a_small_tensor_is_printed_in_full_with_shape_and_dtype():
    t = torch.tensor([[1.0, -2.5], [0.125, 1e-7]], dtype=torch.float64)
    assert describe_tensor(t) == "tensor (2, 2) float64 [[1, -2.5], [0.125, 1e-07]]"
    assert describe_tensor(torch.tensor([2, 0, 1])) == "tensor (3,) int64 [2, 0, 1]"
    assert describe_tensor(torch.tensor([True, False])) == "tensor (2,) bool [True, False]"
    assert describe_tensor(torch.zeros(0, 3)) == "tensor (0, 3) float32 (empty)"
    assert describe_tensor(torch.tensor(3.0)) == "tensor () float32 3"


def test_a_large_tensor_is_summarized_and_non_finite_values_are_counted():
    t = torch.arange(100, dtype=torch.float32).reshape(10, 10)
    assert describe_tensor(t) == (
        "tensor (10, 10) float32: 100 values, min 0, max 99, mean 49.5; first 0, 1, 2, 3, 4, 5, ..."
    )
    t[0, 0], t[0, 1], t[0, 2] = float("nan"), float("inf"), -float("inf")
    assert describe_tensor(t) == (
        "tensor (10, 10) float32: 100 values (1 NaN, 2 infinite), min 3, max 99, mean 51; first nan, inf, -inf, 3, 4, 5, ..."
    )
    assert describe_tensor(torch.full((40,), float("nan"))).startswith("tensor (40,) float32: 40 values (40 NaN); first nan")


def test_a_module_shows_its_configuration_mode_and_batchnorm_statistics():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 8, 3, stride=2)
    assert describe_value(conv) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2))  (float32; training mode)"
    bn = nn.BatchNorm2d(2, eps=1e-3).double().eval()
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([0.5, -1.0]))
        bn.running_var.copy_(torch.tensor([1e-4, 25.0]))
    lines = describe_value(bn).splitlines()
    assert lines[0].startswith("BatchNorm2d(2, eps=0.001") and lines[0].endswith("(float64; eval mode)")
    assert lines[1:] == [
        "  running_mean: tensor (2,) float64 [0.5, -1]",
        "  running_var: tensor (2,) float64 [0.0001, 25]",
        "  weight: tensor (2,) float64 [1, 1]",
        "  bias: tensor (2,) float64 [0, 0]",
    ]
    model = nn.Sequential(nn.Linear(4, 2), nn.BatchNorm1d(2, affine=False))
    text = describe_value(model)
    assert "(0): Linear(in_features=4, out_features=2, bias=True)" in text
    assert "  1.running_mean: tensor (2,) float32 [0, 0]" in text and "1.weight" not in text


def test_a_call_lists_its_arguments_and_nested_values():
    call = Call("fold_linear_bn", (torch.ones(2), [1, 2.5, "a"]), {"lr": 0.1, "mode": None, "dtype": torch.float64})
    assert describe_call(call) == textwrap.dedent("""\
        fold_linear_bn(
            [0] tensor (2,) float32 [1, 1]
            [1] [1, 2.5, 'a']
            lr=0.1
            mode=None
            dtype=float64
        )""")
    assert describe_call(Call("make", ())) == "make()"
    nested = describe_value((torch.zeros(40), torch.ones(1)))
    assert nested.splitlines()[0] == "tuple of 2:" and "[1] tensor (1,) float32 [1]" in nested


def test_descriptions_are_deterministic_and_bounded():
    class Opaque:
        pass

    calls = [Call(f"f{i}", (torch.randn(8, 8), Opaque(), nn.Sequential(*[nn.BatchNorm1d(40) for _ in range(3)])))
             for i in range(4)]
    text = describe_calls(calls)
    assert len(text) <= MAX_CHARS + 40 and text.endswith("more characters]")
    assert "0x…" in text and not re.search(r"0x[0-9a-f]{6,}", text)  # addresses would differ from run to run
    same = [Call(c.label, tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in c.args)) for c in calls]
    assert describe_calls(same) == text


def test_an_argument_that_cannot_be_described_does_not_break_the_description():
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert describe_call(Call("f", (Broken(),))) == "f(\n    [0] <Broken (repr failed: RuntimeError)>\n)"


# -- which calls describe a failure -------------------------------------------------------------------------


def test_the_failing_calls_are_the_last_ones_of_the_last_example(tmp_path, zygote):
    student, work = tmp_path / "student", tmp_path / "work"
    student.mkdir()
    work.mkdir()
    (student / "sub.py").write_text("def f(x):\n    return x\n")
    session = StudentSession(zygote=zygote, student_dir=str(student), module="sub", workdir=str(work),
                             limits=Limits(call_timeout=5, import_timeout=5, job_timeout=60, memory_mb=512))
    example = ["first"]
    session.call_scope = lambda: example[0]
    try:
        module = session.module()
        module.f(1)
        module.f(2)
        example[0] = "second"  # a new Hypothesis example starts
        module.f(torch.ones(2))
        calls = session.last_calls()
        assert [c.label for c in calls] == ["f"] and torch.equal(calls[0].args[0], torch.ones(2))
        for i in range(6):
            module.f(i)
        assert [c.args for c in session.last_calls()] == [(2,), (3,), (4,), (5,)]  # at most FAILING_CALLS
        session.begin_test()
        assert session.last_calls() == []
    finally:
        session.close()


# -- the views -----------------------------------------------------------------------------------------------

FAILING_INPUT = "fold_conv_bn(\n    [0] Conv2d(1, 1, kernel_size=(1, 1), stride=(1, 1))  (float32; training mode)\n)"


def results_for_views() -> list[JobResult]:
    visible = TestResult(
        name="test_fold_conv_bn_equals_conv_then_bn", outcome="failed", points=0.0, max_points=1.0,
        message="fold_conv_bn(conv, bn)(x): values are not close",
        falsifying_example="Falsifying example: test_fold_conv_bn_equals_conv_then_bn(\n    seed=0,\n)",
        reproduce="@reproduce_failure('6.170.17', b'AXic')", notes="Draw 1: BatchNormStats(eps=0.1)",
        failing_input=FAILING_INPUT,
    )
    secret = TestResult(
        name="test_fold_conv_bn_on_extreme_statistics", outcome="failed", points=0.0, max_points=1.0, hidden=True,
        message="SECRET-MESSAGE", falsifying_example="SECRET-EXAMPLE", failing_input="SECRET-INPUT",
    )
    reason = "true_softmax.py could not be imported: the import raised SyntaxError: expected ':' (true_softmax.py, line 3)"
    not_run = tuple(
        TestResult(name=f"test_{i}", outcome="failed", points=0.0, max_points=5.0, message=NOT_RUN + reason,
                   student_traceback='  File "true_softmax.py", line 3\nSyntaxError: expected \':\'\n')
        for i in range(2)
    )
    return [
        JobResult(student="kim", assignment="hw7", problem="bn_fold", status="graded", score=0.0, max_score=10.0,
                  tests=(visible, secret)),
        JobResult(student="kim", assignment="hw7", problem="true_softmax", status="crashed", score=0.0,
                  max_score=10.0, message=reason, tests=not_run),
    ]


def test_the_terminal_shows_the_failing_input_notes_and_a_replay_command_but_nothing_of_a_hidden_test():
    assignment = load_assignment(REPO, "hw7")
    console = Console(record=True, width=200, highlight=False)
    assert print_check(assignment, results_for_views(), console=console) == 1
    # The panels' text without their borders.
    text = "\n".join(line.strip().strip("│").rstrip() for line in console.export_text().splitlines())
    text = re.sub(r"(?m)^ ", "", text)
    assert "What your code was given (the last calls into it before the failure):\n" + FAILING_INPUT in text
    assert "Smallest failing input:\nFalsifying example: test_fold_conv_bn_equals_conv_then_bn(" in text
    assert "Notes:\nDraw 1: BatchNormStats(eps=0.1)" in text
    assert "@reproduce_failure('6.170.17', b'AXic')" in text
    command = "python -m pytest problems/hw7/bn_fold/test_bn_fold.py::test_fold_conv_bn_equals_conv_then_bn --student bn_fold.py"
    assert command in text
    assert "failed bn_fold/test_fold_conv_bn_on_extreme_statistics (hidden test: only its outcome is shown)" in text
    assert "SECRET" not in text
    # The problem that could not run: its reason once, with the traceback, and no panel per test.
    assert text.count("could not be imported") == 1
    assert "2 of 2 tests were not run." in text and "SyntaxError: expected ':'" in text
    assert "true_softmax/test_0" not in text


def test_the_replay_command_names_the_test_file_the_test_and_the_module():
    problem = load_assignment(REPO, "hw7").problem("bn_fold")
    assert replay_command(problem, "test_x") == (
        "python -m pytest problems/hw7/bn_fold/test_bn_fold.py::test_x --student bn_fold.py"
    )


def test_the_student_page_results_json_and_gradescope_show_the_failing_input_of_visible_tests_only(tmp_path):
    assignment = load_assignment(REPO, "hw7")
    results = results_for_views()
    render_pages(assignment, results, {}, tmp_path)
    page = (tmp_path / "students/kim.html").read_text()
    assert "What your code was given" in page
    assert "fold_conv_bn(\n    [0] Conv2d(1, 1, kernel_size=(1, 1), stride=(1, 1))  (float32; training mode)\n)" in page
    assert ("python -m pytest problems/hw7/bn_fold/test_bn_fold.py::test_fold_conv_bn_equals_conv_then_bn "
            "--student bn_fold.py") in page
    assert "SECRET" not in page
    assert page.count("not run: true_softmax.py could not be imported") == 2  # each test carries the reason
    rows = build_rows(assignment, results)
    document = results_document(assignment, rows, {})
    tests = {t["name"]: t for p in document["students"][0]["problems"] for t in p["tests"]}
    assert tests["test_fold_conv_bn_equals_conv_then_bn"]["failing_input"] == FAILING_INPUT
    assert tests["test_0"]["message"] == tests["test_1"]["message"] == NOT_RUN + results[1].message
    gradescope = {t["name"]: t["output"] for t in gradescope_document(assignment, rows[0])["tests"]}
    assert FAILING_INPUT in gradescope["bn_fold: test_fold_conv_bn_equals_conv_then_bn"]
    assert gradescope["bn_fold: test_fold_conv_bn_on_extreme_statistics"] == HIDDEN_NOTE
    assert gradescope["true_softmax: test_0"].startswith(NOT_RUN + results[1].message)


def test_results_stored_before_the_failing_input_existed_still_load():
    old = {"name": "t", "outcome": "failed", "points": 0.0, "max_points": 1.0, "message": "m"}
    assert TestResult.from_dict(old).failing_input == ""
    newer = {**old, "failing_input": "f(...)", "a_field_from_the_future": 1}
    assert TestResult.from_dict(newer).failing_input == "f(...)"
    job = JobResult(student="s", assignment="a", problem="p", status="graded", score=0.0, max_score=1.0,
                    tests=(TestResult.from_dict(newer),))
    assert JobResult.from_dict(job.to_dict()) == job


@pytest.mark.parametrize("value", [float("nan"), 1e300, -0.0, 123456789.0])
def test_numbers_are_written_the_same_way_everywhere(value):
    assert describe_value(value) == f"{value:.4g}"
