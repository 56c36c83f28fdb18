import torch
from torch import nn


def _scale_shift(bn):
    var = bn.running_var.double()
    scale = 1.0 / torch.sqrt(var + bn.eps)
    shift = -bn.running_mean.double() * scale
    if bn.affine:
        scale = scale * bn.weight.double()
        shift = shift * bn.weight.double() + bn.bias.double()
    return scale, shift


def fold_conv_bn(conv, bn):
    scale, shift = _scale_shift(bn)
    out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                    padding=conv.padding, dilation=conv.dilation, groups=conv.groups, bias=True)
    out = out.to(conv.weight.dtype)
    with torch.no_grad():
        w = conv.weight.double()
        new_w = torch.einsum("oihw,o->oihw", w, scale)
        old_b = conv.bias.double() if conv.bias is not None else torch.zeros(conv.out_channels, dtype=torch.float64)
        out.weight.copy_(new_w)
        out.bias.copy_(old_b * scale + shift)
    return out.eval()


def fold_linear_bn(linear, bn):
    scale, shift = _scale_shift(bn)
    out = nn.Linear(linear.in_features, linear.out_features, bias=True).to(linear.weight.dtype)
    with torch.no_grad():
        for o in range(linear.out_features):
            out.weight[o] = linear.weight[o].double() * scale[o]
            b = linear.bias[o].double() if linear.bias is not None else 0.0
            out.bias[o] = b * scale[o] + shift[o]
    return out.eval()


def fold_model(model):
    children = list(model)
    result = []
    i = 0
    while i < len(children):
        here = children[i]
        after = children[i + 1] if i + 1 < len(children) else None
        if type(here) is nn.Conv2d and type(after) is nn.BatchNorm2d:
            result.append(fold_conv_bn(here, after))
            i += 2
        elif type(here) is nn.Linear and type(after) is nn.BatchNorm1d:
            result.append(fold_linear_bn(here, after))
            i += 2
        else:
            import copy
            result.append(copy.deepcopy(here))
            i += 1
    seq = nn.Sequential(*result)
    seq.eval()
    return seq
