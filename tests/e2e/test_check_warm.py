"""`grader check` keeps its sandbox zygote for the next check, shares one start, and leaves when idle."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from .conftest import REPO

ALICE = REPO / "submissions/hw7/alice_correct"


def _env(run: Path, keep: float) -> dict[str, str]:
    return {**os.environ, "XDG_RUNTIME_DIR": str(run), "GRADER_KEEP_WARM": str(keep)}


def _check(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "grader", "check", "hw7", str(folder), "--problem", "bn_fold"],
        capture_output=True, text=True, env=env, timeout=300,
    )


def _sockets(run: Path) -> list[Path]:
    return sorted((run / f"grader-{os.getuid()}").glob("zygote-*.sock"))


def _listener_pid(address: Path) -> int | None:
    """The pid of the process listening at `address` (its peer credentials), None if none listens."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(str(address))
        except OSError:
            return None
        pid, _uid, _gid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


@pytest.fixture
def run_dir():
    """A runtime folder of the test's own, with a short path: a Unix socket's path must fit in about
    100 bytes, and under a deeper one (pytest's tmp_path may be) the grader would keep its zygote in
    the machine's temporary folder instead, beside a real user's."""
    run = Path(tempfile.mkdtemp(prefix="gkw-", dir="/tmp"))
    yield run
    for address in _sockets(run):  # whatever a failed test left running
        pid = _listener_pid(address)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
    shutil.rmtree(run, ignore_errors=True)


def _score(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return next(line for line in result.stdout.splitlines() if "bn_fold" in line and "/" in line)


def test_later_checks_use_the_kept_zygote_even_after_a_student_tried_to_kill_it(run_dir: Path, tmp_path: Path) -> None:
    hostile = tmp_path / "mallory"
    hostile.mkdir()
    attack = "import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept OSError:\n    pass\n"
    (hostile / "bn_fold.py").write_text(attack + (ALICE / "bn_fold.py").read_text())
    env = _env(run_dir, 120)
    first = _check(ALICE, env)
    [address] = _sockets(run_dir)
    pid = _listener_pid(address)
    assert pid is not None, "the zygote did not outlive its check"
    attacked = _check(hostile, env)
    assert attacked.returncode in (0, 1) and "Traceback" not in attacked.stderr, attacked.stderr
    again = _check(ALICE, env)
    # the same zygote, still alive (where the kernel cannot stop the kill, a fresh one in its place)
    assert _sockets(run_dir) == [address] and (_listener_pid(address) == pid or not _alive(pid))
    assert _score(first) == _score(again) and "10 / 10" in _score(again)
    cold = _check(ALICE, {**env, "GRADER_KEEP_WARM": "0"})  # the same verdict with no zygote kept
    assert _score(cold) == _score(again)


def test_a_kept_zygote_leaves_when_idle_and_removes_its_socket(run_dir: Path) -> None:
    _check(ALICE, _env(run_dir, 3))
    [address] = _sockets(run_dir)
    pid = _listener_pid(address)
    assert pid is not None
    deadline = time.monotonic() + 60
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid), "the kept zygote did not leave after 3 s idle"
    assert _sockets(run_dir) == []


def test_checks_started_together_share_one_zygote(run_dir: Path) -> None:
    env = _env(run_dir, 120)
    command = [sys.executable, "-P", "-m", "grader", "check", "hw7", str(ALICE), "--problem", "bn_fold"]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(2)]
    outputs = [r.communicate(timeout=300) for r in runs]
    assert all(r.returncode == 0 for r in runs), outputs
    [address] = _sockets(run_dir)
    pid = _listener_pid(address)
    assert pid is not None
    zygotes = [p for p in os.listdir("/proc") if p.isdigit() and _started_at(int(p), address)]
    assert zygotes == [str(pid)], f"expected one zygote at {address}, found {zygotes}"


def _started_at(pid: int, address: Path) -> bool:
    try:
        return str(address).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
