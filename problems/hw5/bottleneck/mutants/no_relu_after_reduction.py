# Runs the reductions without a ReLU: the 1x1 convolutions before the 3x3 and the 5x5 feed them
# directly, so each of those branches is one linear map followed by a single ReLU.
# fails: test_bottleneck_block_computes_the_bottleneck_block
import torch
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
        self.b1 = nn.Conv2d(c_in, 124, 1)
        self.b3 = nn.Conv2d(c_in, 192, 3, padding=1)
        self.b5 = nn.Conv2d(c_in, 96, 5, padding=2)

    def forward(self, x):
        return torch.relu(torch.cat([self.b1(x), self.b3(x), self.b5(x)], dim=1))


class Bottleneck(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.b1 = nn.Conv2d(c_in, 124, 1)
        self.r3 = nn.Conv2d(c_in, 64, 1)
        self.b3 = nn.Conv2d(64, 192, 3, padding=1)
        self.r5 = nn.Conv2d(c_in, 64, 1)
        self.b5 = nn.Conv2d(64, 96, 5, padding=2)
        self.b4 = nn.Conv2d(c_in, 64, 1)

    def forward(self, x):
        relu = torch.relu
        return torch.cat([
            relu(self.b1(x)), relu(self.b3(self.r3(x))), relu(self.b5(self.r5(x))), relu(self.b4(x)),
        ], dim=1)


def naive_block(c_in=256):
    return Naive(c_in)


def bottleneck_block(c_in=256):
    return Bottleneck(c_in)
