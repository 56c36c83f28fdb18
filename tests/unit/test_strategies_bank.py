"""Unit tests for the bank's shared strategies: convolution edge cases, random CNNs, classifier heads."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from torch import nn

from grader.course import extensions
from grader.strategies import (
    LayerSpec,
    SequentialSpec,
    classifier_heads,
    conv2d_configs_with_edge_cases,
    full_kernel_conv2d_configs,
    pointwise_conv2d_configs,
    sequential_cnns,
)

FAST = settings(max_examples=25, deadline=None, database=None, derandomize=True)


@FAST
@given(config=conv2d_configs_with_edge_cases())
def test_edge_case_configs_give_the_advertised_output_size(config):
    conv = config.make(0)
    out = conv(torch.zeros(config.input_shape))
    assert out.shape == (config.batch, config.out_channels, *config.output_size())
    assert min(config.output_size()) >= 1


@FAST
@given(config=pointwise_conv2d_configs())
def test_pointwise_configs_have_1x1_kernels(config):
    assert config.kernel_size == (1, 1) and config.dilation == (1, 1)


@FAST
@given(config=full_kernel_conv2d_configs(groups=False))
def test_full_kernels_cover_the_padded_input_exactly(config):
    assert config.kernel_size == (config.height + 2 * config.padding[0], config.width + 2 * config.padding[1])
    assert config.output_size() == (1, 1)
    x = torch.randn(config.input_shape, dtype=torch.float64)
    conv = config.make(1, torch.float64)
    # One window: the output is the whole padded input against the weight.
    padded = F.pad(x, (config.padding[1], config.padding[1], config.padding[0], config.padding[0]))
    expected = torch.einsum("nchw,ochw->no", padded, conv.weight)
    if conv.bias is not None:
        expected = expected + conv.bias
    torch.testing.assert_close(conv(x)[:, :, 0, 0], expected)


@FAST
@given(spec=sequential_cnns())
def test_random_cnns_run_once_on_their_input_and_end_in_a_vector(spec):
    model = spec.make()
    assert isinstance(model, nn.Sequential) and not model.training
    assert [type(m).__name__ for m in model] == [layer.kind for layer in spec.layers]
    calls: list[str] = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            module.register_forward_hook(lambda m, a, o, name=name: calls.append(name))
    out = model(torch.zeros(1, *spec.input_shape))
    assert out.dim() == 2 and out.shape[0] == 1
    counted = [name for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert sorted(calls) == sorted(counted), "every conv and linear layer runs exactly once"


@FAST
@given(spec=sequential_cnns(head=False, dilation=False, groups=False))
def test_cnns_without_head_options(spec):
    model = spec.make()
    assert not any(isinstance(m, (nn.Linear, nn.Flatten)) for m in model)
    for m in model:
        if isinstance(m, nn.Conv2d):
            assert m.groups == 1 and m.dilation == (1, 1)
    assert model(torch.zeros(2, *spec.input_shape)).dim() == 4


@FAST
@given(spec=classifier_heads())
def test_classifier_heads_start_with_flatten_and_alternate(spec):
    model = spec.make(torch.float64)
    assert isinstance(model[0], nn.Flatten) and isinstance(model[-1], nn.Linear)
    assert model[1].in_features == spec.input_shape[0] * spec.input_shape[1] * spec.input_shape[2]
    assert all(p.dtype == torch.float64 for p in model.parameters())
    assert model(torch.zeros(3, *spec.input_shape, dtype=torch.float64)).shape[0] == 3


def test_specs_are_deterministic_and_print_readably():
    spec = SequentialSpec(
        input_shape=(2, 5, 4),
        layers=(LayerSpec("Conv2d", (("in_channels", 2), ("out_channels", 3), ("kernel_size", (2, 3)))),
                LayerSpec("ReLU"), LayerSpec("Flatten"),
                LayerSpec("Linear", (("in_features", 3 * 4 * 2), ("out_features", 2)))),
        seed=7,
    )
    a, b = spec.make(), spec.make()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert repr(spec.layers[0]) == "Conv2d(in_channels=2, out_channels=3, kernel_size=(2, 3))"
    assert a(torch.zeros(1, 2, 5, 4)).shape == (1, 2)


@FAST
@given(config=conv2d_configs_with_edge_cases(), model=sequential_cnns())
def test_building_a_module_draws_from_its_seed_and_leaves_the_global_generator_alone(config, model):
    """Strategies use their own generator state: the weights come from the seed alone, and the draws a
    test makes after building one are the draws it would have made without building it."""
    # The demo course's helpers, whatever another test in this process installed last (test_extensions).
    extensions.install(Path(__file__).resolve().parents[2])
    from course_helpers.nets import CnnStack, StackLayer

    stack = CnnStack(in_channels=2, layers=(StackLayer(kind="Conv2d", kernel_size=3, out_channels=2),), seed=5)
    torch.manual_seed(123)
    expected = torch.rand(8)
    for build in (lambda: config.make(7), model.make, stack.make):
        torch.manual_seed(123)
        first = build()
        assert torch.equal(torch.rand(8), expected)  # the global generator is where it was
        torch.manual_seed(999)  # another state before: the same module
        again = build()
        assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
