"""Correct, another way: follow the interval of input positions one output unit reads, layer by layer
from the output down (unit p of a layer reads its input's units s*p .. s*p + d*(k-1)); padding only
shifts the interval, so it is left out."""

import torch.nn as nn

_GEOMETRIC = {"Conv2d", "MaxPool2d", "AvgPool2d"}


def _get(layer, name, default):
    value = getattr(layer, name, default)
    if value is None:
        value = default
    return value if isinstance(value, tuple) else (value, value)


def receptive_field(model: nn.Sequential):
    layers = [m for m in model if type(m).__name__ in _GEOMETRIC or isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))]
    extent = []
    for dim in range(2):
        lo, hi = 0, 0  # one output unit
        for layer in reversed(layers):
            k = _get(layer, "kernel_size", 1)[dim]
            s = _get(layer, "stride", k)[dim] if layer.stride is not None else k
            d = _get(layer, "dilation", 1)[dim]
            lo, hi = s * lo, s * hi + d * (k - 1)
        extent.append(hi - lo + 1)
    return tuple(extent)
