"""The sandbox against the kernel-side attacks: its channel, inherited descriptors, IPC, files, memory, the zygote.

Each test runs real sandboxes forked from a zygote. Those that need root (a uid of the sandbox's
own, namespaces, cgroups) are skipped elsewhere; the grader runs as root on Gradescope and in CI.
"""

from __future__ import annotations

import os
import signal
import socket
import textwrap
import time
from pathlib import Path

import pytest

from grader.course.spec import Limits
from grader.grading import sandbox_client as client
from grader.grading.proxy import StudentError, StudentFault, StudentSession
from grader.grading.sandbox_client import SharedZygote, Zygote, ZygoteError
from grader.sandbox import confine

LIMITS = Limits(call_timeout=2, import_timeout=10, job_timeout=60, memory_mb=256)
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="the sandbox drops root's privileges only where it has them")


@pytest.fixture
def session_for(tmp_path, zygote):
    sessions: list[StudentSession] = []

    def make(source: str, *, limits: Limits = LIMITS, on: Zygote | None = None) -> StudentSession:
        student = tmp_path / f"student{len(sessions)}"
        work = tmp_path / f"work{len(sessions)}"
        student.mkdir()
        work.mkdir()
        (student / "sub.py").write_text(textwrap.dedent(source))
        s = StudentSession(zygote=on or zygote, student_dir=str(student), module="sub", workdir=str(work), limits=limits)
        sessions.append(s)
        return s

    yield make
    for s in sessions:
        s.close()


CORRECT = """
    def f(x):
        return x + 1
"""


# -- the channel: a deadline for the whole reply -----------------------------------------------------


def test_a_reply_dribbled_byte_by_byte_times_out_at_the_calls_deadline(session_for):
    m = session_for("""
        import os, signal, struct, time
        def dribble():
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            while True:
                for byte in struct.pack("!II", 100, 0) + b'{"ok": true' * 10:
                    os.write(3, bytes([byte]))
                    time.sleep(0.1)
    """).module()
    started = time.monotonic()
    with pytest.raises(StudentFault, match=r"^dribble timed out after 2 s$"):
        m.dribble()
    assert time.monotonic() - started < 2 + 2 + 3  # the call's limit, the grace for the reply, slack


@pytest.mark.parametrize(
    "frame, says",
    [
        ('struct.pack("!II", 9, 0) + b"not json!"', "message header is not JSON"),
        ('struct.pack("!II", 2, 1) + b"{}" + struct.pack("!Q", 1 << 62)', "message larger than the limit of 1024 MiB"),
        ('struct.pack("!II", 1 << 31, 0)', "message header too large"),
    ],
)
def test_a_frame_that_is_not_a_message_breaks_the_protocol_and_fails_only_the_student(session_for, frame, says):
    s = session_for(f"""
        import os, struct, time
        def send():
            os.write(3, {frame})
            time.sleep(30)
        def ok():
            return 1
    """)
    m = s.module()
    with pytest.raises(StudentFault, match=f"^send broke the grader's protocol \\({says}"):
        m.send()
    s.begin_test()
    assert s.module().ok() == 1  # a fresh sandbox for the next test


def test_a_malformed_value_is_the_students_failure(session_for):
    m = session_for("""
        import json, os, struct, time
        def forge():
            head = json.dumps({"ok": True, "value": {"t": "tensor", "dtype": "float32", "shape": [3], "blob": 7}}).encode()
            os.write(3, struct.pack("!II", len(head), 0) + head)
            time.sleep(30)
    """).module()
    with pytest.raises(StudentFault, match="sent back something that is not plain data"):
        m.forge()


# -- descriptors: a sandbox holds its channel and nothing of the zygote's ------------------------------


def test_a_sandbox_holds_no_descriptor_but_its_channel(session_for):
    m = session_for("""
        import os
        def descriptors():
            found = {}
            for fd in os.listdir("/proc/self/fd"):
                try:
                    found[int(fd)] = os.readlink(f"/proc/self/fd/{fd}")
                except FileNotFoundError:
                    pass  # the listing's own descriptor, closed since
            return found
    """).module()
    fds = m.descriptors()
    assert sorted(fds) == [0, 1, 2, 3], fds
    assert fds[0] == "/dev/null" and fds[1] == fds[2] and fds[1].endswith("student-output.txt")
    assert fds[3].startswith("socket:")


def test_meddling_with_every_descriptor_does_not_wedge_the_zygote(session_for, zygote):
    m = session_for("""
        import os, socket
        def meddle():
            for fd in range(1025):
                if fd == 3:
                    continue
                for action in (lambda: os.set_blocking(fd, False), lambda: os.read(fd, 65536),
                               lambda: os.write(fd, b"kill\\n" * 100), lambda: os.close(fd)):
                    try:
                        action()
                    except OSError:
                        pass
            try:
                socket.socket(socket.AF_UNIX).connect(ZYGOTE)
                return "connected"
            except OSError as exc:
                return type(exc).__name__
    """.replace("ZYGOTE", repr(zygote.address))).module()
    assert m.meddle() == "PermissionError"
    assert zygote.ping()
    assert session_for(CORRECT).module().f(1) == 2


@needs_root
def test_only_the_graders_own_user_may_talk_to_the_zygote(zygote):
    pid = os.fork()
    if pid == 0:  # as a sandbox's user would, without seccomp
        code = 1
        try:
            os.setresuid(confine._PRIVATE_ID_BASE + 7, confine._PRIVATE_ID_BASE + 7, confine._PRIVATE_ID_BASE + 7)
            try:
                socket.socket(socket.AF_UNIX).connect(zygote.address)
            except PermissionError:
                code = 0
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert oct(os.stat(zygote.address).st_mode & 0o777) == "0o600"


def test_a_silent_client_does_not_wedge_the_zygote(session_for, zygote):
    silent = socket.socket(socket.AF_UNIX)
    silent.connect(zygote.address)  # and never sends its request
    try:
        assert session_for(CORRECT).module().f(1) == 2
    finally:
        silent.close()


# -- a wedged or dead zygote --------------------------------------------------------------------------


def test_a_wedged_zygote_fails_spawns_at_their_deadline_and_is_replaced(session_for, monkeypatch):
    monkeypatch.setattr(client, "PING_TIMEOUT", 1.0)
    with SharedZygote() as shared:
        first = shared.get()
        address = first.address
        assert first.process is not None
        os.kill(first.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(ZygoteError, match="did not answer"):
                first.spawn({}, timeout=1.0)
            assert time.monotonic() - started < 3
            with pytest.raises(ZygoteError):  # at once, for the rest of the job
                first.spawn({}, timeout=60)
            assert time.monotonic() - started < 3
            assert shared.recover() is True
            second = shared.get()
            assert second is not first and second.address == address
            assert session_for(CORRECT, on=Zygote(address=address)).module().f(1) == 2
            assert shared.recover() is False  # a zygote that answers is kept
        finally:
            os.kill(first.process.pid, signal.SIGCONT)
    assert first.process.poll() is not None and second.process.poll() is not None


def test_sandboxes_die_with_their_zygote(tmp_path):
    zygote = Zygote.start()
    try:
        (tmp_path / "s").mkdir()
        (tmp_path / "w").mkdir()
        (tmp_path / "s" / "sub.py").write_text("def f():\n    return 1\n")
        s = StudentSession(zygote=zygote, student_dir=str(tmp_path / "s"), module="sub", workdir=str(tmp_path / "w"), limits=LIMITS)
        assert s.module().f() == 1
        assert s._process is not None
        pid = s._process.pid
        assert zygote.process is not None
        zygote.process.kill()
        zygote.process.wait()
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{pid}") and _state(pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(f"/proc/{pid}") or _state(pid) == "Z"
        s.close()
    finally:
        zygote.close()


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


# -- privileges and files -----------------------------------------------------------------------------


@needs_root
def test_a_sandbox_runs_under_a_uid_of_its_own_with_no_capabilities(session_for):
    source = """
        import os
        def ids():
            return [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()]
    """
    first, second = session_for(source), session_for(source)
    a, b = first.module().ids(), second.module().ids()
    assert a[0] >= confine._PRIVATE_ID_BASE and a[:4] == [a[0]] * 4 and a[4] == []
    assert b[0] != a[0]  # two sandboxes never share a user: neither can signal the other
    assert first._process is not None
    with open(f"/proc/{first._process.pid}/status") as f:  # the kernel's view, from outside
        status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    assert status["Uid"].split() == [str(a[0])] * 4
    assert all(int(status[k], 16) == 0 for k in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"))
    assert status["NoNewPrivs"].strip() == "1" and status["Seccomp"].strip() == "2"


@needs_root
def test_root_only_files_are_unreadable_even_where_landlock_allows_reading(session_for, tmp_path):
    s = session_for("""
        import os
        def read(path):
            try:
                with open(path, "rb") as f:
                    return f.read()
            except OSError as exc:
                return type(exc).__name__
    """)
    secret = Path(s.student_dir) / "root_only.txt"  # in the student's folder, which Landlock lets it read
    secret.write_text("only root may read this")
    secret.chmod(0o600)
    m = s.module()
    assert m.read(str(secret)) == "PermissionError"
    for path in ("/etc/shadow", "/etc/gshadow", "/proc/1/environ", "/root/.profile"):
        assert m.read(path) in ("PermissionError", "FileNotFoundError"), path


def test_the_sandbox_reads_the_system_files_it_needs_and_no_others(session_for):
    m = session_for("""
        import os
        def readable(path):
            try:
                if os.path.isdir(path):
                    os.listdir(path)
                else:
                    open(path, "rb").close()
                return True
            except OSError:
                return False
        def libraries():
            # What the listed files are for: time zones, extension modules with system libraries, torch.
            import ctypes, datetime, lzma, sqlite3, time, zoneinfo
            import numpy, torch
            zone = zoneinfo.ZoneInfo("Europe/Paris").utcoffset(datetime.datetime(2026, 1, 1))
            ctypes.CDLL("libm.so.6")
            return [time.localtime(0).tm_year, zone.seconds, lzma.decompress(lzma.compress(b"x")).decode(),
                    sqlite3.connect(":memory:").execute("select 1").fetchone()[0],
                    float(torch.ones(3).sum()), int(numpy.arange(3).sum())]
    """).module()
    for path in confine.SYSTEM_FILES:
        if os.path.exists(path):
            assert m.readable(path), path
    for path in ("/etc/hostname", "/etc/passwd", "/etc/shadow", "/usr/bin", "/usr/share/doc", "/var", "/home",
                 "/proc/1/status", "/proc/sys/kernel/hostname", "/sys/class/net"):
        if os.path.exists(path):
            assert not m.readable(path), path
    assert m.libraries() == [1970, 3600, "x", 1, 3.0, 3]


# -- kernel objects: IPC and shared memory ------------------------------------------------------------

IPC = """
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    KEY = 0x6b65726e
    def create():
        shm = libc.shmget(KEY, ctypes.c_size_t(1 << 20), 0o1666)
        if shm == -1:
            return os.strerror(ctypes.get_errno())
        address = libc.shmat(shm, None, 0)
        ctypes.memmove(address, b"secret", 6)
        queue = libc.msgget(KEY, 0o1666)
        mq = libc.mq_open(b"/grader-kernel-test", os.O_RDWR | os.O_CREAT, 0o666, None)
        return [shm, queue, mq if mq != -1 else os.strerror(ctypes.get_errno())]
    def find():
        return [libc.shmget(KEY, 0, 0o666), libc.msgget(KEY, 0o666), libc.mq_open(b"/grader-kernel-test", os.O_RDWR)]
"""


def test_ipc_and_memfd_are_refused(session_for):
    m = session_for(IPC + """
    def memfd():
        try:
            os.memfd_create("x")
        except OSError as exc:
            return type(exc).__name__
    def dev_shm():
        try:
            open("/dev/shm/hoard", "wb").close()
        except OSError as exc:
            return type(exc).__name__
    """).module()
    assert m.create() == "Operation not permitted"
    assert m.memfd() == "PermissionError"
    assert m.dev_shm() == "PermissionError"


@needs_root
def test_ipc_objects_are_private_to_their_sandbox_and_end_with_it(session_for, monkeypatch):
    monkeypatch.setenv("GRADER_SANDBOX_DISABLE", "seccomp,landlock")  # the namespace alone must hold
    before = _sysvipc()
    first = session_for(IPC)
    created = first.module().create()
    assert isinstance(created, list) and all(type(h) is int and h >= 0 for h in created), created
    assert first._process is not None
    assert os.readlink(f"/proc/{first._process.pid}/ns/ipc") != os.readlink("/proc/self/ns/ipc")
    second = session_for(IPC)
    assert second.module().find() == [-1, -1, -1]  # the other sandbox's objects are not there
    first.close()
    second.close()
    assert _sysvipc() == before


def _sysvipc() -> dict[str, list[str]]:
    return {kind: Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:] for kind in ("shm", "msg", "sem")}


@pytest.mark.parametrize("counted_by", ["memory_cgroup", "address space"])
def test_shared_memory_counts_against_the_memory_limit(session_for, monkeypatch, counted_by):
    if counted_by == "address space":
        monkeypatch.setenv("GRADER_SANDBOX_DISABLE", "memory_cgroup")
    s = session_for("""
        import mmap
        hoard = []
        def bomb():
            block = mmap.mmap(-1, 512 << 20, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
            hoard.append(block)
            for start in range(0, len(block), 1 << 20):
                block[start:start + (1 << 20)] = b"\\x01" * (1 << 20)
        def fine():
            block = mmap.mmap(-1, 64 << 20, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
            block[:] = b"\\x01" * len(block)
            return len(block)
    """)
    m = s.module()
    if counted_by == "memory_cgroup" and s.protections.get("memory_cgroup") is None:
        pytest.skip("no memory cgroup can be made here")
    assert m.fine() == 64 << 20
    with pytest.raises(StudentFault, match=r"^bomb exceeded the memory limit of 256 MiB \(shared memory counted\)$"):
        m.bomb()


@needs_root
def test_the_memory_cgroup_counts_memfd_too_and_goes_with_the_sandbox(session_for, monkeypatch):
    monkeypatch.setenv("GRADER_SANDBOX_DISABLE", "seccomp")  # memfd allowed: the cgroup must count it
    s = session_for("""
        import os
        hoard = []
        def bomb():
            for _ in range(32):
                fd = os.memfd_create("hoard")
                hoard.append(fd)
                for _ in range(16):
                    os.write(fd, b"\\x01" * (1 << 20))
    """)
    m = s.module()
    if s.protections.get("memory_cgroup") is None:
        pytest.skip("no memory cgroup can be made here")
    assert s._process is not None
    pid = s._process.pid
    folder = _memory_cgroup_of(pid)
    assert folder.endswith(f"/sandbox-{pid}") and os.path.isdir(folder), folder
    with pytest.raises(StudentFault, match=r"^bomb exceeded the memory limit of 256 MiB \(shared memory counted\)$"):
        m.bomb()
    assert not os.path.exists(folder)  # removed when the zygote reaped the sandbox


def _memory_cgroup_of(pid: int) -> str:
    """The folder of the memory cgroup that `pid` is in (v1's memory hierarchy, else v2's)."""
    from grader.sandbox import cgroup

    with open(f"/proc/{pid}/cgroup") as f:
        own = {name: path for _, names, path in (line.rstrip("\n").split(":", 2) for line in f) for name in (names.split(",") if names else [""])}
    for point, fstype, options in cgroup._mounts():
        if fstype == "cgroup" and "memory" in options.split(",") and "memory" in own:
            return os.path.join(point, own["memory"].lstrip("/"))
    return next(os.path.join(point, own[""].lstrip("/")) for point, fstype, _ in cgroup._mounts() if fstype == "cgroup2")


@needs_root  # not root: RLIMIT_NPROC counts every process of the grader's user, and allows no thread
def test_threads_are_allowed_up_to_a_bound(session_for):
    m = session_for("""
        import threading, time, torch
        def work():
            box = []
            threads = [threading.Thread(target=lambda: box.append(float(torch.ones(256, 256).sum()))) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return box
        def bomb(n):
            for _ in range(n):
                threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
    """).module()
    assert m.work() == [65536.0] * 8
    with pytest.raises((StudentError, StudentFault), match="can't start new thread|memory limit"):
        m.bomb(1000)



@needs_root
def test_without_a_tmpfs_of_its_own_the_sandboxs_user_still_owns_its_working_directory(session_for, monkeypatch):
    monkeypatch.setenv("GRADER_SANDBOX_DISABLE", "disk_quota")  # as in a container without CAP_SYS_ADMIN
    m = session_for("""
        import os
        def write():
            with open("scratch.txt", "w") as f:
                f.write("x")
            return os.stat(".").st_uid == os.getuid() != 0
    """).module()
    assert m.write() is True
