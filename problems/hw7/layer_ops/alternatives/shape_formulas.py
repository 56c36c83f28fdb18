"""Correct, another way: no forward pass at all. The shape is carried through the layers in the order
named_modules() lists them, with the output-size formula for convolutions and pooling; the AlexNet
totals come from its layer table written out by hand."""

from torch import nn


def _two(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _out(size, k, s, p, d=1):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def count_ops(model, input_shape):
    c, h, w = input_shape
    counts = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            (kh, kw), (sh, sw), (ph, pw), (dh, dw) = m.kernel_size, m.stride, m.padding, m.dilation
            h, w = _out(h, kh, sh, ph, dh), _out(w, kw, sw, pw, dw)
            c = m.out_channels
            counts[name] = c * h * w * (m.in_channels // m.groups) * kh * kw
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            k, p = _two(m.kernel_size), _two(m.padding)
            s = _two(m.stride if m.stride is not None else m.kernel_size)
            d = _two(getattr(m, "dilation", 1))
            h, w = _out(h, k[0], s[0], p[0], d[0]), _out(w, k[1], s[1], p[1], d[1])
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            h, w = _two(m.output_size)
        elif isinstance(m, nn.Linear):  # its count needs no input size
            counts[name] = m.in_features * m.out_features
    return counts


def _alexnet():
    # (out channels, kernel, stride, padding) on a 3x224x224 image, max pools 3/2 after conv 1, 2 and 5
    convs = [(64, 11, 4, 2, True), (192, 5, 1, 2, True), (384, 3, 1, 1, False), (256, 3, 1, 1, False),
             (256, 3, 1, 1, True)]
    c, size, conv_total = 3, 224, 0
    for out, k, s, p, pool in convs:
        size = _out(size, k, s, p)
        conv_total += out * size * size * c * k * k
        c = out
        if pool:
            size = _out(size, 3, 2, 0)
    linear_total = 256 * 6 * 6 * 4096 + 4096 * 4096 + 4096 * 1000
    return conv_total, linear_total


ALEXNET_CONV_OPS, ALEXNET_LINEAR_OPS = _alexnet()
