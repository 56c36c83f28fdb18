"""Correct, another way: the forward pass in float64 with the branches' parameters cast on the fly
(the module itself stays float32), summed branch by branch and cast back to the input's dtype."""

import torch
import torch.nn.functional as F
from torch import nn

PARAMS_PLAIN = 213_504
PARAMS_STM = 78_592


def _branch(channels, width):
    return nn.Sequential(
        nn.Conv2d(channels, width, (1, 1), bias=True), nn.ReLU(inplace=False),
        nn.Conv2d(width, width, (3, 3), padding=(1, 1), bias=True), nn.ReLU(),
        nn.Conv2d(width, channels, (1, 1), bias=True), nn.ReLU(),
    )


class STMConv(nn.Module):
    def __init__(self, channels=256, width=4, paths=32):
        super().__init__()
        self.branches = nn.ModuleList(_branch(channels, width) for _ in range(paths))

    def forward(self, x):
        xd = x.double()
        outs = []
        for branch in self.branches:
            t = xd
            for layer in branch:
                if isinstance(layer, nn.Conv2d):
                    t = F.conv2d(t, layer.weight.double(), layer.bias.double(), padding=layer.padding)
                else:
                    t = torch.clamp(t, min=0)
            outs.append(t)
        return torch.stack(outs).sum(0).to(x.dtype)
