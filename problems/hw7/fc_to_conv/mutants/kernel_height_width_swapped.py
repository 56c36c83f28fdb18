# Builds a W x H kernel instead of H x W.
# fails: test_linear_to_conv_on_inputs_of_the_exact_size, test_linear_to_conv_returns_a_conv2d_with_the_whole_map_as_kernel, test_linear_to_conv_slides_over_larger_inputs, test_convolutionize_on_inputs_of_the_exact_size, test_convolutionize_slides_over_larger_inputs, test_convolutionize_replaces_linear_layers_and_drops_flatten
import copy

import torch
from torch import nn


def linear_to_conv(linear: nn.Linear, in_shape: tuple[int, int, int]) -> nn.Conv2d:
    c, h, w = in_shape
    conv = nn.Conv2d(c, linear.out_features, (w, h), bias=linear.bias is not None)
    conv = conv.to(linear.weight.dtype)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, c, w, h))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def convolutionize(classifier: nn.Sequential, in_shape: tuple[int, int, int]) -> nn.Sequential:
    layers = []
    shape = in_shape
    for layer in classifier:
        if isinstance(layer, nn.Flatten):
            continue
        if isinstance(layer, nn.Linear):
            layers.append(linear_to_conv(layer, shape))
            shape = (layer.out_features, 1, 1)
        else:
            layers.append(copy.deepcopy(layer))
    return nn.Sequential(*layers)
