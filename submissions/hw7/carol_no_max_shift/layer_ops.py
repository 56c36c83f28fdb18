import torch
import torchvision
from torch import nn


def count_ops(model, input_shape):
    ops = {}
    hooks = []

    def make_hook(name):
        def hook(module, inputs, output):
            if isinstance(module, nn.Conv2d):
                kh, kw = module.kernel_size
                per_output = (module.in_channels // module.groups) * kh * kw
                ops[name] = output.shape[1] * output.shape[2] * output.shape[3] * per_output
            else:
                ops[name] = module.in_features * module.out_features
        return hook

    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            hooks.append(module.register_forward_hook(make_hook(name)))
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for h in hooks:
            h.remove()
    return ops


def _alexnet_totals():
    net = torchvision.models.alexnet(weights=None).eval()
    ops = count_ops(net, (3, 224, 224))
    conv = sum(n for name, n in ops.items() if name.startswith("features"))
    linear = sum(n for name, n in ops.items() if name.startswith("classifier"))
    return conv, linear


ALEXNET_CONV_OPS, ALEXNET_LINEAR_OPS = _alexnet_totals()
