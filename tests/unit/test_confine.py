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


def test_the_filter_denies_kernel_objects_that_outlive_a_process_and_unaccounted_shared_memory():
    pytest.importorskip("pyseccomp")
    confine.prepare()

    def body() -> int:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        confine._seccomp()
        for name, args in (("shmget", (0, 4096, 0o1600)), ("msgget", (0, 0o1600)), ("semget", (0, 1, 0o1600))):
            if getattr(libc, name)(*args) != -1 or ctypes.get_errno() != 1:
                return 2
        if libc.mq_open(b"/grader-test", os.O_RDWR | os.O_CREAT, 0o600, None) != -1:
            return 3
        try:
            os.memfd_create("x")
            return 4
        except PermissionError:
            return 0

    assert _in_child(body) == 0


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces and a change of uid need root")


@needs_root
def test_folders_that_bar_the_sandboxs_user_are_passed_through_to_what_it_needs_only(tmp_path):
    barred = tmp_path / "barred"
    needed = barred / "lib" / "python"
    needed.mkdir(parents=True)
    (needed / "module.py").write_text("x = 1\n")
    (barred / "secret.txt").write_text("not for the sandbox\n")
    for folder in (tmp_path, barred):
        folder.chmod(0o700)
    uid = gid = confine._PRIVATE_ID_BASE + 1

    def body() -> int:
        covered = confine._make_reachable([str(needed / "module.py")], uid, gid)
        confine._become(uid, gid, covered)
        with open(needed / "module.py") as f:
            if f.read() != "x = 1\n":
                return 2
        if os.path.exists(barred / "secret.txt") or sorted(os.listdir(barred)) != ["lib"]:
            return 3
        return 0 if str(tmp_path) in covered and str(barred) in covered else 4

    assert _in_child(body) == 0
    assert (barred / "secret.txt").exists() and oct(barred.stat().st_mode & 0o777) == "0o700"  # outside: unchanged


def test_the_private_ids_are_a_sandboxs_own():
    assert confine.sandbox_ids(1234) != confine.sandbox_ids(1235)
    uid, gid = confine.sandbox_ids(1234)
    assert uid == gid and (uid >= confine._PRIVATE_ID_BASE or uid == 65534)


@needs_root
def test_a_memory_cgroup_is_made_entered_and_removed_with_the_oom_kill_it_saw():
    from grader.sandbox import cgroup

    base, why = cgroup.find_base(f"grader-test-{os.getpid()}")
    if base is None:
        pytest.skip(f"no memory cgroup can be made here: {why}")
    try:
        pid = os.fork()
        if pid == 0:
            try:
                cgroup.enter(base, 64 << 20)
                import mmap

                block = mmap.mmap(-1, 256 << 20, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
                block[:] = b"\x01" * len(block)  # shared memory: counted, and killed for it
            finally:
                os._exit(0)
        status = os.waitpid(pid, 0)[1]
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9
        assert cgroup.release(base, pid) is True
        assert not os.path.exists(base.sandbox_path(pid))
        assert cgroup.release(base, pid) is False
    finally:
        cgroup.remove(base.path)
    assert not os.path.exists(base.path)
