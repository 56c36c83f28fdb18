import torch
from torch import nn


def conv_params(c_in, c_out, k):
    return c_out * (c_in * k * k + 1)


PARAMS_PLAIN = conv_params(256, 128, 1) + conv_params(128, 128, 3) + conv_params(128, 256, 1)
PARAMS_STM = 32 * (conv_params(256, 4, 1) + conv_params(4, 4, 3) + conv_params(4, 256, 1))


class STMConv(nn.Module):
    def __init__(self, channels=256, width=4, paths=32):
        super().__init__()
        self.branches = nn.ModuleList()
        for _ in range(paths):
            self.branches.append(nn.Sequential(
                nn.Conv2d(channels, width, kernel_size=1),
                nn.ReLU(),
                nn.Conv2d(width, width, kernel_size=3, padding=1),
                nn.ReLU(),
                nn.Conv2d(width, channels, kernel_size=1),
                nn.ReLU(),
            ))

    def forward(self, x):
        out = torch.zeros_like(x)
        for branch in self.branches:
            out = out + branch(x)
        return out
