"""Correct, another way: the kernel filled entry by entry from the statement's index map
K[o, c, h, w] = A[o, c*H*W + h*W + w] with Python loops, and the other layers of the classifier
reused as they are (same objects) in the new Sequential."""

import torch
from torch import nn


def linear_to_conv(linear, in_shape):
    C, H, W = in_shape
    A = linear.weight.detach()
    O = A.shape[0]
    kernel = torch.empty(O, C, H, W, dtype=A.dtype)
    for o in range(O):
        for c in range(C):
            for h in range(H):
                for w in range(W):
                    kernel[o, c, h, w] = A[o, c * H * W + h * W + w]
    conv = nn.Conv2d(C, O, kernel_size=(H, W), bias=linear.bias is not None, dtype=A.dtype)
    conv.weight = nn.Parameter(kernel)
    if linear.bias is not None:
        conv.bias = nn.Parameter(linear.bias.detach().clone())
    return conv


def convolutionize(classifier, in_shape):
    out = []
    first = True
    for layer in classifier:
        if isinstance(layer, nn.Flatten):
            continue
        if isinstance(layer, nn.Linear):
            shape = in_shape if first else (layer.in_features, 1, 1)
            out.append(linear_to_conv(layer, shape))
            first = False
        else:
            out.append(layer)
    return nn.Sequential(*out)
