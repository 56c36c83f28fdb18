"""Correct, another way: PyTorch's own fusion helpers, called on eval-mode copies (they refuse training mode)."""

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval


def _eval_copy(module):
    return copy.deepcopy(module).eval()


def _affine_copy(bn):
    """An eval-mode copy with weight 1 and bias 0 where the BatchNorm has none (torch's helpers need them)."""
    bn = _eval_copy(bn)
    if not bn.affine:
        import torch

        bn.weight = nn.Parameter(torch.ones_like(bn.running_mean))
        bn.bias = nn.Parameter(torch.zeros_like(bn.running_mean))
    return bn


def fold_conv_bn(conv, bn):
    folded = fuse_conv_bn_eval(_eval_copy(conv), _affine_copy(bn))
    return folded.eval()


def fold_linear_bn(linear, bn):
    return fuse_linear_bn_eval(_eval_copy(linear), _affine_copy(bn)).eval()


def fold_model(model):
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
