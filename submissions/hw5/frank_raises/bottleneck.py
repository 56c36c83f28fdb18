import torch
from torch import nn


def conv_params(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


def conv_ops(k, c_in, c_out, h, w):
    ops = h * w * k * k * c_in * c_out
    return ops, ops, h * w * c_out


def block_counts(layers, h, w):
    counts = {"params": 0, "additions": 0, "multiplications": 0, "activations": 0}
    for k, c_in, c_out in layers:
        a, m, s = conv_ops(k, c_in, c_out, h, w)
        counts["params"] += conv_params(k, c_in, c_out)
        counts["additions"] += a
        counts["multiplications"] += m
        counts["activations"] += s
    return counts


class NaiveBlock(nn.Module):
    def __init__(self, c_in=256):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, 124, 1)
        self.conv3 = nn.Conv2d(c_in, 192, 3, padding=1)
        self.conv5 = nn.Conv2d(c_in, 96, 5, padding=2)
        self.relu = nn.ReLU()

    def forward(self, x):
        return torch.cat([self.relu(self.conv1(x)), self.relu(self.conv3(x)), self.relu(self.conv5(x))], 1)


class BottleneckBlock(NaiveBlock):
    def __init__(self, c_in=256):
        super().__init__(c_in)
        self.reduce3 = nn.Conv2d(c_in, 64, 1)
        self.reduce5 = nn.Conv2d(c_in, 64, 1)
        self.proj = nn.Conv2d(c_in, 64, 1)

    def forward(self, x):
        r3 = self.relu(self.reduce3(x))
        r5 = self.relu(self.reduce5(x))
        return torch.cat([
            self.relu(self.conv1(x)),
            self.relu(self.conv3(r3)),
            self.relu(self.conv5(r5)),
            self.relu(self.proj(x)),
        ], 1)


def naive_block(c_in=256):
    return NaiveBlock(c_in)


def bottleneck_block(c_in=256):
    return BottleneckBlock(c_in)
