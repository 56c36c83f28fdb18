"""Tests for hw7/layer_ops: per-layer operation counts against sizes measured by running the model."""

import copy
import functools
from collections import OrderedDict

import torch
from hypothesis import given
from torch import nn

from grader import assert_close, call_pure, points
from grader.strategies import classifier_heads, conv2d_configs, seeds, sequential_cnns


def measured_ops(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, int]:
    """The oracle: run a copy of the model once and read every layer's true output size."""
    model = copy.deepcopy(model).eval()
    counts: dict[str, int] = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            def conv_hook(m, args, out, name=name):
                counts[name] = out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
            module.register_forward_hook(conv_hook)
        elif isinstance(module, nn.Linear):
            def linear_hook(m, args, out, name=name):
                counts[name] = m.in_features * m.out_features
            module.register_forward_hook(linear_hook)
    like = next(model.parameters(), torch.zeros(()))
    with torch.no_grad():
        model(torch.zeros(1, *input_shape, dtype=like.dtype, device=like.device))
    return counts


@functools.cache
def alexnet_totals() -> tuple[int, int]:
    import torchvision

    with torch.device("meta"):  # shapes only: no memory for the 61 million weights
        model = torchvision.models.alexnet(weights=None)
    counts = measured_ops(model, (3, 224, 224))
    conv = sum(v for name, v in counts.items() if isinstance(model.get_submodule(name), nn.Conv2d))
    return conv, sum(counts.values()) - conv


def check_single_conv(student, config, seed):
    model = nn.Sequential(config.make(seed))
    shape = config.input_shape[1:]
    assert_close(student.count_ops(model, shape), measured_ops(model, shape), name=f"count_ops(model, {shape})")


PLAIN = dict(max_channels=6, max_kernel=5, max_size=12)


@points(1)
@given(config=conv2d_configs(max_stride=1, max_dilation=1, groups=False, **PLAIN), seed=seeds())
def test_conv_with_stride_one_one_group_and_no_dilation(student, config, seed):
    check_single_conv(student, config, seed)


@points(1)
@given(config=conv2d_configs(max_dilation=1, groups=False, **PLAIN).filter(lambda c: c.stride != (1, 1)),
       seed=seeds())
def test_conv_with_stride(student, config, seed):
    check_single_conv(student, config, seed)


@points(1)
@given(config=conv2d_configs(max_stride=1, max_dilation=1, **PLAIN).filter(lambda c: c.groups > 1), seed=seeds())
def test_conv_with_groups(student, config, seed):
    check_single_conv(student, config, seed)


@points(1)
@given(config=conv2d_configs(max_stride=1, max_dilation=3, groups=False, **PLAIN).filter(
    lambda c: c.dilation != (1, 1) and c.kernel_size != (1, 1)), seed=seeds())
def test_conv_with_dilation(student, config, seed):
    check_single_conv(student, config, seed)


@points(1)
@given(spec=classifier_heads(max_size=6))
def test_linear_layers(student, spec):
    model = spec.make()
    assert_close(student.count_ops(model, spec.input_shape), measured_ops(model, spec.input_shape),
                 name=f"count_ops(model, {spec.input_shape})")


@points(2)
@given(spec=sequential_cnns())
def test_random_cnns(student, spec):
    model = spec.make()
    assert_close(call_pure(student.count_ops, model, spec.input_shape), measured_ops(model, spec.input_shape),
                 name=f"count_ops(model, {spec.input_shape})")


@points(1)
@given(spec=sequential_cnns(max_blocks=2))
def test_nested_layers_are_keyed_by_their_full_names(student, spec):
    layers = list(spec.make())
    cut = next(i for i, layer in enumerate(layers) if isinstance(layer, nn.Flatten))
    model = nn.Sequential(OrderedDict(
        features=nn.Sequential(*layers[:cut]), flatten=layers[cut], classifier=nn.Sequential(*layers[cut + 1:]),
    ))
    assert_close(student.count_ops(model, spec.input_shape), measured_ops(model, spec.input_shape),
                 name=f"count_ops(model, {spec.input_shape})")


@points(1)
def test_alexnet_conv_ops(student):
    assert_close(student.ALEXNET_CONV_OPS, alexnet_totals()[0], name="ALEXNET_CONV_OPS")


@points(1)
def test_alexnet_linear_ops(student):
    assert_close(student.ALEXNET_LINEAR_OPS, alexnet_totals()[1], name="ALEXNET_LINEAR_OPS")
