import torch
from torch import nn


def conv_params(k, c_in, c_out):
    return (k * k * c_in + 1) * c_out


def conv_ops(k, c_in, c_out, h, w):
    # each output value: k*k*c_in products, summed with k*k*c_in - 1 additions
    mult = h * w * c_out * k * k * c_in
    add = h * w * c_out * (k * k * c_in - 1)
    return add, mult, h * w * c_out


def block_counts(layers, h, w):
    keys = ["additions", "multiplications", "activations"]
    total = {"params": sum(conv_params(*layer) for layer in layers)}
    for key in keys:
        total[key] = 0
    for layer in layers:
        for key, value in zip(keys, conv_ops(*layer, h, w)):
            total[key] += value
    return total


class Inception(nn.Module):
    def __init__(self, branches):
        super().__init__()
        self.paths = nn.ModuleList()
        for branch in branches:
            layers = []
            for k, c_in, c_out in branch:
                layers.append(nn.Conv2d(c_in, c_out, k, padding=(k - 1) // 2))
                layers.append(nn.ReLU())
            self.paths.append(nn.Sequential(*layers))

    def forward(self, x):
        return torch.cat([path(x) for path in self.paths], dim=1)


def naive_block(c_in=256):
    return Inception([[(1, c_in, 124)], [(3, c_in, 192)], [(5, c_in, 96)]])


def bottleneck_block(c_in=256):
    return Inception([
        [(1, c_in, 124)],
        [(1, c_in, 64), (3, 64, 192)],
        [(1, c_in, 64), (5, 64, 96)],
        [(1, c_in, 64)],
    ])
