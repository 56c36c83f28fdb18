# Registers the right layers but returns non-negative random numbers of the right shape: whatever
# the weights, a block must be a function of its input.
# fails: test_the_default_blocks, test_output_shape, test_naive_block_computes_the_naive_block, test_bottleneck_block_computes_the_bottleneck_block
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
        self.one = nn.Conv2d(c_in, 124, 1)
        self.three = nn.Conv2d(c_in, 192, 3, padding=1)
        self.five = nn.Conv2d(c_in, 96, 5, padding=2)

    def forward(self, x):
        return torch.rand(x.shape[0], 412, x.shape[2], x.shape[3])


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
        return torch.rand(x.shape[0], 476, x.shape[2], x.shape[3])


def naive_block(c_in=256):
    return Naive(c_in)


def bottleneck_block(c_in=256):
    return Bottleneck(c_in)
