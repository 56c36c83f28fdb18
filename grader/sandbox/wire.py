"""The bytes that cross the trust boundary: framing, and the safe codec for results.

Trusted to sandbox: arguments are pickled (the sandbox may unpickle what the trusted side made).
Sandbox to trusted: results are encoded as a JSON tree plus raw byte blobs, and the trusted side
decodes them with :func:`decode_value`, which builds only plain data (tensors, arrays, numbers,
strings, bools, None, and lists/tuples/dicts of these) and :class:`HandleRef` markers for objects
that stay in the sandbox. Nothing from the sandbox is ever unpickled.
"""

from __future__ import annotations

import json
import math
import socket
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

MAX_FRAME_BYTES = 1 << 30  # one message from the sandbox may not exceed 1 GiB
MAX_HEADER_BYTES = 16 << 20
MAX_BLOBS = 1_000_000
MAX_DEPTH = 64
MAX_STRING = 1 << 20

_TORCH_DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
    "uint8": torch.uint8,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
}
_TORCH_DTYPE_NAMES = {v: k for k, v in _TORCH_DTYPES.items()}
_TORCH_ITEMSIZES = {d: torch.empty((), dtype=d).element_size() for d in _TORCH_DTYPES.values()}
_NUMPY_KINDS = set("biufc")


class WireError(Exception):
    """A message from the sandbox that is not well-formed plain data."""


class ProtocolError(WireError):
    """Bytes on the channel that are not a message: a malformed or oversized frame, or a bad reply."""


class ReplyTooLarge(ProtocolError):
    """A message larger than the limit its receiver set."""


class ChannelClosed(Exception):
    """The other end of the channel went away."""


@dataclass(frozen=True)
class HandleRef:
    """An object that stayed in the sandbox: its id in the sandbox's table and what it is."""

    id: int
    type_name: str
    callable: bool


# ---------------------------------------------------------------------------------------------
# Framing: a message is a JSON header and a list of binary blobs.

_COUNTS = struct.Struct("!II")  # header length, number of blobs
_SIZE = struct.Struct("!Q")  # one blob's length
_BUFFER = 1 << 16


class Channel:
    """One end of a message stream over a connected socket: whole messages out, buffered reads in.

    A call into the sandbox is one message each way, and a small message arrives in one read, not
    one per field. Blobs come back as fresh bytearrays, so tensors can be built on them without a copy.

    With a `deadline` (a `time.monotonic()` instant), `send` and `recv` raise TimeoutError once it has
    passed, however the other end paces its bytes: each read waits only for what is left of the
    whole message's time, so a peer that dribbles a message byte by byte cannot stretch it.
    """

    __slots__ = ("sock", "_buf", "_view", "_start", "_end", "_deadline")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = bytearray(_BUFFER)
        self._view = memoryview(self._buf)
        self._start = self._end = 0
        self._deadline: float | None = None

    def send(
        self, header: Mapping[str, Any], blobs: list[bytes] | tuple[bytes, ...] = (), *, deadline: float | None = None
    ) -> None:
        self.send_frames(frame(header, blobs), deadline=deadline)

    def send_frames(self, parts: list[bytes], *, deadline: float | None = None) -> None:
        """Send whole messages made by `frame` (one or several, back to back)."""
        if deadline is not None:
            # sendall's timeout bounds the whole call (not each chunk) since Python 3.5.
            self.sock.settimeout(_remaining(deadline))
        if sum(len(part) for part in parts) < (1 << 20):
            self.sock.sendall(b"".join(parts))
        else:
            for part in parts:
                if deadline is not None:
                    self.sock.settimeout(_remaining(deadline))
                self.sock.sendall(part)

    def recv(
        self, *, limit: int = MAX_FRAME_BYTES, deadline: float | None = None
    ) -> tuple[dict[str, Any], list[bytearray]]:
        """The next whole message; ProtocolError for bytes that are not one, TimeoutError past `deadline`."""
        self._deadline = deadline
        head_len, n_blobs = _COUNTS.unpack(self._take(_COUNTS.size))
        if head_len > min(MAX_HEADER_BYTES, limit) or n_blobs > MAX_BLOBS:
            raise ProtocolError(f"message header too large ({head_len} bytes, {n_blobs} blobs)")
        try:
            header = json.loads(self._take(head_len))
        except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested deeper than Python's stack
            raise ProtocolError(f"message header is not JSON: {type(exc).__name__}") from None
        if not isinstance(header, dict):
            raise ProtocolError("message header is not an object")
        blobs = []
        total = head_len
        for _ in range(n_blobs):
            (size,) = _SIZE.unpack(self._take(_SIZE.size))
            total += size
            if total > limit:
                raise ReplyTooLarge(f"message larger than the limit of {limit >> 20} MiB")
            blobs.append(self._take(size))
        return header, blobs

    def _take(self, n: int) -> bytearray:
        """The next `n` bytes of the stream, as a new bytearray."""
        have = self._end - self._start
        if have >= n:
            out = bytearray(self._view[self._start : self._start + n])
            self._start += n
            return out
        if n <= _BUFFER:  # a short read: refill the buffer (moving what is left to its front)
            self._buf[:have] = self._buf[self._start : self._end]  # same length: no resize, copy-safe
            self._start, self._end = 0, have
            while self._end < n:
                self._end += self._recv_into(self._view[self._end :])
            return self._take(n)
        out = bytearray(n)  # a large blob: what is buffered, then the rest read straight into place
        out[:have] = self._view[self._start : self._end]
        self._start = self._end = 0
        view = memoryview(out)
        while have < n:
            have += self._recv_into(view[have:])
        return out

    def _recv_into(self, view: memoryview) -> int:
        if self._deadline is not None:
            self.sock.settimeout(_remaining(self._deadline))
        k = self.sock.recv_into(view)
        if k == 0:
            raise ChannelClosed("the channel closed")
        return k


def frame(header: Mapping[str, Any], blobs: list[bytes] | tuple[bytes, ...] = ()) -> list[bytes]:
    """One message's bytes, in parts: counts, the JSON header, then each blob's length and bytes."""
    head = json.dumps(header, allow_nan=False).encode()
    parts: list[bytes] = [_COUNTS.pack(len(head), len(blobs)), head]
    for blob in blobs:
        parts.append(_SIZE.pack(len(blob)))
        parts.append(blob)
    return parts


def _remaining(deadline: float) -> float:
    """Seconds left until `deadline`; TimeoutError once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the deadline for this message passed")
    return left


# ---------------------------------------------------------------------------------------------
# Encoding (runs in the sandbox, on whatever the student returned).


def encode_value(
    value: Any, store_handle: Callable[[Any], HandleRef], blobs: list[bytes] | None = None
) -> tuple[Any, list[bytes]]:
    """Encode `value` as a JSON tree and blobs; objects that are not plain data become handles.

    Blobs are appended to `blobs` when given (a second value encoded into the same message: its tree
    numbers its blobs after those already there), else to a new list; the list is returned.
    """
    if blobs is None:
        blobs = []

    def enc(v: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"result nested deeper than {MAX_DEPTH} levels")
        if v is None:
            return {"t": "none"}
        if isinstance(v, bool):
            return {"t": "bool", "v": bool(v)}
        if isinstance(v, int):
            return {"t": "int", "v": str(int(v))}
        if isinstance(v, float):
            return {"t": "float", "v": repr(float(v))}
        if isinstance(v, complex):
            return {"t": "complex", "re": repr(v.real), "im": repr(v.imag)}
        if isinstance(v, str):
            return {"t": "str", "v": str(v)}
        if isinstance(v, torch.Tensor) and v.layout == torch.strided and v.dtype in _TORCH_DTYPE_NAMES:
            blobs.append(tensor_bytes(v))
            return {"t": "tensor", "dtype": _TORCH_DTYPE_NAMES[v.dtype], "shape": list(v.shape), "blob": len(blobs) - 1}
        if isinstance(v, np.ndarray) and v.dtype.kind in _NUMPY_KINDS:
            a = np.ascontiguousarray(v)
            blobs.append(a.tobytes())
            return {"t": "ndarray", "dtype": a.dtype.str, "shape": list(a.shape), "blob": len(blobs) - 1}
        if isinstance(v, np.generic) and v.dtype.kind in _NUMPY_KINDS:
            return {"t": "npscalar", "dtype": v.dtype.str, "v": enc(v.item(), depth + 1)}
        if isinstance(v, torch.dtype) and v in _TORCH_DTYPE_NAMES:
            return {"t": "dtype", "v": _TORCH_DTYPE_NAMES[v]}
        if isinstance(v, (tuple, list)) and type(v) in (tuple, list, torch.Size) or _is_namedtuple(v):
            kind = "list" if isinstance(v, list) else "tuple"
            return {"t": kind, "items": [enc(x, depth + 1) for x in v]}
        if isinstance(v, dict) and all(isinstance(k, (str, int)) for k in v):
            return {"t": "dict", "items": [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in v.items()]}
        ref = store_handle(v)
        return {"t": "handle", "id": ref.id, "type": ref.type_name, "callable": ref.callable}

    return enc(value, 0), blobs


def tensor_bytes(v: torch.Tensor) -> bytes:
    """The elements of a strided tensor (any device, strides or subclass) in row-major order."""
    t = torch.Tensor.detach(v)
    if type(t) is not torch.Tensor:
        t = t.as_subclass(torch.Tensor)
    if t.device.type != "cpu":
        t = t.cpu()
    if t.is_conj() or t.is_neg():
        t = t.resolve_conj().resolve_neg()
    if t.dtype is torch.bfloat16:  # numpy has no bfloat16: the same bytes, seen as int16
        t = t.view(torch.int16)
    return t.numpy().tobytes() if t.numel() else b""  # numpy copies in C order, whatever the strides


def tensor_from_bytes(raw: bytes | bytearray, dtype: str, shape: tuple[int, ...] | list[int]) -> torch.Tensor:
    """A fresh, writable tensor of `dtype` and `shape` holding `raw` (its elements in row-major order).

    A bytearray is used in place (the tensor keeps it alive): give each one to a single tensor.
    """
    if not raw:
        return torch.empty(shape, dtype=_TORCH_DTYPES[dtype])
    if type(raw) is not bytearray:
        raw = bytearray(raw)
    return torch.frombuffer(raw, dtype=_TORCH_DTYPES[dtype]).reshape(shape)


def reduce_plain_tensor(obj: Any) -> Any:
    """A cheap pickle reduction for a plain, dense CPU tensor; NotImplemented for anything else.

    Arguments go to the sandbox by pickle, and torch's own reduction of a tensor runs `torch.save` on
    each side: a quarter of a small call's cost. This one sends the elements' bytes (a bytearray,
    which the sandbox unpickles as one and uses in place), the dtype and the shape, and the sandbox
    rebuilds the same values (a tensor that needs more, such as one that requires grad, a subclass or
    a view that shares memory with another argument, keeps torch's reduction).
    """
    if (
        type(obj) is not torch.Tensor
        or obj.layout != torch.strided
        or obj.device.type != "cpu"
        or obj.requires_grad
        or obj.dtype not in _TORCH_DTYPE_NAMES
        or not obj.is_contiguous()
        or obj.is_conj()
        or obj.is_neg()
    ):
        return NotImplemented
    return tensor_from_bytes, (bytearray(tensor_bytes(obj)), _TORCH_DTYPE_NAMES[obj.dtype], tuple(obj.shape))


def _is_namedtuple(v: Any) -> bool:
    return isinstance(v, tuple) and hasattr(type(v), "_fields")


# ---------------------------------------------------------------------------------------------
# Decoding (runs on the trusted side): builds only plain Python, numpy and torch values.


def decode_value(tree: Any, blobs: list[Any]) -> Any:
    """Rebuild a value encoded by :func:`encode_value`, refusing anything that is not plain data."""
    used: set[int] = set()

    def dec(node: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        if not isinstance(node, dict) or not isinstance(node.get("t"), str):
            raise WireError("malformed value")
        kind = node["t"]
        if kind == "none":
            return None
        if kind == "bool":
            return _expect(node.get("v"), bool)
        if kind == "int":
            text = _expect(node.get("v"), str)
            if len(text) > 5000:
                raise WireError("integer too large")
            return int(text)
        if kind == "float":
            return float(_expect(node.get("v"), str))
        if kind == "complex":
            return complex(float(_expect(node.get("re"), str)), float(_expect(node.get("im"), str)))
        if kind == "str":
            text = _expect(node.get("v"), str)
            if len(text) > MAX_STRING:
                raise WireError("string too long")
            return text
        if kind == "dtype":
            name = _expect(node.get("v"), str)
            if name not in _TORCH_DTYPES:
                raise WireError(f"unknown dtype {name!r}")
            return _TORCH_DTYPES[name]
        if kind == "tensor":
            name = _expect(node.get("dtype"), str)
            if name not in _TORCH_DTYPES:
                raise WireError(f"unknown dtype {name!r}")
            dtype = _TORCH_DTYPES[name]
            shape = _shape(node.get("shape"))
            raw = _blob(blobs, node.get("blob"), used)
            if len(raw) != math.prod(shape) * _TORCH_ITEMSIZES[dtype]:
                raise WireError("tensor data does not match its shape")
            return tensor_from_bytes(raw, name, shape)
        if kind == "ndarray":
            dt = _numpy_dtype(node.get("dtype"))
            shape = _shape(node.get("shape"))
            raw = _blob(blobs, node.get("blob"), used)
            if len(raw) != math.prod(shape) * dt.itemsize:
                raise WireError("array data does not match its shape")
            return np.frombuffer(raw, dtype=dt).reshape(shape).copy()
        if kind == "npscalar":
            dt = _numpy_dtype(node.get("dtype"))
            return dt.type(dec(node.get("v"), depth + 1))
        if kind in ("list", "tuple"):
            items = [dec(x, depth + 1) for x in _expect(node.get("items"), list)]
            return items if kind == "list" else tuple(items)
        if kind == "dict":
            out = {}
            for pair in _expect(node.get("items"), list):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("malformed dict item")
                key = dec(pair[0], depth + 1)
                if not isinstance(key, (str, int)):
                    raise WireError("dict keys must be strings or integers")
                out[key] = dec(pair[1], depth + 1)
            return out
        if kind == "handle":
            return HandleRef(
                id=_expect(node.get("id"), int),
                type_name=_expect(node.get("type"), str)[:200],
                callable=_expect(node.get("callable"), bool),
            )
        raise WireError(f"unknown value kind {kind!r}")

    return dec(tree, 0)


def _expect(value: Any, typ: type) -> Any:
    if type(value) is not typ:
        raise WireError(f"expected {typ.__name__} in message")
    return value


def _shape(value: Any) -> list[int]:
    shape = _expect(value, list)
    if len(shape) > 32 or not all(type(d) is int and d >= 0 for d in shape):
        raise WireError("malformed shape")
    return shape


def _blob(blobs: list[Any], index: Any, used: set[int]) -> Any:
    i = _expect(index, int)
    if not 0 <= i < len(blobs):
        raise WireError("missing data blob")
    if i in used:  # a second value on the same bytes gets its own copy: results never alias
        return bytes(blobs[i])
    used.add(i)
    return blobs[i]


def _numpy_dtype(value: Any) -> np.dtype:
    text = _expect(value, str)
    try:
        dt = np.dtype(text)
    except TypeError:
        raise WireError(f"unknown numpy dtype {text!r}") from None
    if dt.kind not in _NUMPY_KINDS or dt.hasobject:
        raise WireError(f"numpy dtype {text!r} is not plain numbers")
    return dt
