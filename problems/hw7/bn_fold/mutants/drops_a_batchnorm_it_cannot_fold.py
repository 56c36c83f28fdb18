# Folds every BatchNorm that follows a Conv2d or a Linear, but also drops the ones it cannot fold
# (after an activation), so the model computes something else.
# fails: test_fold_model_equals_the_model_in_eval_mode, test_fold_model_removes_every_batchnorm
import copy

import torch
from torch import nn


def _scale_and_shift(bn):
    scale = torch.rsqrt(bn.running_var + bn.eps)
    shift = -bn.running_mean * scale
    if bn.affine:
        scale, shift = scale * bn.weight, shift * bn.weight + bn.bias
    return scale, shift


def _fold(layer, bn):
    folded = copy.deepcopy(layer)
    scale, shift = _scale_and_shift(bn)
    with torch.no_grad():
        weight = folded.weight * scale.reshape(-1, *([1] * (folded.weight.dim() - 1)))
        bias = shift if layer.bias is None else layer.bias * scale + shift
        folded.weight = nn.Parameter(weight.detach().clone())
        folded.bias = nn.Parameter(bias.detach().clone())
    return folded.eval()


def fold_conv_bn(conv, bn):
    return _fold(conv, bn)


def fold_linear_bn(linear, bn):
    return _fold(linear, bn)


def fold_model(model):
    layers = list(model)
    out = []
    i = 0
    while i < len(layers):
        layer = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(layer, nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d):
            out.append(fold_conv_bn(layer, nxt))
            i += 2
        elif isinstance(layer, nn.Linear) and isinstance(nxt, nn.BatchNorm1d):
            out.append(fold_linear_bn(layer, nxt))
            i += 2
        elif isinstance(layer, nn.modules.batchnorm._BatchNorm):
            i += 1
        else:
            out.append(copy.deepcopy(layer))
            i += 1
    return nn.Sequential(*out).eval()
