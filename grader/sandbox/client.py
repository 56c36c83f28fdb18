"""The trusted side's handle on sandboxes: start the zygote, spawn a sandbox, exchange messages.

Every wait here has a deadline: the zygote's start, a spawn, a request's whole reply (however the
sandbox paces its bytes) and a sandbox's exit status. A zygote that misses one is failed for the rest
of the job (`Zygote.failure`); the run's `SharedZygote` replaces it and the job is graded again.
"""

from __future__ import annotations

import array
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from grader.errors import ZygoteError

_GRADER_ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))


class SandboxGone(Exception):
    """The sandbox process ended (or was killed) before it replied."""

    def __init__(self, status: dict[str, Any] | None, *, timed_out: bool) -> None:
        super().__init__(f"sandbox ended: {status}")
        self.status = status
        self.timed_out = timed_out


ZYGOTE_START_TIMEOUT = 300.0  # importing torch: seconds on an idle machine, much more on a loaded one
SPAWN_TIMEOUT = 30.0  # a fork and a reply; also how long a spawn waits for a zygote being replaced
PING_TIMEOUT = 10.0
_GRADER_ERROR_PREFIX = "grader error: ZygoteError: "  # grader.runner.run_job_safely's message for a ZygoteError


def zygote_failed(message: str) -> bool:
    """Whether a job's grader error came from the sandbox zygote (it is graded again with a fresh one)."""
    return message.startswith(_GRADER_ERROR_PREFIX)


@dataclass
class Zygote:
    """A running zygote process and the address of its socket."""

    address: str
    process: subprocess.Popen[bytes] | None = None
    _tmpdir: str | None = None
    _ready: bool = True  # a zygote known only by its address is taken as ready
    failure: ZygoteError | None = None  # set when a spawn failed: every later spawn fails at once

    @classmethod
    def start(cls) -> Zygote:
        """Start a zygote and wait until it is ready to fork sandboxes."""
        zygote = cls.launch()
        zygote.wait_ready()
        return zygote

    @classmethod
    def launch(cls, address: str | None = None) -> Zygote:
        """Start a zygote without waiting for it: it imports torch while this process does other work.

        With `address`, it listens there (replacing a zygote that did); else in a fresh private folder.
        """
        tmpdir = None
        if address is None:
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
            cwd=os.path.dirname(address),
            env=env,
        )
        return cls(address=address, process=process, _tmpdir=tmpdir, _ready=False)

    def wait_ready(self, timeout: float = ZYGOTE_START_TIMEOUT) -> None:
        """Block until a launched zygote says it is ready; ZygoteError if it died or took too long."""
        if self._ready or self.process is None:
            return
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            self.process.kill()
            status = self.process.wait()
            why = f"exit status {status}" if ready else f"not ready after {timeout:g} s"
            raise ZygoteError(f"the sandbox zygote failed to start ({why})")
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

    def spawn(self, config: dict[str, Any], *, timeout: float | None = None) -> SandboxProcess:
        """Fork a fresh sandbox from the zygote; it serves `config` over a private socketpair.

        ZygoteError when the zygote does not answer within `timeout` (default `SPAWN_TIMEOUT`: dead,
        wedged, or being replaced for longer than that); this zygote then fails every later spawn at once.
        """
        if self.failure is not None:
            raise self.failure
        self.wait_ready()
        deadline = time.monotonic() + (SPAWN_TIMEOUT if timeout is None else timeout)
        config = {**config, "cpus": sorted(os.sched_getaffinity(0))}  # see zygote._share_cpus
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        control = None
        try:
            control = self._connect(deadline)
            fds = array.array("i", [theirs.fileno()])
            control.settimeout(_left(deadline))
            control.sendmsg([json.dumps(config).encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
            line, _, rest = _read_line(control, deadline).partition(b"\n")
            pid = int(json.loads(line)["pid"])
        except (OSError, ValueError, KeyError, TypeError, ZygoteError) as exc:
            if control is not None:
                control.close()
            ours.close()
            self.failure = ZygoteError(f"the sandbox zygote at {self.address} did not answer: {exc}")
            raise self.failure from None
        finally:
            theirs.close()
        return SandboxProcess(pid=pid, channel=ours, control=control, _pending=rest)

    def ping(self, timeout: float | None = None) -> bool:
        """Whether the zygote answers a ping within `timeout` (default `PING_TIMEOUT`)."""
        deadline = time.monotonic() + (PING_TIMEOUT if timeout is None else timeout)
        try:
            control = self._connect(deadline)
        except OSError:
            return False
        try:
            control.settimeout(_left(deadline))
            control.sendall(json.dumps({"ping": True}).encode())
            return json.loads(_read_line(control, deadline)).get("pong") is True
        except (OSError, ValueError, ZygoteError, AttributeError):
            return False
        finally:
            control.close()

    def _connect(self, deadline: float) -> socket.socket:
        """A connection to the zygote's socket, waiting (until `deadline`) while nothing listens there yet."""
        while True:
            control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                control.settimeout(_left(deadline))
                control.connect(self.address)
                return control
            except (FileNotFoundError, ConnectionRefusedError):
                control.close()
                if time.monotonic() + 0.05 >= deadline:
                    raise
                time.sleep(0.05)
            except BaseException:
                control.close()
                raise


class SharedZygote:
    """One sandbox zygote for a whole run of several assignments, started when a job first needs it.

    A zygote holds no course state (it never imports references or tests; each sandbox gets its
    configuration when forked), so one can serve every assignment. Starting one costs about 2.5 s of
    CPU (a fresh `import torch`); a run with nothing to grade starts none. Its address stays the same
    for the whole run: a zygote that has died, or that a job found wedged, is replaced by a fresh one
    listening there (`recover`), so workers that hold the address use the new one.
    """

    def __init__(self) -> None:
        self._zygote: Zygote | None = None
        self._retired: list[Zygote] = []
        self._tmpdir: str | None = None
        self.replaced = 0

    def _address(self) -> str:
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="grader-zygote-")
            os.chmod(self._tmpdir, 0o711)
        return os.path.join(self._tmpdir, "zygote.sock")

    def launch(self) -> None:
        """Start the zygote now, without waiting for it, unless one is running."""
        if self._zygote is not None and self._zygote.process is not None and self._zygote.process.poll() is not None:
            self._zygote.close()
            self._zygote = None
        if self._zygote is None:
            self._zygote = Zygote.launch(self._address())

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

    def recover(self) -> bool:
        """After a job found the zygote failing: replace it unless it answers a ping. Whether it was replaced.

        The replacement is launched without waiting; spawns wait for it to listen.
        """
        zygote = self._zygote
        if zygote is not None and zygote.process is not None and zygote.process.poll() is None:
            if not zygote._ready:
                try:
                    zygote.wait_ready()
                except ZygoteError:
                    pass
            if zygote._ready and zygote.process.poll() is None and zygote.ping():
                return False
        if zygote is not None:
            # Retired, not killed: a wedged zygote may still answer for the sandboxes of jobs in flight
            # (their exit statuses), and its sandboxes die with it (PR_SET_PDEATHSIG) when the run ends.
            # No new client reaches it: spawns wait for the replacement to listen at the same address.
            self._retired.append(zygote)
            try:
                os.unlink(zygote.address)
            except OSError:
                pass
        self._zygote = None
        self.launch()
        self.replaced += 1
        return True

    def close(self) -> None:
        for zygote in [*self._retired, *([self._zygote] if self._zygote is not None else [])]:
            zygote.close()
        self._retired.clear()
        self._zygote = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> SharedZygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


def _read_line(sock: socket.socket, deadline: float) -> bytes:
    data = b""
    while b"\n" not in data:
        sock.settimeout(_left(deadline))
        chunk = sock.recv(4096)
        if not chunk:
            raise ZygoteError("the zygote closed the connection")
        data += chunk
        if len(data) > 1 << 16:
            raise ZygoteError("the zygote sent an overlong line")
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
    memory: tuple[int, str] = (0, "")  # its peak in bytes and who counted it (zygote.memory_report), once ended

    def __post_init__(self) -> None:
        # wire (which imports torch) is imported here, not at the top: a command can then start the
        # zygote, whose own `import torch` takes seconds, before this process has imported torch.
        from grader import wire

        self._messages = wire.Channel(self.channel)

    def request(
        self, header: dict[str, Any], blobs: list[bytes], *, timeout: float, reply_limit: int | None = None,
    ) -> tuple[dict[str, Any], list[bytearray]]:
        """Send one request and wait for the whole reply, at most `timeout` seconds for both.

        `reply_limit` bounds the reply's size in bytes (the channel's own limit otherwise).

        SandboxGone when the sandbox ends or misses the deadline (it is killed); wire.ProtocolError
        (the sandbox is killed) when what it sends is not a message.
        """
        from grader import wire

        deadline = time.monotonic() + max(timeout, 0.01)
        try:
            self._messages.send(header, blobs, deadline=deadline)
            if reply_limit is None:
                return self._messages.recv(deadline=deadline)
            return self._messages.recv(deadline=deadline, limit=min(reply_limit, wire.MAX_FRAME_BYTES))
        except TimeoutError:
            self.kill()
            raise SandboxGone(self.exit_status(), timed_out=True) from None
        except wire.ProtocolError:
            self.kill()
            raise
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
                    memory = message.get("memory")
                    if isinstance(memory, dict):
                        self.memory = (int(memory.get("peak", 0)), str(memory.get("counted_by", "")))
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
