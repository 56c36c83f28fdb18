from torch import nn


def receptive_field(model):
    size = [1, 1]
    jump = [1, 1]
    for layer in model:
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k = layer.kernel_size if isinstance(layer.kernel_size, tuple) else (layer.kernel_size,) * 2
            s = layer.stride if isinstance(layer.stride, tuple) else (layer.stride,) * 2
            d = layer.dilation if isinstance(layer.dilation, tuple) else (layer.dilation,) * 2
            for i in range(2):
                size[i] += d[i] * (k[i] - 1) * jump[i]
                jump[i] *= s[i]
    return tuple(size)
