"""The sandbox zygote: a process that has imported torch, numpy and torchvision, and forks sandboxes.

It never imports tests, references, pytest or Hypothesis. Clients connect to its Unix socket, send a
JSON config with one end of a socketpair attached, and get back the pid of a fresh sandbox serving
that socket; the connection stays open and later carries the sandbox's exit status (and whether the
kernel killed it for memory), or a request to kill it. A client may also send `{"ping": true}` with
no descriptor and gets `{"pong": true}`: that is how a wedged zygote is told from a busy one.
Forking from here makes a sandbox cost milliseconds instead of a fresh `import torch`.

A zygote started for a student's `grader check` may be *kept* (`--idle SECONDS`): it does not die
with the grader that started it, serves later checks by the same user, and leaves once it has had
no client and no sandbox for that long (see `grader.grading.sandbox_client.SharedZygote`).

Nothing a sandbox does may stall it: a sandbox keeps no descriptor of the zygote's (its listening
socket, its clients' connections, its signal pipe, its stdout), only peers with the zygote's own uid
are served, and a connection that does not send its request at once is dropped.
"""

from __future__ import annotations

import array
import ctypes
import gc
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from typing import Any, cast

from grader.sandbox import cgroup, confine
from grader.sandbox.protocol import ExitCode, ExitStatus, SandboxConfig

_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_PDEATHSIG = 1
CHANNEL_FD = 3  # a sandbox's channel; 0, 1 and 2 are its stdin, stdout and stderr
_REQUEST_TIMEOUT = 5.0  # a client sends its request as soon as it connects


def describe_status(status: int) -> ExitStatus:
    """A wait status as data: the signal that killed the process, or its exit code (-1: neither)."""
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1}


def import_libraries() -> None:
    """Import what every sandbox shares, the same whether or not torchvision is installed.

    `torch._dynamo` comes in with torchvision, or else at a student's first `optimizer.step()`;
    imported then, in the sandbox, it makes a cache folder in the shared temporary folder, which the
    sandbox may not write: a correct training loop then failed with PermissionError. Imported here,
    before any fork, that folder is made once, by the grader's own user.
    """
    import numpy  # noqa: F401
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    native_convolutions(torch)
    try:
        import torchvision  # noqa: F401
    except Exception:
        pass
    try:
        import torch._dynamo  # noqa: F401
        import torch.optim  # noqa: F401
    except Exception:
        pass


def native_convolutions(torch: Any) -> None:
    """Run CPU convolutions on PyTorch's own kernels, not oneDNN's, in every sandbox.

    oneDNN compiles a kernel for each new shape and keeps it in a cache that a fresh sandbox starts
    without, while property tests draw new shapes all the time: a job paid the compilation again and
    again, for nothing. Measured with one thread in fresh processes: 100 convolutions of small random
    shapes with their gradients took 50 ms on oneDNN and 13 ms on PyTorch's kernels; conv1d on two
    million entries (conv1d_backprop's long test) 300 ms and 27 ms, its transpose 380 ms and 33 ms.
    A streamed conv1d_backprop job went from 1,020 to 720 ms of CPU and bottleneck's from 815 to
    740; large convolutions (AlexNet's first layer on 224x224) are slower on PyTorch's kernels (19
    against 7 ms) but no test runs them often. Results differ from oneDNN's by rounding only, which
    every test's tolerance admits, and a student's own check (`grader check`) runs the same way.
    """
    torch.backends.mkldnn.enabled = False


def _preload() -> None:
    import_libraries()
    import grader.sandbox.server  # noqa: F401

    confine.prepare()
    confine.prepare_memory_cgroups()

    gc.freeze()  # forked sandboxes then never walk (or copy) torch's heap in a garbage collection


def _recv_request(conn: socket.socket) -> tuple[SandboxConfig, int | None] | None:
    """A client's request and the descriptor sent with it (None for a ping); None if it is not one."""
    fds = array.array("i")
    msg, ancdata, _flags, _addr = conn.recvmsg(1 << 16, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    for extra in fds[1:]:
        os.close(extra)
    try:
        request = json.loads(msg) if msg else None
    except ValueError:
        request = None
    if not isinstance(request, dict) or (not fds and not request.get("ping")):
        if fds:
            os.close(fds[0])
        return None
    return cast(SandboxConfig, request), (fds[0] if fds else None)


def _peer_is_trusted(conn: socket.socket) -> bool:
    """Whether the peer runs under this process's uid (a sandbox never does where the grader is root)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


def _send(conn: socket.socket, payload: dict[str, Any]) -> None:
    try:
        conn.sendall(json.dumps(payload).encode() + b"\n")
    except OSError:
        pass


def _child(channel_fd: int, config: SandboxConfig, close: list[socket.socket]) -> None:
    for s in close:
        s.close()
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    _keep_only_channel(channel_fd)
    os.setsid()
    _share_cpus(config.get("cpus"))
    from grader.sandbox import server

    code = ExitCode.OK
    try:
        server.serve(socket.socket(fileno=CHANNEL_FD), config)
    except BaseException:
        code = ExitCode.SANDBOX_BROKEN
    finally:
        os._exit(code)


def _keep_only_channel(channel_fd: int) -> None:
    """Close every descriptor but 0, 1, 2 and the channel, which becomes `CHANNEL_FD`.

    What the zygote holds (its signal pipe, its listening socket, other sandboxes' control
    connections, whatever a library opened) must never reach student code. 1 and 2 are the
    zygote's stdout and stderr until the sandbox points them at the job's output file.
    """
    if channel_fd != CHANNEL_FD:
        os.dup2(channel_fd, CHANNEL_FD, inheritable=False)
        os.close(channel_fd)
    os.closerange(CHANNEL_FD + 1, _max_fd())


def _max_fd() -> int:
    try:
        return max(int(name) for name in os.listdir("/proc/self/fd")) + 1
    except (OSError, ValueError):
        return os.sysconf("SC_OPEN_MAX")


def _share_cpus(cpus: Any) -> None:
    """Run on the CPUs of the trusted process that drives this sandbox.

    The two take turns (a call waits for its reply), so on one core a call's hand-over is a plain
    switch between them, with warm caches, and not a wake-up on another core: about a third less CPU
    for a small call. This is only about speed; a sandbox that changes its own affinity gains nothing.
    """
    if isinstance(cpus, list) and cpus and all(type(c) is int for c in cpus):
        try:
            os.sched_setaffinity(0, cpus)
        except OSError:
            pass


def serve_forever(listener: socket.socket, idle: float | None = None, bound_inode: int = -1) -> None:
    """Fork sandboxes for clients until SIGTERM, or, with `idle`, until that many seconds pass with no
    client connecting and no sandbox alive."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    listener.setblocking(False)
    clients: dict[int, socket.socket] = {}  # pid -> control connection
    base = confine.memory_cgroup_base()
    last_active = time.monotonic()
    while True:
        watched = [listener.fileno(), wake_r] + [c.fileno() for c in clients.values()]
        wait = None if idle is None or clients else max(0.0, last_active + idle - time.monotonic())
        ready, _, _ = select.select(watched, [], [], wait)
        if clients or ready:
            last_active = time.monotonic()
        elif idle is not None and time.monotonic() >= last_active + idle:
            path = listener.getsockname()
            _exit((path, bound_inode) if isinstance(path, str) else None)
        if wake_r in ready:
            os.read(wake_r, 4096)
            while True:
                try:
                    pid, status, usage = os.wait4(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                try:
                    os.killpg(pid, signal.SIGKILL)  # whatever the sandbox left behind
                except OSError:
                    pass
                peak = cgroup.peak_bytes(base, pid) if base is not None else None
                oom = cgroup.release(base, pid) if base is not None else False
                conn = clients.pop(pid, None)
                if conn is not None:
                    exit_status = describe_status(status)
                    if oom:
                        exit_status["oom"] = True
                    _send(
                        conn,
                        {
                            "exit": exit_status,
                            "cpu": usage.ru_utime + usage.ru_stime,
                            "memory": memory_report(peak, usage.ru_maxrss),
                        },
                    )
                    conn.close()
        for pid, conn in list(clients.items()):
            if conn.fileno() in ready:
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                if not data or b"kill" in data:
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except OSError:
                        pass
                    if not data:
                        clients.pop(pid)
                        conn.close()
        if listener.fileno() in ready:
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            child = _serve_connection(conn, listener, clients)
            if child is not None:
                clients[child] = conn


def memory_report(cgroup_peak: int | None, max_rss_kib: int) -> dict[str, Any]:
    """How much memory an ended sandbox held at its peak: its memory cgroup's count (what the memory
    limit counts) where there is one, else its peak resident set (in KiB from wait4), which also holds
    the pages it shares with the zygote (torch and the grader, imported before the fork)."""
    if cgroup_peak is not None:
        return {"peak": cgroup_peak, "counted_by": "cgroup"}
    return {"peak": max_rss_kib * 1024, "counted_by": "rss"}


def _serve_connection(conn: socket.socket, listener: socket.socket, clients: dict[int, socket.socket]) -> int | None:
    """Answer one new connection: fork a sandbox (its pid) or answer a ping; None when it is closed."""
    try:
        conn.settimeout(_REQUEST_TIMEOUT)  # a silent client costs this much, once
        request = _recv_request(conn) if _peer_is_trusted(conn) else None
    except OSError:
        request = None
    if request is None:
        conn.close()
        return None
    config, channel_fd = request
    if channel_fd is None:
        _send(conn, {"pong": True})
        conn.close()
        return None
    from grader.sandbox import tripwires  # loaded by _preload, after the libraries its snapshot of classes needs

    try:
        tripwires.prepare(config.get("forbidden_calls", []))  # once per list of rules, not in every sandbox
    except Exception:  # noqa: BLE001 - the sandbox then installs them itself, and reports what fails
        pass
    pid = os.fork()
    if pid == 0:
        _child(channel_fd, config, [listener, conn, *clients.values()])
    os.close(channel_fd)
    _send(conn, {"pid": pid})
    return pid


def _exit(bound: tuple[str, int] | None = None) -> None:
    """Leave at once (SIGTERM, or idle when kept), removing this zygote's memory cgroups and, given
    the socket it `bound` (path, inode), that socket's name unless a newer zygote has taken it."""
    base = confine.memory_cgroup_base()
    if base is not None:
        cgroup.remove(base.path)
    if bound is not None:
        try:
            if os.stat(bound[0]).st_ino == bound[1]:
                os.unlink(bound[0])
        except OSError:
            pass
    os._exit(0)


def _arguments(argv: list[str]) -> tuple[str, float | None, int | None]:
    """The socket's path, and for a kept zygote its idle time and the launch lock's descriptor."""
    path, idle, lock_fd = argv[0], None, None
    rest = argv[1:]
    while len(rest) >= 2:
        flag, value, rest = rest[0], rest[1], rest[2:]
        if flag == "--idle":
            idle = float(value)
        elif flag == "--lock-fd":
            lock_fd = int(value)
    return path, idle, lock_fd


def main() -> None:
    parent = os.getppid()
    path, idle, lock_fd = _arguments(sys.argv[1:])
    # From the start, not once torch is imported: Ctrl-C and a closed terminal reach the whole process
    # group, and they are the grader's to handle (it closes the zygote). Sandboxes get them back (_child).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        if idle is None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # never outlive the grader
    except OSError:
        pass
    if idle is None and os.getppid() != parent:  # the grader ended before the line above: so does this
        os._exit(0)
    _preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.unlink(path)  # a zygote replaced at the same address leaves its socket behind
    except FileNotFoundError:
        pass
    old_mask = os.umask(0o177)  # the socket is the grader's alone (rw for its own uid)
    try:
        listener.bind(path)
    finally:
        os.umask(old_mask)
    listener.listen(64)
    signal.signal(signal.SIGTERM, lambda *_: _exit())
    try:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
    except OSError:
        if idle is None:
            raise  # the grader that started this zygote is gone
    if idle is not None:
        # Kept: the check that started it ends soon, and later ones are not its audience. Then let
        # checks waiting on the launch lock in (this zygote listens now).
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        if lock_fd is not None:
            os.close(lock_fd)
    serve_forever(listener, idle, os.stat(path).st_ino)


if __name__ == "__main__":
    main()
