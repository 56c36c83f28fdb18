"""Correct, another way: parameters counted on real nn.Conv2d layers built on the meta device, the
operations counted per output value, and the blocks as an nn.ModuleDict run with torch.nn.functional."""

import torch
import torch.nn.functional as F
from torch import nn


def conv_params(k, c_in, c_out):
    layer = nn.Conv2d(c_in, c_out, k, device="meta")
    return int(sum(p.numel() for p in layer.parameters()))


def conv_ops(k, c_in, c_out, h, w):
    outputs = h * w * c_out
    per_output = k * k * c_in  # products per output value, and as many additions by the convention
    return outputs * per_output, outputs * per_output, outputs


def block_counts(layers, h, w):
    names = ("additions", "multiplications", "activations")
    result = {"params": sum(conv_params(*layer) for layer in layers)}
    for i, name in enumerate(names):
        result[name] = sum(conv_ops(*layer, h, w)[i] for layer in layers)
    return result


class InceptionBlock(nn.Module):
    """Branches given as lists of convolution names; every convolution lives in one ModuleDict."""

    def __init__(self, convs, branches):
        super().__init__()
        self.convs = nn.ModuleDict({name: nn.Conv2d(c_in, c_out, k) for name, (k, c_in, c_out) in convs.items()})
        self.branches = branches

    def forward(self, x):
        outs = []
        for names in self.branches:
            y = x
            for name in names:
                conv = self.convs[name]
                y = F.relu(F.conv2d(y, conv.weight, conv.bias, padding="same"))
            outs.append(y)
        return torch.cat(outs, dim=1)


def naive_block(c_in=256):
    convs = {"five": (5, c_in, 96), "three": (3, c_in, 192), "one": (1, c_in, 124)}
    return InceptionBlock(convs, [["one"], ["three"], ["five"]])


def bottleneck_block(c_in=256):
    convs = {
        "pool_proj": (1, c_in, 64),
        "five": (5, 64, 96),
        "five_reduce": (1, c_in, 64),
        "three": (3, 64, 192),
        "three_reduce": (1, c_in, 64),
        "one": (1, c_in, 124),
    }
    return InceptionBlock(convs, [["one"], ["three_reduce", "three"], ["five_reduce", "five"], ["pool_proj"]])
