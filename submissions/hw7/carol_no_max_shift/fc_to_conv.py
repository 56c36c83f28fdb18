import copy

import torch
from torch import nn


def linear_to_conv(linear, in_shape):
    c, h, w = in_shape
    conv = nn.Conv2d(c, linear.out_features, (h, w), bias=linear.bias is not None).to(linear.weight.dtype)
    with torch.no_grad():
        # one pixel after the other, all channels of a pixel together
        conv.weight.copy_(linear.weight.reshape(-1, h, w, c).permute(0, 3, 1, 2))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def convolutionize(classifier, in_shape):
    layers, shape = [], in_shape
    for layer in classifier:
        if isinstance(layer, nn.Linear):
            layers.append(linear_to_conv(layer, shape))
            shape = (layer.out_features, 1, 1)
        elif not isinstance(layer, nn.Flatten):
            layers.append(copy.deepcopy(layer))
    return nn.Sequential(*layers)
