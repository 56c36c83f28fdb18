"""Correct, another way: counts by loops over layers and output channels, and blocks whose layers are
registered in another order (the three 1x1 reductions shuffled in one ModuleList), with padding="same"."""

from torch import cat, nn


def conv_params(k, c_in, c_out):
    total = 0
    for _ in range(c_out):
        total += k * k * c_in  # the filter of one output channel
        total += 1  # its bias
    return total


def conv_ops(k, c_in, c_out, h, w):
    adds = mults = acts = 0
    for _ in range(c_out):
        mults += h * w * k * k * c_in
        adds += h * w * k * k * c_in
        acts += h * w
    return (adds, mults, acts)


def block_counts(layers, h, w):
    out = {"params": 0, "additions": 0, "multiplications": 0, "activations": 0}
    for layer in layers:
        k, c_in, c_out = layer
        a, m, s = conv_ops(k, c_in, c_out, h, w)
        out["params"] = out["params"] + conv_params(k, c_in, c_out)
        out["additions"] = out["additions"] + a
        out["multiplications"] = out["multiplications"] + m
        out["activations"] = out["activations"] + s
    return out


def conv(c_in, c_out, k):
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding="same"), nn.ReLU(inplace=True))


class Naive(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.wide = conv(c_in, 96, 5)
        self.mid = conv(c_in, 192, 3)
        self.point = conv(c_in, 124, 1)

    def forward(self, x):
        return cat((self.point(x), self.mid(x), self.wide(x)), 1)


class Bottleneck(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.after = nn.ModuleList([conv(64, 96, 5), conv(64, 192, 3)])
        self.reduce = nn.ModuleList([conv(c_in, 64, 1) for _ in range(3)])  # [fourth, for 5x5, for 3x3]
        self.point = conv(c_in, 124, 1)

    def forward(self, x):
        fourth, to_five, to_three = self.reduce
        five, three = self.after
        return cat((self.point(x), three(to_three(x)), five(to_five(x)), fourth(x)), 1)


def naive_block(c_in=256):
    return Naive(c_in)


def bottleneck_block(c_in=256):
    return Bottleneck(c_in)
