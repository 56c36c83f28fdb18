"""The student kit's parts: hidden tests removed by parsing, and hashed answers (kits built whole: tests/e2e/test_kit_build.py)."""

from __future__ import annotations

import math
import textwrap

import torch

from grader.distribute.kit import strip_hidden
from grader.grading.answers import hash_answer, matches, structure_of

# -- removing hidden tests ----------------------------------------------------------------------------

TEST_FILE = textwrap.dedent('''
    """Tests."""
    import pytest
    import grader
    from grader import hidden, points

    SHARED = 3


    def _only_for_hidden():
        return "CANARY-helper-3f9c"


    def _used_by_both():
        return SHARED


    @points(1)
    def test_public(student):
        assert _used_by_both() == 3


    @points(2)
    @hidden
    def test_secret_edge_cases(student):
        assert _only_for_hidden() and _used_by_both()  # CANARY-hidden-a1b2


    @grader.hidden
    @points(1)
    def test_also_hidden(student):
        pass


    @pytest.mark.hidden
    @points(1)
    def test_marked_hidden(student):
        pass


    class TestGroup:
        @points(1)
        def test_kept(self, student):
            pass

        @hidden
        @points(1)
        def test_gone(self, student):
            pass


    @points(1)
    def test_with_reference(student, reference):
        assert student.f(1) == reference.f(1)
''')


def test_hidden_tests_and_their_helpers_are_removed():
    stripped = strip_hidden(TEST_FILE)
    assert stripped.hidden == ["test_secret_edge_cases", "test_also_hidden", "test_marked_hidden", "TestGroup.test_gone"]
    for gone in ("test_secret_edge_cases", "test_also_hidden", "test_marked_hidden", "test_gone", "CANARY",
                 "_only_for_hidden"):
        assert gone not in stripped.source
    assert "def _used_by_both():" in stripped.source and "class TestGroup:" in stripped.source
    assert [(t.name, t.points, t.uses_reference) for t in stripped.public] == [
        ("test_public", 1.0, False), ("test_with_reference", 1.0, True),
    ]
    compile(stripped.source, "test.py", "exec")


def test_public_tests_keep_their_exact_source():
    # Hypothesis derives a derandomized test's inputs from its source: the kit must not reformat it.
    stripped = strip_hidden(TEST_FILE)
    public = TEST_FILE[TEST_FILE.index("@points(1)\ndef test_public"):TEST_FILE.index("@points(2)\n@hidden")]
    assert public in stripped.source


def test_a_module_marked_hidden_keeps_no_test():
    stripped = strip_hidden("import grader\npytestmark = [grader.hidden]\n\ndef test_a(student):\n    pass\n")
    assert stripped.hidden == ["test_a"] and stripped.public == []


# -- hashed answers ------------------------------------------------------------------------------------


def test_a_float32_answer_matches_its_float64_reference():
    for seed in range(20):
        x = torch.randn(40, 17, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 10 ** (seed % 5)
        expected = torch.softmax(x, dim=-1) * x
        assert matches(torch.softmax(x.float(), dim=-1) * x.float(), hash_answer(expected)) == (True, "")


def test_values_on_a_rounding_boundary_still_match():
    expected = torch.tensor([1.0005, 2.00049999, 0.0, -3.0015], dtype=torch.float64)  # step 1e-3
    answer = hash_answer(expected)
    assert answer.steps == (1e-3,)
    for noise in (2e-4, -2e-4):
        assert matches(expected + noise, answer)[0]


def test_a_wrong_answer_fails_without_showing_the_expected_values():
    expected = {"out": torch.arange(6, dtype=torch.float64).reshape(2, 3) / 7, "count": 12}
    answer = hash_answer(expected)
    assert matches({"out": expected["out"] + 1e-3, "count": 12}, answer) == (
        False, "the values differ from the expected dict{'count': int, 'out': float tensor(2x3)} "
               "(floats compared in steps of 1e-04)",
    )
    assert not matches({"out": expected["out"], "count": 13}, answer)[0]
    assert matches({"out": expected["out"].T, "count": 12}, answer) == (
        False, "expected dict{'count': int, 'out': float tensor(2x3)}, got dict{'count': int, 'out': float tensor(3x2)}"
    )
    assert "0.142" not in repr(answer) and "12" not in answer.structure


def test_structures_and_special_values():
    assert structure_of((1, 2.5, "a", None, True, [torch.zeros(2, dtype=torch.int64)])) == (
        "tuple[int, float, str, None, bool, list[int tensor(2)]]"
    )
    nan = hash_answer(torch.tensor([math.nan, math.inf, 1.0]))
    assert matches(torch.tensor([math.nan, math.inf, 1.0]), nan)[0]
    assert not matches(torch.tensor([0.0, math.inf, 1.0]), nan)[0]
    assert matches(object(), hash_answer(1)) == (False, "expected int, got a builtins.object (not plain data)")


# -- what the kit's recorder learns of each call, without replacing the grader's functions ----------------


def test_plain_code_knows_which_grader_call_it_runs_inside():
    """The kit's recorder stands in for the student in the test process: it reads plain_calls() to mark
    an answer as one that must leave its arguments alone (call_pure) or skip one that trains."""
    from torch import nn

    from grader.grading.proxy import call_pure, plain_calls
    from grader.grading.training import call_training

    seen = []

    def answer(x):
        seen.append(plain_calls())
        return x

    def train(model):
        seen.append(plain_calls())
        call_pure(answer, 1)  # nested: innermost last

    assert call_pure(answer, 2) == 2 and answer(3) == 3
    call_training(train, nn.Linear(1, 1))
    assert seen == [("pure",), (), ("training",), ("training", "pure")]
    assert plain_calls() == ()
