"""Correct, another way: counts from math.prod, and blocks that hold bare nn.Parameters (all the weights
registered first, then all the biases, in no branch order) and run F.conv2d in float64 inside."""

import math

import torch
import torch.nn.functional as F
from torch import nn


def conv_params(k, c_in, c_out):
    return math.prod((k, k, c_in, c_out)) + c_out


def conv_ops(k, c_in, c_out, h, w):
    positions = math.prod((h, w, c_out))
    return positions * k * k * c_in, positions * k * k * c_in, positions


def block_counts(layers, h, w):
    counts = [(conv_params(*layer),) + conv_ops(*layer, h, w) for layer in layers]
    params, adds, mults, acts = (sum(column) for column in zip(*counts))
    return {"activations": acts, "multiplications": mults, "additions": adds, "params": params}


class RawBlock(nn.Module):
    def __init__(self, shapes, branches):
        super().__init__()
        self.branches = branches  # lists of indices into the parameter lists
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for c_out, c_in, k in shapes:
            bound = 1 / math.sqrt(c_in * k * k)
            self.weights.append(nn.Parameter(torch.empty(c_out, c_in, k, k).uniform_(-bound, bound)))
        for c_out, c_in, k in reversed(shapes):  # biases[-1 - i] belongs to weights[i]
            bound = 1 / math.sqrt(c_in * k * k)
            self.biases.append(nn.Parameter(torch.empty(c_out).uniform_(-bound, bound)))

    def forward(self, x):
        x64 = x.double()
        outs = []
        for branch in self.branches:
            y = x64
            for i in branch:
                w = self.weights[i].double()
                y = F.relu(F.conv2d(y, w, self.biases[-1 - i].double(), padding=w.shape[-1] // 2))
            outs.append(y)
        return torch.cat(outs, 1).to(x.dtype)


def naive_block(c_in=256):
    return RawBlock([(96, c_in, 5), (124, c_in, 1), (192, c_in, 3)], [[1], [2], [0]])


def bottleneck_block(c_in=256):
    shapes = [(64, c_in, 1), (96, 64, 5), (64, c_in, 1), (124, c_in, 1), (192, 64, 3), (64, c_in, 1)]
    return RawBlock(shapes, [[3], [5, 4], [0, 1], [2]])
