"""Correct, another way: new layers built from scratch, the scale computed in float64, weights cast back."""

import torch
from torch import nn


def _scale_shift(bn):
    var, mean = bn.running_var.double(), bn.running_mean.double()
    scale = 1.0 / torch.sqrt(var + bn.eps)
    gamma = bn.weight.double() if bn.affine else torch.ones_like(var)
    beta = bn.bias.double() if bn.affine else torch.zeros_like(var)
    return gamma * scale, beta - gamma * scale * mean


def fold_conv_bn(conv, bn):
    s, t = _scale_shift(bn)
    b = conv.bias.double() if conv.bias is not None else torch.zeros_like(s)
    new = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
                    dilation=conv.dilation, groups=conv.groups, bias=True, padding_mode=conv.padding_mode)
    new = new.to(conv.weight.dtype)
    with torch.no_grad():
        new.weight.copy_((conv.weight.double() * s[:, None, None, None]).to(conv.weight.dtype))
        new.bias.copy_((s * b + t).to(conv.weight.dtype))
    return new.eval()


def fold_linear_bn(linear, bn):
    s, t = _scale_shift(bn)
    b = linear.bias.double() if linear.bias is not None else torch.zeros_like(s)
    new = nn.Linear(linear.in_features, linear.out_features, bias=True).to(linear.weight.dtype)
    with torch.no_grad():
        new.weight.copy_((linear.weight.double() * s[:, None]).to(linear.weight.dtype))
        new.bias.copy_((s * b + t).to(linear.weight.dtype))
    return new.eval()


def fold_model(model):
    import copy

    layers, out, i = list(model), [], 0
    while i < len(layers):
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(layers[i], nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d):
            out.append(fold_conv_bn(layers[i], nxt))
            i += 2
        elif isinstance(layers[i], nn.Linear) and isinstance(nxt, nn.BatchNorm1d):
            out.append(fold_linear_bn(layers[i], nxt))
            i += 2
        else:
            out.append(copy.deepcopy(layers[i]))
            i += 1
    return nn.Sequential(*out).eval()
