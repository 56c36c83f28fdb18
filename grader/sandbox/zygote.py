"""The sandbox zygote: a process that has imported torch, numpy and torchvision, and forks sandboxes.

It never imports tests, references, pytest or Hypothesis. Clients connect to its Unix socket, send a
JSON config with one end of a socketpair attached, and get back the pid of a fresh sandbox serving
that socket; the connection stays open and later carries the sandbox's exit status, or a request to
kill it. Forking from here makes a sandbox cost milliseconds instead of a fresh `import torch`.
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
import sys
from typing import Any

_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_PDEATHSIG = 1


def describe_status(status: int) -> dict[str, Any]:
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1}


def _preload() -> None:
    import numpy  # noqa: F401
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    try:
        import torchvision  # noqa: F401
    except Exception:
        pass
    import grader.sandbox.server  # noqa: F401
    from grader.sandbox import confine

    confine.prepare()

    gc.freeze()  # forked sandboxes then never walk (or copy) torch's heap in a garbage collection


def _recv_request(conn: socket.socket) -> tuple[dict[str, Any], int] | None:
    fds = array.array("i")
    msg, ancdata, _flags, _addr = conn.recvmsg(1 << 16, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if not msg or not fds:
        return None
    return json.loads(msg), fds[0]


def _send(conn: socket.socket, payload: dict[str, Any]) -> None:
    try:
        conn.sendall(json.dumps(payload).encode() + b"\n")
    except OSError:
        pass


def _child(channel_fd: int, config: dict[str, Any], close: list[socket.socket]) -> None:
    for s in close:
        s.close()
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    os.setsid()
    _share_cpus(config.get("cpus"))
    from grader.sandbox import server

    code = 0
    try:
        server.serve(socket.socket(fileno=channel_fd), config)
    except BaseException:
        code = 70
    finally:
        os._exit(code)


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


def serve_forever(listener: socket.socket) -> None:
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    clients: dict[int, socket.socket] = {}  # pid -> control connection
    while True:
        watched = [listener.fileno(), wake_r] + [c.fileno() for c in clients.values()]
        ready, _, _ = select.select(watched, [], [])
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
                conn = clients.pop(pid, None)
                if conn is not None:
                    _send(conn, {"exit": describe_status(status), "cpu": usage.ru_utime + usage.ru_stime})
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
            conn, _ = listener.accept()
            try:
                request = _recv_request(conn)
            except (OSError, ValueError):
                request = None
            if request is None:
                conn.close()
                continue
            config, channel_fd = request
            pid = os.fork()
            if pid == 0:
                _child(channel_fd, config, [listener, conn, *clients.values()])
            os.close(channel_fd)
            clients[pid] = conn
            _send(conn, {"pid": pid})


def main() -> None:
    path = sys.argv[1]
    _preload()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # never outlive the grader
    except OSError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grader's to handle; it closes the zygote
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    serve_forever(listener)


if __name__ == "__main__":
    main()
