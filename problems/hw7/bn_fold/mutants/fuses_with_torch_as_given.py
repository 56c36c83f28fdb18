# Calls PyTorch's fuse_conv_bn_eval / fuse_linear_bn_eval on the layers as given: they refuse a layer in
# training mode (the statement allows either mode), so every test that gives a training-mode layer fails.
# fails: test_fold_conv_bn_equals_conv_then_bn, test_fold_linear_bn_equals_linear_then_bn, test_fold_conv_bn_on_extreme_statistics, test_fold_conv_bn_keeps_the_geometry_and_adds_a_bias, test_fold_handles_batchnorm_without_affine_parameters, test_fold_leaves_its_arguments_unchanged
import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval


def fold_conv_bn(conv, bn):
    return fuse_conv_bn_eval(conv, bn)


def fold_linear_bn(linear, bn):
    return fuse_linear_bn_eval(linear, bn)


def fold_model(model):
    layers, out, i = list(model), [], 0
    while i < len(layers):
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(layers[i], nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d):
            out.append(fold_conv_bn(copy.deepcopy(layers[i]).eval(), copy.deepcopy(nxt).eval()))
            i += 2
        elif isinstance(layers[i], nn.Linear) and isinstance(nxt, nn.BatchNorm1d):
            out.append(fold_linear_bn(copy.deepcopy(layers[i]).eval(), copy.deepcopy(nxt).eval()))
            i += 2
        else:
            out.append(copy.deepcopy(layers[i]))
            i += 1
    return nn.Sequential(*out).eval()
