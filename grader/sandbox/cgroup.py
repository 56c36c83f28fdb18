"""Memory cgroups for sandboxes: the kernel's count of every page a sandbox holds, shared memory included.

The zygote looks once for a place where it may make child cgroups with a memory limit (cgroup v2
with the memory controller delegated, or the v1 memory hierarchy) and makes its own folder there.
Each sandbox, while still root, makes `<folder>/<its pid>`, sets the limit and moves itself in; from
then on every page it faults in (anonymous, shared, tmpfs, its copies of the zygote's pages) counts.
When the zygote reaps the sandbox it reads whether the kernel's OOM killer fired in that cgroup,
kills whatever is left in it and removes it. Where no such place exists (no root, a read-only
cgroupfs in a container), `find_base` says why and the sandbox falls back to an address-space limit.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

_V2_LIMIT = "memory.max"
_V1_LIMIT = "memory.limit_in_bytes"


@dataclass(frozen=True)
class CgroupBase:
    """The folder under which sandbox cgroups are made, and which cgroup version it belongs to."""

    path: str
    version: int

    def sandbox_path(self, pid: int) -> str:
        return os.path.join(self.path, f"sandbox-{pid}")


def _mounts() -> list[tuple[str, str, str]]:
    """(mount point, file system type, super options) of every mount this process sees."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rest = left.split(), right.split()
            if len(fields) >= 5 and len(rest) >= 3:
                found.append((fields[4].replace("\\040", " "), rest[0], rest[2]))
    return found


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per hierarchy: '' for v2, else the controllers' names ('memory')."""
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                own[name] = path
    return own


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _candidates() -> list[CgroupBase]:
    """Folders that may hold sandbox cgroups with a memory limit, v2 first.

    Under v2, a cgroup whose `cgroup.subtree_control` enables the memory controller: this process's
    own (only possible for a root cgroup, which may hold processes) or its parent (a sibling of ours is
    made there). Under v1, this process's own cgroup in the memory hierarchy.
    """
    own = _own_cgroups()
    found = []
    for point, fstype, options in _mounts():
        if fstype == "cgroup2" and "" in own:
            folder = os.path.join(point, own[""].lstrip("/")).rstrip("/")
            for candidate in dict.fromkeys((folder, os.path.dirname(folder) if folder != point else folder)):
                try:
                    with open(os.path.join(candidate, "cgroup.subtree_control")) as f:
                        if "memory" in f.read().split():
                            found.append(CgroupBase(candidate, 2))
                except OSError:
                    pass
        elif fstype == "cgroup" and "memory" in options.split(",") and "memory" in own:
            found.append(CgroupBase(os.path.join(point, own["memory"].lstrip("/")), 1))
    return sorted(found, key=lambda base: -base.version)


def find_base(tag: str) -> tuple[CgroupBase | None, str]:
    """Make this process's folder for sandbox cgroups (`tag` names it); (None, why) where none can be made.

    A folder is usable once a test cgroup in it takes a memory limit. Under cgroup v2 the memory
    controller must be delegated to it: it is enabled in the new folder's `cgroup.subtree_control`,
    which the kernel allows only when the parent has it too.
    """
    reasons = []
    for candidate in _candidates():
        base = CgroupBase(os.path.join(candidate.path, tag), candidate.version)
        try:
            os.makedirs(base.path, exist_ok=True)
            if base.version == 2:
                _write(os.path.join(base.path, "cgroup.subtree_control"), "+memory")
            probe = base.sandbox_path(0)
            os.mkdir(probe)
            try:
                _write(os.path.join(probe, _V2_LIMIT if base.version == 2 else _V1_LIMIT), str(64 << 20))
            finally:
                os.rmdir(probe)
            _remove_stale(candidate.path, tag)
            return base, ""
        except OSError as exc:
            reasons.append(f"cgroup v{candidate.version} at {candidate.path}: {exc.strerror or exc}")
            try:
                os.rmdir(base.path)
            except OSError:
                pass
    return None, "; ".join(reasons) or "no cgroup hierarchy with the memory controller"


def _remove_stale(parent: str, tag: str) -> None:
    """Remove the (empty) folders that earlier zygotes, since killed, left beside ours."""
    prefix = tag.rsplit("-", 1)[0] + "-"
    for name in os.listdir(parent):
        if not name.startswith(prefix) or name == tag:
            continue
        pid = name[len(prefix) :]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            remove(os.path.join(parent, name))


def enter(base: CgroupBase, limit_bytes: int) -> str:
    """In a sandbox (still root): make its cgroup with `limit_bytes` of memory and move into it."""
    path = base.sandbox_path(os.getpid())
    os.mkdir(path)
    if base.version == 2:
        _write(os.path.join(path, _V2_LIMIT), str(limit_bytes))
        try:
            _write(os.path.join(path, "memory.swap.max"), "0")
        except OSError:
            pass  # no swap accounting: nothing to escape to
    else:
        _write(os.path.join(path, _V1_LIMIT), str(limit_bytes))
        try:
            _write(os.path.join(path, "memory.memsw.limit_in_bytes"), str(limit_bytes))
        except OSError:
            pass
    _write(os.path.join(path, "cgroup.procs"), "0")
    return f"cgroup v{base.version}, {limit_bytes >> 20} MiB"


def peak_bytes(base: CgroupBase, pid: int) -> int | None:
    """The most memory the sandbox's cgroup held at once, as its limit counts it; None where the kernel
    does not say (cgroup v2 before Linux 5.19 has no `memory.peak`). Read before `release`."""
    name = "memory.peak" if base.version == 2 else "memory.max_usage_in_bytes"
    try:
        with open(os.path.join(base.sandbox_path(pid), name)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def release(base: CgroupBase, pid: int) -> bool:
    """After a sandbox has ended: whether the OOM killer fired in its cgroup; the cgroup is removed."""
    path = base.sandbox_path(pid)
    if not os.path.isdir(path):
        return False
    oom = False
    try:
        name = "memory.events" if base.version == 2 else "memory.oom_control"
        with open(os.path.join(path, name)) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip() != "0":
                    oom = True
    except OSError:
        pass
    remove(path)
    return oom


def remove(path: str) -> None:
    """Kill whatever is left in the cgroup at `path` (and below), then remove it."""
    for _ in range(50):
        try:
            children = [e.path for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
        except OSError:
            return
        for child in children:
            remove(child)
        try:
            os.rmdir(path)
            return
        except OSError:
            pass
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                pids = [int(p) for p in f.read().split()]
        except (OSError, ValueError):
            pids = []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)
