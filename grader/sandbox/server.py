"""The sandbox process: imports one student module and runs calls on it, nothing else.

This module runs only inside a sandbox child forked by the zygote. It must stay independent of the
trusted side: it never imports tests, references, pytest or Hypothesis. Requests arrive as JSON
headers with pickled arguments; results leave through :func:`grader.sandbox.wire.encode_value`.
"""

from __future__ import annotations

import _signal
import errno
import importlib
import io
import os
import pickle
import resource
import signal
import sys
import time
import traceback
from typing import Any

from grader.sandbox import confine, rebuild, tripwires, wire
from grader.sandbox.protocol import (
    BATCHABLE,
    CallMethod,
    ExitCode,
    Op,
    ReplyKind,
    SandboxConfig,
    SandboxLimits,
    ends_batch,
    failure,
)
from grader.sandbox.purity import argument_images
from grader.sandbox.seeding import seed_all

# The C functions under `signal`'s wrappers (which convert to and from enums): run on every call.
_SIGALRM = int(signal.SIGALRM)
_ITIMER_REAL = signal.ITIMER_REAL

_PR_SET_PDEATHSIG = 1
_BATCH_FLUSH_BYTES = 1 << 20  # a batch's replies are written once this much is waiting, and at its end
_BATCH_FLUSH_SECONDS = 0.05  # ... or once this long has passed since the last write
_MEMORY_MARKERS = ("can't allocate memory", "not enough memory", "DefaultCPUAllocator", "out of memory")


class _CallTimeout(BaseException):
    """Raised inside student code by the interval timer."""


class _OutputBudget:
    def __init__(self, limit: int) -> None:
        self.left = limit
        self.noted = False


class _CappedWriter(io.TextIOBase):
    """stdout/stderr for student code: past the budget, output is dropped (once noted), never an error."""

    def __init__(self, fd: int, budget: _OutputBudget) -> None:
        self.fd = fd
        self.budget = budget

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def write(self, text: str) -> int:
        data = str(text).encode("utf-8", "replace")
        keep = data[: max(self.budget.left, 0)]
        self.budget.left -= len(data)
        try:
            if keep:
                os.write(self.fd, keep)
            if self.budget.left < 0 and not self.budget.noted:
                self.budget.noted = True
                os.write(self.fd, b"\n[... further output dropped: over the output limit]\n")
        except OSError:
            pass
        return len(text)


class _Server:
    def __init__(self, sock: Any, config: SandboxConfig, protections: dict[str, Any]) -> None:
        self.channel = wire.Channel(sock)
        self.protections = protections
        self.config = config
        self.student_dir = os.path.realpath(config["student_dir"])
        self.objects: dict[int, Any] = {}
        self.ids_by_object: dict[int, int] = {}
        self.refs: dict[int, int] = {}  # handle -> references the trusted side holds (one per reply that named it)
        self.next_id = 1

    # -- handles ------------------------------------------------------------------------------

    def store(self, obj: Any) -> wire.HandleRef:
        key = id(obj)
        hid = self.ids_by_object.get(key)
        if hid is None or self.objects.get(hid) is not obj:
            hid = self.next_id
            self.next_id += 1
            self.objects[hid] = obj
            self.ids_by_object[key] = hid
        self.refs[hid] = self.refs.get(hid, 0) + 1
        typ = type(obj)
        name = f"{getattr(typ, '__module__', '?')}.{getattr(typ, '__qualname__', '?')}"
        return wire.HandleRef(id=hid, type_name=name, callable=callable(obj))

    def release(self, hid: Any) -> None:
        """The trusted side dropped one reference to `hid`; the object goes when none is left."""
        left = self.refs.get(hid, 0) - 1
        if left > 0:
            self.refs[hid] = left
            return
        self.refs.pop(hid, None)
        obj = self.objects.pop(hid, None)
        if obj is not None and self.ids_by_object.get(id(obj)) == hid:
            del self.ids_by_object[id(obj)]

    def resolve(self, hid: int) -> Any:
        if hid not in self.objects:
            raise LookupError(f"no object with handle {hid}")
        return self.objects[hid]

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        while True:
            try:
                header, blobs = self.channel.recv()
            except wire.ChannelClosed:
                return
            for hid in header.get("release", []):
                self.release(hid)
            op = header.get("op")
            if op == Op.RELEASE:
                continue
            if op == Op.BATCH:
                self.run_batch(header, blobs)
                continue
            self.channel.send(*self.answer(op, header, blobs))

    def answer(self, op: Any, header: dict[str, Any], blobs: list[bytearray]) -> tuple[dict[str, Any], list[bytes]]:
        """One request's reply, with the forbidden calls made on the way to it."""
        reply, out_blobs = self.dispatch(op, header, blobs)
        tripped = tripwires.take()  # forbidden calls since the last reply, however they were reached
        if tripped:
            reply["tripped"] = tripped
        sys.stdout.flush()
        sys.stderr.flush()
        return reply, out_blobs

    def run_batch(self, header: dict[str, Any], blobs: list[bytearray]) -> None:
        """Run a batch's requests in order, one reply message each, up to the first reply that ends it.

        Replies are sent together, not one write each: the round trip per call is what a batch saves.
        What is waiting is written once it reaches `_BATCH_FLUSH_BYTES` or `_BATCH_FLUSH_SECONDS` have
        passed since the last write, so that each reply reaches the trusted side within its call's
        time of the one before, as one request's reply would (it waits that long for each). A
        malformed batch gets one protocol failure.
        """
        requests, counts = header.get("requests"), header.get("counts")
        if not (
            isinstance(requests, list)
            and isinstance(counts, list)
            and len(requests) == len(counts)
            and all(isinstance(r, dict) and r.get("op") in BATCHABLE for r in requests)
            and all(type(n) is int and n >= 0 for n in counts)
            and sum(counts) == len(blobs)
        ):
            self.channel.send(failure(ReplyKind.PROTOCOL, message="a malformed batch"))
            return
        pending: list[bytes] = []
        size = start = 0
        flushed = time.monotonic()
        for request, count in zip(requests, counts):
            for hid in request.get("release", []):
                self.release(hid)
            reply, out_blobs = self.answer(request["op"], request, blobs[start : start + count])
            start += count
            parts = wire.frame(reply, out_blobs)
            pending.extend(parts)
            size += sum(len(part) for part in parts)
            if size >= _BATCH_FLUSH_BYTES or time.monotonic() - flushed >= _BATCH_FLUSH_SECONDS:
                self.channel.send_frames(pending)
                pending, size, flushed = [], 0, time.monotonic()
            if ends_batch(reply):
                break
        if pending:
            self.channel.send_frames(pending)

    def dispatch(self, op: Any, header: dict[str, Any], blobs: list[bytearray]) -> tuple[dict[str, Any], list[bytes]]:
        timeout = float(header.get("timeout", 10.0))
        try:
            if op == Op.HELLO:
                return self.hello(header), []
            if op == Op.IMPORT:
                return self.run_student(lambda: self.import_module(header["module"]), timeout)
            if op == Op.GETATTR:
                obj = self.resolve(header["id"])
                return self.run_student(lambda: getattr(obj, header["name"]), timeout)
            if op == Op.CALL:
                return self.call(header, blobs, timeout)
            return failure(ReplyKind.PROTOCOL, message=f"unknown operation {op!r}"), []
        except Exception as exc:  # a protocol error, not student code
            return failure(ReplyKind.PROTOCOL, message=f"{type(exc).__name__}: {exc}"), []

    def hello(self, header: dict[str, Any]) -> dict[str, Any]:
        """The protections applied, and whether a file the trusted side hid can be opened.

        Asked before the student's module is imported, so the answer comes from the grader's code
        alone; the trusted side checks what it can of it from outside (the kernel's view in /proc).
        """
        readable = False
        canary = header.get("canary")
        if isinstance(canary, str) and canary:
            try:
                os.close(os.open(canary, os.O_RDONLY))
                readable = True
            except OSError:
                pass
        return {"ok": True, "protections": self.protections, "canary_readable": readable}

    def call(
        self, header: dict[str, Any], blobs: list[bytearray], timeout: float
    ) -> tuple[dict[str, Any], list[bytes]]:
        target = self.resolve(header["id"])
        args, kwargs = _ArgUnpickler(io.BytesIO(blobs[0]), self).load()
        method = header.get("method")
        check = bool(header.get("check_args"))

        def invoke() -> Any:
            # Every call starts from the same random state, so that a student's random initialisation
            # (nn.Conv2d weights, say) is the same when Hypothesis replays an example.
            seed_all(0)
            if method == CallMethod.LEN:
                return len(target)
            if method == CallMethod.GETITEM:
                return target[args[0]]
            if method == CallMethod.ITER:
                return list(target)
            return target(*args, **kwargs)

        reply, out = self.run_student(invoke, timeout)
        if check and reply.get("ok"):
            # The arguments as they are now, as data: the trusted side compares them with what it sent.
            try:
                reply["after"] = self.encode_more(argument_images(args, kwargs, copy=False), out)
            except Exception:  # noqa: BLE001 - without them the trusted side cannot confirm, and says so
                pass
        return reply, out

    def import_module(self, name: str) -> dict[str, Any]:
        module = importlib.import_module(name)
        self.objects[0] = module
        origin = getattr(module, "__file__", None) or ""
        if not os.path.realpath(origin).startswith(self.student_dir + os.sep):
            raise ImportError(f"no module named {name!r} in the submission")
        names = sorted(n for n in vars(module) if not n.startswith("_"))
        return {"names": names}

    def run_student(self, fn: Any, timeout: float) -> tuple[dict[str, Any], list[bytes]]:
        """Run student code under the interval timer and turn every outcome into a reply."""
        _signal.signal(_SIGALRM, _raise_timeout)  # again each call: student code may have replaced it
        _signal.setitimer(_ITIMER_REAL, max(timeout, 0.001))
        try:
            value = fn()
        except _CallTimeout:
            return failure(ReplyKind.TIMEOUT, traceback=self.student_traceback()), []
        except SystemExit as exc:
            return failure(ReplyKind.EXITED, message=f"sys.exit({exc.code!r})"), []
        except MemoryError:
            return failure(ReplyKind.MEMORY, traceback=self.student_traceback()), []
        except BaseException as exc:
            text = _safe_str(exc)
            if (isinstance(exc, RuntimeError) and any(m in text for m in _MEMORY_MARKERS)) or (
                isinstance(exc, OSError) and exc.errno == errno.ENOMEM  # mmap past the address-space limit
            ):
                return failure(ReplyKind.MEMORY, traceback=self.student_traceback()), []
            return failure(
                ReplyKind.RAISED,
                type=type(exc).__name__,
                message=text.replace(self.student_dir + os.sep, "")[:4000],
                traceback=self.student_traceback(),
            ), []
        finally:
            _signal.setitimer(_ITIMER_REAL, 0)
        try:
            return self.encode(value)
        except MemoryError:
            return failure(ReplyKind.MEMORY, traceback=""), []
        except Exception as exc:
            return failure(ReplyKind.UNSENDABLE, message=f"{type(exc).__name__}: {_safe_str(exc)}"), []

    def encode(self, value: Any) -> tuple[dict[str, Any], list[bytes]]:
        """A result as a reply: plain data, handles, and standard modules described as data (grader.sandbox.rebuild).

        A standard module crosses as its description and is rebuilt on the trusted side; its place
        in the value is a handle with a negative id, -1 - its index in the reply's "modules".
        """
        modules: list[Any] = []
        index_of: dict[int, int] = {}

        def store(obj: Any) -> wire.HandleRef:
            if not rebuild.is_standard(obj):
                return self.store(obj)
            index = index_of.get(id(obj))
            if index is None:
                index = index_of[id(obj)] = len(modules)
                modules.append(obj)
            typ = type(obj)
            return wire.HandleRef(id=-1 - index, type_name=f"{typ.__module__}.{typ.__qualname__}", callable=True)

        tree, blobs = wire.encode_value(value, store)
        reply: dict[str, Any] = {"ok": True, "value": tree}
        if modules:
            reply["modules"] = self.encode_more([rebuild.describe(m) for m in modules], blobs)
        return reply, blobs

    def encode_more(self, value: Any, blobs: list[bytes]) -> Any:
        """Encode another value into the same reply: its blobs go after `blobs` (which grows)."""
        tree, _ = wire.encode_value(value, self.store, blobs)
        return tree

    def student_traceback(self) -> str:
        """The current exception's traceback, keeping only frames from the student's own files."""
        _, exc, tb = sys.exc_info()
        frames = [
            f for f in traceback.extract_tb(tb) if os.path.realpath(f.filename).startswith(self.student_dir + os.sep)
        ]
        for f in frames:
            f.filename = os.path.relpath(os.path.realpath(f.filename), self.student_dir)
        lines = traceback.format_list(frames)
        if exc is not None and not isinstance(exc, _CallTimeout):
            lines += traceback.format_exception_only(type(exc), exc)
        return "".join(lines).replace(self.student_dir + os.sep, "")[-8000:]


class _ArgUnpickler(pickle.Unpickler):
    """Arguments from the trusted side; handles in them resolve to objects in this process."""

    def __init__(self, f: io.BytesIO, server: _Server) -> None:
        super().__init__(f)
        self.server = server

    def persistent_load(self, pid: Any) -> Any:
        kind, hid = pid
        if kind != "handle":
            raise pickle.UnpicklingError("unknown persistent id")
        return self.server.resolve(hid)


def _raise_timeout(signum: int, frame: Any) -> None:
    raise _CallTimeout()


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:
        return f"<{type(exc).__name__}>"


# -- setting up the process ----------------------------------------------------------------------


_THREADS = 64  # with a uid of its own, RLIMIT_NPROC counts exactly the sandbox's threads


def _apply_limits(limits: SandboxLimits, *, address_space: bool) -> None:
    """Resource limits; `address_space`: limit all mappings (shared ones too) where no memory cgroup counts them."""
    memory = limits.memory_mb << 20
    usage = _memory_usage()
    settings = [
        (resource.RLIMIT_DATA, usage["VmData"] + memory),
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ]
    if address_space:
        settings.append((resource.RLIMIT_AS, usage["VmSize"] + memory))
    for res, value in settings:
        soft, hard = resource.getrlimit(res)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(res, (value, value))
    if confine.has_private_uid():
        resource.setrlimit(resource.RLIMIT_NPROC, (_THREADS, _THREADS))
    elif os.geteuid() != 0:
        # Counts every process of this user: a small headroom stops fork and thread bombs.
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _memory_usage() -> dict[str, int]:
    """This process's VmData and VmSize in bytes, from /proc/self/status."""
    usage = {"VmData": 0, "VmSize": 0}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in usage:
                usage[key] = int(value.split()[0]) * 1024
    return usage


def serve(sock: Any, config: SandboxConfig) -> None:
    """Entry point in the forked child: set the process up, then answer requests until closed.

    The zygote has left it no descriptor but its channel (and 0, 1, 2): stdin becomes /dev/null and
    stdout and stderr the job's output file, so nothing the zygote or the grader holds is reachable.
    """
    zygote = os.getppid()
    workdir = config["workdir"]
    os.chdir(workdir)
    out = os.open(config["output_path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.close(null)
    limits = SandboxLimits.from_wire(config.get("limits"))
    budget = _OutputBudget(limits.output_bytes)
    sys.stdout = _CappedWriter(1, budget)
    sys.stderr = _CappedWriter(2, budget)
    sys.stdin = io.TextIOWrapper(io.BytesIO(b""))
    os.environ.clear()
    os.environ.update({"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"})
    # Nothing of the course (its bank and references) or of a grader checkout stays importable;
    # where Python and the packages are installed does, whatever the kind of install.
    checkout = confine.grader_checkout()
    hidden = [*([checkout] if checkout else []), *config.get("hidden", [])]
    sys.path[:] = confine.import_path(sys.path, hidden)
    sys.path.append(config["student_dir"])
    sys.dont_write_bytecode = True
    importlib.invalidate_caches()
    seed_all(0)
    tripwires.install(config.get("forbidden_calls", []))
    disk_mb, memory_mb = limits.disk_mb, limits.memory_mb
    try:
        protections = confine.confine(
            student_dir=os.path.realpath(config["student_dir"]),
            workdir=os.path.realpath(workdir),
            hidden=hidden,
            disk_mb=disk_mb,
            required=config.get("require", ()),
            disabled=config.get("disable", ()),
            memory_bytes=(memory_mb + disk_mb) << 20,  # the tmpfs's pages are charged to the cgroup too
        )
    except confine.ConfinementError as exc:
        _refuse(sock, str(exc))
        return
    _apply_limits(limits, address_space=protections.get("memory_cgroup") is None)
    _die_with(zygote)
    _Server(sock, config, protections).run()


def _die_with(parent: int) -> None:
    """Be killed when the zygote ends (set after the change of uid, which clears the setting)."""
    import ctypes

    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(ExitCode.SANDBOX_BROKEN)


def _refuse(sock: Any, reason: str) -> None:
    """Answer every request with a refusal: student code never runs unprotected against the rules."""
    channel = wire.Channel(sock)
    while True:
        try:
            channel.recv()
        except (wire.ChannelClosed, OSError, wire.WireError):
            return
        channel.send(failure(ReplyKind.REFUSED, message=reason))
