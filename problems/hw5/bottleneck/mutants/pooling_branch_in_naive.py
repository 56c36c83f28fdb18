# Gives the naive block a fourth branch, a 3x3 max pooling of the input (as in GoogLeNet's naive
# module): c_in more output channels than the statement's 412.
# fails: test_the_default_blocks, test_output_shape, test_naive_block_computes_the_naive_block
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
        pooled = F.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat([F.relu(self.one(x)), F.relu(self.three(x)), F.relu(self.five(x)), pooled], 1)


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


def naive_block(c_in=256):
    return Naive(c_in)


def bottleneck_block(c_in=256):
    return Bottleneck(c_in)
