# Right for every size it is given, but its default width is 8, not 4: STMConv() is not the block whose
# parameters PARAMS_STM counts.
# fails: test_registered_parameter_count
from torch import nn

PARAMS_PLAIN = 213504
PARAMS_STM = 78592


class STMConv(nn.Module):
    def __init__(self, channels=256, width=8, paths=32):
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
        return sum(branch(x) for branch in self.branches)
