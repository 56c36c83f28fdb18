"""call_pure on plain code (a reference run directly, the benchmark's floor) checks what it does in the sandbox."""

import pytest
import torch

from grader import call_pure
from grader.purity import mutated_arguments, snapshot_arguments


def scale_(x, *, by=2.0):
    x.mul_(by)
    return x


def retrain(layer):
    layer.train()
    return layer.weight.sum()


def pure(x, pair):
    return x * 2 + pair[0]


def test_plain_functions_that_modify_arguments_fail_with_the_argument_named():
    with pytest.raises(AssertionError, match="scale_ modified its argument 1 in place"):
        call_pure(scale_, torch.ones(3))
    with pytest.raises(AssertionError, match=r"retrain modified its argument 1 \(train/eval mode of the module\)"):
        call_pure(retrain, torch.nn.Linear(2, 2).eval())


def test_plain_pure_functions_return_their_value():
    assert torch.equal(call_pure(pure, torch.ones(2), (torch.ones(2), 0)), torch.full((2,), 3.0))


def test_nested_and_keyword_arguments_are_located():
    x = torch.zeros(2)
    pair = [torch.ones(1), x]
    before = snapshot_arguments((pair,), {"w": torch.ones(1)})
    x += 1
    assert mutated_arguments(before, (pair,), {"w": torch.ones(1)}) == ["argument 1[1]"]
    same = torch.full((2,), float("nan"))  # NaN is not equal to itself, but NaN left alone is no change
    snap = snapshot_arguments((same,), {})
    assert mutated_arguments(snap, (same,), {}) == []
    w = torch.ones(1)
    snap = snapshot_arguments((), {"w": w})
    w.zero_()
    assert mutated_arguments(snap, (), {"w": w}) == ["argument 'w'"]


def test_call_pure_refuses_what_is_not_callable():
    with pytest.raises(TypeError, match="takes a function"):
        call_pure(3, 1)
