from torch import nn


def as_pair(v):
    if isinstance(v, int):
        return (v, v)
    return tuple(v)


def receptive_field(model):
    rf_h, rf_w = 1, 1
    jump_h, jump_w = 1, 1
    for layer in model:
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            kh, kw = as_pair(layer.kernel_size)
            sh, sw = as_pair(layer.stride)
            dh, dw = as_pair(layer.dilation) if hasattr(layer, "dilation") else (1, 1)
            rf_h += (kh - 1) * dh * jump_h
            rf_w += (kw - 1) * dw * jump_w
            jump_h *= sh
            jump_w *= sw
    return (rf_h, rf_w)
