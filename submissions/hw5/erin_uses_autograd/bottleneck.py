import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def _conv(k, c_in, c_out):
    # meta device: shapes only, no memory and no arithmetic
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, device="meta")


def conv_params(k, c_in, c_out):
    return sum(p.numel() for p in _conv(k, c_in, c_out).parameters())


def conv_ops(k, c_in, c_out, h, w):
    x = torch.empty(1, c_in, h, w, device="meta")
    with FlopCounterMode(display=False) as counter:
        _conv(k, c_in, c_out)(x)
    macs = counter.get_total_flops() // 2  # torch counts a multiply-add as 2 flops
    return macs, macs, h * w * c_out


def block_counts(layers, h, w):
    total = {"params": 0, "additions": 0, "multiplications": 0, "activations": 0}
    for layer in layers:
        adds, mults, acts = conv_ops(*layer, h, w)
        total["params"] += conv_params(*layer)
        total["additions"] += adds
        total["multiplications"] += mults
        total["activations"] += acts
    return total


class Branches(nn.Module):
    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)


def _seq(*specs):
    layers = []
    for k, c_in, c_out in specs:
        layers += [nn.Conv2d(c_in, c_out, k, padding="same"), nn.ReLU()]
    return nn.Sequential(*layers)


def naive_block(c_in=256):
    return Branches(_seq((1, c_in, 124)), _seq((3, c_in, 192)), _seq((5, c_in, 96)))


def bottleneck_block(c_in=256):
    return Branches(
        _seq((1, c_in, 124)),
        _seq((1, c_in, 64), (3, 64, 192)),
        _seq((1, c_in, 64), (5, 64, 96)),
        _seq((1, c_in, 64)),
    )
