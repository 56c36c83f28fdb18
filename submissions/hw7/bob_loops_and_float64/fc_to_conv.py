import torch
from torch import nn


def linear_to_conv(linear, in_shape):
    c, h, w = in_shape
    out = linear.out_features
    weight = torch.empty(out, c, h, w, dtype=torch.float64)
    a = linear.weight.detach().double()
    for o in range(out):
        for ch in range(c):
            for r in range(h):
                for col in range(w):
                    weight[o, ch, r, col] = a[o, ch * h * w + r * w + col]
    conv = nn.Conv2d(c, out, (h, w), bias=linear.bias is not None).to(linear.weight.dtype)
    conv.weight = nn.Parameter(weight.to(linear.weight.dtype))
    if linear.bias is not None:
        conv.bias = nn.Parameter(linear.bias.detach().clone())
    return conv


def convolutionize(classifier, in_shape):
    layers = []
    shape = in_shape
    for layer in classifier:
        if isinstance(layer, nn.Flatten):
            continue
        if isinstance(layer, nn.Linear):
            layers.append(linear_to_conv(layer, shape))
            shape = (layer.out_features, 1, 1)
        elif isinstance(layer, nn.Dropout):
            layers.append(nn.Dropout(layer.p))
        else:
            layers.append(type(layer)())
    return nn.Sequential(*layers)
