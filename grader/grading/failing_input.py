"""Describing the calls a test made into the student's code, so that feedback shows the input that failed.

Problem tests draw small descriptions (seeds, configurations) and build tensors and modules from them,
so Hypothesis's smallest failing example shows a seed, not the tensors. The trusted side knows every
call it sends to the sandbox; this module turns the last ones into text: for each argument its type,
shape and dtype, the values of a small tensor, a summary of a large one (min, max, mean, leading
values), and a module's configuration (its `repr`, dtype and mode, BatchNorm statistics).

The text is bounded (`MAX_CHARS`) and deterministic: the same arguments always give the same text
(no memory addresses, fixed number formats).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_CHARS = 4000  # the whole description
SMALL_TENSOR = 32  # tensors with at most this many elements are printed in full
LEADING_VALUES = 6  # values shown at the start of a larger tensor
MAX_ITEMS = 8  # elements of a list, tuple or dict described one by one
_MAX_REPR = 300  # characters of any other object's repr
_INDENT = "    "
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")


@dataclass(frozen=True)
class Call:
    """One call sent to the sandbox: what was called (as the tests name it) and with what."""

    label: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


def describe_calls(calls: Sequence[Call], *, limit: int = MAX_CHARS) -> str:
    """The calls, oldest first, each with its arguments; at most `limit` characters."""
    text = "\n".join(describe_call(c) for c in calls)
    if len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        text = text[: cut if cut > 0 else limit] + f"\n[... {len(text) - (cut if cut > 0 else limit)} more characters]"
    return text


def describe_call(call: Call) -> str:
    """`label(` then one argument a line (positional ones as `[0]`, `[1]`, keywords by name), then `)`."""
    if not call.args and not call.kwargs:
        return f"{call.label}()"
    lines = [f"{call.label}("]
    named = [(f"[{i}]", a) for i, a in enumerate(call.args)] + [(f"{k}=", v) for k, v in call.kwargs.items()]
    for name, value in named:
        try:
            described = describe_value(value)
        except Exception as exc:  # noqa: BLE001  (feedback must never turn into a grader error)
            described = f"{type(value).__name__} (could not be described: {type(exc).__name__})"
        first, *rest = described.splitlines() or [""]
        sep = "" if name.endswith("=") else " "
        lines.append(f"{_INDENT}{name}{sep}{first}")
        lines.extend(f"{_INDENT}{_INDENT}{line}" for line in rest)
    lines.append(")")
    return "\n".join(lines)


def describe_value(value: Any, *, depth: int = 0) -> str:
    """One value as text; may span several lines (a module and its statistics)."""
    import torch

    if isinstance(value, torch.Tensor):
        return describe_tensor(value)
    if isinstance(value, torch.nn.Module):
        return describe_module(value)
    if _is_ndarray(value):
        return "numpy " + describe_tensor(torch.from_numpy(value))
    if isinstance(value, (list, tuple)) and depth < 3:
        return _describe_sequence(value, depth)
    if isinstance(value, dict) and depth < 3:
        items = list(value.items())
        inner = [f"{_short(k)}: {_one_line(describe_value(v, depth=depth + 1))}" for k, v in items[:MAX_ITEMS]]
        more = [f"... {len(items) - MAX_ITEMS} more"] if len(items) > MAX_ITEMS else []
        return "{" + ", ".join(inner + more) + "}"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, torch.dtype):
        return str(value).replace("torch.", "")
    return _short(value)  # numbers, strings, None, student objects (`<student ... object>`), anything else


def _describe_sequence(value: list[Any] | tuple[Any, ...], depth: int) -> str:
    open_, close = ("[", "]") if isinstance(value, list) else ("(", ")")
    parts = [describe_value(v, depth=depth + 1) for v in value[:MAX_ITEMS]]
    more = [f"... {len(value) - MAX_ITEMS} more"] if len(value) > MAX_ITEMS else []
    if any("\n" in p for p in parts) or sum(len(p) for p in parts) > 100:
        # One element a line, so that tensors and modules inside stay readable.
        lines = [f"{type(value).__name__} of {len(value)}:"]
        lines += [f"{_INDENT}[{i}] " + p.replace("\n", "\n" + _INDENT * 2) for i, p in enumerate(parts)]
        return "\n".join(lines + [_INDENT + m for m in more])
    trailing = "," if isinstance(value, tuple) and len(value) == 1 else ""
    return open_ + ", ".join(parts + more) + trailing + close


def describe_tensor(t: Any) -> str:
    """`tensor (2, 3) float32 [[...]]` for a small tensor; shape, dtype and a summary for a large one."""
    import torch

    t = t.detach()
    dtype = str(t.dtype).replace("torch.", "")
    head = f"tensor {tuple(t.shape)} {dtype}"
    if t.layout != torch.strided or t.device.type == "meta":
        return f"{head} ({t.layout}, on {t.device.type})"
    t = t.cpu()
    n = t.numel()
    if n == 0:
        return f"{head} (empty)"
    if t.is_complex():
        return f"{head}: {n} complex values"
    if n <= SMALL_TENSOR:
        return f"{head} {_nested(t.tolist())}"
    flat = t.reshape(-1)
    leading = ", ".join(_scalar(v) for v in flat[:LEADING_VALUES].tolist())
    if t.dtype == torch.bool:
        return f"{head}: {n} values, {int(flat.sum())} True; first {leading}, ..."
    values = flat.double()
    finite = torch.isfinite(values)
    summary = f"{head}: {n} values"
    bad = n - int(finite.sum())
    if bad:
        nans = int(torch.isnan(values).sum())
        summary += (
            f" ({nans} NaN, {bad - nans} infinite)"
            if nans and bad - nans
            else (f" ({nans} NaN)" if nans else f" ({bad} infinite)")
        )
    if bad < n:
        kept = values[finite]
        summary += (
            f", min {_number(kept.min().item())}, max {_number(kept.max().item())}, mean {_number(kept.mean().item())}"
        )
    return f"{summary}; first {leading}, ..."


def describe_module(module: Any) -> str:
    """The module's repr, its dtype and mode, and the statistics of every BatchNorm in it."""
    import torch

    tensors = [*module.parameters(), *module.buffers()]
    dtypes = sorted({str(t.dtype).replace("torch.", "") for t in tensors if t.is_floating_point()})
    facts = [", ".join(dtypes)] if dtypes else []
    facts.append("training mode" if module.training else "eval mode")
    text = _ADDRESS.sub("0x…", repr(module))
    lines = [f"{text}  ({'; '.join(facts)})"]
    for name, sub in module.named_modules():
        if not isinstance(sub, torch.nn.modules.batchnorm._BatchNorm):
            continue
        prefix = f"{name}." if name else ""
        for attribute in ("running_mean", "running_var", "weight", "bias"):
            value = getattr(sub, attribute, None)
            if isinstance(value, torch.Tensor):
                lines.append(f"  {prefix}{attribute}: {describe_tensor(value)}")
    return "\n".join(lines)


def _nested(values: Any) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v) for v in values) + "]"
    return _scalar(values)


def _scalar(v: Any) -> str:
    return _number(v) if isinstance(v, float) else str(v)


def _number(x: float) -> str:
    """Four significant digits, the same on every machine (`1.235`, `-2.5e-07`, `nan`, `inf`)."""
    return f"{x:.4g}"


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines())


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001  (a repr that fails is described by its type)
        text = f"<{type(value).__name__} (repr failed: {type(exc).__name__})>"
    text = _ADDRESS.sub("0x…", text)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def _is_ndarray(value: Any) -> bool:
    return type(value).__module__ == "numpy" and type(value).__name__ == "ndarray"
