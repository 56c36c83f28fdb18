import copy

import torch
from torch import nn


def _factors(bn):
    std = torch.sqrt(bn.running_var + bn.eps)
    gamma = bn.weight if bn.affine else torch.ones_like(std)
    beta = bn.bias if bn.affine else torch.zeros_like(std)
    return gamma / std, beta - gamma * bn.running_mean / std


def fold_conv_bn(conv, bn):
    scale, shift = _factors(bn)
    new = copy.deepcopy(conv)
    with torch.no_grad():
        new.weight = nn.Parameter(conv.weight * scale[:, None, None, None])
        b = conv.bias if conv.bias is not None else torch.zeros_like(shift)
        new.bias = nn.Parameter(b * scale + shift)
    return new


def fold_linear_bn(linear, bn):
    scale, shift = _factors(bn)
    new = nn.Linear(linear.in_features, linear.out_features).to(linear.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(linear.weight * scale[:, None])
        b = linear.bias if linear.bias is not None else torch.zeros_like(shift)
        new.bias.copy_(b * scale + shift)
    return new


def fold_model(model):
    layers = []
    for layer in model:
        if isinstance(layer, nn.BatchNorm2d) and layers and isinstance(layers[-1], nn.Conv2d):
            layers[-1] = fold_conv_bn(layers[-1], layer)
        elif isinstance(layer, nn.BatchNorm1d) and layers and isinstance(layers[-1], nn.Linear):
            layers[-1] = fold_linear_bn(layers[-1], layer)
        else:
            layers.append(copy.deepcopy(layer))
    return nn.Sequential(*layers).eval()
