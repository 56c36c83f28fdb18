"""Telling whether a call modified its arguments, by comparing images of what the arguments hold.

An image is plain data (tags, names, bools and tensors in tuples), so it can cross the wire: the
sandbox sends the image of the arguments as they are after a call, and the trusted side compares it
with the image of the arguments it sent, which no student code has touched. The verdict is made on
the trusted side; the sandbox supplies data. For plain code (a problem's tests run against its
reference directly) both images are taken here, before and after the call. Depends only on torch.
"""

from __future__ import annotations

from typing import Any

import torch

_SCALARS = (bool, int, float, str)


def image(value: Any, *, copy: bool = True) -> tuple[Any, ...]:
    """What `value` holds: tensors, module state, modes and hook counts, nested lists, tuples and dicts,
    and the plain numbers and strings inside them (an entry of a list can be replaced: `widths[0] = 3`).

    With `copy=False` tensors are not cloned: for an image that is sent at once, or of objects that
    cannot change before it is compared.
    """
    if isinstance(value, torch.Tensor):
        return ("tensor", _tensor(value, copy))
    if isinstance(value, torch.nn.Module):
        state = tuple(
            (key, _tensor(v, copy))
            for key, v in value.state_dict(keep_vars=True).items()
            if isinstance(v, torch.Tensor)
        )
        modes = tuple((name, bool(m.training), str(m.extra_repr())) for name, m in value.named_modules())
        return ("module", state, modes, _hook_counts(value))
    if isinstance(value, (list, tuple)):
        return ("seq", type(value).__name__, tuple(image(v, copy=copy) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((_key(k), image(v, copy=copy)) for k, v in value.items()))
    if type(value) in _SCALARS:  # exactly these types: a subclass (a numpy float) is not plain data
        return ("scalar", type(value).__name__, repr(value))
    return ("other",)


def argument_images(args: tuple[Any, ...], kwargs: dict[str, Any], *, copy: bool = True) -> list[tuple[Any, ...]]:
    """Images of every positional and keyword argument, in order."""
    return [image(a, copy=copy) for a in args] + [image(v, copy=copy) for v in kwargs.values()]


def changed_arguments(before: list[tuple[Any, ...]], after: Any, kwargs: dict[str, Any] | None = None) -> list[str]:
    """The arguments ("argument 2 (weight)") whose image `after` differs from `before`.

    `after` may come from the sandbox: anything that is not a well-formed image of the same arguments
    raises ValueError (the caller cannot tell what happened to them).
    """
    if not isinstance(after, (list, tuple)) or len(after) != len(before):
        raise ValueError("the images of the arguments after the call do not match the arguments sent")
    names = list(kwargs or {})
    positional = len(before) - len(names)
    labels = [f"argument {i + 1}" for i in range(positional)] + [f"argument {k!r}" for k in names]
    return [
        f"{label}{where}" for label, b, a in zip(labels, before, after) if (where := changed_part(b, a)) is not None
    ]


def changed_part(before: tuple[Any, ...], after: Any) -> str | None:
    """Where image `after` differs from image `before` (" (weight)", "[2]", ""), or None if it does not.

    A part the trusted side cannot check (`("other",)`, such as an object of the student's) is taken
    as unchanged; a malformed `after` raises ValueError.
    """
    kind = before[0]
    if kind == "other":
        return None
    if not isinstance(after, tuple) or not after or after[0] != kind:
        raise ValueError("the image of an argument after the call is malformed")
    if kind == "tensor":
        return None if _same_tensor(before[1], _expect_tensor(after[1])) else ""
    if kind == "scalar":
        if len(after) != 3 or not all(isinstance(part, str) for part in after[1:]):
            raise ValueError("the image of an argument after the call is malformed")
        return None if tuple(after) == tuple(before) else ""
    if kind == "module":
        state_before, state_after = dict(before[1]), _pairs(after[1])
        if state_before.keys() != state_after.keys():
            return " (its parameters or buffers were replaced)"
        for key, tensor in state_before.items():
            if not _same_tensor(tensor, _expect_tensor(state_after[key])):
                return f" ({key})"
        modes_before, modes_after = before[2], after[2]
        if tuple(modes_before) != tuple(modes_after):
            for old, new in zip(modes_before, modes_after):
                if old != new:
                    what = "train/eval mode" if old[1] != new[1] else "settings"
                    return f" ({what} of {old[0] or 'the module'})"
            return " (its submodules)"
        return _hooks_left(before[3], after[3] if len(after) > 3 else None)
    if kind == "seq":
        if after[1] != before[1] or len(after[2]) != len(before[2]):
            return " (its length)"
        for i, (b, a) in enumerate(zip(before[2], after[2])):
            where = changed_part(b, a)
            if where is not None:
                return f"[{i}]{where}"
        return None
    if kind == "dict":
        items_before, items_after = dict(before[1]), _pairs(after[1])
        if items_before.keys() != items_after.keys():
            return " (its keys)"
        for key, b in items_before.items():
            where = changed_part(b, items_after[key])
            if where is not None:
                return f"[{key}]{where}"
        return None
    raise ValueError(f"unknown image kind {kind!r}")


_HOOK_KINDS = ("forward", "forward-pre", "backward")


def _hook_counts(module: torch.nn.Module) -> tuple[int, int, int]:
    """How many forward, forward-pre and backward hooks (old-style, full and pre) are registered on
    `module` and its submodules: a hook left registered changes what the caller's model does."""
    counts = [0, 0, 0]
    for m in module.modules():
        counts[0] += len(getattr(m, "_forward_hooks", ()))
        counts[1] += len(getattr(m, "_forward_pre_hooks", ()))
        counts[2] += len(getattr(m, "_backward_hooks", ())) + len(getattr(m, "_backward_pre_hooks", ()))
    return (counts[0], counts[1], counts[2])


def _hooks_left(before: Any, after: Any) -> str | None:
    """ " (left 3 forward hooks registered on it)" where the hook counts differ, None where they agree."""
    if not isinstance(after, tuple) or len(after) != len(_HOOK_KINDS) or not all(type(n) is int for n in after):
        raise ValueError("the image of an argument after the call is malformed")
    if tuple(after) == tuple(before):
        return None
    added = [(n - b, kind) for b, n, kind in zip(before, after, _HOOK_KINDS) if n > b]
    if not added:
        return " (removed hooks that were registered on it)"
    parts = [f"{d} {kind} hook{'s' if d > 1 else ''}" for d, kind in added]
    return f" (left {' and '.join(parts)} registered on it)"


def _tensor(value: torch.Tensor, copy: bool) -> torch.Tensor:
    t = torch.Tensor.detach(value)
    return t.clone() if copy else t


def _key(key: Any) -> str:
    return repr(key)


def _pairs(value: Any) -> dict[Any, Any]:
    if not isinstance(value, tuple) or not all(isinstance(p, tuple) and len(p) == 2 for p in value):
        raise ValueError("malformed image")
    return dict(value)


def _expect_tensor(value: Any) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise ValueError("malformed image: a tensor was expected")
    return value


def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    same = a == b
    if a.is_floating_point() or a.is_complex():
        same = same | (torch.isnan(a) & torch.isnan(b))
    return bool(same.all())
