"""Tests for hw5/receptive_field: the formula on families of stacks, and the support of a gradient."""

import torch
from hypothesis import given, note
from torch import nn

from grader import assert_close, call_pure, points
from course_helpers.nets import CnnStack, cnn_stacks

CONV_ONLY = ("Conv2d",)
CONV_AND_POINTWISE = ("Conv2d", "ReLU", "BatchNorm2d")


def expected_size(reference, stack: CnnStack) -> tuple[int, int]:
    model = stack.make()
    note(f"model = {model}")
    return reference.receptive_field(model)


def check(student, reference, stack: CnnStack) -> None:
    __tracebackhide__ = True
    model = stack.make()
    assert_close(student.receptive_field(model), expected_size(reference, stack), name="receptive_field(model)")


@points(1)
@given(stack=cnn_stacks(min_layers=1, max_layers=1, kinds=CONV_ONLY))
def test_one_convolution(student, reference, stack):
    check(student, reference, stack)


@points(2)
@given(stack=cnn_stacks(min_layers=2, kinds=CONV_AND_POINTWISE, max_stride=1, max_dilation=1, max_kernel=5))
def test_stacked_convolutions_with_stride_one(student, reference, stack):
    check(student, reference, stack)


@points(2)
@given(stack=cnn_stacks(min_layers=2, kinds=CONV_AND_POINTWISE, max_stride=3, max_dilation=1))
def test_strided_convolutions(student, reference, stack):
    check(student, reference, stack)


@points(1)
@given(stack=cnn_stacks(min_layers=1, kinds=CONV_AND_POINTWISE, max_stride=1, max_dilation=3))
def test_dilated_convolutions(student, reference, stack):
    check(student, reference, stack)


@points(2)
@given(stack=cnn_stacks(min_layers=2, kinds=("Conv2d", "MaxPool2d", "AvgPool2d", "ReLU"), max_dilation=1))
def test_pooling_layers(student, reference, stack):
    check(student, reference, stack)


def probe_copy(model: nn.Sequential, in_channels: int) -> nn.Sequential:
    """A float64 copy of `model` whose gradients reach the whole receptive field.

    Positive weights on a positive input keep every ReLU open, and each max pooling becomes a sum
    over its window (a depthwise convolution of ones with the same geometry), since the gradient of
    a maximum reaches only the position of the maximum. The geometry of every layer is unchanged.
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for layer in model:
        if isinstance(layer, nn.Conv2d):
            conv = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                             padding=layer.padding, dilation=layer.dilation, bias=False).double()
            nn.init.ones_(conv.weight)
            layers.append(conv)
            channels = layer.out_channels
        elif isinstance(layer, nn.MaxPool2d):
            pool = nn.Conv2d(channels, channels, layer.kernel_size, stride=layer.stride, padding=layer.padding,
                             dilation=layer.dilation, groups=channels, bias=False).double()
            nn.init.ones_(pool.weight)
            layers.append(pool)
        elif isinstance(layer, nn.AvgPool2d):
            layers.append(layer)
        else:
            layers.append(nn.Identity())  # ReLU and BatchNorm change no positions
    return nn.Sequential(*layers)


def gradient_support(model: nn.Sequential, stack: CnnStack, size: tuple[int, int]) -> tuple[int, int]:
    """Height and width of the bounding box of the input positions where the gradient of one central
    output unit is non-zero (computed by autograd); fails as a grader error if the box meets the border."""
    probe = probe_copy(model, stack.in_channels)
    x = (torch.rand(1, stack.in_channels, *size, dtype=torch.float64) + 0.5).requires_grad_(True)
    y = probe(x)
    i, j = y.shape[2] // 2, y.shape[3] // 2
    (grad,) = torch.autograd.grad(y[0, :, i, j].sum(), x)
    touched = grad[0].abs().sum(0) > 0
    rows = touched.any(1).nonzero().flatten()
    cols = touched.any(0).nonzero().flatten()
    if rows[0] == 0 or cols[0] == 0 or rows[-1] == size[0] - 1 or cols[-1] == size[1] - 1:
        raise RuntimeError(f"the probe input {size} is too small for {model}")
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


@points(2)
@given(stack=cnn_stacks(min_layers=1, max_layers=5))
def test_agrees_with_the_support_of_a_gradient(student, reference, stack):
    model = stack.make()
    note(f"model = {model}")
    # A probe input comfortably larger than the receptive field; the output unit is a central one.
    field = reference.receptive_field(model)
    jumps = [1, 1]
    for layer in model:
        stride = getattr(layer, "stride", 1)
        stride = stride if isinstance(stride, tuple) else (stride, stride)
        jumps = [jumps[0] * stride[0], jumps[1] * stride[1]]
    size = tuple(2 * f + 4 * s + 8 for f, s in zip(field, jumps))
    support = gradient_support(model, stack, size)
    # Through call_pure: an empirical answer must probe a copy, not the model it was given.
    assert_close(call_pure(student.receptive_field, model), support, name="receptive_field(model)")
