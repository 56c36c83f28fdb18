"""Tests for hw3/conv_lowering: im2col against F.unfold, forward against F.conv2d, backward against autograd."""

import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st

from grader import assert_close, call_pure, points
from grader.strategies import (
    Conv2dConfig,
    conv2d_configs,
    conv2d_configs_with_edge_cases,
    dtypes,
    full_kernel_conv2d_configs,
    pointwise_conv2d_configs,
    seeds,
    tensor,
)

# The lowering has no dilation and no groups.
SMALL = dict(max_channels=3, groups=False, max_batch=2)
any_configs = conv2d_configs_with_edge_cases(max_dilation=1, max_size=8, **SMALL)
stride_one = conv2d_configs(max_stride=1, max_dilation=1, max_size=8, **SMALL)
strided = conv2d_configs(max_stride=3, max_dilation=1, max_size=9, **SMALL).filter(lambda c: c.stride != (1, 1))
edge_kernels = st.one_of(pointwise_conv2d_configs(**SMALL), full_kernel_conv2d_configs(**SMALL))
unpadded = conv2d_configs(max_stride=1, max_padding=0, max_dilation=1, **SMALL)
padded = conv2d_configs(max_stride=1, max_padding=2, max_dilation=1, **SMALL).filter(lambda c: c.padding != (0, 0))
# dx with padding, also where a stride or a 1x1 or full-size kernel changes which padded positions
# receive gradient: these are the places a col2im with padding goes wrong.
padded_with_strides_and_edge_kernels = st.one_of(
    padded,
    conv2d_configs(max_stride=3, max_padding=2, max_dilation=1, max_size=9, **SMALL).filter(
        lambda c: c.padding != (0, 0) and c.stride != (1, 1)
    ),
    edge_kernels.filter(lambda c: c.padding != (0, 0)),
)


def config(kernel, stride, padding, height, width) -> Conv2dConfig:
    return Conv2dConfig(in_channels=2, out_channels=3, kernel_size=kernel, stride=stride, padding=padding,
                        dilation=(1, 1), groups=1, bias=True, batch=2, height=height, width=width)


STRIDED_AND_PADDED = config((3, 2), (2, 3), (1, 2), 7, 8)
POINTWISE_PADDED_STRIDED = config((1, 1), (2, 2), (1, 1), 5, 4)
FULL_SIZE_PADDED = config((5, 7), (1, 1), (1, 2), 3, 3)  # the kernel covers the whole padded input
strided_unpadded = conv2d_configs(max_stride=3, max_padding=0, max_dilation=1, **SMALL).filter(
    lambda c: c.stride != (1, 1)
)


def weight_and_bias(config, seed, dtype):
    conv = config.make(seed, dtype)
    return conv.weight.detach().clone(), None if conv.bias is None else conv.bias.detach().clone()


def expected_conv(x, weight, bias, config):
    return F.conv2d(x.double(), weight.double(), None if bias is None else bias.double(), stride=config.stride,
                    padding=config.padding)


def expected_backward(x, weight, dy, config):
    """(dx, dweight, dbias) by autograd through F.conv2d in float64."""
    xd, wd = x.detach().double().requires_grad_(True), weight.detach().double().requires_grad_(True)
    bd = torch.zeros(weight.shape[0], dtype=torch.float64, requires_grad=True)
    (F.conv2d(xd, wd, bd, stride=config.stride, padding=config.padding) * dy.double()).sum().backward()
    return xd.grad, wd.grad, bd.grad


def backward_case(config, seed, dtype):
    x = tensor(config.input_shape, seed, dtype=dtype)
    weight, _ = weight_and_bias(config, seed + 1, dtype)
    dy = tensor((config.batch, config.out_channels, *config.output_size()), seed + 2, dtype=dtype)
    return x, weight, dy


def call_backward(student, x, weight, dy, config):
    result = student.conv2d_backward(x, weight, dy, config.stride, config.padding)
    assert isinstance(result, tuple) and len(result) == 3, "conv2d_backward must return a tuple (dx, dweight, dbias)"
    return result


def check_forward(student, config, seed, dtype):
    x = tensor(config.input_shape, seed, dtype=dtype)
    weight, bias = weight_and_bias(config, seed + 1, dtype)
    assert_close(call_pure(student.conv2d, x, weight, bias, config.stride, config.padding),
                 expected_conv(x, weight, bias, config), dtype=dtype,
                 name=f"conv2d(x, weight, bias, stride={config.stride}, padding={config.padding})")


@points(2)
@given(config=any_configs, seed=seeds(), dtype=dtypes())
def test_im2col_matches_unfold(student, config, seed, dtype):
    x = tensor(config.input_shape, seed, dtype=dtype)
    expected = F.unfold(x.double(), config.kernel_size, padding=config.padding, stride=config.stride)
    lowered = call_pure(student.im2col, x, config.kernel_size, config.stride, config.padding)
    assert_close(lowered, expected, dtype=dtype,
                 name=f"im2col(x, {config.kernel_size}, stride={config.stride}, padding={config.padding})")


@points(1)
@given(config=stride_one, seed=seeds(), dtype=dtypes())
def test_conv2d_with_stride_one(student, config, seed, dtype):
    check_forward(student, config, seed, dtype)


@points(1)
@given(config=strided, seed=seeds(), dtype=dtypes())
def test_conv2d_with_stride_greater_than_one(student, config, seed, dtype):
    check_forward(student, config, seed, dtype)


@points(1)
@given(config=edge_kernels, seed=seeds(), dtype=dtypes())
def test_conv2d_with_1x1_kernels_and_kernels_as_large_as_the_padded_input(student, config, seed, dtype):
    check_forward(student, config, seed, dtype)


@points(1)
@given(config=unpadded, seed=seeds(), dtype=dtypes())
def test_backward_dx_without_padding_or_stride(student, config, seed, dtype):
    x, weight, dy = backward_case(config, seed, dtype)
    dx, _, _ = expected_backward(x, weight, dy, config)
    assert_close(call_backward(student, x, weight, dy, config)[0], dx, dtype=dtype, name="conv2d_backward(...)[0] (dx)")


@points(1)
@given(config=padded_with_strides_and_edge_kernels, seed=seeds(), dtype=dtypes())
@example(config=STRIDED_AND_PADDED, seed=1, dtype=torch.float32)
@example(config=POINTWISE_PADDED_STRIDED, seed=2, dtype=torch.float64)
@example(config=FULL_SIZE_PADDED, seed=3, dtype=torch.float32)
def test_backward_dx_with_padding(student, config, seed, dtype):
    x, weight, dy = backward_case(config, seed, dtype)
    dx, _, _ = expected_backward(x, weight, dy, config)
    assert_close(call_backward(student, x, weight, dy, config)[0], dx, dtype=dtype, name="conv2d_backward(...)[0] (dx)")


@points(1)
@given(config=strided_unpadded, seed=seeds(), dtype=dtypes())
def test_backward_dx_with_stride_greater_than_one(student, config, seed, dtype):
    x, weight, dy = backward_case(config, seed, dtype)
    dx, _, _ = expected_backward(x, weight, dy, config)
    assert_close(call_backward(student, x, weight, dy, config)[0], dx, dtype=dtype, name="conv2d_backward(...)[0] (dx)")


@points(1)
@given(config=any_configs, seed=seeds(), dtype=dtypes())
def test_backward_dweight(student, config, seed, dtype):
    x, weight, dy = backward_case(config, seed, dtype)
    _, dweight, _ = expected_backward(x, weight, dy, config)
    result = call_pure(student.conv2d_backward, x, weight, dy, config.stride, config.padding)
    assert isinstance(result, tuple) and len(result) == 3, "conv2d_backward must return a tuple (dx, dweight, dbias)"
    assert_close(result[1], dweight, dtype=dtype, name="conv2d_backward(...)[1] (dweight)")


@points(1)
@given(config=any_configs, seed=seeds(), dtype=dtypes())
def test_backward_dbias(student, config, seed, dtype):
    x, weight, dy = backward_case(config, seed, dtype)
    _, _, dbias = expected_backward(x, weight, dy, config)
    assert_close(call_backward(student, x, weight, dy, config)[2], dbias, dtype=dtype,
                 name="conv2d_backward(...)[2] (dbias)")
