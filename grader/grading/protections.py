"""Which protections a sandbox has, established from outside it: the kernel's view in /proc.

The sandbox's own report is data, not truth (student code owns that process). What the kernel shows
of the process is what counts: `Seccomp: 2` (a filter) in every thread's status; no capabilities
(`CapEff`, `CapPrm`, `CapAmb` all zero) with `NoNewPrivs: 1`; no user or group id 0; an IPC namespace
other than the grader's; a memory cgroup other than the grader's, with a limit; a size-capped tmpfs
on the sandbox's working directory in its mount namespace. Landlock shows nowhere in /proc: it
counts as on when the sandbox said so before any student code ran (the trusted side asks before the
import) and a file the trusted side hid from it could not be opened then. A protection that this
module cannot see from outside (one added to the sandbox later) is taken from that same report,
marked as such. Kept in the order of `grader.sandbox.confine.PROTECTIONS`; a protection that is off
is None.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def canary_file() -> Iterator[str]:
    """A file that only Landlock keeps a sandbox from opening, for as long as the block runs.

    Anyone may read it (a folder and file open to all, so that file permissions never stand in for
    Landlock), and it lies outside every folder a sandbox may read.
    """
    folder = tempfile.mkdtemp(prefix="grader-canary-")
    try:
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "canary")
        with open(path, "w") as f:
            f.write("a sandbox that can read this is not confined by Landlock\n")
        os.chmod(path, 0o644)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def observed(pid: int, *, workdir: str, reported: Any, canary_readable: bool) -> dict[str, str | None]:
    """Each protection's description as established from outside the sandbox `pid`, or None when off.

    `reported` is the sandbox's own report, asked for before any student code ran in it.
    """
    from grader.sandbox.confine import PROTECTIONS

    report = reported if isinstance(reported, dict) else {}
    threads = _thread_statuses(pid)
    main = threads[0] if threads else {}
    seen: dict[str, str | None] = {
        "capabilities": (
            "no capabilities (kernel)"
            if main
            and all(_hex(main.get(k)) == 0 for k in ("CapEff", "CapPrm", "CapAmb"))
            and main.get("NoNewPrivs") == "1"
            else None
        ),
        "uid": _uid(main),
        "landlock": (
            f"{report['landlock']} (reported before student code ran; a hidden file was unreadable)"
            if isinstance(report.get("landlock"), str) and report["landlock"] and not canary_readable
            else None
        ),
        "seccomp": (
            f"filter in all {len(threads)} thread(s) (kernel)"
            if threads and all(t.get("Seccomp") == "2" for t in threads)
            else None
        ),
        "disk_quota": _tmpfs_on(pid, os.path.realpath(workdir)),
        "ipc_namespace": _own_namespace(pid, "ipc"),
        "memory_cgroup": _memory_cgroup(pid),
    }
    state: dict[str, str | None] = {}
    for name in PROTECTIONS:
        if name in seen:
            state[name] = seen[name]
        else:
            value = report.get(name)
            state[name] = f"{value} (reported before student code ran)" if isinstance(value, str) and value else None
    return state


def _hex(text: str | None) -> int | None:
    try:
        return int(text or "", 16)
    except ValueError:
        return None


def _uid(status: dict[str, str]) -> str | None:
    """'uid N (kernel)' when no user or group id of the process (real, effective, saved, file system) is 0."""
    try:
        uids = [int(v) for v in status.get("Uid", "").split()]
        gids = [int(v) for v in status.get("Gid", "").split()]
    except ValueError:
        return None
    if len(uids) != 4 or len(gids) != 4 or 0 in uids or 0 in gids:
        return None
    return f"uid {uids[1]} (kernel)"


def _own_namespace(pid: int, kind: str) -> str | None:
    """'private (kernel)' when the process's namespace of `kind` is not the grader's own."""
    try:
        theirs, ours = os.readlink(f"/proc/{pid}/ns/{kind}"), os.readlink(f"/proc/self/ns/{kind}")
    except OSError:
        return None
    return "private (kernel)" if theirs != ours else None


def _memory_cgroup(pid: int) -> str | None:
    """'N MiB limit (kernel)' when the process is in a memory cgroup other than the grader's, with a limit."""
    theirs, ours = _cgroup_paths(f"/proc/{pid}/cgroup"), _cgroup_paths("/proc/self/cgroup")
    for key, limit_file in (("memory", "memory.limit_in_bytes"), ("", "memory.max")):
        path = theirs.get(key)
        if path is None or path == ours.get(key):
            continue
        for root, mount in _cgroup_mounts(key):
            if path != root and not path.startswith(root.rstrip("/") + "/"):
                continue
            try:
                with open(os.path.join(mount, path[len(root) :].lstrip("/"), limit_file)) as f:
                    text = f.read().strip()
            except OSError:
                continue
            if text.isdigit() and int(text) < 1 << 60:
                return f"{int(text) >> 20} MiB limit (kernel)"
    return None


def _cgroup_paths(path: str) -> dict[str, str]:
    """controller ('memory', or '' for the unified hierarchy) -> the process's cgroup path."""
    out: dict[str, str] = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split(":", 2)
                if len(parts) == 3:
                    for controller in parts[1].split(",") if parts[1] else [""]:
                        out[controller] = parts[2]
    except OSError:
        pass
    return out


def _cgroup_mounts(controller: str) -> list[tuple[str, str]]:
    """(root inside the hierarchy, mount point) of the grader's mounts of a cgroup hierarchy."""
    found = []
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        if (
            controller == ""
            and tail[0] == "cgroup2"
            or controller
            and tail[0] == "cgroup"
            and controller in tail[2].split(",")
        ):
            found.append((_unescape(fields[3]), _unescape(fields[4])))
    return found


def _thread_statuses(pid: int) -> list[dict[str, str]]:
    """The `status` of every thread of `pid`, the main thread first; [] if the process cannot be read."""
    try:
        tids = sorted(os.listdir(f"/proc/{pid}/task"), key=lambda t: (t != str(pid), t))
    except OSError:
        return []
    out = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                fields = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        except OSError:
            continue  # a thread that ended meanwhile
        out.append({k: v.strip() for k, v in fields.items()})
    return out


def _tmpfs_on(pid: int, folder: str) -> str | None:
    """'N MiB tmpfs (kernel)' when the sandbox's mount namespace has a size-capped tmpfs on `folder`."""
    try:
        with open(f"/proc/{pid}/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or _unescape(fields[4]) != folder or tail[0] != "tmpfs":
            continue
        for option in tail[2].split(","):
            if option.startswith("size="):
                return f"{_size_mib(option[5:])} MiB tmpfs (kernel)"
    return None


def _unescape(path: str) -> str:
    """A mountinfo path: spaces, tabs, newlines and backslashes are written as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        path = path.replace(code, char)
    return path


def _size_mib(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    scale = units.get(text[-1:].lower(), 1)
    digits = text[:-1] if text[-1:].lower() in units else text
    try:
        return int(digits) * scale >> 20
    except ValueError:
        return 0
