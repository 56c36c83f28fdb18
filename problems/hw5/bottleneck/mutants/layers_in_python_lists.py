# Keeps the layers in plain Python lists: the block computes the right thing, but nothing is
# registered, so parameters() is empty and load_state_dict cannot reach the weights.
# fails: test_the_default_blocks, test_registered_parameter_count, test_naive_block_computes_the_naive_block, test_bottleneck_block_computes_the_bottleneck_block
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


def _branch(*convs):
    layers = []
    for k, c_in, c_out in convs:
        layers += [nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.ReLU()]
    return layers


class Block(nn.Module):
    def __init__(self, *branches):
        super().__init__()
        self.branches = list(branches)  # a plain list of plain lists: nothing is registered

    def forward(self, x):
        outs = []
        for branch in self.branches:
            y = x
            for layer in branch:
                y = layer(y)
            outs.append(y)
        return torch.cat(outs, dim=1)


def naive_block(c_in=256):
    return Block(_branch((1, c_in, 124)), _branch((3, c_in, 192)), _branch((5, c_in, 96)))


def bottleneck_block(c_in=256):
    return Block(
        _branch((1, c_in, 124)),
        _branch((1, c_in, 64), (3, 64, 192)),
        _branch((1, c_in, 64), (5, 64, 96)),
        _branch((1, c_in, 64)),
    )
