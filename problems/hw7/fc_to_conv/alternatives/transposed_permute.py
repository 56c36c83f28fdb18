"""Correct, another way: the kernel through the transposed weight, A^T reshaped to (C, H, W, O) and
permuted to (O, C, H, W); later linear layers as 1x1 convolutions from a view of their weight; the
Conv2d built in float64 and cast to the linear layer's dtype."""

import copy

import torch
from torch import nn


def _conv_from(weight, bias, shape):
    c, h, w = shape
    o = weight.shape[0]
    conv = nn.Conv2d(c, o, (h, w), bias=bias is not None).double()
    with torch.no_grad():
        conv.weight.copy_(weight.double().T.reshape(c, h, w, o).permute(3, 0, 1, 2))
        if bias is not None:
            conv.bias.copy_(bias.double())
    return conv.to(weight.dtype)


def linear_to_conv(linear, in_shape):
    return _conv_from(linear.weight.detach(), None if linear.bias is None else linear.bias.detach(), in_shape)


def convolutionize(classifier, in_shape):
    kept = [m for m in classifier if not isinstance(m, nn.Flatten)]
    linears = [i for i, m in enumerate(kept) if isinstance(m, nn.Linear)]
    result = []
    for i, m in enumerate(kept):
        if i == linears[0]:
            result.append(linear_to_conv(m, in_shape))
        elif isinstance(m, nn.Linear):
            result.append(linear_to_conv(m, (m.in_features, 1, 1)))
        else:
            result.append(copy.deepcopy(m))
    return nn.Sequential(*result)
