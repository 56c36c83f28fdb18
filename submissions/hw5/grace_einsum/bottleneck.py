import math

import torch
import torch.nn.functional as F
from torch import nn


def conv_params(k, c_in, c_out):
    return c_out * (c_in * k**2 + 1)


def conv_ops(k, c_in, c_out, h, w):
    # every output value (h*w*c_out of them) is a dot product of length k*k*c_in
    dot = k * k * c_in
    return h * w * c_out * dot, h * w * c_out * dot, h * w * c_out


def block_counts(layers, h, w):
    rows = torch.tensor([[conv_params(*l), *conv_ops(*l, h, w)] for l in layers], dtype=torch.int64)
    params, adds, mults, acts = (int(v) for v in rows.sum(0))
    return {"params": params, "additions": adds, "multiplications": mults, "activations": acts}


class Conv(nn.Module):
    """A k x k convolution with its own weight and bias; 1x1 ones are a plain einsum over channels."""

    def __init__(self, c_in, c_out, k):
        super().__init__()
        bound = 1 / math.sqrt(c_in * k * k)
        self.weight = nn.Parameter(torch.empty(c_out, c_in, k, k).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(c_out).uniform_(-bound, bound))

    def forward(self, x):
        k = self.weight.shape[-1]
        if k == 1:
            y = torch.einsum("oi,nihw->nohw", self.weight[:, :, 0, 0], x)
        else:
            y = F.conv2d(x, self.weight, padding=k // 2)
        return torch.relu(y + self.bias[:, None, None])


class Inception(nn.Module):
    def __init__(self, branches):
        super().__init__()
        self.branches = nn.ModuleList(nn.Sequential(*(Conv(*spec) for spec in b)) for b in branches)

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], 1)


def naive_block(c_in=256):
    return Inception([[(c_in, 124, 1)], [(c_in, 192, 3)], [(c_in, 96, 5)]])


def bottleneck_block(c_in=256):
    return Inception([[(c_in, 124, 1)], [(c_in, 64, 1), (64, 192, 3)], [(c_in, 64, 1), (64, 96, 5)], [(c_in, 64, 1)]])
