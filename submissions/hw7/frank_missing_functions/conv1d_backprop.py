import torch
import torch.nn.functional as F


def conv1d(x, w):
    return F.conv1d(x.view(1, 1, -1), w.view(1, 1, -1)).view(-1)


def conv1d_transpose(u, w):
    return F.conv_transpose1d(u.view(1, 1, -1), w.view(1, 1, -1)).view(-1)
