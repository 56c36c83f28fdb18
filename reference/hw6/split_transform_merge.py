"""Reference for hw6/split_transform_merge: a sum of narrow 1x1-3x3-1x1 branches (ResNeXt style)."""

import torch
from torch import nn


def _conv_params(c_in, c_out, k):
    return c_out * (c_in * k * k + 1)


PARAMS_PLAIN = _conv_params(256, 128, 1) + _conv_params(128, 128, 3) + _conv_params(128, 256, 1)
PARAMS_STM = 32 * (_conv_params(256, 4, 1) + _conv_params(4, 4, 3) + _conv_params(4, 256, 1))


class STMConv(nn.Module):
    def __init__(self, channels=256, width=4, paths=32):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, width, 1), nn.ReLU(),
                nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                nn.Conv2d(width, channels, 1), nn.ReLU(),
            )
            for _ in range(paths)
        )

    def forward(self, x):
        return torch.stack([branch(x) for branch in self.branches]).sum(dim=0)
