"""Correct, another way: the leaves of a copy of the model run one at a time, in the order
named_modules() lists them, on a meta-device tensor (shapes only, no arithmetic); a map is flattened
where a Linear layer meets one (as AlexNet's forward does with torch.flatten)."""

import copy

import torch
from torch import nn


def count_ops(model, input_shape):
    net = copy.deepcopy(model).to("meta").eval()
    dtype = next((p.dtype for p in net.parameters()), torch.float32)
    x = torch.empty((1, *input_shape), device="meta", dtype=dtype)
    counts = {}
    for name, leaf in net.named_modules():
        if len(list(leaf.children())) > 0:
            continue
        if isinstance(leaf, nn.Linear) and x.dim() > 2:
            x = x.flatten(1)
        y = leaf(x)
        if isinstance(leaf, nn.Conv2d):
            counts[name] = y.shape[1] * y.shape[2] * y.shape[3] * (leaf.in_channels // leaf.groups) \
                * leaf.kernel_size[0] * leaf.kernel_size[1]
        elif isinstance(leaf, nn.Linear):
            counts[name] = leaf.in_features * leaf.out_features
        x = y
    return {k: int(v) for k, v in counts.items()}


def _totals():
    from torchvision.models import alexnet

    with torch.device("meta"):
        net = alexnet()
    counts = count_ops(net, (3, 224, 224))
    convs = {n for n, m in net.named_modules() if isinstance(m, nn.Conv2d)}
    return sum(v for n, v in counts.items() if n in convs), sum(v for n, v in counts.items() if n not in convs)


ALEXNET_CONV_OPS, ALEXNET_LINEAR_OPS = _totals()
