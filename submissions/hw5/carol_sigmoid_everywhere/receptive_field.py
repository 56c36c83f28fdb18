from torch import nn


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def receptive_field(model):
    rf = [1, 1]
    jump = [1, 1]
    for layer in model:
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k, s = pair(layer.kernel_size), pair(layer.stride)
            for i in range(2):
                rf[i] += (k[i] - 1) * jump[i]
                jump[i] *= s[i]
    return tuple(rf)
