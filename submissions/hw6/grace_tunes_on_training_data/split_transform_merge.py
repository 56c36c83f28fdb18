import torch
from torch import nn

PARAMS_PLAIN = (256 * 128 + 128) + (128 * 128 * 9 + 128) + (128 * 256 + 256)
PARAMS_STM = 32 * ((256 * 4 + 4) + (4 * 4 * 9 + 4) + (4 * 256 + 256))


def branch(channels, width):
    return nn.Sequential(
        nn.Conv2d(channels, width, 1), nn.ReLU(),
        nn.Conv2d(width, width, 3, 1, 1), nn.ReLU(),
        nn.Conv2d(width, channels, 1), nn.ReLU(),
    )


class STMConv(nn.Module):
    def __init__(self, channels=256, width=4, paths=32):
        super().__init__()
        self.branches = nn.ModuleList([branch(channels, width) for _ in range(paths)])

    def forward(self, x):
        return torch.stack([b(x) for b in self.branches], dim=0).sum(dim=0)
