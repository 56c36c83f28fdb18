import torch
from torch import nn


def conv_params(k, c_in, c_out):
    # one k x k x c_in filter per output channel, plus its bias
    return c_out * (k * k * c_in + 1)


def conv_ops(k, c_in, c_out, h, w):
    mults = h * w * c_out * k * k * c_in
    adds = mults  # the homework's convention
    acts = h * w * c_out
    return (adds, mults, acts)


def block_counts(layers, h, w):
    params = adds = mults = acts = 0
    for k, c_in, c_out in layers:
        params += conv_params(k, c_in, c_out)
        a, m, r = conv_ops(k, c_in, c_out, h, w)
        adds += a
        mults += m
        acts += r
    return {"params": params, "additions": adds, "multiplications": mults, "activations": acts}


def conv_relu(c_in, c_out, k):
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size=k, padding=k // 2), nn.ReLU())


class NaiveInception(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.branch1 = conv_relu(c_in, 124, 1)
        self.branch3 = conv_relu(c_in, 192, 3)
        self.branch5 = conv_relu(c_in, 96, 5)

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x)], dim=1)


class BottleneckInception(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.branch1 = conv_relu(c_in, 124, 1)
        self.branch3 = nn.Sequential(conv_relu(c_in, 64, 1), conv_relu(64, 192, 3))
        self.branch5 = nn.Sequential(conv_relu(c_in, 64, 1), conv_relu(64, 96, 5))
        self.branch_proj = conv_relu(c_in, 64, 1)

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x), self.branch_proj(x)], dim=1)


def naive_block(c_in=256):
    return NaiveInception(c_in)


def bottleneck_block(c_in=256):
    return BottleneckInception(c_in)
