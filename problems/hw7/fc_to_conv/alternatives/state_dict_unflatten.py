"""Correct, another way: the kernel by unflattening the weight's feature axis into (C, H, W), loaded
into a fresh Conv2d with load_state_dict; the new Sequential keeps the classifier's own layer names
(an OrderedDict of deep copies)."""

import copy
from collections import OrderedDict

from torch import nn


def linear_to_conv(linear, in_shape):
    c, h, w = in_shape
    conv = nn.Conv2d(c, linear.out_features, (h, w), bias=linear.bias is not None,
                     dtype=linear.weight.dtype)
    state = {"weight": linear.weight.detach().unflatten(1, (c, h, w)).clone()}
    if linear.bias is not None:
        state["bias"] = linear.bias.detach().clone()
    conv.load_state_dict(state)
    return conv


def convolutionize(classifier, in_shape):
    layers = OrderedDict()
    features = in_shape
    for name, layer in classifier.named_children():
        if isinstance(layer, nn.Flatten):
            continue
        if isinstance(layer, nn.Linear):
            layers[name] = linear_to_conv(layer, features)
            features = (layer.out_features, 1, 1)
        else:
            layers[name] = copy.deepcopy(layer)
    return nn.Sequential(layers)
