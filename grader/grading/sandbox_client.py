"""The trusted side's handle on sandboxes: start the zygote, spawn a sandbox, exchange messages.

Every wait here has a deadline: the zygote's start, a spawn, a request's whole reply (however the
sandbox paces its bytes) and a sandbox's exit status. A zygote that misses one is failed for the rest
of the job (`Zygote.failure`); the run's `SharedZygote` replaces it and the job is graded again.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import hashlib
import json
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from grader.errors import UsageError, ZygoteError
from grader.grading.worker import ONE_THREAD
from grader.sandbox.protocol import ExitStatus, Op, Request, SandboxConfig, ends_batch

_GRADER_ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))


class SandboxGone(Exception):
    """The sandbox process ended (or was killed) before it replied."""

    def __init__(self, status: ExitStatus | None, *, timed_out: bool) -> None:
        super().__init__(f"sandbox ended: {status}")
        self.status = status
        self.timed_out = timed_out


ZYGOTE_START_TIMEOUT = 300.0  # importing torch: seconds on an idle machine, much more on a loaded one
SPAWN_TIMEOUT = 30.0  # a fork and a reply; also how long a spawn waits for a zygote being replaced
PING_TIMEOUT = 10.0
_GRADER_ERROR_PREFIX = "grader error: ZygoteError: "  # grader.run.runner.run_job_safely's message for a ZygoteError


_SOCKET_NAME = "zygote.sock"
_SOCKET_PATH_MAX = 107  # bytes: a Unix socket's path, and its terminating NUL, must fit in 108


def socket_fits(folder: str, name: str) -> bool:
    """Whether a Unix socket at `folder`/`name` has a path short enough for one."""
    return len(os.fsencode(os.path.join(folder, name))) <= _SOCKET_PATH_MAX


def socket_folder(prefix: str = "grader-zygote-", name: str = _SOCKET_NAME) -> str:
    """A fresh folder (mode 0711) for a Unix socket called `name`, with a path short enough for it.

    In the temporary folder, unless `$TMPDIR` is too deep for a socket's path (a CI runner's or a
    test's folder can be): then in the first of /tmp, /var/tmp and /dev/shm that takes it.
    """
    for base in (None, "/tmp", "/var/tmp", "/dev/shm"):
        try:
            folder = tempfile.mkdtemp(prefix=prefix, dir=base)
        except OSError:
            continue
        if socket_fits(folder, name):
            os.chmod(folder, 0o711)
            return folder
        os.rmdir(folder)
    raise ZygoteError(
        f"no temporary folder has a path short enough for a Unix socket "
        f"(TMPDIR={os.environ.get('TMPDIR', '')!r}); set TMPDIR to a shorter one"
    )


def zygote_failed(message: str) -> bool:
    """Whether a job's grader error came from the sandbox zygote (it is graded again with a fresh one)."""
    return message.startswith(_GRADER_ERROR_PREFIX)


def zygote_environment(*, huge_pages: bool = True) -> dict[str, str]:
    """The environment a zygote starts with (its sandboxes clear their own): a few of this process's
    variables, and the settings of the libraries it loads, which they read when they load.
    `huge_pages=False` leaves glibc's malloc as it is (`bench/sandbox_cost.py` compares the two)."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR")}
    # Sandboxes allocate from transparent huge pages where the kernel offers them on request
    # (glibc's malloc advises its arenas and large mappings so, inherited through the fork): a
    # tensor of millions of entries then costs a page fault every 2 MiB, not every 4 KiB, and the
    # zygote's fork copies fewer page tables. Measured in a streamed job's sandbox, one thread:
    # conv1d_backprop's (two-million-entry inputs) 583 -> 405 ms, bottleneck's 526 -> 492 ms, the
    # zygote's share of a job about 8 -> 6 ms; small problems the same within noise. Scores and
    # messages are the same (only where memory comes from changes); glibc before 2.35 ignores it.
    if huge_pages:
        env["GLIBC_TUNABLES"] = "glibc.malloc.hugetlb=1"
    # One thread in numpy's BLAS as in torch (`import_libraries`): its pool of one thread a core
    # spins after each large product until its timeout, and a sandbox then waits for its next
    # call, so a student's numpy code paid for cores it never used (20 products of 300x300 with
    # pauses: 1.03 s of CPU, against 0.02 s on one thread), out of its own CPU limit.
    env.update(ONE_THREAD)
    return env


@dataclass
class Zygote:
    """A running zygote process and the address of its socket."""

    address: str
    process: subprocess.Popen[bytes] | None = None
    _tmpdir: str | None = None
    _ready: bool = True  # a zygote known only by its address is taken as ready
    failure: ZygoteError | None = None  # set when a spawn failed: every later spawn fails at once
    kept: bool = False  # a kept zygote (see SharedZygote): closing this handle leaves it running

    @classmethod
    def start(cls) -> Zygote:
        """Start a zygote and wait until it is ready to fork sandboxes."""
        zygote = cls.launch()
        zygote.wait_ready()
        return zygote

    @classmethod
    def launch(cls, address: str | None = None, *, idle: float | None = None, lock_fd: int | None = None) -> Zygote:
        """Start a zygote without waiting for it: it imports torch while this process does other work.

        With `address`, it listens there (replacing a zygote that did); else in a fresh private folder.
        With `idle`, the zygote is kept: it outlives this process, in a session of its own, and leaves
        after `idle` seconds without a client; it closes `lock_fd` (handed to it) once it listens.
        """
        tmpdir = None
        if address is None:
            tmpdir = socket_folder()
            address = os.path.join(tmpdir, _SOCKET_NAME)
        bootstrap = (
            "import sys; sys.path[:] = [p for p in sys.path if p]; "
            f"sys.path.insert(0, {_GRADER_ROOT!r}); "
            "from grader.sandbox.zygote import main; main()"
        )
        env = zygote_environment()
        kept = [] if idle is None else ["--idle", repr(float(idle))]
        if lock_fd is not None:
            kept += ["--lock-fd", str(lock_fd)]
        process = subprocess.Popen(
            [sys.executable, "-E", "-s", "-c", bootstrap, address, *kept],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            cwd=os.path.dirname(address),
            env=env,
            start_new_session=idle is not None,  # a Ctrl-C at the check's terminal is not for a kept zygote
            pass_fds=() if lock_fd is None else (lock_fd,),
        )
        return cls(address=address, process=process, _tmpdir=tmpdir, _ready=False, kept=idle is not None)

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
        if self.kept and self.failure is None:
            if self.process is not None and self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None  # it runs on, in its own session; it leaves when idle
            return
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

    def spawn(self, config: SandboxConfig, *, timeout: float | None = None) -> SandboxProcess:
        """Fork a fresh sandbox from the zygote; it serves `config` over a private socketpair.

        ZygoteError when the zygote does not answer within `timeout` (default `SPAWN_TIMEOUT`: dead,
        wedged, or being replaced for longer than that); this zygote then fails every later spawn at once.
        """
        if self.failure is not None:
            raise self.failure
        self.wait_ready()
        deadline = time.monotonic() + (SPAWN_TIMEOUT if timeout is None else timeout)
        config = config.copy()
        config["cpus"] = sorted(os.sched_getaffinity(0))  # see zygote._share_cpus
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

    def ping(self, timeout: float | None = None, *, wait_to_listen: bool = True) -> bool:
        """Whether the zygote answers a ping within `timeout` (default `PING_TIMEOUT`).

        Without `wait_to_listen`, an address where nothing listens is a plain no, at once (a kept
        zygote that is gone), instead of waiting the whole timeout for one that is starting.
        """
        deadline = time.monotonic() + (PING_TIMEOUT if timeout is None else timeout)
        try:
            control = self._connect(deadline, wait_to_listen=wait_to_listen)
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

    def _connect(self, deadline: float, *, wait_to_listen: bool = True) -> socket.socket:
        """A connection to the zygote's socket, waiting (until `deadline`) while nothing listens there yet."""
        while True:
            control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                control.settimeout(_left(deadline))
                control.connect(self.address)
                return control
            except (FileNotFoundError, ConnectionRefusedError):
                control.close()
                if not wait_to_listen or time.monotonic() + 0.05 >= deadline:
                    raise
                time.sleep(0.05)
            except BaseException:
                control.close()
                raise


KEEP_WARM_ENV = "GRADER_KEEP_WARM"
KEEP_WARM_DEFAULT = 600.0


def keep_warm_seconds(environ: Mapping[str, str] = os.environ) -> float:
    """How long a student's `grader check` keeps its sandbox zygote for the next check, in seconds.

    `$GRADER_KEEP_WARM` (default 600; 0 or "off" keeps none). A value that is not a number is an error.
    """
    raw = environ.get(KEEP_WARM_ENV, "").strip().lower()
    if raw in ("", "on"):
        return KEEP_WARM_DEFAULT
    if raw in ("0", "off", "no", "false"):
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        raise UsageError(f"{KEEP_WARM_ENV}={raw!r}: expected a number of seconds, or 0 to keep nothing") from None
    if not 0 <= seconds <= 86400:  # NaN too: it compares false
        raise UsageError(f"{KEEP_WARM_ENV}={raw!r}: expected between 0 and 86400 seconds")
    return seconds


def _private_folder(base: str) -> str | None:
    """This user's folder for kept zygotes under `base`, made if need be; None unless no other user can
    enter or replace it."""
    folder = os.path.join(base, f"grader-{os.getuid()}")
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        info = os.lstat(folder)
    except OSError:
        return None
    # Someone else's folder, a symlink, or one others may write in: not a place for a socket we trust.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return folder


def _install_key() -> str:
    """What a kept zygote must share with this grader: the Python, the grader's files, the packages.

    Names, sizes and times of the grader's modules, and the times of the interpreter's library and
    site-packages folders (an install or upgrade there changes them), so a zygote started before an
    upgrade is never reused. Not the script's or working folder: the zygote's path has neither.
    """
    # `grader` and `python -m grader` may name one interpreter by two links: one zygote serves both
    digest = hashlib.sha256(f"{os.path.realpath(sys.executable)}\0{sys.version}\0{_GRADER_ROOT}".encode())
    package = os.path.join(_GRADER_ROOT, "grader")
    for folder, subfolders, files in os.walk(package):
        subfolders.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                info = os.stat(os.path.join(folder, name))
                digest.update(f"{folder}/{name}:{info.st_size}:{info.st_mtime_ns}\0".encode())
    paths = sysconfig.get_paths()
    for entry in sorted({paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib") if name in paths}):
        try:
            digest.update(f"{entry}:{os.stat(entry).st_mtime_ns}\0".encode())
        except OSError:
            pass
    return digest.hexdigest()[:20]


_LAST_BASES = ("/tmp",)  # where a kept zygote listens when neither of the user's folders will do


def kept_zygote_address() -> str | None:
    """Where this user's kept zygote for this grader and Python listens; None where none may be kept.

    In `$XDG_RUNTIME_DIR`, else (unset, unsafe, or too deep for a Unix socket's short path) in the
    temporary folder, else in /tmp (a `$TMPDIR` can be too deep too, as the run's own zygote finds).
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    bases = [b for b in (runtime, tempfile.gettempdir(), *_LAST_BASES) if b and os.path.isabs(b)]
    key = None
    for base in dict.fromkeys(bases):
        if len(os.fsencode(base)) > 60:  # the folder and the socket's name must fit in about 100 bytes
            continue
        folder = _private_folder(base)
        if folder is None:
            continue
        key = key or _install_key()
        address = os.path.join(folder, f"zygote-{key}.sock")
        if len(os.fsencode(address)) < 100:
            return address
    return None


class SharedZygote:
    """One sandbox zygote for a whole run of several assignments, started when a job first needs it.

    A zygote holds no course state (it never imports references or tests; each sandbox gets its
    configuration when forked), so one can serve every assignment. Starting one costs about 2.5 s of
    CPU (a fresh `import torch`); a run with nothing to grade starts none. Its address stays the same
    for the whole run: a zygote that has died, or that a job found wedged, is replaced by a fresh one
    listening there (`recover`), so workers that hold the address use the new one.

    With `keep` seconds (a student's `grader check`), the zygote is *kept*: it is looked for at this
    user's private address for this grader and Python (`kept_zygote_address`), started there if none
    answers, and left running when the run ends; it leaves after `keep` seconds without a client. The
    next check then skips the zygote's start. A lock beside the socket makes concurrent checks share
    one start: the zygote holds it until it listens.
    """

    def __init__(self, keep: float = 0.0) -> None:
        self._zygote: Zygote | None = None
        self._retired: list[Zygote] = []
        self._tmpdir: str | None = None
        self.replaced = 0
        self.keep = keep
        self.reused = False  # whether a kept zygote from an earlier run answered

    def _kept(self) -> Zygote | None:
        """A kept zygote at this user's address: one that answers, else one started now; None if none may be kept."""
        address = kept_zygote_address()
        if address is None:
            return None
        try:
            lock = os.open(
                address[: -len(".sock")] + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
            )
        except OSError:
            return None
        try:
            deadline = time.monotonic() + ZYGOTE_START_TIMEOUT
            while True:  # another check may be starting one: it listens when the lock is free
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        return None
                    time.sleep(0.05)
            if Zygote(address=address).ping(timeout=2.0, wait_to_listen=False):
                self.reused = True
                return Zygote(address=address, kept=True)
            return Zygote.launch(address, idle=self.keep, lock_fd=lock)
        finally:
            os.close(lock)

    def _address(self) -> str:
        if self._tmpdir is None:
            self._tmpdir = socket_folder()
        return os.path.join(self._tmpdir, _SOCKET_NAME)

    def launch(self) -> None:
        """Start the zygote now, without waiting for it, unless one is running (or, kept, answers)."""
        if self._zygote is not None and self._zygote.process is not None and self._zygote.process.poll() is not None:
            self._zygote.close()
            self._zygote = None
        if self._zygote is None and self.keep > 0:
            self._zygote = self._kept()
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
    _status: ExitStatus | None = None
    cpu_seconds: float = 0.0  # known once it has ended
    memory: tuple[int, str] = (0, "")  # its peak in bytes and who counted it (zygote.memory_report), once ended

    def __post_init__(self) -> None:
        # wire (which imports torch) is imported here, not at the top: a command can then start the
        # zygote, whose own `import torch` takes seconds, before this process has imported torch.
        from grader.sandbox import wire

        self._messages = wire.Channel(self.channel)

    def request(
        self,
        header: Request,
        blobs: list[bytes],
        *,
        timeout: float,
        reply_limit: int | None = None,
    ) -> tuple[dict[str, Any], list[bytearray]]:
        """Send one request and wait for the whole reply, at most `timeout` seconds for both.

        `reply_limit` bounds the reply's size in bytes (the channel's own limit otherwise).

        SandboxGone when the sandbox ends or misses the deadline (it is killed); wire.ProtocolError
        (the sandbox is killed) when what it sends is not a message.
        """
        from grader.sandbox import wire

        deadline = time.monotonic() + max(timeout, 0.01)
        with self._failures():
            self._messages.send(header, blobs, deadline=deadline)
            if reply_limit is None:
                return self._messages.recv(deadline=deadline)
            return self._messages.recv(deadline=deadline, limit=min(reply_limit, wire.MAX_FRAME_BYTES))

    def request_batch(
        self, requests: list[tuple[Request, list[bytes]]], *, timeout: float, until: float
    ) -> list[tuple[dict[str, Any], list[bytearray]]]:
        """Send several requests as one batch (protocol.Op.BATCH) and read their replies, in order.

        The sandbox runs them one after another and stops after the first reply that
        `protocol.ends_batch`: the replies come back up to and including that one. Each reply must
        arrive within `timeout` seconds of the one before (of the sending, for the first), as one
        request's reply must, and all of them by `until` (a `time.monotonic()` instant). Failures as
        for `request`, whatever replies had already arrived.
        """
        header: Request = {
            "op": Op.BATCH,
            "requests": [dict(request) for request, _ in requests],
            "counts": [len(blobs) for _, blobs in requests],
        }
        replies: list[tuple[dict[str, Any], list[bytearray]]] = []
        with self._failures():
            deadline = min(time.monotonic() + max(timeout, 0.01), until)
            self._messages.send(header, [blob for _, blobs in requests for blob in blobs], deadline=deadline)
            while len(replies) < len(requests):
                replies.append(self._messages.recv(deadline=min(time.monotonic() + max(timeout, 0.01), until)))
                if ends_batch(replies[-1][0]):
                    break
        return replies

    @contextlib.contextmanager
    def _failures(self) -> Iterator[None]:
        """What a request's failures mean: SandboxGone (killed if it missed its time), or the ProtocolError (killed)."""
        from grader.sandbox import wire

        try:
            yield
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

    def exit_status(self, wait: float = 5.0) -> ExitStatus | None:
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


def describe_exit(status: ExitStatus | None) -> str:
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
