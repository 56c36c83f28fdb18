"""The seccomp filter is compiled once (in the zygote) and each sandbox only loads it."""

from __future__ import annotations

import os
import platform

import pytest

from grader.sandbox import confine

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.machine() != "x86_64", reason="seccomp programs are loaded on x86_64 Linux"
)


def _in_child(body) -> int:
    """Run `body` in a forked child; its exit status (0 when every check held)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = body()
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_the_precompiled_filter_denies_sockets_and_fork_but_not_threads():
    pytest.importorskip("pyseccomp")
    confine.prepare()
    assert isinstance(confine._seccomp_program, bytes) and len(confine._seccomp_program) % 8 == 0

    def body() -> int:
        import socket
        import threading

        assert confine._seccomp().endswith("rules")
        try:
            socket.socket()
            return 2
        except PermissionError:
            pass
        try:
            os.fork()
            return 3
        except PermissionError:
            pass
        thread = threading.Thread(target=lambda: None)
        thread.start()
        thread.join()
        return 0

    assert _in_child(body) == 0
