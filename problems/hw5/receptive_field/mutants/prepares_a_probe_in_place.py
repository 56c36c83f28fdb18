# Right sizes, but it first prepares the model for an empirical probe in place (every convolution's
# weights set to ones, eval mode), so the caller's model is changed.
# fails: test_agrees_with_the_support_of_a_gradient
from torch import nn


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def receptive_field(model):
    model.eval()
    for layer in model:
        if isinstance(layer, nn.Conv2d):
            nn.init.ones_(layer.weight)
    size, jump = [1, 1], [1, 1]  # receptive field so far; distance in input pixels between adjacent units
    for layer in model:
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            kernel = _pair(layer.kernel_size)
            stride = _pair(layer.stride if layer.stride is not None else layer.kernel_size)
            dilation = _pair(getattr(layer, "dilation", 1))
            for i in range(2):
                size[i] += dilation[i] * (kernel[i] - 1) * jump[i]
                jump[i] *= stride[i]
    return size[0], size[1]
