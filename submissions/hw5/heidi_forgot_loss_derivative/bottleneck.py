import torch
from torch import nn


def conv_params(k, c_in, c_out):
    return k * k * c_in * c_out


def conv_ops(k, c_in, c_out, h, w):
    mults = h * w * k * k * c_in * c_out
    return (mults, mults, h * w * c_out)


def block_counts(layers, h, w):
    result = dict(params=0, additions=0, multiplications=0, activations=0)
    for k, c_in, c_out in layers:
        result["params"] += conv_params(k, c_in, c_out)
        adds, mults, acts = conv_ops(k, c_in, c_out, h, w)
        result["additions"] += adds
        result["multiplications"] += mults
        result["activations"] += acts
    return result


class Naive(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(c_in, 124, 1), nn.ReLU())
        self.b2 = nn.Sequential(nn.Conv2d(c_in, 192, 3, padding=1), nn.ReLU())
        self.b3 = nn.Sequential(nn.Conv2d(c_in, 96, 5, padding=2), nn.ReLU())

    def forward(self, x):
        return torch.cat((self.b1(x), self.b2(x), self.b3(x)), dim=1)


class Bottleneck(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(c_in, 124, 1), nn.ReLU())
        self.b2 = nn.Sequential(nn.Conv2d(c_in, 64, 1), nn.ReLU(), nn.Conv2d(64, 192, 3, padding=1), nn.ReLU())
        self.b3 = nn.Sequential(nn.Conv2d(c_in, 64, 1), nn.ReLU(), nn.Conv2d(64, 96, 5, padding=2), nn.ReLU())
        self.b4 = nn.Sequential(nn.Conv2d(c_in, 64, 1), nn.ReLU())

    def forward(self, x):
        return torch.cat((self.b1(x), self.b2(x), self.b3(x), self.b4(x)), dim=1)


def naive_block(c_in=256):
    return Naive(c_in)


def bottleneck_block(c_in=256):
    return Bottleneck(c_in)
