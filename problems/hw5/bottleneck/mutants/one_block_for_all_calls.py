# Builds each block once and hands out that same module on every call ("saves time"): two blocks
# asked for separately share their weights, so training one would change the other.
# fails: test_naive_block_computes_the_naive_block, test_bottleneck_block_computes_the_bottleneck_block
import torch
import torch.nn.functional as F
from torch import nn


def conv_params(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


def conv_ops(k, c_in, c_out, h, w):
    n = h * w * k * k * c_in * c_out
    return n, n, h * w * c_out


def block_counts(layers, h, w):
    totals = dict.fromkeys(["params", "additions", "multiplications", "activations"], 0)
    for k, c_in, c_out in layers:
        adds, mults, acts = conv_ops(k, c_in, c_out, h, w)
        totals["params"] += conv_params(k, c_in, c_out)
        totals["additions"] += adds
        totals["multiplications"] += mults
        totals["activations"] += acts
    return totals


class Naive(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.one = nn.Conv2d(c_in, 124, 1)
        self.three = nn.Conv2d(c_in, 192, 3, padding=1)
        self.five = nn.Conv2d(c_in, 96, 5, padding=2)

    def forward(self, x):
        return torch.cat([F.relu(self.one(x)), F.relu(self.three(x)), F.relu(self.five(x))], 1)


class Bottleneck(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.one = nn.Conv2d(c_in, 124, 1)
        self.reduce3 = nn.Conv2d(c_in, 64, 1)
        self.three = nn.Conv2d(64, 192, 3, padding=1)
        self.reduce5 = nn.Conv2d(c_in, 64, 1)
        self.five = nn.Conv2d(64, 96, 5, padding=2)
        self.four = nn.Conv2d(c_in, 64, 1)

    def forward(self, x):
        three = F.relu(self.three(F.relu(self.reduce3(x))))
        five = F.relu(self.five(F.relu(self.reduce5(x))))
        return torch.cat([F.relu(self.one(x)), three, five, F.relu(self.four(x))], 1)


_built = {}


def naive_block(c_in=256):
    if ("naive", c_in) not in _built:
        _built["naive", c_in] = Naive(c_in)
    return _built["naive", c_in]


def bottleneck_block(c_in=256):
    if ("bottleneck", c_in) not in _built:
        _built["bottleneck", c_in] = Bottleneck(c_in)
    return _built["bottleneck", c_in]
