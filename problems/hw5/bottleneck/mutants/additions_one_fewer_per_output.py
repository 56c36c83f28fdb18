# Counts k*k*c_in - 1 additions per output value (a sum of k*k*c_in products, bias ignored), not the
# statement's convention of one addition per product.
# fails: test_conv_ops, test_block_counts, test_the_seed_figures
import torch
from torch import nn


def conv_params(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


def conv_ops(k, c_in, c_out, h, w):
    mults = h * w * k * k * c_in * c_out
    adds = h * w * c_out * (k * k * c_in - 1)
    return adds, mults, h * w * c_out



def block_counts(layers, h, w):
    totals = {"params": 0, "additions": 0, "multiplications": 0, "activations": 0}
    for k, c_in, c_out in layers:
        adds, mults, acts = conv_ops(k, c_in, c_out, h, w)
        totals["params"] += conv_params(k, c_in, c_out)
        totals["additions"] += adds
        totals["multiplications"] += mults
        totals["activations"] += acts
    return totals


def _conv_relu(k, c_in, c_out):
    return [nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.ReLU()]


class _Concatenation(nn.Module):
    def __init__(self, branches):
        super().__init__()
        self.branches = nn.ModuleList(nn.Sequential(*layers) for layers in branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)


def naive_block(c_in=256):
    return _Concatenation([_conv_relu(1, c_in, 124), _conv_relu(3, c_in, 192), _conv_relu(5, c_in, 96)])


def bottleneck_block(c_in=256):
    return _Concatenation([
        _conv_relu(1, c_in, 124),
        _conv_relu(1, c_in, 64) + _conv_relu(3, 64, 192),
        _conv_relu(1, c_in, 64) + _conv_relu(5, 64, 96),
        _conv_relu(1, c_in, 64),
    ])

