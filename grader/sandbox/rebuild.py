"""Standard `torch.nn` modules that cross from the sandbox as data and are built again on the trusted side.

A module that student code returns is described in the sandbox (:func:`describe`: its kind, its
constructor's settings, its parameters and buffers, its mode, its children) and rebuilt on the trusted
side (:func:`rebuild`) as a real module of that kind, whose forward pass then runs on the trusted
side. Whatever the sandbox claims, the trusted side gets a module of a kind it knows, holding the
tensors that were sent: a lie about the structure earns only what those tensors really compute.
Only the kinds in :data:`KINDS` cross; the sandbox keeps anything else behind a handle. Depends
only on torch.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from grader.errors import RebuildError

_GEOMETRY = ("kernel_size", "stride", "padding", "dilation")

# kind -> (class, the constructor's keyword arguments, read back from the module's attributes).
# "bias" (for layers with an optional bias) is read as whether the module has one.
KINDS: dict[str, tuple[type[nn.Module], tuple[str, ...]]] = {
    "Linear": (nn.Linear, ("in_features", "out_features", "bias")),
    "Conv1d": (nn.Conv1d, ("in_channels", "out_channels", *_GEOMETRY, "groups", "bias", "padding_mode")),
    "Conv2d": (nn.Conv2d, ("in_channels", "out_channels", *_GEOMETRY, "groups", "bias", "padding_mode")),
    "BatchNorm1d": (nn.BatchNorm1d, ("num_features", "eps", "momentum", "affine", "track_running_stats")),
    "BatchNorm2d": (nn.BatchNorm2d, ("num_features", "eps", "momentum", "affine", "track_running_stats")),
    "MaxPool1d": (nn.MaxPool1d, ("kernel_size", "stride", "padding", "dilation", "ceil_mode")),
    "MaxPool2d": (nn.MaxPool2d, ("kernel_size", "stride", "padding", "dilation", "ceil_mode")),
    "AvgPool1d": (nn.AvgPool1d, ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")),
    "AvgPool2d": (
        nn.AvgPool2d,
        ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    ),
    "AdaptiveAvgPool1d": (nn.AdaptiveAvgPool1d, ("output_size",)),
    "AdaptiveAvgPool2d": (nn.AdaptiveAvgPool2d, ("output_size",)),
    "Flatten": (nn.Flatten, ("start_dim", "end_dim")),
    "Unflatten": (nn.Unflatten, ("dim", "unflattened_size")),
    "Dropout": (nn.Dropout, ("p",)),
    "Identity": (nn.Identity, ()),
    "ReLU": (nn.ReLU, ()),
    "ReLU6": (nn.ReLU6, ()),
    "LeakyReLU": (nn.LeakyReLU, ("negative_slope",)),
    "ELU": (nn.ELU, ("alpha",)),
    "CELU": (nn.CELU, ("alpha",)),
    "SELU": (nn.SELU, ()),
    "GELU": (nn.GELU, ("approximate",)),
    "SiLU": (nn.SiLU, ()),
    "Mish": (nn.Mish, ()),
    "Sigmoid": (nn.Sigmoid, ()),
    "LogSigmoid": (nn.LogSigmoid, ()),
    "Hardsigmoid": (nn.Hardsigmoid, ()),
    "Hardswish": (nn.Hardswish, ()),
    "Tanh": (nn.Tanh, ()),
    "Tanhshrink": (nn.Tanhshrink, ()),
    "Hardtanh": (nn.Hardtanh, ("min_val", "max_val")),
    "Hardshrink": (nn.Hardshrink, ("lambd",)),
    "Softshrink": (nn.Softshrink, ("lambd",)),
    "Softsign": (nn.Softsign, ()),
    "Softplus": (nn.Softplus, ("beta", "threshold")),
    "Threshold": (nn.Threshold, ("threshold", "value")),
    "Softmax": (nn.Softmax, ("dim",)),
    "LogSoftmax": (nn.LogSoftmax, ("dim",)),
    "Sequential": (nn.Sequential, ()),
    "ModuleList": (nn.ModuleList, ()),
}
_CONTAINERS = ("Sequential", "ModuleList")
_KIND_OF_TYPE: dict[type, str] = {cls: kind for kind, (cls, _) in KINDS.items()}
# The qualified names of the kinds, as a handle from the sandbox would name them.
QUALIFIED_NAMES: frozenset[str] = frozenset(f"{cls.__module__}.{cls.__qualname__}" for cls, _ in KINDS.values())
_MAX_INT = 1 << 31


# -- in the sandbox -----------------------------------------------------------------------------------


def is_standard(obj: Any) -> bool:
    """Whether `obj` is exactly one of the kinds that cross as data (a subclass is not)."""
    return type(obj) in _KIND_OF_TYPE


def describe(module: nn.Module) -> dict[str, Any]:
    """A module as plain data: kind, settings, own parameters and buffers, mode, children.

    A child of a kind that does not cross is described by its type's name only (the trusted side
    refuses it).
    """
    kind = _KIND_OF_TYPE.get(type(module))
    if kind is None:
        typ = type(module)
        return {"kind": f"{getattr(typ, '__module__', '?')}.{getattr(typ, '__qualname__', '?')}"}
    _, keys = KINDS[kind]
    config = {key: (module.bias is not None) if key == "bias" else getattr(module, key) for key in keys}
    return {
        "kind": kind,
        "config": config,
        "parameters": dict(module._parameters),
        "buffers": dict(module._buffers),
        "training": module.training,
        "children": [
            [name, describe(child) if child is not None else {"kind": "None"}]
            for name, child in module._modules.items()
        ],
    }


# -- on the trusted side ---------------------------------------------------------------------------------


def rebuild(description: Any) -> nn.Module:
    """The module a description stands for, built here from its settings and tensors.

    Raises RebuildError, with a message a student can act on, for anything that does not describe a
    module of a known kind exactly (unknown kinds, settings or tensors that do not fit).
    """
    if not isinstance(description, dict):
        raise RebuildError("a module description must be a dict")
    kind = description.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise RebuildError(
            f"{kind if isinstance(kind, str) else 'an object'} is not a standard torch.nn module the grader can "
            f"rebuild (it rebuilds {', '.join(sorted(KINDS))})"
        )
    cls, keys = KINDS[kind]
    config = _expect(description, "config", dict, kind)
    if set(config) != set(keys):
        raise RebuildError(f"the description of a {kind} has the settings {sorted(config)}, expected {sorted(keys)}")
    children = _expect(description, "children", list, kind)
    if kind in _CONTAINERS:
        module = _container(kind, children)
    else:
        if children:
            raise RebuildError(f"a {kind} has no submodules, but its description lists {len(children)}")
        kwargs = {key: _setting(kind, key, value) for key, value in config.items()}
        try:
            with torch.device("meta"):  # the sizes are the student's: allocate nothing until tensors arrive
                module = cls(**kwargs)
        except Exception as exc:  # noqa: BLE001 - settings that torch refuses
            shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
            raise RebuildError(f"{kind}({shown}) cannot be made: {type(exc).__name__}: {str(exc)[:200]}") from None
    _assign(module, kind, "parameters", _expect(description, "parameters", dict, kind))
    _assign(module, kind, "buffers", _expect(description, "buffers", dict, kind))
    training = description.get("training")
    if type(training) is not bool:
        raise RebuildError(f"the description of a {kind} does not say whether it is in training mode")
    module.training = training
    return module


def _container(kind: str, children: list[Any]) -> nn.Module:
    built: OrderedDict[str, nn.Module] = OrderedDict()
    for entry in children:
        if not isinstance(entry, (list, tuple)) or len(entry) != 2 or not isinstance(entry[0], str):
            raise RebuildError(f"a submodule of a {kind} is malformed")
        name, child = entry
        if not name or "." in name or name in built:
            raise RebuildError(f"a {kind} has a submodule with the name {name!r}")
        try:
            built[name] = rebuild(child)
        except RebuildError as exc:
            raise RebuildError(f"{kind}[{name}]: {exc}") from None
    if kind == "ModuleList":
        if list(built) != [str(i) for i in range(len(built))]:
            raise RebuildError("a ModuleList's submodules must be named 0, 1, 2, ...")
        return nn.ModuleList(built.values())
    return nn.Sequential(built)


def _assign(module: nn.Module, kind: str, what: str, sent: dict[Any, Any]) -> None:
    """Put the sent tensors in place of the ones the constructor made, checking names and shapes."""
    own: dict[str, torch.Tensor | None] = dict(module._parameters if what == "parameters" else module._buffers)
    if set(sent) != set(own):
        raise RebuildError(f"a {kind} has the {what} {sorted(own)}, but the sent ones are {sorted(map(str, sent))}")
    for name, made in own.items():
        value = sent[name]
        if made is None or value is None:
            if made is not None or value is not None:
                raise RebuildError(f"{kind}.{name} must be {'None' if made is None else 'a tensor'} for these settings")
            continue
        if not isinstance(value, torch.Tensor):
            raise RebuildError(f"{kind}.{name} must be a tensor, got {type(value).__name__}")
        value = torch.Tensor.detach(value)
        if type(value) is not torch.Tensor:
            value = value.as_subclass(torch.Tensor)
        if value.shape != made.shape:
            raise RebuildError(
                f"{kind}.{name} has shape {tuple(value.shape)}, but the settings of the {kind} give {tuple(made.shape)}"
            )
        if what == "parameters":
            grad = value.is_floating_point() or value.is_complex()
            module._parameters[name] = nn.Parameter(value, requires_grad=grad)
        else:
            module._buffers[name] = value


def _setting(kind: str, key: str, value: Any) -> Any:
    """A constructor argument from the sandbox: plain numbers, strings, None, or tuples of numbers."""
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(value, tuple):
        if len(value) > 8 or not all(_plain_number(v) or v is None for v in value):
            raise RebuildError(f"{kind}.{key} = {value!r} is not a valid setting")
        return value
    if value is None or type(value) is str and len(value) <= 32 or _plain_number(value):
        return value
    raise RebuildError(f"{kind}.{key} = {value!r} is not a valid setting")


def _plain_number(value: Any) -> bool:
    if type(value) is bool:
        return True
    if type(value) is int:
        return abs(value) < _MAX_INT
    return type(value) is float and not math.isnan(value)  # an infinite bound (Hardtanh, Threshold) is a setting


def _expect(description: dict[str, Any], key: str, typ: type, kind: str) -> Any:
    value = description.get(key)
    if not isinstance(value, typ):
        raise RebuildError(f"the description of a {kind} has no valid {key!r}")
    return value
