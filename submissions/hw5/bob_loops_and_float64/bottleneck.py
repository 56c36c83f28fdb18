import torch
import torch.nn.functional as F
from torch import nn


def conv_params(k, c_in, c_out):
    n = 0
    for o in range(c_out):
        n += k * k * c_in  # the filter of output channel o
        n += 1  # its bias
    return n


def conv_ops(k, c_in, c_out, h, w):
    """One multiplication and one addition per weight, per output position."""
    per_position = 0
    for o in range(c_out):
        per_position += k * k * c_in
    total = per_position * h * w
    return (total, total, c_out * h * w)


def block_counts(layers, h, w):
    result = {"params": 0, "additions": 0, "multiplications": 0, "activations": 0}
    for i in range(len(layers)):
        k, c_in, c_out = layers[i]
        ops = conv_ops(k, c_in, c_out, h, w)
        result["params"] += conv_params(k, c_in, c_out)
        result["additions"] += ops[0]
        result["multiplications"] += ops[1]
        result["activations"] += ops[2]
    return result


class Block(nn.Module):
    """Every convolution in float64, the result back in the input's dtype."""

    def __init__(self, c_in, branches):
        super().__init__()
        self.branches = branches
        self.layers = nn.ModuleList()
        for branch in branches:
            for k, a, b in branch:
                self.layers.append(nn.Conv2d(a, b, k, padding=k // 2))

    def forward(self, x):
        outs = []
        i = 0
        for branch in self.branches:
            y = x.double()
            for k, a, b in branch:
                conv = self.layers[i]
                y = F.relu(F.conv2d(y, conv.weight.double(), conv.bias.double(), padding=k // 2))
                i += 1
            outs.append(y)
        return torch.cat(outs, dim=1).to(x.dtype)


def naive_block(c_in=256):
    return Block(c_in, [[(1, c_in, 124)], [(3, c_in, 192)], [(5, c_in, 96)]])


def bottleneck_block(c_in=256):
    return Block(c_in, [[(1, c_in, 124)], [(1, c_in, 64), (3, 64, 192)], [(1, c_in, 64), (5, 64, 96)], [(1, c_in, 64)]])
