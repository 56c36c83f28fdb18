"""Correct, another way: the closed form r = 1 + sum_l d_l (k_l - 1) * (s_1 * ... * s_{l-1}), with the
running products of the strides from itertools.accumulate."""

import itertools
import operator

from torch import nn
from torch.nn.modules.utils import _pair


def _geometry(layer):
    k = _pair(layer.kernel_size)
    s = _pair(layer.stride) if layer.stride is not None else k
    d = _pair(layer.dilation) if hasattr(layer, "dilation") else (1, 1)
    return k, s, d


def receptive_field(model):
    geo = [_geometry(m) for m in model if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))]
    sizes = []
    for dim in range(2):
        strides = [s[dim] for _, s, _ in geo]
        jumps = [1, *itertools.accumulate(strides, operator.mul)][: len(geo)]
        sizes.append(1 + sum(d[dim] * (k[dim] - 1) * j for (k, _, d), j in zip(geo, jumps)))
    return sizes[0], sizes[1]
