"""Answers checked against salted hashes, so that a student kit says right or wrong without the answer.

A recorded answer is a value of plain data (numbers, tensors, arrays, strings, bools, None, and
lists, tuples and dicts of these). Its *structure* (types, shapes, dict keys) is public and shown in
messages; its values are hashed. Integers, bools and strings are hashed exactly. Floating-point
numbers are compared at a stated precision: each float tensor (or number) gets a step, 10**(e - 3)
where 10**e is the leading power of ten of its largest finite magnitude (four significant digits; a
leaf of zeros gets 1e-6), and each element is rounded to a multiple of the step after adding an
offset of 0 or half a step, chosen per element when the kit is built so that the expected value lies
at least a quarter of a step away from a rounding boundary. An answer within a quarter of a step of
the expected value therefore always matches; one more than three quarters of a step away never does.
The offsets (one bit per element) and the steps are stored; they say nothing about the digits.

The hash is PBKDF2-HMAC-SHA256 with a random salt per answer, which makes trying candidate answers
slow, but a small space of answers (a single small integer) can still be searched: a problem whose
answer is one small number is better checked by the instructor alone.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from typing import Any

import numpy as np

DIGITS = 4
ZERO_STEP = 1e-6
_ITERATIONS = 20_000


@dataclass(frozen=True)
class HashedAnswer:
    """What a kit stores for one answer: its public structure and a salted hash of its values."""

    structure: str
    salt: str  # hex
    digest: str  # hex
    steps: tuple[float, ...]  # one per float leaf, in order
    offsets: tuple[str, ...]  # one per float leaf: hex of the packed offset bits


class NotPlainData(TypeError):
    """A value that is not plain data (an object from student code, a function)."""


def _flatten(value: Any, floats: list[np.ndarray], exact: list[str]) -> str:
    """The public structure of `value`; its float leaves and exact values are appended to the lists."""
    import torch

    if value is None or isinstance(value, (bool, np.bool_)):
        exact.append(repr(None if value is None else bool(value)))
        return "None" if value is None else "bool"
    if isinstance(value, str):
        exact.append(repr(value))
        return "str"
    if isinstance(value, (int, np.integer)):
        exact.append(str(int(value)))
        return "int"
    if isinstance(value, (float, np.floating)):
        floats.append(np.asarray([float(value)], dtype=np.float64))
        return "float"
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().resolve_conj().resolve_neg()
        if value.is_complex():
            value = torch.view_as_real(value)
        value = value.numpy(force=True) if value.dtype != torch.bfloat16 else value.double().numpy()
    if isinstance(value, np.ndarray):
        shape = "x".join(str(n) for n in value.shape) or "scalar"
        if value.dtype.kind == "b":
            exact.append(np.packbits(value.reshape(-1)).tobytes().hex())
            return f"bool tensor({shape})"
        if value.dtype.kind in "iu":
            exact.append(",".join(str(int(v)) for v in value.reshape(-1)))
            return f"int tensor({shape})"
        if value.dtype.kind in "fc":
            floats.append(np.asarray(value, dtype=np.float64).reshape(-1))
            return f"float tensor({shape})"
        raise NotPlainData(f"an array of dtype {value.dtype}")
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return f"{kind}[" + ", ".join(_flatten(v, floats, exact) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=repr)
        parts = []
        for k in keys:
            if not isinstance(k, (str, int, bool, float, tuple)) and k is not None:
                raise NotPlainData(f"a dict key of type {type(k).__name__}")
            parts.append(f"{k!r}: {_flatten(value[k], floats, exact)}")
        return "dict{" + ", ".join(parts) + "}"
    raise NotPlainData(f"a {type(value).__module__}.{type(value).__qualname__}")


def structure_of(value: Any) -> str:
    """The public structure of a plain value, e.g. `tuple[float tensor(2x3), int]`."""
    return _flatten(value, [], [])


def _step(x: np.ndarray) -> float:
    finite = np.abs(x[np.isfinite(x)])
    top = float(finite.max()) if finite.size else 0.0
    if top == 0.0:
        return ZERO_STEP
    return 10.0 ** (math.floor(math.log10(top)) - (DIGITS - 1))


def _offsets(x: np.ndarray, step: float) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        u = x / step
        frac = u - np.floor(u)
    return np.where(np.isfinite(frac) & (frac >= 0.25) & (frac < 0.75), 1, 0).astype(np.uint8)


def _codes(x: np.ndarray, step: float, offsets: np.ndarray) -> str:
    out = []
    with np.errstate(invalid="ignore", over="ignore"):
        q = np.floor(x / step + offsets * 0.5 + 0.5)
    for value, code in zip(x, q, strict=True):
        if math.isnan(value):
            out.append("nan")
        elif math.isinf(value):
            out.append("inf" if value > 0 else "-inf")
        elif not math.isfinite(code) or abs(code) > 1e300:
            out.append("huge")
        else:
            out.append(str(int(code)))
    return ",".join(out)


def _digest(structure: str, exact: list[str], codes: list[str], salt: bytes) -> str:
    text = "\0".join([structure, "|".join(exact), "|".join(codes)]).encode()
    return hashlib.pbkdf2_hmac("sha256", text, salt, _ITERATIONS).hex()


def hash_answer(value: Any) -> HashedAnswer:
    """Hash an expected answer (at kit-build time)."""
    floats: list[np.ndarray] = []
    exact: list[str] = []
    structure = _flatten(value, floats, exact)
    steps = tuple(_step(x) for x in floats)
    offsets = [_offsets(x, s) for x, s in zip(floats, steps, strict=True)]
    codes = [_codes(x, s, o) for x, s, o in zip(floats, steps, offsets, strict=True)]
    salt = secrets.token_bytes(16)
    return HashedAnswer(
        structure=structure,
        salt=salt.hex(),
        digest=_digest(structure, exact, codes, salt),
        steps=steps,
        offsets=tuple(np.packbits(o).tobytes().hex() for o in offsets),
    )


def matches(value: Any, answer: HashedAnswer) -> tuple[bool, str]:
    """Whether a student's value matches a hashed answer, and if not, what can be said without the answer."""
    floats: list[np.ndarray] = []
    exact: list[str] = []
    try:
        structure = _flatten(value, floats, exact)
    except NotPlainData as exc:
        return False, f"expected {answer.structure}, got {exc} (not plain data)"
    if structure != answer.structure:
        return False, f"expected {answer.structure}, got {structure}"
    codes = []
    for x, step, packed in zip(floats, answer.steps, answer.offsets, strict=True):
        offsets = np.unpackbits(np.frombuffer(bytes.fromhex(packed), dtype=np.uint8))[: x.size]
        codes.append(_codes(x, step, offsets))
    if _digest(structure, exact, codes, bytes.fromhex(answer.salt)) == answer.digest:
        return True, ""
    precision = ", ".join(f"{s:.0e}" for s in answer.steps)
    detail = f" (floats compared in steps of {precision})" if answer.steps else ""
    return False, f"the values differ from the expected {answer.structure}{detail}"


# -- the kit's side: replaying recorded calls on the student's module ------------------------------

ANSWERS_FILE = "kit_answers.pt"


@dataclass(frozen=True)
class RecordedCheck:
    """One recorded use of the student's module by a test: a call or an attribute read, and its answer."""

    test: str
    name: str
    kind: str  # "call" or "attribute"
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    description: str  # the input, readable
    answer: HashedAnswer
    pure: bool = False  # the test called it through call_pure: it must leave its arguments unchanged


def load_checks(test_file: str) -> list[RecordedCheck]:
    """The checks stored next to a kit's test file (course data, like the test file itself)."""
    from pathlib import Path

    import torch

    data = torch.load(Path(test_file).with_name(ANSWERS_FILE), weights_only=False)
    return [
        RecordedCheck(**{**c, "args": tuple(c["args"]), "answer": HashedAnswer(**c["answer"])}) for c in data["checks"]
    ]


def check_answers(student: Any, test_file: str, test: str) -> None:
    """Fail the test unless the student's module gives every answer recorded for `test`."""
    __tracebackhide__ = True
    checks = [c for c in load_checks(test_file) if c.test == test]
    for number, check in enumerate(checks, start=1):
        value = getattr(student, check.name)
        label = f"{check.name}({check.description})" if check.kind == "call" else check.name
        if check.kind == "call" and check.pure:
            from grader.grading.proxy import call_pure

            value = call_pure(value, *check.args, **check.kwargs)
        elif check.kind == "call":
            value = value(*check.args, **check.kwargs)
        ok, why = matches(value, check.answer)
        if not ok:
            raise AssertionError(
                f"{label}: wrong answer on fixed input {number} of {len(checks)}: {why}\n"
                "(The kit checks answers against salted hashes of the reference's answers, so it cannot show the "
                "expected values; numbers are compared to about four significant digits of the largest value.)"
            )
