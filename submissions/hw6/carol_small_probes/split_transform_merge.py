import torch
from torch import nn

PARAMS_PLAIN = 213504
PARAMS_STM = 78592


class STMConv(nn.Module):
    def __init__(self, channels=256, width=4, paths=32):
        super().__init__()
        self.branches = nn.ModuleList([
            nn.Sequential(nn.Conv2d(channels, width, 1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(width, channels, 1))
            for _ in range(paths)
        ])

    def forward(self, x):
        return torch.relu(sum(b(x) for b in self.branches))
