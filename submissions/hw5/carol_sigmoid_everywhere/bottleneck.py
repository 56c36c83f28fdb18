import torch
from torch import nn


def conv_params(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


def conv_ops(k, c_in, c_out, h, w):
    n = h * w * k * k * c_in * c_out
    return (n, n, h * w * c_out)


def block_counts(layers, h, w):
    out = {"params": 0, "additions": 0, "multiplications": 0, "activations": 0}
    for k, c_in, c_out in layers:
        a, m, s = conv_ops(k, c_in, c_out, h, w)
        out["params"] += conv_params(k, c_in, c_out)
        out["additions"] += a
        out["multiplications"] += m
        out["activations"] += s
    return out


def conv(c_in, c_out, k):
    # sigma = the activation
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.Sigmoid())


class Naive(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.a = conv(c_in, 124, 1)
        self.b = conv(c_in, 192, 3)
        self.c = conv(c_in, 96, 5)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x), self.c(x)], 1)


class Bottleneck(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.a = conv(c_in, 124, 1)
        self.b = nn.Sequential(conv(c_in, 64, 1), conv(64, 192, 3))
        self.c = nn.Sequential(conv(c_in, 64, 1), conv(64, 96, 5))
        self.d = conv(c_in, 64, 1)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x), self.c(x), self.d(x)], 1)


def naive_block(c_in=256):
    return Naive(c_in)


def bottleneck_block(c_in=256):
    return Bottleneck(c_in)
