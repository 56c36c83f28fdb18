"""Correct, another way: hooks on the model itself rather than on a copy, removed afterwards, with the
train/eval mode of every submodule saved and restored; the AlexNet totals by running a real
torchvision AlexNet (random weights, nothing downloaded) through count_ops."""

import torch
from torch import nn


def count_ops(model, input_shape):
    counts = {}
    handles = []
    modes = {m: m.training for m in model.modules()}

    def record(name):
        def hook(module, args, output):
            if isinstance(module, nn.Linear):
                counts[name] = int(args[0].shape[-1]) * int(output.shape[-1])
            else:
                kh, kw = module.kernel_size
                per_output = (args[0].shape[1] // module.groups) * kh * kw
                counts[name] = int(output[0].numel()) * per_output
        return hook

    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            handles.append(module.register_forward_hook(record(name)))
    try:
        model.eval()
        dtype = next((p.dtype for p in model.parameters()), torch.float32)
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.train(training)
    return counts


def _totals():
    import torchvision

    net = torchvision.models.alexnet(weights=None)
    counts = count_ops(net, (3, 224, 224))
    conv = sum(v for k, v in counts.items() if isinstance(net.get_submodule(k), nn.Conv2d))
    linear = sum(v for k, v in counts.items() if isinstance(net.get_submodule(k), nn.Linear))
    return conv, linear


ALEXNET_CONV_OPS, ALEXNET_LINEAR_OPS = _totals()
