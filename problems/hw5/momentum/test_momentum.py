"""Tests for hw5/momentum: both recursions step by step, their agreement, and torch.optim.SGD."""

import torch
from hypothesis import given
from hypothesis import strategies as st

from grader import assert_close, call_pure, points
from grader.strategies import dtypes, seeds, tensor

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple)
steps = st.integers(1, 8)
lrs = st.floats(0.01, 1.0)
betas = st.floats(0.0, 0.95)


def problem_data(shape, k, seed, dtype):
    theta0 = tensor(shape, seed, dtype=dtype)
    grads = [tensor(shape, seed + 1 + i, dtype=dtype) for i in range(k)]
    return theta0, grads


def expected_heavy_ball(theta0, grads, lr, beta) -> list[torch.Tensor]:
    """Form I written out in float64, with theta^{-1} = theta^0."""
    thetas = [theta0.double(), theta0.double()]  # theta^{-1}, theta^0
    for g in grads:
        thetas.append(thetas[-1] - lr * g.double() + beta * (thetas[-1] - thetas[-2]))
    return thetas[2:]


def expected_momentum_sgd(theta0, grads, lr, beta) -> list[torch.Tensor]:
    """Form II written out in float64, with v^0 = 0."""
    theta, v = theta0.double(), torch.zeros_like(theta0, dtype=torch.float64)
    out = []
    for g in grads:
        v = g.double() + beta * v
        theta = theta - lr * v
        out.append(theta)
    return out


def expected_from_torch_sgd(theta0, grads, lr, beta) -> list[torch.Tensor]:
    """The oracle for form II: torch.optim.SGD with momentum, fed the same gradients, in float64."""
    p = torch.nn.Parameter(theta0.double().clone())
    optimizer = torch.optim.SGD([p], lr=lr, momentum=beta)
    out = []
    for g in grads:
        p.grad = g.double().clone()
        optimizer.step()
        out.append(p.detach().clone())
    return out


def as_list(result, k: int, name: str) -> list:
    __tracebackhide__ = True
    if not isinstance(result, (list, tuple)):
        raise AssertionError(
            f"{name} must return a list of tensors [theta^1, ..., theta^K], got {type(result).__name__}"
        )
    if len(result) != k:
        raise AssertionError(
            f"{name} must return K = {k} iterates [theta^1, ..., theta^K] (one per gradient), got {len(result)}"
        )
    return list(result)


@points(1)
@given(shape=shapes, lr=lrs, beta=st.floats(0.1, 0.95), seed=seeds(), dtype=dtypes())
def test_heavy_ball_first_step_is_a_gradient_step(student, shape, lr, beta, seed, dtype):
    theta0, grads = problem_data(shape, 1, seed, dtype)
    result = as_list(student.heavy_ball(theta0, grads, lr, beta), 1, "heavy_ball")
    assert_close(result, [theta0.double() - lr * grads[0].double()], dtype=dtype, name="heavy_ball(...) with K = 1")


@points(3)
@given(shape=shapes, k=steps, lr=lrs, beta=betas, seed=seeds(), dtype=dtypes())
def test_heavy_ball_follows_the_recursion(student, shape, k, lr, beta, seed, dtype):
    theta0, grads = problem_data(shape, k, seed, dtype)
    result = as_list(student.heavy_ball(theta0, grads, lr, beta), k, "heavy_ball")
    assert_close(result, expected_heavy_ball(theta0, grads, lr, beta), dtype=dtype, name="heavy_ball(...)")


@points(2)
@given(shape=shapes, k=steps, lr=lrs, beta=betas, seed=seeds(), dtype=dtypes())
def test_momentum_sgd_follows_the_recursion(student, shape, k, lr, beta, seed, dtype):
    theta0, grads = problem_data(shape, k, seed, dtype)
    result = as_list(student.momentum_sgd(theta0, grads, lr, beta), k, "momentum_sgd")
    assert_close(result, expected_momentum_sgd(theta0, grads, lr, beta), dtype=dtype, name="momentum_sgd(...)")


@points(2)
@given(shape=shapes, k=steps, lr=lrs, beta=betas, seed=seeds(), dtype=dtypes())
def test_momentum_sgd_agrees_with_torch_optim_sgd(student, shape, k, lr, beta, seed, dtype):
    theta0, grads = problem_data(shape, k, seed, dtype)
    result = as_list(student.momentum_sgd(theta0, grads, lr, beta), k, "momentum_sgd")
    assert_close(result, expected_from_torch_sgd(theta0, grads, lr, beta), dtype=dtype,
                 name="momentum_sgd(...) against torch.optim.SGD(momentum=beta)")


@points(1)
@given(shape=shapes, k=steps, lr=lrs, seed=seeds(), dtype=dtypes())
def test_beta_zero_is_plain_gradient_descent(student, shape, k, lr, seed, dtype):
    theta0, grads = problem_data(shape, k, seed, dtype)
    expected = []
    theta = theta0.double()
    for g in grads:
        theta = theta - lr * g.double()
        expected.append(theta)
    assert_close(as_list(student.heavy_ball(theta0, grads, lr, 0.0), k, "heavy_ball"), expected, dtype=dtype,
                 name="heavy_ball(..., beta=0)")
    assert_close(as_list(student.momentum_sgd(theta0, grads, lr, 0.0), k, "momentum_sgd"), expected, dtype=dtype,
                 name="momentum_sgd(..., beta=0)")


@points(1)
@given(shape=shapes, k=steps, lr=lrs, beta=betas, seed=seeds())
def test_arguments_are_left_unchanged(student, shape, k, lr, beta, seed):
    theta0, grads = problem_data(shape, k, seed, torch.float64)
    result = as_list(call_pure(student.heavy_ball, theta0, grads, lr, beta), k, "heavy_ball")
    assert_close(result, expected_heavy_ball(theta0, grads, lr, beta), dtype=torch.float64, name="heavy_ball(...)")
    result = as_list(call_pure(student.momentum_sgd, theta0, grads, lr, beta), k, "momentum_sgd")
    assert_close(result, expected_momentum_sgd(theta0, grads, lr, beta), dtype=torch.float64, name="momentum_sgd(...)")
