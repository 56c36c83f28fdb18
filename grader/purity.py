"""Telling whether a call modified its arguments: snapshots of tensors, modules and containers.

Used by the sandbox (for `call_pure` on student code) and by the trusted side (for `call_pure` on
plain code, as when a problem's tests run against its reference directly). Depends only on torch.
"""

from __future__ import annotations

from typing import Any

import torch


def snapshot(value: Any) -> Any:
    """A copy of what `value` holds (tensors, module state and modes, nested lists, tuples and dicts)."""
    if isinstance(value, torch.Tensor):
        return ("tensor", value.detach().clone())
    if isinstance(value, torch.nn.Module):
        state = {k: v.detach().clone() for k, v in value.state_dict(keep_vars=True).items()}
        modes = [(n, m.training, m.extra_repr()) for n, m in value.named_modules()]
        return ("module", state, modes)
    if isinstance(value, (list, tuple)):
        return ("seq", type(value), len(value), [snapshot(v) for v in value])
    if isinstance(value, dict):
        return ("dict", {k: snapshot(v) for k, v in value.items()})
    return ("other",)


def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    same = a == b
    if a.is_floating_point() or a.is_complex():
        same = same | (torch.isnan(a) & torch.isnan(b))
    return bool(same.all())


def changed_part(snap: Any, value: Any) -> str | None:
    """Where `value` differs from its snapshot (" (weight)", "[2]", ""), or None if unchanged."""
    kind = snap[0]
    if kind == "tensor":
        ok = isinstance(value, torch.Tensor) and _same_tensor(snap[1], value.detach())
        return None if ok else ""
    if kind == "module":
        state = {k: v.detach() for k, v in value.state_dict(keep_vars=True).items()}
        if state.keys() != snap[1].keys():
            return " (its parameters or buffers were replaced)"
        for key, before in snap[1].items():
            if not _same_tensor(before, state[key]):
                return f" ({key})"
        modes = [(n, m.training, m.extra_repr()) for n, m in value.named_modules()]
        if modes != snap[2]:
            for old, new in zip(snap[2], modes):
                if old != new:
                    what = "train/eval mode" if old[1] != new[1] else "settings"
                    return f" ({what} of {old[0] or 'the module'})"
            return " (its submodules)"
        return None
    if kind == "seq":
        if type(value) is not snap[1] or len(value) != snap[2]:
            return " (its length)"
        for i, (s, v) in enumerate(zip(snap[3], value)):
            where = changed_part(s, v)
            if where is not None:
                return f"[{i}]{where}"
        return None
    if kind == "dict":
        if set(value) != set(snap[1]):
            return " (its keys)"
        for k, s in snap[1].items():
            where = changed_part(s, value[k])
            if where is not None:
                return f"[{k!r}]{where}"
        return None
    return None


def mutated_arguments(before: list[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str]:
    """The arguments ("argument 2 (weight)") that differ from their snapshots `before`."""
    names = [f"argument {i + 1}" for i in range(len(args))] + [f"argument {k!r}" for k in kwargs]
    values = list(args) + list(kwargs.values())
    return [f"{name}{where}" for name, snap, value in zip(names, before, values) if (where := changed_part(snap, value)) is not None]


def snapshot_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    """Snapshots of every positional and keyword argument, in order."""
    return [snapshot(a) for a in args] + [snapshot(v) for v in kwargs.values()]
