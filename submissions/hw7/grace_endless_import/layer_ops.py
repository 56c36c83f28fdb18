# Output sizes from the formula, layer by layer, with the input size seen by a forward pre-hook.
import torch
from torch import nn


def _out(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def count_ops(model, input_shape):
    result = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            def pre(m, args, name=name):
                h, w = args[0].shape[-2], args[0].shape[-1]
                ho = _out(h, m.kernel_size[0], m.stride[0], m.padding[0], m.dilation[0])
                wo = _out(w, m.kernel_size[1], m.stride[1], m.padding[1], m.dilation[1])
                total = 0
                for _ in range(m.out_channels):
                    total += ho * wo * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
                result[name] = total
            handles.append(module.register_forward_pre_hook(pre))
        elif isinstance(module, nn.Linear):
            def pre_linear(m, args, name=name):
                result[name] = int(m.weight.shape[0]) * int(m.weight.shape[1])
            handles.append(module.register_forward_pre_hook(pre_linear))
    dtype = torch.float64 if any(p.dtype == torch.float64 for p in model.parameters()) else torch.float32
    with torch.no_grad():
        model(torch.zeros((1,) + tuple(input_shape), dtype=dtype))
    for h in handles:
        h.remove()
    return result


# The table by hand: (C_out * H_out * W_out) * (C_in * k * k) for each layer of AlexNet at 224x224.
_CONV_LAYERS = [(64, 55, 3, 11), (192, 27, 64, 5), (384, 13, 192, 3), (256, 13, 384, 3), (256, 13, 256, 3)]
_LINEAR_LAYERS = [(256 * 6 * 6, 4096), (4096, 4096), (4096, 1000)]
ALEXNET_CONV_OPS = sum(c_out * h * h * c_in * k * k for c_out, h, c_in, k in _CONV_LAYERS)
ALEXNET_LINEAR_OPS = sum(a * b for a, b in _LINEAR_LAYERS)
