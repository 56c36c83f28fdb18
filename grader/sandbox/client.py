"""The trusted side's handle on sandboxes: start the zygote, spawn a sandbox, exchange messages."""

from __future__ import annotations

import array
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from grader import wire

_GRADER_ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))


class SandboxGone(Exception):
    """The sandbox process ended (or was killed) before it replied."""

    def __init__(self, status: dict[str, Any] | None, *, timed_out: bool) -> None:
        super().__init__(f"sandbox ended: {status}")
        self.status = status
        self.timed_out = timed_out


class ZygoteError(RuntimeError):
    """The zygote could not be started or stopped answering."""


@dataclass
class Zygote:
    """A running zygote process and the address of its socket."""

    address: str
    process: subprocess.Popen[bytes] | None = None
    _tmpdir: str | None = None
    _ready: bool = True  # a zygote known only by its address is taken as ready

    @classmethod
    def start(cls) -> Zygote:
        """Start a zygote and wait until it is ready to fork sandboxes."""
        zygote = cls.launch()
        zygote.wait_ready()
        return zygote

    @classmethod
    def launch(cls) -> Zygote:
        """Start a zygote without waiting for it: it imports torch while this process does other work."""
        tmpdir = tempfile.mkdtemp(prefix="grader-zygote-")
        os.chmod(tmpdir, 0o711)
        address = os.path.join(tmpdir, "zygote.sock")
        bootstrap = (
            "import sys; sys.path[:] = [p for p in sys.path if p]; "
            f"sys.path.insert(0, {_GRADER_ROOT!r}); "
            "from grader.sandbox.zygote import main; main()"
        )
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR")}
        process = subprocess.Popen(
            [sys.executable, "-E", "-s", "-c", bootstrap, address],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            cwd=tmpdir,
            env=env,
        )
        return cls(address=address, process=process, _tmpdir=tmpdir, _ready=False)

    def wait_ready(self) -> None:
        """Block until a launched zygote says it is ready; ZygoteError if it died instead."""
        if self._ready or self.process is None:
            return
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != b"ready":
            self.process.kill()
            raise ZygoteError(f"the sandbox zygote failed to start (exit status {self.process.wait()})")
        self._ready = True

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def spawn(self, config: dict[str, Any]) -> SandboxProcess:
        """Fork a fresh sandbox from the zygote; it serves `config` over a private socketpair."""
        self.wait_ready()
        config = {**config, "cpus": sorted(os.sched_getaffinity(0))}  # see zygote._share_cpus
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            control.connect(self.address)
            fds = array.array("i", [theirs.fileno()])
            control.sendmsg([json.dumps(config).encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
            control.settimeout(30)
            line, _, rest = _read_line(control).partition(b"\n")
        except OSError as exc:
            control.close()
            ours.close()
            raise ZygoteError(f"the sandbox zygote at {self.address} did not answer: {exc}") from exc
        finally:
            theirs.close()
        return SandboxProcess(pid=int(json.loads(line)["pid"]), channel=ours, control=control, _pending=rest)


class SharedZygote:
    """One sandbox zygote for a whole run of several assignments, started when a job first needs it.

    A zygote holds no course state (it never imports references or tests; each sandbox gets its
    configuration when forked), so one can serve every assignment. Starting one costs about 2.5 s of
    CPU (a fresh `import torch`); a run with nothing to grade starts none. A zygote that has died is
    replaced by a fresh one the next time it is asked for.
    """

    def __init__(self) -> None:
        self._zygote: Zygote | None = None

    def launch(self) -> None:
        """Start the zygote now, without waiting for it, unless one is running."""
        if self._zygote is not None and self._zygote.process is not None and self._zygote.process.poll() is not None:
            self._zygote.close()
            self._zygote = None
        if self._zygote is None:
            self._zygote = Zygote.launch()

    def get(self) -> Zygote:
        """The running zygote, ready to fork (started now if there is none, or replaced if it died)."""
        self.launch()
        assert self._zygote is not None
        try:
            self._zygote.wait_ready()
        except ZygoteError:
            self._zygote.close()
            self._zygote = None
            raise
        return self._zygote

    def close(self) -> None:
        if self._zygote is not None:
            self._zygote.close()
            self._zygote = None

    def __enter__(self) -> SharedZygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ZygoteError("the zygote closed the connection")
        data += chunk
    return data


@dataclass
class SandboxProcess:
    """One sandbox: a message channel to it, and a control line to the zygote that forked it."""

    pid: int
    channel: socket.socket
    control: socket.socket
    _pending: bytes = b""
    _status: dict[str, Any] | None = None
    cpu_seconds: float = 0.0  # known once it has ended

    def __post_init__(self) -> None:
        self._messages = wire.Channel(self.channel)

    def request(
        self, header: dict[str, Any], blobs: list[bytes], *, timeout: float
    ) -> tuple[dict[str, Any], list[bytearray]]:
        """Send one request and wait at most `timeout` seconds for the reply."""
        try:
            self.channel.settimeout(max(timeout, 0.01))
            self._messages.send(header, blobs)
            return self._messages.recv()
        except TimeoutError:
            self.kill()
            raise SandboxGone(self.exit_status(), timed_out=True) from None
        except (wire.ChannelClosed, OSError):
            raise SandboxGone(self.exit_status(), timed_out=False) from None

    def kill(self) -> None:
        try:
            self.control.sendall(b"kill\n")
        except OSError:
            pass

    def exit_status(self, wait: float = 5.0) -> dict[str, Any] | None:
        """How the sandbox ended, as the zygote saw it; None if it did not say in time."""
        deadline = time.monotonic() + wait
        while self._status is None:
            *lines, self._pending = self._pending.split(b"\n")
            for line in lines:
                message = json.loads(line)
                if "exit" in message:
                    self._status = message["exit"]
                    self.cpu_seconds = float(message.get("cpu", 0.0))
            remaining = deadline - time.monotonic()
            if self._status is not None or remaining <= 0:
                break
            try:
                self.control.settimeout(remaining)
                chunk = self.control.recv(4096)
            except OSError:
                break
            if not chunk:
                break
            self._pending += chunk
        return self._status

    def close(self) -> None:
        """Kill the sandbox (and everything it started) and close the connections."""
        self.kill()
        self.exit_status(wait=2.0)
        self.channel.close()
        self.control.close()


def describe_exit(status: dict[str, Any] | None) -> str:
    if status is None:
        return "ended for an unknown reason"
    if "signal" in status:
        number = status["signal"]
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"was killed by {name}"
    return f"exited with status {status.get('code')}"
