"""Reference for hw7/layer_ops: multiply-accumulate counts per layer, measured with forward hooks."""

import copy

import torch
from torch import nn


def count_ops(model: nn.Module, input_shape: tuple[int, int, int]) -> dict[str, int]:
    model = copy.deepcopy(model).eval()
    counts: dict[str, int] = {}

    def hook(name: str):
        def record(module: nn.Module, inputs, output: torch.Tensor) -> None:
            if isinstance(module, nn.Conv2d):
                kh, kw = module.kernel_size
                counts[name] = output[0].numel() * (module.in_channels // module.groups) * kh * kw
            else:
                counts[name] = module.in_features * module.out_features

        return record

    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            module.register_forward_hook(hook(name))
    like = next(model.parameters(), torch.zeros(()))
    with torch.no_grad():
        model(torch.zeros(1, *input_shape, dtype=like.dtype, device=like.device))
    return counts


def _alexnet_totals() -> tuple[int, int]:
    import torchvision

    with torch.device("meta"):
        model = torchvision.models.alexnet(weights=None)
    counts = count_ops(model, (3, 224, 224))
    conv = sum(v for k, v in counts.items() if isinstance(model.get_submodule(k), nn.Conv2d))
    return conv, sum(counts.values()) - conv


ALEXNET_CONV_OPS, ALEXNET_LINEAR_OPS = _alexnet_totals()
