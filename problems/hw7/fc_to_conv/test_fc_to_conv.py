"""Tests for hw7/fc_to_conv: the converted layers equal the linear ones, and slide over larger inputs."""

import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from grader import assert_close, call_pure, points, remote_type
from grader.strategies import classifier_heads, dtypes, float64_copy, seeds, tensor

feature_maps = st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 5))
margins = st.tuples(st.integers(0, 3), st.integers(0, 3))


def make_linear(in_shape, out, bias, seed, dtype):
    torch.manual_seed(seed)
    c, h, w = in_shape
    return nn.Linear(c * h * w, out, bias=bias).to(dtype)


def sliding(net: nn.Module, x: torch.Tensor, window: tuple[int, int]) -> torch.Tensor:
    """The oracle: the original network on every window of x, in float64, as a [B, K, I, J] map."""
    h, w = window
    rows = []
    for i in range(x.shape[2] - h + 1):
        rows.append(torch.stack([net(x[:, :, i:i + h, j:j + w]) for j in range(x.shape[3] - w + 1)], dim=-1))
    return torch.stack(rows, dim=-2)


def of_dtype(module, dtype: torch.dtype, call: str):
    """`module`, once every parameter and buffer is checked to have `dtype` (the dtype of the linear
    layers it replaces): a layer of another dtype would raise in the forward pass, not fail clearly."""
    __tracebackhide__ = True
    if not isinstance(module, nn.Module):  # a handle runs in the sandbox, where a mismatch is the student's error
        return module
    for key, value in module.state_dict().items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != dtype:
            raise AssertionError(f"{call}: its {key} is {value.dtype}, but the linear layer's dtype is {dtype}")
    return module


@points(2)
@given(in_shape=feature_maps, out=st.integers(1, 5), bias=st.booleans(), batch=st.integers(1, 3), seed=seeds(),
       dtype=dtypes())
def test_linear_to_conv_on_inputs_of_the_exact_size(student, in_shape, out, bias, batch, seed, dtype):
    linear = make_linear(in_shape, out, bias, seed, dtype)
    x = tensor((batch, *in_shape), seed + 1, dtype=dtype)
    conv = of_dtype(call_pure(student.linear_to_conv, linear, in_shape), dtype, f"linear_to_conv(linear, {in_shape})")
    expected = float64_copy(linear)(x.double().flatten(1))[:, :, None, None]
    assert_close(conv(x), expected, dtype=dtype, name=f"linear_to_conv(linear, {in_shape})(x)")


@points(1)
@given(in_shape=feature_maps, out=st.integers(1, 5), bias=st.booleans(), seed=seeds())
def test_linear_to_conv_returns_a_conv2d_with_the_whole_map_as_kernel(student, in_shape, out, bias, seed):
    linear = make_linear(in_shape, out, bias, seed, torch.float32)
    conv = student.linear_to_conv(linear, in_shape)
    assert remote_type(conv).endswith("Conv2d"), f"linear_to_conv must return an nn.Conv2d, got {remote_type(conv)}"
    c, h, w = in_shape
    for attribute, expected in (("in_channels", c), ("out_channels", out), ("kernel_size", (h, w))):
        assert_close(getattr(conv, attribute), expected, name=f"conv.{attribute}")
    has_bias = conv.bias is not None
    assert has_bias == bias, f"the convolution must have a bias exactly when the linear layer has one (bias={bias})"
    x = tensor((1, *in_shape), seed + 1)
    assert_close(conv(x), float64_copy(linear)(x.double().flatten(1))[:, :, None, None], dtype=torch.float32,
                 name=f"linear_to_conv(linear, {in_shape})(x)")


@points(2)
@given(in_shape=feature_maps, margin=margins, out=st.integers(1, 4), bias=st.booleans(), seed=seeds(),
       dtype=dtypes())
def test_linear_to_conv_slides_over_larger_inputs(student, in_shape, margin, out, bias, seed, dtype):
    linear = make_linear(in_shape, out, bias, seed, dtype)
    c, h, w = in_shape
    x = tensor((2, c, h + margin[0], w + margin[1]), seed + 1, dtype=dtype)
    reference_net = nn.Sequential(nn.Flatten(), float64_copy(linear))
    conv = of_dtype(student.linear_to_conv(linear, in_shape), dtype, f"linear_to_conv(linear, {in_shape})")
    assert_close(conv(x), sliding(reference_net, x.double(), (h, w)), dtype=dtype,
                 name=f"linear_to_conv(linear, {in_shape})(x) on x of shape {tuple(x.shape)}")


@points(2)
@given(spec=classifier_heads(), batch=st.integers(1, 3), seed=seeds(), dtype=dtypes())
def test_convolutionize_on_inputs_of_the_exact_size(student, spec, batch, seed, dtype):
    classifier = spec.make(dtype)
    x = tensor((batch, *spec.input_shape), seed, dtype=dtype)
    net = call_pure(student.convolutionize, classifier, spec.input_shape).eval()
    of_dtype(net, dtype, f"convolutionize(classifier, {spec.input_shape})")
    expected = float64_copy(classifier).eval()(x.double())[:, :, None, None]
    assert_close(net(x), expected, dtype=dtype, name=f"convolutionize(classifier, {spec.input_shape})(x)")


@points(2)
@given(spec=classifier_heads(), margin=margins, seed=seeds(), dtype=dtypes())
def test_convolutionize_slides_over_larger_inputs(student, spec, margin, seed, dtype):
    classifier = spec.make(dtype)
    c, h, w = spec.input_shape
    x = tensor((2, c, h + margin[0], w + margin[1]), seed, dtype=dtype)
    net = student.convolutionize(classifier, spec.input_shape).eval()
    of_dtype(net, dtype, f"convolutionize(classifier, {spec.input_shape})")
    expected = sliding(float64_copy(classifier).eval(), x.double(), (h, w))
    assert_close(net(x), expected, dtype=dtype,
                 name=f"convolutionize(classifier, {spec.input_shape})(x) on x of shape {tuple(x.shape)}")


def layer_kind(name: str) -> str:
    return name.rsplit(".", 1)[-1]


@points(1)
@given(spec=classifier_heads())
def test_convolutionize_replaces_linear_layers_and_drops_flatten(student, spec):
    classifier = spec.make()
    net = student.convolutionize(classifier, spec.input_shape)
    assert remote_type(net).endswith("Sequential"), f"convolutionize must return an nn.Sequential, got {remote_type(net)}"
    got = [layer_kind(remote_type(layer)) for layer in net]
    wanted = [{"Linear": "Conv2d"}.get(type(m).__name__, type(m).__name__) for m in classifier
              if not isinstance(m, nn.Flatten)]
    assert got == wanted, f"expected the layers {wanted}, got {got}"
    # Keep the smallest check of values too, so that an empty or wrong network cannot pass.
    x = tensor((1, *spec.input_shape), 0)
    assert_close(net.eval()(x), float64_copy(classifier).eval()(x.double())[:, :, None, None], dtype=torch.float32,
                 name=f"convolutionize(classifier, {spec.input_shape})(x)")
