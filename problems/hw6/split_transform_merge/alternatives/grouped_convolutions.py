"""Correct, another way: the ResNeXt equivalence. The branches are kept as the contract says, but the
forward pass runs all of them at once: conv1 as one wide convolution, conv2 and conv3 as grouped
convolutions (one group per branch) built from the branches' own weights, and the per-branch ReLU
outputs summed."""

import torch
import torch.nn.functional as F
from torch import nn

PARAMS_PLAIN = (128 * (256 + 1)) + (128 * (128 * 9 + 1)) + (256 * (128 + 1))
PARAMS_STM = 32 * ((4 * (256 + 1)) + (4 * (4 * 9 + 1)) + (256 * (4 + 1)))


class STMConv(nn.Module):
    def __init__(self, channels=256, width=4, paths=32):
        super().__init__()
        self.channels, self.width, self.paths = channels, width, paths
        self.branches = nn.ModuleList()
        for _ in range(paths):
            self.branches.append(nn.Sequential(
                nn.Conv2d(channels, width, kernel_size=1), nn.ReLU(),
                nn.Conv2d(width, width, kernel_size=3, padding=1), nn.ReLU(),
                nn.Conv2d(width, channels, kernel_size=1), nn.ReLU(),
            ))

    def forward(self, x):
        def stacked(i, name):
            return torch.cat([getattr(b[i], name) for b in self.branches])
        n, _, h, w = x.shape
        t = F.relu(F.conv2d(x, stacked(0, "weight"), stacked(0, "bias")))
        t = F.relu(F.conv2d(t, stacked(2, "weight"), stacked(2, "bias"), padding=1, groups=self.paths))
        t = F.relu(F.conv2d(t, stacked(4, "weight"), stacked(4, "bias"), groups=self.paths))
        return t.reshape(n, self.paths, self.channels, h, w).sum(dim=1)
