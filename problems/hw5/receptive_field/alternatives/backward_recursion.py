"""Correct, another way: the recursion run from the output down, r_in = s * (r_out - 1) + d * (k - 1) + 1,
per dimension, over the layers in reverse order."""

from torch import nn


def _two(v):
    if isinstance(v, int):
        return [v, v]
    return [int(v[0]), int(v[1])]


def receptive_field(model):
    r = [1, 1]
    for layer in reversed(list(model.children())):
        if not isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            continue
        k = _two(layer.kernel_size)
        s = _two(layer.kernel_size if layer.stride is None else layer.stride)
        d = _two(layer.dilation) if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)) else [1, 1]
        r = [s[i] * (r[i] - 1) + d[i] * (k[i] - 1) + 1 for i in range(2)]
    return (r[0], r[1])
