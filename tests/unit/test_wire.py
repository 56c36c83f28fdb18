"""The codec that crosses the trust boundary: plain data round-trips, everything else is refused."""

import struct

import numpy as np
import pytest
import torch

from grader.sandbox import wire


def roundtrip(value):
    handles = []

    def store(obj):
        handles.append(obj)
        return wire.HandleRef(id=len(handles), type_name=type(obj).__qualname__, callable=callable(obj))

    tree, blobs = wire.encode_value(value, store)
    return wire.decode_value(tree, blobs), handles


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.bool, torch.complex64])
def test_tensors_round_trip_with_dtype_and_shape(dtype):
    t = (torch.arange(12) % 3).reshape(3, 4).to(dtype)
    out, _ = roundtrip(t)
    assert type(out) is torch.Tensor and out.dtype == dtype and out.shape == (3, 4)
    assert torch.equal(out, t)


def test_non_contiguous_and_empty_and_scalar_tensors():
    t = torch.randn(4, 5).t()[1:, ::2]
    out, _ = roundtrip([t, torch.empty(0, 3), torch.tensor(2.5)])
    assert torch.equal(out[0], t) and out[1].shape == (0, 3) and out[2].item() == 2.5



def test_a_second_value_encoded_into_the_same_message_numbers_its_blobs_after_the_first():
    first, second = [torch.ones(2), torch.zeros(3)], {"w": [torch.full((4,), 7.0)], "n": np.arange(3)}
    tree, blobs = wire.encode_value(first, lambda obj: pytest.fail(f"not plain data: {obj!r}"))
    more, same = wire.encode_value(second, lambda obj: pytest.fail(f"not plain data: {obj!r}"), blobs)
    assert same is blobs and len(blobs) == 4
    assert [torch.equal(a, b) for a, b in zip(wire.decode_value(tree, blobs), first)] == [True, True]
    out = wire.decode_value(more, blobs)
    assert torch.equal(out["w"][0], second["w"][0]) and (out["n"] == second["n"]).all()

def test_containers_numbers_and_arrays():
    value = {"a": (1, 2.5, True, None, "s"), 3: [np.arange(4, dtype=np.float32), np.float64(1.5)], "c": 1 + 2j}
    out, _ = roundtrip(value)
    assert out["a"] == (1, 2.5, True, None, "s")
    assert out[3][0].dtype == np.float32 and list(out[3][0]) == [0, 1, 2, 3]
    assert out[3][1] == 1.5 and out["c"] == 1 + 2j


def test_tensor_subclass_arrives_as_a_plain_tensor():
    class Sneaky(torch.Tensor):
        def __eq__(self, other):
            return True

    t = torch.ones(3).as_subclass(Sneaky)
    out, _ = roundtrip(t)
    assert type(out) is torch.Tensor


def test_objects_that_are_not_plain_data_become_handles():
    module = torch.nn.Linear(2, 3)
    out, handles = roundtrip({"m": module, "f": lambda: 1})
    assert isinstance(out["m"], wire.HandleRef) and out["m"].type_name == "Linear" and out["m"].callable
    assert handles[0] is module


@pytest.mark.parametrize(
    "tree, blobs, message",
    [
        ({"t": "tensor", "dtype": "object", "shape": [1], "blob": 0}, [b"x"], "unknown dtype"),
        ({"t": "tensor", "dtype": "float32", "shape": [2], "blob": 0}, [b"\0" * 4], "does not match"),
        ({"t": "tensor", "dtype": "float32", "shape": [-1], "blob": 0}, [b""], "malformed shape"),
        ({"t": "ndarray", "dtype": "|O", "shape": [1], "blob": 0}, [b"\0" * 8], "not plain numbers"),
        ({"t": "pickle", "v": "..."}, [], "unknown value kind"),
        ({"t": "dict", "items": [[{"t": "list", "items": []}, {"t": "none"}]]}, [], "dict keys"),
        ({"t": "int", "v": 5}, [], "expected str"),
    ],
)
def test_decoder_refuses_anything_else(tree, blobs, message):
    with pytest.raises(wire.WireError, match=message):
        wire.decode_value(tree, blobs)


def test_decoder_limits_nesting():
    tree = {"t": "none"}
    for _ in range(wire.MAX_DEPTH + 2):
        tree = {"t": "list", "items": [tree]}
    with pytest.raises(wire.WireError, match="nested too deeply"):
        wire.decode_value(tree, [])


def test_one_element_tensors_with_odd_strides():
    t = torch.arange(8.0).reshape(2, 4)[:1, ::4]  # shape (1, 1), strides (4, 4)
    out, _ = roundtrip(t)
    assert out.shape == (1, 1) and out.item() == 0.0
    u = torch.arange(6.0).reshape(3, 2).t()[1:, 2:]  # one element, stride (1, 2)
    out, _ = roundtrip(u)
    assert out.item() == 5.0


@pytest.mark.parametrize(
    "value",
    [
        torch.arange(6, dtype=torch.float32).reshape(2, 3),
        torch.tensor(2.5, dtype=torch.float64),
        torch.tensor([True, False]),
        torch.arange(4, dtype=torch.int64),
        torch.ones(3, dtype=torch.bfloat16),
        torch.tensor([1 + 2j], dtype=torch.complex64),
        torch.empty(0, 3),
        torch.arange(10.0)[2:5],  # a contiguous view with an offset
    ],
    ids=lambda v: f"{v.dtype}{tuple(v.shape)}",
)
def test_plain_tensor_arguments_pickle_to_the_same_values(value):
    import pickle

    class Pickler(pickle.Pickler):
        def reducer_override(self, obj):
            return wire.reduce_plain_tensor(obj)

    buffer = __import__("io").BytesIO()
    Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump((value, value))
    first, second = pickle.loads(buffer.getvalue())
    assert type(first) is torch.Tensor and first.dtype == value.dtype and first.shape == value.shape
    assert torch.equal(first, value) and first is second  # the same argument twice stays one object
    first.add_(1) if first.dtype != torch.bool else first.logical_not_()  # writable, and not the original
    assert value.numel() == 0 or not torch.equal(first, value)


@pytest.mark.parametrize(
    "value",
    [
        torch.ones(2, 3).t(),  # strided: torch's own reduction keeps its layout
        torch.ones(2, requires_grad=True),
        torch.nn.Parameter(torch.ones(2)),
        torch.tensor([1 + 2j]).conj(),
    ],
    ids=["transposed", "requires_grad", "parameter", "conjugate"],
)
def test_other_tensors_keep_torchs_reduction(value):
    assert wire.reduce_plain_tensor(value) is NotImplemented


# -- the channel --------------------------------------------------------------------------------------


@pytest.fixture
def pair():
    """Two connected channels, closed after the test."""
    import socket

    made: list[socket.socket] = []

    def make() -> tuple[wire.Channel, wire.Channel]:
        a, b = socket.socketpair()
        made.extend((a, b))
        return wire.Channel(a), wire.Channel(b)

    yield make
    for sock in made:
        sock.close()


def test_channel_carries_messages_back_to_back_and_large_blobs_intact(pair):
    import threading

    left, right = pair()
    big = bytes(range(256)) * 5000  # larger than the receive buffer and the socket's

    def send_all() -> None:
        left.send({"n": 1}, [b"abc", b""])
        left.send({"n": 2}, [big])
        left.send({"n": 3})

    sender = threading.Thread(target=send_all)
    sender.start()
    assert right.recv() == ({"n": 1}, [bytearray(b"abc"), bytearray()])
    header, blobs = right.recv()
    assert header == {"n": 2} and blobs == [bytearray(big)] and isinstance(blobs[0], bytearray)
    assert right.recv() == ({"n": 3}, [])
    sender.join()


def test_channel_reports_a_closed_peer_and_refuses_oversized_messages(pair):
    left, right = pair()
    left.send({"n": 1}, [b"x" * 4096])
    with pytest.raises(wire.WireError, match="larger than the limit"):
        right.recv(limit=1024)
    other_left, other_right = pair()
    other_left.sock.close()
    with pytest.raises(wire.ChannelClosed):
        other_right.recv()


def test_two_values_on_one_blob_do_not_share_memory():
    tree = {"t": "tuple", "items": [{"t": "tensor", "dtype": "float32", "shape": [2], "blob": 0}] * 2}
    first, second = wire.decode_value(tree, [bytearray(torch.ones(2).numpy().tobytes())])
    first.add_(1)
    assert torch.equal(second, torch.ones(2)) and torch.equal(first, torch.full((2,), 2.0))


def test_tensor_bytes_are_row_major_for_any_strides_and_dtype():
    x = torch.arange(12.0).reshape(3, 4).t()
    assert wire.tensor_bytes(x) == x.contiguous().numpy().tobytes()
    b = torch.arange(6, dtype=torch.bfloat16).reshape(2, 3)[:, ::2]
    back = wire.tensor_from_bytes(wire.tensor_bytes(b), "bfloat16", [2, 2])
    assert torch.equal(back, b)
    c = torch.tensor([1 + 2j, 3 - 1j]).conj()
    assert torch.equal(wire.tensor_from_bytes(wire.tensor_bytes(c), "complex64", [2]), c.resolve_conj())


# -- deadlines and malformed frames: a peer that breaks the protocol fails fast, never hangs -----------


def test_a_dribbling_peer_cannot_stretch_a_message_past_its_deadline(pair):
    import json
    import struct
    import threading
    import time

    left, right = pair()
    head = json.dumps({"n": 1}).encode()
    frame = struct.pack("!II", len(head), 0) + head
    stop = threading.Event()

    def dribble() -> None:  # each byte would restart a per-read timeout
        for byte in frame * 100:
            if stop.is_set():
                return
            left.sock.sendall(bytes([byte]))
            time.sleep(0.05)

    sender = threading.Thread(target=dribble)
    sender.start()
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            for _ in range(100):
                right.recv(deadline=started + 0.5)
    finally:
        stop.set()
        sender.join()
    assert time.monotonic() - started < 1.5


def test_a_deadline_already_passed_times_out_without_reading(pair):
    import time

    left, right = pair()
    left.send({"n": 1})
    with pytest.raises(TimeoutError):
        right.recv(deadline=time.monotonic() - 1)


def test_sending_to_a_peer_that_never_reads_times_out(pair):
    import time

    left, right = pair()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        left.send({"n": 1}, [b"x" * (64 << 20)], deadline=started + 0.5)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "frame, message",
    [
        (struct.pack("!II", 1 << 30, 0), "message header too large"),
        (struct.pack("!II", 2, 1 << 30), "message header too large"),
        (struct.pack("!II", 8, 0) + b"not json", "message header is not JSON"),
        (struct.pack("!II", 100_000, 0) + b"[" * 100_000, "message header is not JSON: RecursionError"),
        (struct.pack("!II", 2, 0) + b"[]", "message header is not an object"),
        (struct.pack("!II", 2, 1) + b"{}" + struct.pack("!Q", 1 << 62), "message larger than the limit"),
    ],
)
def test_frames_that_are_not_messages_are_protocol_errors(pair, frame, message):
    left, right = pair()
    left.sock.sendall(frame)
    with pytest.raises(wire.ProtocolError, match=message):
        right.recv()
