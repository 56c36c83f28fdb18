"""Correct, another way: BatchNorm treated as a black box. An eval-mode float64 copy of it, applied to
an all-zero and an all-one input, gives its per-channel shift t = bn(0) and scale s = bn(1) - bn(0);
the new weights are scaled in numpy."""

import copy

import numpy as np
import torch
from torch import nn


def _affine_of(bn):
    probe = copy.deepcopy(bn).double().eval()
    shape = (1, bn.num_features) + (1, 1) * isinstance(bn, nn.BatchNorm2d)
    with torch.no_grad():
        t = probe(torch.zeros(shape, dtype=torch.float64)).reshape(-1)
        s = probe(torch.ones(shape, dtype=torch.float64)).reshape(-1) - t
    return s.numpy(), t.numpy()


def _folded_arrays(layer, bn):
    s, t = _affine_of(bn)
    W = layer.weight.detach().double().numpy()
    b = np.zeros_like(s) if layer.bias is None else layer.bias.detach().double().numpy()
    W_new = W * s.reshape((-1,) + (1,) * (W.ndim - 1))
    return torch.from_numpy(W_new).to(layer.weight.dtype), torch.from_numpy(s * b + t).to(layer.weight.dtype)


def fold_conv_bn(conv, bn):
    weight, bias = _folded_arrays(conv, bn)
    new = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                    padding=conv.padding, dilation=conv.dilation, groups=conv.groups, bias=True,
                    dtype=conv.weight.dtype)
    new.weight, new.bias = nn.Parameter(weight), nn.Parameter(bias)
    return new.eval()


def fold_linear_bn(linear, bn):
    weight, bias = _folded_arrays(linear, bn)
    new = nn.Linear(linear.in_features, linear.out_features, dtype=linear.weight.dtype)
    new.weight, new.bias = nn.Parameter(weight), nn.Parameter(bias)
    return new.eval()


def fold_model(model):
    layers = list(model.children())
    kept, skip = [], False
    for layer, after in zip(layers, layers[1:] + [None]):
        if skip:
            skip = False
            continue
        if type(layer) is nn.Conv2d and isinstance(after, nn.BatchNorm2d):
            kept.append(fold_conv_bn(layer, after))
            skip = True
        elif type(layer) is nn.Linear and isinstance(after, nn.BatchNorm1d):
            kept.append(fold_linear_bn(layer, after))
            skip = True
        else:
            kept.append(copy.deepcopy(layer).eval())
    return nn.Sequential(*kept).eval()
