"""Flat convolutional stacks for hw5/receptive_field: a Hypothesis strategy and the modules it builds.

Course code (grader.course.extensions): it lives beside the problems that use it, not in the grader.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from hypothesis import strategies as st

from grader.strategies import initialised_from, seeds


@dataclass(frozen=True)
class StackLayer:
    """One layer of a flat CNN stack; geometry values are ints or (height, width) pairs as drawn."""

    kind: str  # "Conv2d", "MaxPool2d", "AvgPool2d", "ReLU" or "BatchNorm2d"
    kernel_size: int | tuple[int, int] = 1
    stride: int | tuple[int, int] | None = 1  # None: a pooling layer's default (its kernel size)
    dilation: int | tuple[int, int] = 1
    padding: int | tuple[int, int] = 0
    out_channels: int = 0  # Conv2d only


@dataclass(frozen=True)
class CnnStack:
    """A flat `nn.Sequential` of Conv2d, MaxPool2d, AvgPool2d, ReLU and BatchNorm2d layers."""

    in_channels: int
    layers: tuple[StackLayer, ...]
    seed: int

    def make(self, dtype: torch.dtype = torch.float32) -> torch.nn.Sequential:
        """The stack as modules, with weights drawn from `seed` (BatchNorm layers in eval mode)."""
        nn = torch.nn
        with initialised_from(self.seed):  # the weights drawn from the seed; the test's own draws untouched
            modules: list[torch.nn.Module] = []
            channels = self.in_channels
            for layer in self.layers:
                if layer.kind == "Conv2d":
                    modules.append(nn.Conv2d(
                        channels, layer.out_channels, layer.kernel_size, stride=layer.stride,  # type: ignore[arg-type]
                        padding=layer.padding, dilation=layer.dilation,
                    ))
                    channels = layer.out_channels
                elif layer.kind == "MaxPool2d":
                    modules.append(nn.MaxPool2d(layer.kernel_size, stride=layer.stride, dilation=layer.dilation))
                elif layer.kind == "AvgPool2d":
                    modules.append(nn.AvgPool2d(layer.kernel_size, stride=layer.stride))
                elif layer.kind == "ReLU":
                    modules.append(nn.ReLU())
                elif layer.kind == "BatchNorm2d":
                    modules.append(nn.BatchNorm2d(channels))
                else:
                    raise ValueError(f"unknown layer kind {layer.kind!r}")
        return nn.Sequential(*modules).to(dtype).eval()


@st.composite
def cnn_stacks(
    draw: st.DrawFn,
    *,
    min_layers: int = 1,
    max_layers: int = 4,
    kinds: tuple[str, ...] = ("Conv2d", "MaxPool2d", "AvgPool2d", "ReLU", "BatchNorm2d"),
    max_channels: int = 3,
    max_kernel: int = 4,
    max_stride: int = 2,
    max_dilation: int = 2,
    max_padding: int = 1,
    pairs: bool = True,
) -> CnnStack:
    """Flat CNN stacks; kernel sizes, strides and dilations are ints or (possibly unequal) pairs.

    Pooling layers have no padding, and their stride is sometimes left to its default.
    """

    def geometry(lo: int, hi: int) -> int | tuple[int, int]:
        if pairs and draw(st.booleans()):
            return (draw(st.integers(lo, hi)), draw(st.integers(lo, hi)))
        return draw(st.integers(lo, hi))

    layers = []
    for _ in range(draw(st.integers(min_layers, max_layers))):
        kind = draw(st.sampled_from(kinds))
        if kind == "Conv2d":
            layers.append(StackLayer(
                kind, kernel_size=geometry(1, max_kernel), stride=geometry(1, max_stride),
                dilation=geometry(1, max_dilation), padding=geometry(0, max_padding),
                out_channels=draw(st.integers(1, max_channels)),
            ))
        elif kind in ("MaxPool2d", "AvgPool2d"):
            stride = None if draw(st.booleans()) else geometry(1, max_stride)
            dilation = geometry(1, max_dilation) if kind == "MaxPool2d" else 1
            layers.append(StackLayer(kind, kernel_size=geometry(1, max_kernel), stride=stride, dilation=dilation))
        else:
            layers.append(StackLayer(kind))
    return CnnStack(in_channels=draw(st.integers(1, max_channels)), layers=tuple(layers), seed=draw(seeds()))
