"""Tests for hw3/residual_block: the forward pass, each gradient against autograd, and one SGD step."""

import torch
from hypothesis import example, given
from hypothesis import strategies as st

from grader import assert_close, call_pure, points
from grader.strategies import dtypes, seeds, tensor

batches = st.integers(1, 5)
widths = st.integers(1, 6)
learning_rates = st.floats(1e-3, 1.0)


def block_inputs(batch: int, n: int, seed: int, dtype: torch.dtype, zeros: bool = False):
    """x, H, v and dy: the bias is spread so that both sides of the ReLU occur.

    With `zeros`, the first row of x and every other entry of v are 0, so that the pre-activation
    is exactly 0 there however it is computed: the statement's convention (the ReLU's derivative
    at 0 is 0) decides those gradients.
    """
    x, H, v, dy = (
        tensor((batch, n), seed, dtype=dtype),
        tensor((n, n), seed + 1, dtype=dtype),
        tensor((n,), seed + 2, dtype=dtype),
        tensor((batch, n), seed + 3, dtype=dtype),
    )
    if zeros:
        x[0] = 0
        v[::2] = 0
    return x, H, v, dy


# Every run meets the convention at 0, not only when a draw happens to produce zeros.
at_zero = example(batch=2, n=3, seed=0, dtype=torch.float32, zeros=True)


def expected_forward(x, H, v):
    x, H, v = x.double(), H.double(), v.double()
    return x + torch.relu(x @ H.T + v)


def expected_backward(x, H, v, dy):
    """The gradients of <dy, y> by autograd, in float64."""
    leaves = [t.double().detach().requires_grad_(True) for t in (x, H, v)]
    (expected_forward(*leaves) * dy.double()).sum().backward()
    return tuple(t.grad for t in leaves)


@points(2)
@given(batch=batches, n=widths, seed=seeds(), dtype=dtypes())
def test_forward(student, batch, n, seed, dtype):
    x, H, v, _ = block_inputs(batch, n, seed, dtype)
    assert_close(student.forward(x, H, v), expected_forward(x, H, v), dtype=dtype, name="forward(x, H, v)")


@points(2)
@given(batch=batches, n=widths, seed=seeds(), dtype=dtypes(), zeros=st.booleans())
@at_zero
def test_backward_dx(student, batch, n, seed, dtype, zeros):
    x, H, v, dy = block_inputs(batch, n, seed, dtype, zeros)
    dx, _, _ = expected_backward(x, H, v, dy)
    result = student.backward(x, H, v, dy)
    assert isinstance(result, tuple) and len(result) == 3, "backward must return a tuple (dx, dH, dv)"
    assert_close(result[0], dx, dtype=dtype, name="backward(x, H, v, dy)[0] (dx)")


@points(2)
@given(batch=batches, n=widths, seed=seeds(), dtype=dtypes(), zeros=st.booleans())
@at_zero
def test_backward_dH(student, batch, n, seed, dtype, zeros):
    x, H, v, dy = block_inputs(batch, n, seed, dtype, zeros)
    _, dH, _ = expected_backward(x, H, v, dy)
    result = student.backward(x, H, v, dy)
    assert isinstance(result, tuple) and len(result) == 3, "backward must return a tuple (dx, dH, dv)"
    assert_close(result[1], dH, dtype=dtype, name="backward(x, H, v, dy)[1] (dH)")


@points(1)
@given(batch=batches, n=widths, seed=seeds(), dtype=dtypes(), zeros=st.booleans())
@at_zero
def test_backward_dv(student, batch, n, seed, dtype, zeros):
    x, H, v, dy = block_inputs(batch, n, seed, dtype, zeros)
    _, _, dv = expected_backward(x, H, v, dy)
    result = student.backward(x, H, v, dy)
    assert isinstance(result, tuple) and len(result) == 3, "backward must return a tuple (dx, dH, dv)"
    assert_close(result[2], dv, dtype=dtype, name="backward(x, H, v, dy)[2] (dv)")


@points(2)
@given(batch=batches, n=widths, lr=learning_rates, seed=seeds(), dtype=dtypes(), zeros=st.booleans())
@example(batch=2, n=3, lr=0.5, seed=0, dtype=torch.float32, zeros=True)
def test_sgd_step(student, batch, n, lr, seed, dtype, zeros):
    x, H, v, dy = block_inputs(batch, n, seed, dtype, zeros)
    _, dH, dv = expected_backward(x, H, v, dy)
    expected = (H.double() - lr * dH, v.double() - lr * dv)
    assert_close(student.sgd_step(x, H, v, dy, lr), expected, dtype=dtype, name=f"sgd_step(x, H, v, dy, lr={lr!r})")


@points(1)
@given(batch=batches, n=widths, seed=seeds())
def test_arguments_are_left_unchanged(student, batch, n, seed):
    x, H, v, dy = block_inputs(batch, n, seed, torch.float32)
    assert_close(call_pure(student.forward, x, H, v), expected_forward(x, H, v), dtype=torch.float32,
                 name="forward(x, H, v)")
    assert_close(call_pure(student.backward, x, H, v, dy), expected_backward(x, H, v, dy), dtype=torch.float32,
                 name="backward(x, H, v, dy)")
    _, dH, dv = expected_backward(x, H, v, dy)
    assert_close(call_pure(student.sgd_step, x, H, v, dy, 0.5), (H.double() - 0.5 * dH, v.double() - 0.5 * dv),
                 dtype=torch.float32, name="sgd_step(x, H, v, dy, lr=0.5)")
