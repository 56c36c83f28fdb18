"""The one comparison entry point for problem tests: :func:`assert_close`.

Checks come in a fixed order, each with a message a student can act on: the type, the structure
(length, keys), then for tensors the shape (no broadcasting), the dtype, finiteness, and finally the
values, with the mismatch count, the greatest absolute and relative differences with their index and
the allowed tolerance, and the expected and actual values there. Expected values are usually computed
in float64; tolerances depend on the dtype the student must return and scale with the size of the
values involved, so a correct float32 solution written another way passes while wrong ones do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from grader.grading.proxy import Remote, claimed_type


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float  # relative to the scale of the expected values


DEFAULT_TOLERANCES: dict[torch.dtype, Tolerance] = {
    torch.float16: Tolerance(rtol=1e-2, atol=1e-3),
    torch.bfloat16: Tolerance(rtol=3e-2, atol=1e-2),
    torch.float32: Tolerance(rtol=1e-4, atol=1e-5),
    torch.float64: Tolerance(rtol=1e-7, atol=1e-9),
    torch.complex64: Tolerance(rtol=1e-4, atol=1e-5),
    torch.complex128: Tolerance(rtol=1e-7, atol=1e-9),
}


def assert_close(
    actual: Any,
    expected: Any,
    *,
    dtype: torch.dtype | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    scale: float | None = None,
    equal_nan: bool = False,
    name: str = "result",
) -> None:
    """Fail with a precise message unless `actual` matches `expected`.

    - Containers (tuple, list, dict) must match in type and structure; elements are compared
      recursively and messages name the path (``dws[2]``, ``result['weight']``).
    - A tensor must be a plain tensor of exactly the expected shape and of dtype `dtype` (default:
      the expected tensor's dtype). Values compare as ``|a - e| <= atol * scale + rtol * |e|`` where
      `scale` defaults to the largest magnitude in the expected tensor (at least 1).
    - Python numbers compare by type class (bool, int exact; float with tolerance).
    """
    __tracebackhide__ = True
    opts = dict(dtype=dtype, rtol=rtol, atol=atol, scale=scale, equal_nan=equal_nan)
    try:
        _compare(actual, expected, name, **opts)
    except AssertionError:
        raise
    except Exception as exc:
        # Blame by origin: the expected value compares with itself, so what broke the comparison is
        # what the student's code returned (a value too deep, too large, or of a strange kind).
        if not _comparable(expected, name, opts):
            raise
        raise AssertionError(
            f"{name}: what was returned could not be compared with the expected value "
            f"({type(exc).__name__}: {_short(exc)}); expected {_describe(expected)}, got {_describe(actual)}"
        ) from None


def _comparable(expected: Any, name: str, opts: dict[str, Any]) -> bool:
    """Whether comparing the expected value with itself runs (a mismatch is fine: it ran)."""
    try:
        _compare(expected, expected, name, **{**opts, "equal_nan": True})
    except AssertionError:
        return True
    except Exception:  # noqa: BLE001 - any other failure here is the bank's
        return False
    return True


def _short(exc: BaseException, most: int = 300) -> str:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001
        return "?"
    return text if len(text) <= most else text[:most] + "..."


def _describe(value: Any) -> str:
    if isinstance(value, Remote):
        return f"an object of type {claimed_type(value)}"
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, (bool, int, float)):
        return f"the {type(value).__name__} {value!r}"
    return f"a {type(value).__name__}"


def _compare(actual: Any, expected: Any, path: str, **opts: Any) -> None:
    __tracebackhide__ = True
    if isinstance(expected, torch.Tensor):
        if type(actual) is not torch.Tensor:
            raise AssertionError(f"{path}: expected a tensor, got {_describe(actual)}")
        _compare_tensors(actual, expected, path, **opts)
    elif isinstance(expected, np.ndarray):
        if type(actual) is not np.ndarray:
            raise AssertionError(f"{path}: expected a numpy array, got {_describe(actual)}")
        _compare_tensors(torch.from_numpy(actual), torch.from_numpy(expected), path, **opts)
    elif isinstance(expected, (tuple, list)):
        if type(actual) is not type(expected):
            raise AssertionError(
                f"{path}: expected a {type(expected).__name__} of length {len(expected)}, got {_describe(actual)}"
            )
        if len(actual) != len(expected):
            raise AssertionError(f"{path}: expected length {len(expected)}, got length {len(actual)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, f"{path}[{i}]", **opts)
    elif isinstance(expected, dict):
        if not isinstance(actual, dict):
            raise AssertionError(f"{path}: expected a dict, got {_describe(actual)}")
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing keys {missing!r}")
            if extra:
                parts.append(f"unexpected keys {extra!r}")
            raise AssertionError(f"{path}: {' and '.join(parts)}")
        for k, e in expected.items():
            _compare(actual[k], e, f"{path}[{k!r}]", **opts)
    elif isinstance(expected, bool):
        if type(actual) is not bool:
            raise AssertionError(f"{path}: expected a bool ({expected}), got {_describe(actual)}")
        if actual != expected:
            raise AssertionError(f"{path}: expected {expected}, got {actual}")
    elif isinstance(expected, int):
        if type(actual) is not int:
            raise AssertionError(f"{path}: expected an int ({expected}), got {_describe(actual)}")
        if actual != expected:
            raise AssertionError(f"{path}: expected {expected}, got {actual} (off by {actual - expected})")
    elif isinstance(expected, float):
        if type(actual) not in (float, int) or isinstance(actual, bool):
            raise AssertionError(f"{path}: expected a float, got {_describe(actual)}")
        _compare_tensors(
            torch.tensor(float(actual), dtype=torch.float64),
            torch.tensor(expected, dtype=torch.float64),
            path,
            **{**opts, "dtype": torch.float64},
        )
    elif expected is None:
        if actual is not None:
            raise AssertionError(f"{path}: expected None, got {_describe(actual)}")
    else:
        if type(actual) is not type(expected) or actual != expected:
            raise AssertionError(f"{path}: expected {expected!r}, got {actual!r}")


def _index(flat_index: int, shape: torch.Size) -> tuple[int, ...]:
    out = []
    for size in reversed(shape):
        out.append(flat_index % size)
        flat_index //= size
    return tuple(reversed(out))


def _compare_tensors(
    actual: torch.Tensor,
    expected: torch.Tensor,
    path: str,
    *,
    dtype: torch.dtype | None,
    rtol: float | None,
    atol: float | None,
    scale: float | None,
    equal_nan: bool,
) -> None:
    __tracebackhide__ = True
    want_dtype = dtype or expected.dtype
    if actual.shape != expected.shape:
        raise AssertionError(
            f"{path}: the shape does not match: expected {tuple(expected.shape)}, got {tuple(actual.shape)}"
        )
    if actual.dtype != want_dtype:
        raise AssertionError(f"{path}: the dtype does not match: expected {want_dtype}, got {actual.dtype}")
    if not (want_dtype.is_floating_point or want_dtype.is_complex):
        diff = actual != expected.to(want_dtype)
        if bool(diff.any()):
            n = int(diff.sum())
            first = _index(int(diff.reshape(-1).nonzero()[0]), actual.shape)
            raise AssertionError(
                f"{path}: values do not match\n"
                f"Mismatched elements: {n} / {actual.numel()} ({100 * n / max(actual.numel(), 1):.1f}%)\n"
                f"First mismatch at index {first}: expected {expected[first].item()}, got {actual[first].item()}"
            )
        return
    tol = DEFAULT_TOLERANCES[want_dtype]
    rtol = tol.rtol if rtol is None else rtol
    atol = tol.atol if atol is None else atol
    if not want_dtype.is_complex and _all_close_numpy(actual, expected, rtol, atol, scale, equal_nan):
        return  # the passing case, decided in numpy; a mismatch is described by the full path below
    e = expected.detach().to(torch.complex128 if want_dtype.is_complex else torch.float64)
    a = actual.detach().to(e.dtype)
    e_finite = torch.isfinite(e)
    if scale is None:
        scale = max(1.0, float(e.abs()[e_finite].max())) if bool(e_finite.any()) else 1.0
    allowed_abs = atol * scale
    a_nan, e_nan = torch.isnan(a), torch.isnan(e)
    a_bad = ~torch.isfinite(a) & e_finite
    if bool(a_bad.any()):
        n = int(a_bad.sum())
        first = _index(int(a_bad.reshape(-1).nonzero()[0]), a.shape)
        kinds = "NaN" if bool(a_nan[a_bad].all()) else "non-finite (inf or NaN)"
        raise AssertionError(
            f"{path}: {n} / {a.numel()} values are {kinds} where finite values were expected\n"
            f"First at index {first}: expected {_fmt(e[first].item())}, got {_fmt(a[first].item())}"
        )
    diff = (a - e).abs()
    close = diff <= allowed_abs + rtol * e.abs()
    # Non-finite expected values must be matched exactly (inf with the same sign; NaN only if equal_nan).
    close = torch.where(e_finite, close, (a == e) | (e_nan & a_nan & equal_nan))
    if bool(close.all()):
        return
    mismatched = ~close
    n = int(mismatched.sum())
    diff = torch.where(mismatched & e_finite, diff, torch.zeros_like(diff))
    worst_abs = int(diff.reshape(-1).argmax())
    rel = diff / e.abs().clamp_min(torch.finfo(torch.float64).tiny)
    worst_rel = int(torch.where(mismatched, rel, torch.zeros_like(rel)).reshape(-1).argmax())
    i_abs, i_rel = _index(worst_abs, a.shape), _index(worst_rel, a.shape)
    first = _index(int(mismatched.reshape(-1).nonzero()[0]), a.shape)
    at = i_abs if bool(e_finite.reshape(-1)[worst_abs]) and n else first
    raise AssertionError(
        f"{path}: values are not close\n"
        f"Mismatched elements: {n} / {a.numel()} ({100 * n / a.numel():.1f}%)\n"
        f"Greatest absolute difference: {_fmt(diff.reshape(-1)[worst_abs].item())} at index {i_abs} "
        f"(up to {_fmt(allowed_abs)} allowed)\n"
        f"Greatest relative difference: {_fmt(rel.reshape(-1)[worst_rel].item())} at index {i_rel} "
        f"(up to {_fmt(rtol)} allowed)\n"
        f"At index {at}: expected {_fmt(e[at].item())}, got {_fmt(a[at].item())}"
    )


def _all_close_numpy(
    actual: torch.Tensor,
    expected: torch.Tensor,
    rtol: float,
    atol: float,
    scale: float | None,
    equal_nan: bool,
) -> bool:
    """Whether every value is close, decided exactly as the torch path below decides it, in numpy.

    The same float64 operations in the same order (widening float32 or float16 to float64 is exact),
    at a few microseconds for the small tensors tests compare, against tens for a dozen torch calls.
    False sends the comparison to the full path, which decides again and words the message.
    """
    try:
        e = expected.detach().cpu().numpy().astype(np.float64, copy=False)
        a = actual.detach().cpu().numpy().astype(np.float64, copy=False)
    except (TypeError, RuntimeError, ValueError):  # a dtype numpy has not (bfloat16), a view it cannot take
        return False
    e_finite = np.isfinite(e)
    if scale is None:
        scale = max(1.0, float(np.abs(e[e_finite]).max())) if e_finite.any() else 1.0
    if (~np.isfinite(a) & e_finite).any():
        return False
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.abs(a - e) <= atol * scale + rtol * np.abs(e)
        if not e_finite.all():
            close = np.where(e_finite, close, (a == e) | (np.isnan(e) & np.isnan(a) & equal_nan))
    return bool(close.all())


def _fmt(x: Any) -> str:
    if isinstance(x, complex):
        return repr(x)
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return str(x)
    return f"{x:.6g}" if isinstance(x, float) else str(x)
