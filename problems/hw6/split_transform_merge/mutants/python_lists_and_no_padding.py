# The answer in seed 003: convolutions kept in plain Python lists (so nothing is registered) and a 3x3
# convolution without padding (so the output shrinks); the constants are right.
# fails: test_registered_parameter_count, test_output_has_the_input_shape, test_reference_with_your_weights_gives_your_output, test_your_module_with_reference_weights_gives_the_reference_output, test_branches_are_a_module_list_of_conv_relu_sequences
import torch.nn.functional as F
from torch import nn

PARAMS_PLAIN = 128 * (256 + 1) + 128 * (128 * 9 + 1) + 256 * (128 + 1)
PARAMS_STM = 32 * (4 * (256 + 1) + 4 * (4 * 9 + 1) + 256 * (4 + 1))


class STMConv(nn.Module):
    def __init__(self, channels=256, width=4, paths=32):
        super().__init__()
        self.paths = paths
        self.conv1layers = [nn.Conv2d(channels, width, 1) for _ in range(paths)]
        self.conv2layers = [nn.Conv2d(width, width, 3) for _ in range(paths)]
        self.conv3layers = [nn.Conv2d(width, channels, 1) for _ in range(paths)]

    def forward(self, x):
        outs = [F.relu(self.conv1layers[i](x)) for i in range(self.paths)]
        outs = [F.relu(self.conv2layers[i](outs[i])) for i in range(self.paths)]
        outs = [F.relu(self.conv3layers[i](outs[i])) for i in range(self.paths)]
        out = outs[0]
        for o in outs[1:]:
            out = out + o
        return out
