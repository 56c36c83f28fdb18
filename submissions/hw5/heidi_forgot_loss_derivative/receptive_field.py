from torch import nn


def receptive_field(model):
    h, w = 1, 1
    for layer in model:
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k = layer.kernel_size
            k = (k, k) if isinstance(k, int) else k
            h *= k[0]
            w *= k[1]
    return (h, w)
