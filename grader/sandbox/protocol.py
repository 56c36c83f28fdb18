"""What crosses the trust boundary: the one typed definition both sides use, by name, not by literal.

The sandbox side (grader.sandbox.server, grader.sandbox.zygote) and the trusted side
(grader.grading.sandbox_client, grader.grading.proxy, grader.course.spec) import this module; it
imports nothing but the standard library. The names are typed, the bytes on the wire are not: the
enums are `StrEnum`s and `IntEnum`s, which JSON writes as their plain values, so a message is the
same JSON it would be with string and number literals.

- A sandbox's configuration (`SandboxConfig`) is sent to the zygote when it forks one; its
  resource limits are `SandboxLimits`, which hold every limit the sandbox applies and its default.
- A request names its operation (`Op`); a call on an object's protocol names its `CallMethod`.
- A reply is `{"ok": True, ...}` or `{"ok": False, "kind": ReplyKind, ...}` (`failure`).
- A batch (`Op.BATCH`) carries several calls and reads in one message; the sandbox runs them in order
  and sends one reply message for each, stopping after the first reply that `ends_batch`.
- A sandbox that ends through the grader's own code exits with an `ExitCode`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, Required, TypedDict


class Op(StrEnum):
    """A request's operation (its "op")."""

    HELLO = "hello"  # the protections applied; asked before any student code runs
    IMPORT = "import"  # import the student's module
    GETATTR = "getattr"  # read an attribute of an object in the sandbox
    CALL = "call"  # call an object in the sandbox (or one of the CallMethod protocols)
    RELEASE = "release"  # drop handles only; no reply
    BATCH = "batch"  # several getattr and call requests, run in order: one reply each (see ends_batch)


class CallMethod(StrEnum):
    """A call's "method": the protocol of the object used instead of calling it (absent: a call)."""

    LEN = "len"
    GETITEM = "getitem"
    ITER = "iter"


class ReplyKind(StrEnum):
    """Why a request failed (a failed reply's "kind")."""

    TIMEOUT = "timeout"  # the call's interval timer fired in student code
    EXITED = "exited"  # student code raised SystemExit
    MEMORY = "memory"  # student code ran out of memory
    RAISED = "raised"  # student code raised an exception (with "type", "message", "traceback")
    UNSENDABLE = "unsendable"  # the result cannot be encoded as plain data or handles
    PROTOCOL = "protocol"  # the request itself was wrong (not student code)
    REFUSED = "refused"  # a protection the job requires is not in force: no student code runs


class ExitCode(IntEnum):
    """A sandbox's exit status when the grader's code there ends it."""

    OK = 0  # the channel closed: the trusted side is done with it
    SANDBOX_BROKEN = 70  # the sandbox's own code failed (after student code replaced a built-in, say)


def failure(kind: ReplyKind, **fields: Any) -> dict[str, Any]:
    """A failed reply: `{"ok": False, "kind": kind, **fields}`."""
    return {"ok": False, "kind": kind, **fields}


BATCHABLE = (Op.GETATTR, Op.CALL)  # the operations a batch may carry


def ends_batch(reply: dict[str, Any]) -> bool:
    """Whether a batch stops after this reply: a failure, or a forbidden call made on the way to it.

    Both sides apply the same rule, so the trusted side knows how many replies a batch sends back;
    what came after such a reply is left unrun, for the trusted side to decide on.
    """
    return not reply.get("ok") or bool(reply.get("tripped"))


@dataclass(frozen=True)
class SandboxLimits:
    """Every resource limit a sandbox applies to itself, with its default (used where one is not sent).

    `memory_mb` is what the process may hold beyond its start (RLIMIT_DATA, and its memory cgroup or
    RLIMIT_AS); `cpu_seconds` its CPU time over its whole life (RLIMIT_CPU); `file_bytes` the size of a
    file it writes (RLIMIT_FSIZE); `open_files` its descriptors (RLIMIT_NOFILE); `disk_mb` the size of
    its working directory where that is a tmpfs of its own; `output_bytes` what it may print before
    further output is dropped (with a note).
    """

    memory_mb: int = 1024
    cpu_seconds: int = 120
    file_bytes: int = 16 << 20
    open_files: int = 256
    disk_mb: int = 64
    output_bytes: int = 4 << 20

    def to_wire(self) -> dict[str, int]:
        """The limits as the config's "limits" object (plain JSON data)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_wire(cls, data: Any) -> SandboxLimits:
        """The limits in a config's "limits" object; a limit not given keeps its default.

        ValueError for anything but an object of known names with integer values.
        """
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ValueError(f"the sandbox's limits must be an object, not {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise ValueError(f"unknown sandbox limit {unknown[0]!r} (known: {', '.join(sorted(known))})")
        values = {}
        for name, value in data.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"the sandbox limit {name} = {value!r} must be a number")
            values[name] = int(value)
        return cls(**values)


class SandboxConfig(TypedDict, total=False):
    """What the trusted side sends the zygote to fork a sandbox (as JSON, with the channel's descriptor)."""

    student_dir: Required[str]  # the submission's folder: last on sys.path, its files readable
    workdir: Required[str]  # the sandbox's private working directory
    output_path: Required[str]  # where its stdout and stderr go
    forbidden_calls: list[str]  # dotted names whose calls trip a tripwire (grader.sandbox.tripwires)
    hidden: list[str]  # folders it may not import from or read
    require: list[str]  # protections the job requires: without one, the sandbox refuses
    disable: list[str]  # protections switched off (for debugging)
    limits: dict[str, int]  # SandboxLimits.to_wire()
    cpus: list[int]  # the CPUs of the trusted process that drives it (set by the client when it spawns)


class Request(TypedDict, total=False):
    """A request's header (its pickled arguments travel as blobs)."""

    op: Required[Op]
    timeout: float  # seconds for the student code it runs (the interval timer)
    release: list[int]  # handles the trusted side dropped
    canary: str  # hello: a file the sandbox must not be able to open
    module: str  # import: the student's module's name
    id: int  # getattr, call: the object's handle
    name: str  # getattr: the attribute
    method: CallMethod  # call: a protocol instead of a call
    check_args: bool  # call: send back the arguments' images after the call (grader.sandbox.purity)
    requests: list[dict[str, Any]]  # batch: the requests' headers, in order (getattr and call only)
    counts: list[int]  # batch: how many of the message's blobs belong to each request, in order


class ExitStatus(TypedDict, total=False):
    """How a sandbox ended, as its zygote saw it (the "exit" of the zygote's last message on a connection)."""

    code: int  # its exit status (-1: neither exited nor killed by a signal)
    signal: int  # the signal that killed it
    oom: bool  # its memory cgroup counted an out-of-memory kill
