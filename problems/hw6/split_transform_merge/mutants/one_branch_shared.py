# Puts the same branch object in the list `paths` times, so all branches share one set of weights.
# fails: test_registered_parameter_count, test_your_module_with_reference_weights_gives_the_reference_output
from torch import nn

PARAMS_PLAIN = 213504
PARAMS_STM = 78592


class STMConv(nn.Module):
    def __init__(self, channels=256, width=4, paths=32):
        super().__init__()
        branch = nn.Sequential(
            nn.Conv2d(channels, width, 1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, channels, 1), nn.ReLU(),
        )
        self.branches = nn.ModuleList([branch] * paths)

    def forward(self, x):
        out = 0
        for branch in self.branches:
            out = out + branch(x)
        return out
