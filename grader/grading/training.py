"""Calls that train a model in place: the trained state comes back as plain tensors into a trusted copy.

Every other call into student code must leave its arguments alone (`call_pure`). A training function
is the exception: `train(model, images, labels, ...)` changes `model`. The sandbox got a copy of the
model, so the trusted side's model never changes; :func:`call_training` asks the sandbox for the
state of its copy after the call (the same images of the arguments that `call_pure` compares) and
loads it into a fresh copy of the test's own model, built here from the test's own architecture.
The test then evaluates that copy itself: no claim of the sandbox about accuracy or loss is believed.

The call runs under the problem's training budget (`[limits]` `train_timeout`, wall seconds, and
`train_cpu_seconds`, CPU seconds as the kernel counts them for the sandbox process, read from /proc
on this side), and what it may send back is bounded by the size of what it was given.

A test may also record per-epoch figures with :func:`record_curve`; the grading plugin stores them
with the test's result, and the student's page draws them.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from grader.course.spec import Limits
from grader.sandbox.purity import argument_images, changed_arguments, changed_part

_REPLY_SLACK = 16 << 20  # bytes a reply may carry beyond twice the arguments' own tensors
_CURVE_POINTS = 200  # at most this many points per series are kept
_CURVES_PER_TEST = 4


@dataclass(frozen=True)
class Trained:
    """What a training call produced, on the trusted side.

    `model` is a fresh copy of the model given to the call, holding the state the call left in the
    sandbox's copy and its train/eval modes; `value` is what the call returned (plain data);
    `changed` names the other arguments the call modified ("argument 2"); `mode_change` says where the
    modes after the call differ from those before it (" (train/eval mode of 3)"), or is None.
    """

    value: Any
    model: nn.Module
    changed: tuple[str, ...]
    mode_change: str | None


def budget_note(limits: Limits) -> str:
    """The end of a budget message: where the budget comes from, and the reference's recorded time."""
    note = " (the training budget in problem.toml"
    if limits.train_reference_seconds is not None:
        note += f"; the reference trains in about {limits.train_reference_seconds:g} s of CPU time"
    return note + ")"


def call_training(fn: Any, model: nn.Module, *args: Any, **kwargs: Any) -> Trained:
    """Call `fn(model, *args, **kwargs)`, which trains `model` in place, and bring the trained state back.

    `fn` is a student's function (it runs in the sandbox, under the problem's training budget) or
    plain code such as the reference (it runs here, on copies of the arguments, so the test's own
    objects never change either way). A state that does not fit `model` (other names, shapes or
    dtypes; submodules added or removed) fails the test with an AssertionError that says what differs.
    """
    __tracebackhide__ = True
    from grader.grading.proxy import CallBudget, Remote, plain_call

    if not isinstance(model, nn.Module):
        raise TypeError(f"call_training takes the model to train first, not {type(model).__name__}")
    before = argument_images((model, *args), kwargs)
    if isinstance(fn, Remote):
        session = object.__getattribute__(fn, "_session")
        limits: Limits = session.limits
        budget = CallBudget(
            wall_seconds=limits.train_timeout,
            cpu_seconds=limits.train_cpu_seconds,
            reply_bytes=2 * _tensor_bytes(before) + _REPLY_SLACK,
            note=budget_note(limits),
        )
        value, after = fn._call((model, *args), kwargs, check_args=True, budget=budget)
        label = object.__getattribute__(fn, "_label")
    elif callable(fn):
        copies = copy.deepcopy(((model, *args), kwargs))
        with plain_call("training"):
            value = fn(*copies[0], **copies[1])
        after = argument_images(copies[0], copies[1], copy=False)
        label = getattr(fn, "__name__", "the function")
    else:
        raise TypeError(f"call_training takes a function, not {type(fn).__name__}")
    if not isinstance(after, (list, tuple)) or len(after) != len(before):
        raise AssertionError(f"{label}: no readable account of the trained model came back from its sandbox")
    trained = _trained_copy(model, before[0], after[0], label)
    try:
        changed = changed_arguments(before[1:], list(after[1:]), kwargs)
        # The modes alone: hooks left on the sandbox's copy of the model do not reach the trained copy.
        hooks = before[0][3]
        mode_change = changed_part(("module", (), before[0][2], hooks), ("module", (), after[0][2], hooks))
    except (ValueError, TypeError, IndexError):
        raise AssertionError(f"{label}: no readable account of its arguments came back from its sandbox") from None
    changed = [_shift_argument(name) for name in changed]
    return Trained(value=value, model=trained, changed=tuple(changed), mode_change=mode_change)


def _shift_argument(name: str) -> str:
    """'argument 1' of the arguments after the model is the call's argument 2."""
    head, _, rest = name.partition(" ")
    number, _, tail = rest.partition(" ")
    if head == "argument" and number.isdigit():
        return f"argument {int(number) + 1}" + (f" {tail}" if tail else "")
    return name


def _trained_copy(model: nn.Module, before: tuple[Any, ...], after: Any, label: str) -> nn.Module:
    """A copy of `model` holding the state and modes of the image `after`, which must fit `model` exactly."""
    __tracebackhide__ = True
    if not isinstance(after, tuple) or len(after) != 4 or after[0] != "module":
        raise AssertionError(f"{label}: no readable account of the trained model came back from its sandbox")
    try:
        state = dict(after[1])
        modes = [tuple(m) for m in after[2]]
    except (TypeError, ValueError):
        raise AssertionError(f"{label}: no readable account of the trained model came back from its sandbox") from None
    expected = dict(before[1])
    if set(state) != set(expected):  # the same names in another order load as well
        missing = [k for k in expected if k not in state]
        extra = [str(k) for k in state if k not in expected]
        parts = ([f"lacks {', '.join(missing[:5])}"] if missing else []) + (
            [f"has {', '.join(extra[:5])} besides"] if extra else []
        )
        raise AssertionError(f"{label} changed the model's architecture: its state " + "; ".join(parts))
    for key, original in expected.items():
        value = state[key]
        if not isinstance(value, torch.Tensor):
            raise AssertionError(f"{label} left the model's {key} as a {type(value).__name__}, not a tensor")
        if value.shape != original.shape or value.dtype != original.dtype:
            raise AssertionError(
                f"{label} changed the model's {key}: it is now {tuple(value.shape)} {value.dtype}, "
                f"but the model's is {tuple(original.shape)} {original.dtype}"
            )
    if not all(len(m) == 3 and type(m[0]) is str and type(m[1]) is bool for m in modes):
        raise AssertionError(f"{label}: no readable account of the trained model came back from its sandbox")
    if len(modes) != len(before[2]) or {m[0] for m in modes} != {m[0] for m in before[2]}:
        raise AssertionError(f"{label} changed the model's submodules")
    trained = copy.deepcopy(model)
    own = trained.state_dict(keep_vars=True)
    with torch.no_grad():
        for key, value in state.items():
            own[key].copy_(value)
    training = {name: flag for name, flag, _ in modes}
    for name, module in trained.named_modules():
        module.training = training[name]
    return trained


def _tensor_bytes(image: Any) -> int:
    """The bytes of the tensors in an image (grader.sandbox.purity)."""
    if isinstance(image, torch.Tensor):
        return image.numel() * image.element_size()
    if isinstance(image, (list, tuple)):
        return sum(_tensor_bytes(x) for x in image)
    return 0


# -- learning curves ------------------------------------------------------------------------------------

_recorded: list[dict[str, Any]] = []
_writes = [0]  # how many times a curve was recorded in this process (a test that records one has no call stream)


def curves_written() -> int:
    """How many curves this process has recorded so far (grader.grading.call_stream compares two counts)."""
    return _writes[0]


def record_curve(
    title: str,
    student: Sequence[float],
    reference: Sequence[float],
    *,
    y_label: str = "accuracy",
    x_label: str = "epoch",
) -> None:
    """Record one figure per epoch (the student's and the reference's) with the running test's result.

    The student's page draws it. A test that records the same title again (another Hypothesis example)
    replaces it; values are rounded to 4 decimals so that the same run gives the same record.
    """
    _writes[0] += 1
    entry = {
        "title": str(title)[:120],
        "x_label": str(x_label)[:40],
        "y_label": str(y_label)[:40],
        "student": _series(student),
        "reference": _series(reference),
    }
    for i, old in enumerate(_recorded):
        if old["title"] == entry["title"]:
            _recorded[i] = entry
            return
    if len(_recorded) < _CURVES_PER_TEST:
        _recorded.append(entry)


def take_curves() -> tuple[dict[str, Any], ...]:
    """The curves recorded since the last call (the grading plugin calls it once per test)."""
    out = tuple(_recorded)
    _recorded.clear()
    return out


def put_back_curves(curves: tuple[dict[str, Any], ...]) -> None:
    """Make `curves` the recorded ones again (after a run of the test that must not record its own)."""
    _recorded[:] = list(curves)


def _series(values: Sequence[float]) -> list[float | None]:
    out: list[float | None] = []
    for v in list(values)[:_CURVE_POINTS]:
        try:
            f = float(v)
        except (TypeError, ValueError, OverflowError):
            out.append(None)
            continue
        out.append(round(f, 4) if math.isfinite(f) else None)
    return out


__all__ = ["Trained", "budget_note", "call_training", "put_back_curves", "record_curve", "take_curves"]
