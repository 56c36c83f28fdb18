import copy

import torch
from torch import nn


def linear_to_conv(linear, in_shape):
    c, h, w = in_shape
    conv = nn.Conv2d(c, linear.out_features, kernel_size=(h, w), bias=linear.bias is not None,
                     dtype=linear.weight.dtype)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.view(linear.out_features, c, h, w))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def convolutionize(classifier, in_shape):
    out = []
    shape = tuple(in_shape)
    for layer in classifier:
        if isinstance(layer, nn.Flatten):
            continue
        if isinstance(layer, nn.Linear):
            out.append(linear_to_conv(layer, shape))
            shape = (layer.out_features, 1, 1)
        else:
            out.append(copy.deepcopy(layer))
    return nn.Sequential(*out)
