"""Tests for hw3/softmax_xent: the loss against log-softmax, the gradient against autograd, stability."""

import torch
from hypothesis import given
from hypothesis import strategies as st

from grader import assert_close, call_pure, points
from grader.strategies import dtypes, seeds, tensor

batches = st.integers(1, 5)
classes = st.integers(2, 8)
huge_scales = st.sampled_from([1e2, 1e3, 1e4])


def classes_for(batch: int, k: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed + 7)
    return torch.randint(0, k, (batch,), generator=g)


def expected_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    log_p = torch.log_softmax(logits.double(), dim=1)
    return -log_p[torch.arange(len(target)), target]


def expected_grad(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Autograd through the library loss, in float64: an oracle, not the closed form."""
    x = logits.double().detach().requires_grad_(True)
    torch.nn.functional.cross_entropy(x, target, reduction="sum").backward()
    return x.grad


@points(2)
@given(batch=batches, k=classes, seed=seeds(), dtype=dtypes())
def test_cross_entropy_matches_log_softmax(student, batch, k, seed, dtype):
    logits, target = tensor((batch, k), seed, dtype=dtype, scale=3.0), classes_for(batch, k, seed)
    assert_close(student.cross_entropy(logits, target), expected_loss(logits, target), dtype=dtype,
                 name="cross_entropy(logits, target)")


@points(2)
@given(batch=batches, k=classes, scale=huge_scales, seed=seeds(), dtype=dtypes())
def test_cross_entropy_is_finite_for_huge_logits(student, batch, k, scale, seed, dtype):
    logits, target = tensor((batch, k), seed, dtype=dtype, scale=scale), classes_for(batch, k, seed)
    assert_close(student.cross_entropy(logits, target), expected_loss(logits, target), dtype=dtype,
                 name="cross_entropy(logits, target)")


@points(3)
@given(batch=batches, k=classes, seed=seeds(), dtype=dtypes())
def test_gradient_matches_autograd(student, batch, k, seed, dtype):
    logits, target = tensor((batch, k), seed, dtype=dtype, scale=3.0), classes_for(batch, k, seed)
    assert_close(student.cross_entropy_grad(logits, target), expected_grad(logits, target), dtype=dtype,
                 name="cross_entropy_grad(logits, target)")


@points(1)
@given(batch=batches, k=classes, scale=huge_scales, seed=seeds(), dtype=dtypes())
def test_gradient_is_finite_for_huge_logits(student, batch, k, scale, seed, dtype):
    logits, target = tensor((batch, k), seed, dtype=dtype, scale=scale), classes_for(batch, k, seed)
    assert_close(student.cross_entropy_grad(logits, target), expected_grad(logits, target), dtype=dtype,
                 name="cross_entropy_grad(logits, target)")


@points(1)
@given(batch=batches, k=classes, seed=seeds(), dtype=dtypes())
def test_gradient_rows_sum_to_zero_with_the_only_negative_entry_at_the_target(student, batch, k, seed, dtype):
    logits, target = tensor((batch, k), seed, dtype=dtype), classes_for(batch, k, seed)
    grad = student.cross_entropy_grad(logits, target)
    assert_close(grad, expected_grad(logits, target), dtype=dtype, name="cross_entropy_grad(logits, target)")
    assert_close(grad.sum(dim=1), torch.zeros(batch, dtype=torch.float64), dtype=dtype,
                 name="cross_entropy_grad(logits, target).sum(dim=1)")
    at_target = grad[torch.arange(batch), target]
    assert bool((at_target < 0).all()), "the gradient must be negative at the correct class"
    others = grad.clone()
    others[torch.arange(batch), target] = 0
    assert bool((others >= 0).all()), "the gradient must be non-negative at every wrong class"


@points(1)
@given(batch=batches, k=classes, seed=seeds())
def test_arguments_are_left_unchanged(student, batch, k, seed):
    logits, target = tensor((batch, k), seed), classes_for(batch, k, seed)
    assert_close(call_pure(student.cross_entropy, logits, target), expected_loss(logits, target),
                 dtype=torch.float32, name="cross_entropy(logits, target)")
    assert_close(call_pure(student.cross_entropy_grad, logits, target), expected_grad(logits, target),
                 dtype=torch.float32, name="cross_entropy_grad(logits, target)")
