"""Tests for hw7/bn_fold: folded layers equal the unfolded ones on random BatchNorm statistics."""

import copy
import math

import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch import nn

from grader import assert_close, call_pure, hidden, points, remote_type
from grader.strategies import BatchNormStats, batchnorm_stats, conv2d_configs, dtypes, float64_copy, seeds, tensor


def unfolded(*layers: nn.Module) -> nn.Module:
    """The oracle: the original layers, in eval mode, in float64."""
    return float64_copy(nn.Sequential(*layers)).eval()


def of_dtype(module, dtype: torch.dtype, call: str):
    """`module`, once every floating-point parameter and buffer is checked to have `dtype` (the dtype
    of the layers it folds): a layer of another dtype would raise in the forward pass, not fail clearly."""
    __tracebackhide__ = True
    if not isinstance(module, nn.Module):  # a handle runs in the sandbox, where a mismatch is the student's error
        return module
    for key, value in module.state_dict().items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != dtype:
            raise AssertionError(f"{call}: its {key} is {value.dtype}, but the layers it folds are {dtype}")
    return module


def in_both_modes(layer: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layer in training mode and an eval-mode copy: the statement allows either, so every example tries both."""
    return [("training", layer.train()), ("eval", copy.deepcopy(layer).eval())]


@points(1)
@given(config=conv2d_configs(), stats=st.data(), seed=seeds(), dtype=dtypes())
def test_fold_conv_bn_equals_conv_then_bn(student, config, stats, seed, dtype):
    conv = config.make(seed, dtype)
    bn = stats.draw(batchnorm_stats(config.out_channels, affine=True)).make2d(dtype)
    x = tensor(config.input_shape, seed + 1, dtype=dtype)
    expected = unfolded(conv, bn)(x.double())
    for mode, layer in in_both_modes(conv):
        folded = of_dtype(student.fold_conv_bn(layer, bn), dtype, f"fold_conv_bn(conv in {mode} mode, bn)")
        assert_close(folded(x), expected, dtype=dtype, name=f"fold_conv_bn(conv in {mode} mode, bn)(x)")


def extreme_statistics(num_features):
    """Running variances from far below eps to far above it, and eps from tiny to large."""
    return batchnorm_stats(num_features, affine=True, var_range=(1e-8, 1e6), eps_range=(1e-8, 1.0))


@hidden
@points(1)
@given(config=conv2d_configs(), stats=st.data(), seed=seeds())
def test_fold_conv_bn_on_extreme_statistics(student, config, stats, seed):
    conv = config.make(seed, torch.float64)
    bn = stats.draw(extreme_statistics(config.out_channels)).make2d(torch.float64)
    x = tensor(config.input_shape, seed + 1, dtype=torch.float64)
    folded = of_dtype(student.fold_conv_bn(conv, bn), torch.float64, "fold_conv_bn(conv, bn)")
    assert_close(folded(x), unfolded(conv, bn)(x), dtype=torch.float64,
                 name="fold_conv_bn(conv, bn)(x)")


@points(1)
@given(config=conv2d_configs(), stats=st.data(), seed=seeds())
def test_fold_conv_bn_keeps_the_geometry_and_adds_a_bias(student, config, stats, seed):
    conv = config.make(seed)
    bn = stats.draw(batchnorm_stats(config.out_channels, affine=True)).make2d()
    folded = student.fold_conv_bn(conv, bn)
    assert remote_type(folded).endswith("Conv2d"), f"fold_conv_bn must return an nn.Conv2d, got {remote_type(folded)}"
    for attribute in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"):
        assert_close(getattr(folded, attribute), getattr(conv, attribute), name=f"folded.{attribute}")
    assert folded.bias is not None, "the folded convolution must have a bias"


@points(1)
@given(config=conv2d_configs(), stats=st.data(), seed=seeds(), dtype=dtypes())
def test_fold_handles_batchnorm_without_affine_parameters(student, config, stats, seed, dtype):
    conv = config.make(seed, dtype)
    bn = stats.draw(batchnorm_stats(config.out_channels, affine=False)).make2d(dtype)
    x = tensor(config.input_shape, seed + 1, dtype=dtype)
    folded = of_dtype(student.fold_conv_bn(conv, bn), dtype, "fold_conv_bn(conv, bn without affine)")
    assert_close(folded(x), unfolded(conv, bn)(x.double()), dtype=dtype,
                 name="fold_conv_bn(conv, bn without affine)(x)")
    linear = nn.Linear(3, config.out_channels).to(dtype)
    bn1 = stats.draw(batchnorm_stats(config.out_channels, affine=False)).make1d(dtype)
    v = tensor((4, 3), seed + 2, dtype=dtype)
    folded = of_dtype(student.fold_linear_bn(linear, bn1), dtype, "fold_linear_bn(linear, bn without affine)")
    assert_close(folded(v), unfolded(linear, bn1)(v.double()), dtype=dtype,
                 name="fold_linear_bn(linear, bn without affine)(x)")


@points(1)
@given(config=conv2d_configs(), stats=st.data(), seed=seeds())
def test_fold_leaves_its_arguments_unchanged(student, config, stats, seed):
    conv = config.make(seed)
    bn = stats.draw(batchnorm_stats(config.out_channels, affine=True)).make2d()
    x = tensor(config.input_shape, seed + 1)
    folded = of_dtype(call_pure(student.fold_conv_bn, conv, bn), torch.float32, "fold_conv_bn(conv, bn)")
    assert_close(folded(x), unfolded(conv, bn)(x.double()), dtype=torch.float32, name="fold_conv_bn(conv, bn)(x)")
    linear = nn.Linear(3, config.out_channels, bias=config.bias)
    bn1 = stats.draw(batchnorm_stats(config.out_channels, affine=True)).make1d()
    v = tensor((2, 3), seed + 2)
    folded = of_dtype(call_pure(student.fold_linear_bn, linear, bn1), torch.float32, "fold_linear_bn(linear, bn)")
    assert_close(folded(v), unfolded(linear, bn1)(v.double()), dtype=torch.float32, name="fold_linear_bn(linear, bn)(x)")


@points(2)
@given(
    n_in=st.integers(1, 6), n_out=st.integers(1, 6), bias=st.booleans(), stats=st.data(), seed=seeds(),
    dtype=dtypes(), batch=st.integers(1, 4),
)
def test_fold_linear_bn_equals_linear_then_bn(student, n_in, n_out, bias, stats, seed, dtype, batch):
    torch.manual_seed(seed)
    linear = nn.Linear(n_in, n_out, bias=bias).to(dtype)
    bn = stats.draw(batchnorm_stats(n_out, affine=True)).make1d(dtype)
    x = tensor((batch, n_in), seed + 1, dtype=dtype)
    expected = unfolded(linear, bn)(x.double())
    for mode, layer in in_both_modes(linear):
        folded = student.fold_linear_bn(layer, bn)
        kind = remote_type(folded)
        assert kind.endswith(".Linear"), f"fold_linear_bn must return an nn.Linear, got {kind}"
        assert_close((folded.in_features, folded.out_features), (n_in, n_out),
                     name="(folded.in_features, folded.out_features)")
        assert folded.bias is not None, "the folded linear layer must have a bias"
        of_dtype(folded, dtype, f"fold_linear_bn(linear in {mode} mode, bn)")
        assert_close(folded(x), expected, dtype=dtype, name=f"fold_linear_bn(linear in {mode} mode, bn)(x)")


@st.composite
def small_cnns(draw):
    """A flat Sequential: conv blocks (some with BatchNorm), flatten, linear blocks (some with BatchNorm)."""
    seed = draw(seeds())
    torch.manual_seed(seed)
    channels, size = draw(st.integers(1, 3)), draw(st.integers(4, 7))
    layers, c = [], channels
    for _ in range(draw(st.integers(1, 2))):
        out = draw(st.integers(1, 4))
        layers.append(nn.Conv2d(c, out, 3, padding=1, bias=draw(st.booleans())))
        if draw(st.booleans()):
            layers.append(draw(batchnorm_stats(out, affine=True)).make2d())
        layers.append(draw(st.sampled_from([nn.ReLU(), nn.Tanh(), nn.Identity()])))
        if draw(st.booleans()):  # after the activation: nothing to fold it into, so it is kept
            layers.append(draw(batchnorm_stats(out, affine=True)).make2d())
        c = out
    layers.append(nn.Flatten())
    features = c * size * size
    for _ in range(draw(st.integers(1, 2))):
        out = draw(st.integers(1, 5))
        layers.append(nn.Linear(features, out, bias=draw(st.booleans())))
        if draw(st.booleans()):
            layers.append(draw(batchnorm_stats(out, affine=True)).make1d())
        features = out
    model = nn.Sequential(*layers).train()  # the student must switch it to eval mode
    return model, (channels, size)


def with_batchnorms_to_fold_and_to_keep() -> tuple[nn.Sequential, tuple[int, int]]:
    """Every kind of BatchNorm in one model: after a Conv2d and after a Linear (folded), and after an
    activation (kept, since nothing directly before it can absorb it)."""
    torch.manual_seed(11)

    def stats(n: int, seed: int) -> BatchNormStats:
        return BatchNormStats(n, 1e-3, True, math.log(1e-2), math.log(10.0), seed)

    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), stats(3, 1).make2d(), nn.ReLU(), stats(3, 2).make2d(),
        nn.Flatten(), nn.Linear(3 * 4 * 4, 2), stats(2, 3).make1d(),
    )
    return model.train(), (2, 4)


EVERY_KIND = with_batchnorms_to_fold_and_to_keep()


def count_batchnorms(model: nn.Module) -> tuple[int, int]:
    """(BatchNorms that directly follow a Conv2d or a Linear, the other BatchNorms)."""
    layers = list(model)
    folded = kept = 0
    for before, layer in zip([None, *layers], layers):
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            if isinstance(before, (nn.Conv2d, nn.Linear)):
                folded += 1
            else:
                kept += 1
    return folded, kept


@points(2)
@given(net=small_cnns(), seed=seeds(), batch=st.integers(2, 3))
@example(net=EVERY_KIND, seed=0, batch=2)
def test_fold_model_equals_the_model_in_eval_mode(student, net, seed, batch):
    model, (channels, size) = net
    x = tensor((batch, channels, size, size), seed)
    expected = float64_copy(model).eval()(x.double())
    # The model arrives in training mode: switching the argument itself to eval mode modifies it.
    folded = of_dtype(call_pure(student.fold_model, model), torch.float32, "fold_model(model)")
    assert_close(folded(x), expected, dtype=torch.float32, name="fold_model(model)(x)")


@points(1)
@given(net=small_cnns())
@example(net=EVERY_KIND)
def test_fold_model_removes_every_batchnorm(student, net):
    model, _ = net
    folded = student.fold_model(model)
    types = [remote_type(layer).rsplit(".", 1)[-1] for layer in folded]
    to_fold, to_keep = count_batchnorms(model)
    left = sum(t.startswith("BatchNorm") for t in types)
    assert left == to_keep, (
        f"{to_keep} BatchNorm layers follow no Conv2d or Linear and must be kept, and the {to_fold} others "
        f"folded away; {left} remain: {types}"
    )
    expected = len(model) - to_fold
    assert len(types) == expected, f"expected {expected} layers after folding, got {len(types)}: {types}"
    assert folded.training is False, "the folded model must be returned in eval mode"
