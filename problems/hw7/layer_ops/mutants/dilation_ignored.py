# Leaves the dilation out of the output size: the kernel spans k positions, not d(k-1)+1.
# fails: test_conv_with_dilation, test_random_cnns, test_nested_layers_are_keyed_by_their_full_names
import torch
from torch import nn


def _out(size, k, s, p, d):
    return (size + 2 * p - k) // s + 1


def count_ops(model, input_shape):
    counts = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            def conv_hook(m, args, out, name=name):
                h, w = args[0].shape[-2:]
                ho = _out(h, m.kernel_size[0], m.stride[0], m.padding[0], m.dilation[0])
                wo = _out(w, m.kernel_size[1], m.stride[1], m.padding[1], m.dilation[1])
                n = m.out_channels * ho * wo * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
                counts[name] = n
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            def linear_hook(m, args, out, name=name):
                counts[name] = m.in_features * m.out_features
            handles.append(module.register_forward_hook(linear_hook))
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))
    for handle in handles:
        handle.remove()
    return counts


ALEXNET_CONV_OPS = 655566528
ALEXNET_LINEAR_OPS = 58621952
