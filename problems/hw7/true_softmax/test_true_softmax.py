"""Tests for hw7/true_softmax: values, bounds, stability, and the gradient's properties."""

import math

import torch
from hypothesis import example, given
from hypothesis import strategies as st

from grader import assert_close, call_pure, points
from grader.strategies import dtypes, seeds, tensor

batch_shapes = st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple)
lengths = st.integers(2, 8)
moderate_betas = st.floats(0.1, 10.0)


def expected_nu(x: torch.Tensor, beta: float) -> torch.Tensor:
    return torch.logsumexp(beta * x.double(), dim=-1) / beta


def expected_grad(x: torch.Tensor, beta: float) -> torch.Tensor:
    """The gradient by autograd through the definition (an oracle, not the closed form)."""
    xd = x.double().detach().requires_grad_(True)
    (torch.logsumexp(beta * xd, dim=-1) / beta).sum().backward()
    return xd.grad


@points(2)
@given(batch=batch_shapes, n=lengths, beta=moderate_betas, seed=seeds(), dtype=dtypes())
@example(batch=(), n=5, beta=2.0, seed=3, dtype=torch.float32)  # a 1-d x: nu is a 0-d tensor
@example(batch=(), n=1, beta=0.5, seed=4, dtype=torch.float64)  # a single entry: nu(x) = x
def test_nu_matches_definition(student, batch, n, beta, seed, dtype):
    x = tensor((*batch, n), seed, dtype=dtype, scale=3.0)
    assert_close(student.nu(x, beta), expected_nu(x, beta), dtype=dtype, name="nu(x, beta)")


@points(1)
@given(batch=batch_shapes, n=lengths, beta=moderate_betas, seed=seeds())
def test_nu_lies_between_max_and_max_plus_log_n_over_beta(student, batch, n, beta, seed):
    x = tensor((*batch, n), seed, dtype=torch.float64, scale=3.0)
    value = student.nu(x, beta)
    assert_close(value, expected_nu(x, beta), dtype=torch.float64, name="nu(x, beta)")
    top = x.max(dim=-1).values
    slack = 1e-9 * (1 + top.abs())
    assert bool((value >= top - slack).all()), "nu(x, beta) must be at least max(x)"
    assert bool((value <= top + math.log(n) / beta + slack).all()), "nu(x, beta) must be at most max(x) + log(n)/beta"


@points(2)
@given(n=lengths, beta=st.sampled_from([1.0, 1e2, 1e3]), seed=seeds(), dtype=dtypes())
def test_nu_is_finite_for_huge_beta_times_x(student, n, beta, seed, dtype):
    x = tensor((2, n), seed, dtype=dtype, scale=1e7 / beta)
    assert_close(student.nu(x, beta), expected_nu(x, beta), dtype=dtype, name="nu(x, beta)")


@points(2)
@given(batch=batch_shapes, n=lengths, beta=moderate_betas, seed=seeds(), dtype=dtypes())
@example(batch=(), n=5, beta=2.0, seed=3, dtype=torch.float64)  # a 1-d x: the gradient is 1-d
@example(batch=(), n=1, beta=0.5, seed=4, dtype=torch.float32)  # a single entry: the gradient is [1]
def test_grad_nu_matches_autograd(student, batch, n, beta, seed, dtype):
    x = tensor((*batch, n), seed, dtype=dtype, scale=3.0)
    assert_close(student.grad_nu(x, beta), expected_grad(x, beta), dtype=dtype, name="grad_nu(x, beta)")


def near_ties(n: int, log2_beta: int, seed: int, dtype: torch.dtype) -> tuple[torch.Tensor, float]:
    """x whose entries are nearly tied while beta * x reaches 1e7, as the statement promises.

    beta is a power of two, so beta * x is exact in either dtype: a correct float32 solution loses
    nothing there, while one that takes the gradient from a value rounded at that magnitude (for
    example exp(beta * x - beta * nu)) is off by a factor of up to e.
    """
    beta = float(2**log2_beta)
    x = 1e7 / beta + tensor((3, n), seed, dtype=torch.float64) * 2.0 / beta
    return x.to(dtype), beta


@points(1)
@given(
    n=lengths, beta=st.sampled_from([0.5, 1.0, 1e3, 1e5]), seed=seeds(), dtype=dtypes(),
    ties=st.sampled_from([None, 0, 10, 17]),
)
@example(n=4, beta=1.0, seed=0, dtype=torch.float32, ties=17)
@example(n=4, beta=1.0, seed=0, dtype=torch.float64, ties=10)
def test_grad_nu_is_a_probability_vector(student, n, beta, seed, dtype, ties):
    if ties is None:
        x = tensor((3, n), seed, dtype=dtype, scale=100.0)
    else:
        x, beta = near_ties(n, ties, seed, dtype)
    g = student.grad_nu(x, beta)
    assert_close(g, expected_grad(x, beta), dtype=dtype, name="grad_nu(x, beta)")
    assert bool((g >= 0).all()), "grad_nu must have non-negative entries"
    assert_close(g.sum(dim=-1), torch.ones(3, dtype=torch.float64), dtype=dtype, name="grad_nu(x, beta).sum(-1)")


@points(1)
@given(n=lengths, seed=seeds(), dtype=dtypes())
def test_grad_nu_tends_to_one_hot_of_the_argmax(student, n, seed, dtype):
    x = tensor((n,), seed, dtype=dtype)
    top2 = x.double().topk(2).values
    gap = float(top2[0] - top2[1])
    beta = 50.0 / max(gap, 1e-3)  # the runner-up's weight is at most exp(-50)
    one_hot = torch.zeros(n, dtype=torch.float64)
    one_hot[int(x.argmax())] = 1.0
    assert_close(student.grad_nu(x, beta), one_hot, dtype=dtype, name=f"grad_nu(x, beta={beta:.4g})")


@points(1)
@given(n=lengths, beta=moderate_betas, seed=seeds())
def test_arguments_are_left_unchanged(student, n, beta, seed):
    x = tensor((2, n), seed)
    assert_close(call_pure(student.nu, x, beta), expected_nu(x, beta), dtype=x.dtype, name="nu(x, beta)")
    assert_close(call_pure(student.grad_nu, x, beta), expected_grad(x, beta), dtype=x.dtype, name="grad_nu(x, beta)")
