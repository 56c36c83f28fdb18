"""Tests for hw7/conv1d_backprop: correlation, its adjoint, and network gradients against autograd."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader import assert_close, call_pure, points
from grader.strategies import dtypes, seeds, tensor

ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "softplus": F.softplus}
LONG = 2_000_000  # a dense A_w would have LONG**2 entries


@dataclass(frozen=True)
class Conv1dNetwork:
    """Filter sizes f_1..f_L (the last equals n_{L-1}, so that n_L = 1) and the input length n_0."""

    length: int
    filter_sizes: tuple[int, ...]
    activation: str
    seed: int

    def make(self, dtype: torch.dtype):
        x = tensor((self.length,), self.seed, dtype=dtype)
        ws = [tensor((f,), self.seed + 1 + i, dtype=dtype, scale=f ** -0.5 * 1.5) for i, f in enumerate(self.filter_sizes)]
        bs = [tensor((), self.seed + 100 + i, dtype=dtype, scale=0.5) for i in range(len(self.filter_sizes))]
        return x, ws, bs


@st.composite
def conv1d_networks(draw, max_layers: int = 4) -> Conv1dNetwork:
    hidden = draw(st.lists(st.integers(1, 4), min_size=0, max_size=max_layers - 1))
    last = draw(st.integers(1, 6))
    length = sum(f - 1 for f in hidden) + last
    activation = draw(st.sampled_from(sorted(ACTIVATIONS)))
    return Conv1dNetwork(length=length, filter_sizes=(*hidden, last), activation=activation, seed=draw(seeds()))


def network_output(x, ws, bs, activation):
    y = x
    for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
        y = F.conv1d(y[None, None], w[None, None])[0, 0] + b
        if i < len(ws) - 1:
            y = ACTIVATIONS[activation](y)
    return y


def expected_grads(x, ws, bs, activation):
    """The gradients of y_L by autograd through F.conv1d, in float64."""
    ws = [w.detach().double().requires_grad_(True) for w in ws]
    bs = [b.detach().double().requires_grad_(True) for b in bs]
    network_output(x.double(), ws, bs, activation).sum().backward()
    return [w.grad for w in ws], [b.grad for b in bs]


def student_grads(student, x, ws, bs, activation, *, pure=False):
    call = (lambda *a: call_pure(student.network_grads, *a)) if pure else student.network_grads
    result = call(x, ws, bs, activation)
    assert isinstance(result, tuple) and len(result) == 2, "network_grads must return a tuple (dws, dbs)"
    return result


@points(2)
@given(n=st.integers(1, 12), f=st.integers(1, 12), seed=seeds(), dtype=dtypes())
def test_conv1d_is_a_correlation(student, n, f, seed, dtype):
    n = max(n, f)
    x, w = tensor((n,), seed, dtype=dtype), tensor((f,), seed + 1, dtype=dtype)
    expected = F.conv1d(x.double()[None, None], w.double()[None, None])[0, 0]
    assert_close(call_pure(student.conv1d, x, w), expected, dtype=dtype, name="conv1d(x, w)")


@points(2)
@given(m=st.integers(1, 12), f=st.integers(1, 12), seed=seeds(), dtype=dtypes())
def test_conv1d_transpose_is_the_adjoint(student, m, f, seed, dtype):
    u, w = tensor((m,), seed, dtype=dtype), tensor((f,), seed + 1, dtype=dtype)
    # A_w^T u is the gradient of <u, A_w x> with respect to x.
    x = torch.zeros(m + f - 1, dtype=torch.float64, requires_grad=True)
    (F.conv1d(x[None, None], w.double()[None, None])[0, 0] * u.double()).sum().backward()
    assert_close(call_pure(student.conv1d_transpose, u, w), x.grad, dtype=dtype, name="conv1d_transpose(u, w)")


@points(2)
@given(net=conv1d_networks(), dtype=dtypes())
def test_network_grads_filters(student, net, dtype):
    x, ws, bs = net.make(dtype)
    dws, _ = expected_grads(x, ws, bs, net.activation)
    assert_close(student_grads(student, x, ws, bs, net.activation, pure=True)[0], dws, dtype=dtype, name="dws")


@points(2)
@given(net=conv1d_networks(), dtype=dtypes())
def test_network_grads_biases(student, net, dtype):
    x, ws, bs = net.make(dtype)
    _, dbs = expected_grads(x, ws, bs, net.activation)
    assert_close(student_grads(student, x, ws, bs, net.activation)[1], dbs, dtype=dtype, name="dbs")


@points(1)
def test_long_input_conv1d_and_transpose(student):
    """len(x) = 2,000,000 and a filter of length 5."""
    x, w = tensor((LONG,), 1), tensor((5,), 2)
    expected = F.conv1d(x.double()[None, None], w.double()[None, None])[0, 0]
    assert_close(student.conv1d(x, w), expected, dtype=torch.float32, name="conv1d(x, w)")
    u = tensor((LONG - 4,), 3)
    expected = F.conv_transpose1d(u.double()[None, None], w.double()[None, None])[0, 0]
    assert_close(student.conv1d_transpose(u, w), expected, dtype=torch.float32,
                 name="conv1d_transpose(u, w)")


@points(1)
def test_long_input_network_grads(student):
    """len(x) = 2,000,000, filters of lengths 3, 5 and 1,999,994, tanh, float64."""
    net = Conv1dNetwork(length=LONG, filter_sizes=(3, 5, LONG - 6), activation="tanh", seed=4)
    x, ws, bs = net.make(torch.float64)
    assert_close(student_grads(student, x, ws, bs, net.activation), expected_grads(x, ws, bs, net.activation),
                 dtype=torch.float64, name="network_grads(x, ws, bs)")
