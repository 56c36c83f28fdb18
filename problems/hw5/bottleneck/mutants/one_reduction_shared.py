# Uses one 1x1 reduction (c_in -> 64) for the 3x3 branch, the 5x5 branch and the fourth branch, as if
# the seed's "1x1 conv (256 -> 64) x 3" meant one layer used three times: fewer parameters, and the
# fourth branch repeats the reduction's output.
# fails: test_the_default_blocks, test_registered_parameter_count, test_bottleneck_block_computes_the_bottleneck_block
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
        self.reduce = nn.Conv2d(c_in, 64, 1)
        self.three = nn.Conv2d(64, 192, 3, padding=1)
        self.five = nn.Conv2d(64, 96, 5, padding=2)

    def forward(self, x):
        r = F.relu(self.reduce(x))
        return torch.cat([F.relu(self.one(x)), F.relu(self.three(r)), F.relu(self.five(r)), r], 1)


def naive_block(c_in=256):
    return Naive(c_in)


def bottleneck_block(c_in=256):
    return Bottleneck(c_in)
