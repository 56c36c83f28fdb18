import torch.nn.functional as F
from torch import nn

PARAMS_PLAIN = 128 * (256 * 1 * 1 + 1) + 128 * (128 * 3 * 3 + 1) + 256 * (128 * 1 * 1 + 1)
PARAMS_STM = (4 * (256 * 1 * 1 + 1)) * 32 + (4 * (4 * 3 * 3 + 1)) * 32 + (256 * (4 * 1 * 1 + 1)) * 32


class STMConv(nn.Module):
    def __init__(self, channels=256, width=4, paths=32):
        super(STMConv, self).__init__()
        self.paths = paths
        self.conv1layers = [nn.Conv2d(channels, width, 1) for _ in range(paths)]
        self.conv2layers = [nn.Conv2d(width, width, 3) for _ in range(paths)]
        self.conv3layers = [nn.Conv2d(width, channels, 1) for _ in range(paths)]

    def forward(self, x):
        out_list = [F.relu(self.conv1layers[i](x)) for i in range(self.paths)]
        out_list = [F.relu(self.conv2layers[i](out_list[i])) for i in range(self.paths)]
        out_list = [F.relu(self.conv3layers[i](out_list[i])) for i in range(self.paths)]
        out = out_list[0]
        for i in range(1, self.paths):
            out = out + out_list[i]
        return out
