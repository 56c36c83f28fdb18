"""Tests for hw5/mlp_backprop: hand-written gradients against autograd on the same network."""

import torch
from hypothesis import given
from hypothesis import strategies as st

from grader import assert_close, call_pure, points
from grader.strategies import dtypes, seeds, tensor

Network = tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor, torch.Tensor]


def widths(*, min_layers: int = 1, max_layers: int = 5, square: bool = False) -> st.SearchStrategy[list[int]]:
    """[n0, ..., nL]: all equal when `square` (so that a transposed dA has the right shape)."""
    if square:
        return st.tuples(st.integers(2, 4), st.integers(min_layers, max_layers)).map(lambda t: [t[0]] * (t[1] + 1))
    return st.lists(st.integers(1, 5), min_size=min_layers + 1, max_size=max_layers + 1)


def network(sizes: list[int], seed: int, dtype: torch.dtype) -> Network:
    A_list = [tensor((m, n), seed + 10 * l, dtype=dtype, scale=1.5) for l, (n, m) in enumerate(zip(sizes, sizes[1:]))]
    b_list = [tensor((m, 1), seed + 10 * l + 1, dtype=dtype, scale=0.5) for l, m in enumerate(sizes[1:])]
    x = tensor((sizes[0], 1), seed + 7, dtype=dtype)
    y = tensor((sizes[-1], 1), seed + 8, dtype=dtype, scale=2.0)
    return A_list, b_list, x, y


def expected_grads(A_list, b_list, x, y) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The oracle: autograd on the loss 0.5 * ||y_L - y||^2, in float64."""
    A64 = [A.detach().double().requires_grad_(True) for A in A_list]
    b64 = [b.detach().double().requires_grad_(True) for b in b_list]
    h = x.double()
    for l, (A, b) in enumerate(zip(A64, b64)):
        z = A @ h + b
        h = torch.sigmoid(z) if l < len(A64) - 1 else z
    loss = 0.5 * ((h - y.double()) ** 2).sum()
    grads = torch.autograd.grad(loss, A64 + b64)
    return list(grads[: len(A64)]), list(grads[len(A64):])


def unpack(result, n_layers: int) -> tuple[list, list]:
    """The student's (dA_list, db_list), as two lists, or a failure that says what came back instead."""
    __tracebackhide__ = True
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise AssertionError(f"backprop must return a pair (dA_list, db_list); got {type(result).__name__}")
    dA, db = result
    for name, value in (("dA_list", dA), ("db_list", db)):
        if not isinstance(value, (tuple, list)):
            raise AssertionError(f"{name} must be a list of tensors, got {type(value).__name__}")
        if len(value) != n_layers:
            raise AssertionError(f"{name} must hold one gradient per layer ({n_layers}), got {len(value)}")
    return list(dA), list(db)


@points(2)
@given(sizes=widths(), seed=seeds(), dtype=dtypes())
def test_last_layer_gradients(student, sizes, seed, dtype):
    A_list, b_list, x, y = network(sizes, seed, dtype)
    dA, db = unpack(student.backprop(A_list, b_list, x, y), len(A_list))
    eA, eb = expected_grads(A_list, b_list, x, y)
    assert_close(db[-1], eb[-1], dtype=dtype, name="db_list[-1] (the output layer)")
    assert_close(dA[-1], eA[-1], dtype=dtype, name="dA_list[-1] (the output layer)")


@points(1)
@given(n0=st.integers(2, 5), n1=st.integers(1, 3), seed=seeds(), dtype=dtypes())
def test_single_linear_layer(student, n0, n1, seed, dtype):
    A_list, b_list, x, y = network([n0, n1], seed, dtype)
    result = student.backprop(A_list, b_list, x, y)
    assert_close(unpack(result, 1), expected_grads(A_list, b_list, x, y), dtype=dtype, name="(dA_list, db_list)")


@points(3)
@given(sizes=widths(min_layers=2), seed=seeds(), dtype=dtypes())
def test_bias_gradients_of_every_layer(student, sizes, seed, dtype):
    A_list, b_list, x, y = network(sizes, seed, dtype)
    _, db = unpack(student.backprop(A_list, b_list, x, y), len(A_list))
    assert_close(db, expected_grads(A_list, b_list, x, y)[1], dtype=dtype, name="db_list")


@points(3)
@given(sizes=st.one_of(widths(min_layers=2), widths(min_layers=2, square=True)), seed=seeds(), dtype=dtypes())
def test_weight_gradients_of_every_layer(student, sizes, seed, dtype):
    A_list, b_list, x, y = network(sizes, seed, dtype)
    dA, _ = unpack(student.backprop(A_list, b_list, x, y), len(A_list))
    assert_close(dA, expected_grads(A_list, b_list, x, y)[0], dtype=dtype, name="dA_list")


@points(1)
@given(sizes=widths(min_layers=2, max_layers=3), seed=seeds())
def test_arguments_are_left_unchanged(student, sizes, seed):
    A_list, b_list, x, y = network(sizes, seed, torch.float64)
    result = call_pure(student.backprop, A_list, b_list, x, y)
    assert_close(unpack(result, len(A_list)), expected_grads(A_list, b_list, x, y), dtype=torch.float64,
                 name="(dA_list, db_list)")
