"""Tests for hw6/residual_mlp: hand-written gradients of y_L against autograd on the same network."""

import torch
from hypothesis import given
from hypothesis import strategies as st

from grader import assert_close, call_pure, points
from grader.strategies import dtypes, seeds, tensor

ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "softplus": torch.nn.functional.softplus}
activations = st.sampled_from(sorted(ACTIVATIONS))


def network(L: int, n: int, m: int, seed: int, dtype: torch.dtype):
    shapes = [(m, n)] + [(m, m)] * (L - 2) + [(1, m)]
    A_list = [tensor(s, seed + 10 * l, dtype=dtype, scale=s[1] ** -0.5 * 1.5) for l, s in enumerate(shapes)]
    b_list = [tensor((s[0],), seed + 10 * l + 1, dtype=dtype, scale=0.5) for l, s in enumerate(shapes)]
    x = tensor((n,), seed + 7, dtype=dtype)
    return A_list, b_list, x


def expected_grads(A_list, b_list, x, activation: str):
    """The oracle: autograd through the forward pass of the definition, in float64."""
    sigma = ACTIVATIONS[activation]
    A64 = [A.detach().double().requires_grad_(True) for A in A_list]
    b64 = [b.detach().double().requires_grad_(True) for b in b_list]
    y = sigma(A64[0] @ x.double() + b64[0])
    for A, b in zip(A64[1:-1], b64[1:-1]):
        y = sigma(A @ y + b) + y
    out = A64[-1] @ y + b64[-1]
    g = torch.autograd.grad(out.sum(), A64 + b64)
    return list(g[: len(A64)]), list(g[len(A64):])


def unpack(result, L: int) -> tuple[list, list]:
    __tracebackhide__ = True
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise AssertionError(f"grads must return a pair (dA_list, db_list); got {type(result).__name__}")
    out = []
    for name, value in zip(("dA_list", "db_list"), result):
        if not isinstance(value, (tuple, list)):
            raise AssertionError(f"{name} must be a list of tensors, got {type(value).__name__}")
        if len(value) != L:
            raise AssertionError(f"{name} must hold one gradient per layer ({L}), got {len(value)}")
        out.append(list(value))
    return out[0], out[1]


def compare_from_the_top(actual: list, expected: list, dtype: torch.dtype, name: str) -> None:
    """Compare layer by layer from the output down, so that the first failure reported is the highest
    layer that is wrong, with a hint when the layers above it are right."""
    __tracebackhide__ = True
    for l in range(len(expected) - 1, -1, -1):
        try:
            assert_close(actual[l], expected[l], dtype=dtype, name=f"{name}[{l}] (layer {l + 1})")
        except AssertionError as exc:
            if l < len(expected) - 2:
                raise AssertionError(
                    f"{exc}\nThe layers above layer {l + 1} are right: check how the gradient passes from "
                    f"y_{l + 2} back to y_{l + 1}: dy_{l + 2}/dy_{l + 1} = diag(sigma'(z_{l + 2})) A_{l + 2} + I "
                    "(the skip connection contributes the identity)"
                ) from None
            raise


sizes = st.integers(1, 5)


@points(2)
@given(L=st.integers(2, 5), n=sizes, m=sizes, activation=activations, seed=seeds(), dtype=dtypes())
def test_output_layer_gradients(student, L, n, m, activation, seed, dtype):
    A_list, b_list, x = network(L, n, m, seed, dtype)
    dA, db = unpack(student.grads(A_list, b_list, x, activation), L)
    eA, eb = expected_grads(A_list, b_list, x, activation)
    assert_close(dA[-1], eA[-1], dtype=dtype, name="dA_list[-1] (the output layer A_L)")
    assert_close(db[-1], eb[-1], dtype=dtype, name="db_list[-1] (the output layer b_L)")


@points(1)
@given(n=sizes, m=sizes, activation=activations, seed=seeds(), dtype=dtypes())
def test_two_layers_without_a_skip_connection(student, n, m, activation, seed, dtype):
    A_list, b_list, x = network(2, n, m, seed, dtype)
    result = unpack(student.grads(A_list, b_list, x, activation), 2)
    assert_close(result, expected_grads(A_list, b_list, x, activation), dtype=dtype, name="(dA_list, db_list)")


@points(2)
@given(L=st.integers(3, 6), n=sizes, m=st.integers(2, 5), activation=activations, seed=seeds(), dtype=dtypes())
def test_bias_gradients_through_the_skip_connections(student, L, n, m, activation, seed, dtype):
    A_list, b_list, x = network(L, n, m, seed, dtype)
    _, db = unpack(student.grads(A_list, b_list, x, activation), L)
    compare_from_the_top(db, expected_grads(A_list, b_list, x, activation)[1], dtype, "db_list")


@points(3)
@given(L=st.integers(3, 6), n=sizes, m=st.integers(2, 5), activation=activations, seed=seeds(), dtype=dtypes())
def test_weight_gradients_through_the_skip_connections(student, L, n, m, activation, seed, dtype):
    A_list, b_list, x = network(L, n, m, seed, dtype)
    dA, _ = unpack(student.grads(A_list, b_list, x, activation), L)
    compare_from_the_top(dA, expected_grads(A_list, b_list, x, activation)[0], dtype, "dA_list")


@points(1)
@given(L=st.integers(3, 6), n=sizes, activation=activations, seed=seeds(), dtype=dtypes())
def test_hidden_width_one(student, L, n, activation, seed, dtype):
    A_list, b_list, x = network(L, n, 1, seed, dtype)
    result = unpack(student.grads(A_list, b_list, x, activation), L)
    assert_close(result, expected_grads(A_list, b_list, x, activation), dtype=dtype, name="(dA_list, db_list)")


@points(1)
@given(L=st.integers(3, 4), n=sizes, m=st.integers(2, 4), activation=activations, seed=seeds())
def test_arguments_are_left_unchanged(student, L, n, m, activation, seed):
    A_list, b_list, x = network(L, n, m, seed, torch.float64)
    result = unpack(call_pure(student.grads, A_list, b_list, x, activation), L)
    assert_close(result, expected_grads(A_list, b_list, x, activation), dtype=torch.float64,
                 name="(dA_list, db_list)")
