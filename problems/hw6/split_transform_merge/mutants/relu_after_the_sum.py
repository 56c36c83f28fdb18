# Applies the last ReLU once, after summing the branches, instead of at the end of each branch.
# fails: test_reference_with_your_weights_gives_your_output, test_your_module_with_reference_weights_gives_the_reference_output, test_branches_are_a_module_list_of_conv_relu_sequences
import torch
from torch import nn

PARAMS_PLAIN = 213504
PARAMS_STM = 78592


class STMConv(nn.Module):
    def __init__(self, channels=256, width=4, paths=32):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, width, 1), nn.ReLU(),
                nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                nn.Conv2d(width, channels, 1),
            )
            for _ in range(paths)
        )

    def forward(self, x):
        return torch.relu(sum(branch(x) for branch in self.branches))
