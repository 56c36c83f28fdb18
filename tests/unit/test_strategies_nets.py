"""Unit tests for the demo course's flat CNN stacks strategy (course_helpers.nets.cnn_stacks)."""

from __future__ import annotations

from pathlib import Path

import torch
from hypothesis import given, settings
from torch import nn

from grader.course import extensions

extensions.install(Path(__file__).resolve().parents[2])  # the demo course: the repository itself

from course_helpers.nets import CnnStack, StackLayer, cnn_stacks  # noqa: E402

KINDS = {"Conv2d": nn.Conv2d, "MaxPool2d": nn.MaxPool2d, "AvgPool2d": nn.AvgPool2d, "ReLU": nn.ReLU,
         "BatchNorm2d": nn.BatchNorm2d}


@settings(max_examples=40, deadline=None, database=None, derandomize=True)
@given(stack=cnn_stacks())
def test_stacks_build_and_run_on_a_large_enough_input(stack):
    model = stack.make()
    assert isinstance(model, nn.Sequential) and not model.training
    assert [type(m) for m in model] == [KINDS[layer.kind] for layer in stack.layers]
    assert 1 <= len(model) <= 4
    out = model(torch.randn(1, stack.in_channels, 120, 120))
    assert out.shape[0] == 1 and out.shape[2] >= 1 and out.shape[3] >= 1


@settings(max_examples=40, deadline=None, database=None, derandomize=True)
@given(stack=cnn_stacks(kinds=("Conv2d",), max_stride=1, max_dilation=1, pairs=False))
def test_options_restrict_the_layers(stack):
    for layer in stack.layers:
        assert layer.kind == "Conv2d"
        assert layer.stride == 1 and layer.dilation == 1
        assert isinstance(layer.kernel_size, int)


def test_make_is_deterministic_and_keeps_the_geometry():
    stack = CnnStack(
        in_channels=2,
        layers=(
            StackLayer("Conv2d", kernel_size=(1, 3), stride=2, dilation=(2, 1), padding=1, out_channels=3),
            StackLayer("ReLU"),
            StackLayer("MaxPool2d", kernel_size=2, stride=None, dilation=2),
            StackLayer("BatchNorm2d"),
            StackLayer("AvgPool2d", kernel_size=(2, 3), stride=(1, 2)),
        ),
        seed=5,
    )
    a, b = stack.make(), stack.make(torch.float64)
    assert torch.equal(a[0].weight.double(), b[0].weight)
    assert a[0].kernel_size == (1, 3) and a[0].stride == (2, 2) and a[0].dilation == (2, 1)
    assert a[2].kernel_size == 2 and a[2].stride == 2 and a[2].dilation == 2
    assert a[3].num_features == 3
    assert a[4].kernel_size == (2, 3) and a[4].stride == (1, 2)
    assert b[0].weight.dtype == torch.float64
