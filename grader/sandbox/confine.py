"""Confining a sandbox process with kernel mechanisms, and saying which ones are in force.

Applied in the forked sandbox child, after its files are open and before student code runs, in
this order (each step needs what the one before still has, such as root for mounts):

- `ipc_namespace`: a System V IPC and POSIX message-queue namespace of its own, so that nothing it
  creates is seen by another sandbox, and all of it goes when the sandbox ends.
- `memory_cgroup`: a memory cgroup of its own (see `grader.sandbox.cgroup`): the limit counts every
  page the sandbox holds, shared memory and tmpfs included. Where none can be made, the address
  space (RLIMIT_AS) is limited instead, which counts shared mappings too.
- `disk_quota`: the working directory is a size-capped tmpfs in a private mount namespace.
- `capabilities`: when running as root, every capability is dropped (bounding set included), so
  nothing is left of root's powers; no_new_privs is set in every case.
- `uid`: when running as root, the sandbox changes to a user and group id of its own (no other
  process has them), so it holds none of uid 0's file permissions (root-only files such as
  /etc/shadow are unreadable) and cannot signal any other process. Folders that bar that user from
  the Python install (say, a Python under /root) are passed through in the private mount namespace.
- `landlock`: the filesystem becomes read-only except the private working directory, and readable
  only where Python, its libraries and the student's folder live, plus the few system files that
  the libraries open (`SYSTEM_FILES`); never the grader's checkout, `reference/`, the tests, other
  students, or the rest of /etc, /usr and /proc. TCP bind/connect is denied (ABI >= 4); signals and
  abstract Unix sockets cannot reach processes outside the sandbox (ABI >= 6).
- `seccomp` (through libseccomp): no sockets, no fork (threads are allowed), no ptrace or reading
  other processes' memory, no namespaces, mounts, BPF, io_uring or kernel keyrings, no System V IPC,
  POSIX message queues or memfd (shared memory that the address-space limit would not count).

Each protection that cannot be applied is reported as off (the report shows a warning); a
protection listed in `required` that cannot be applied makes the sandbox refuse to run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import stat
import sys
from collections.abc import Iterable
from typing import Any

from grader.errors import ConfinementError
from grader.sandbox import cgroup

PROTECTIONS = ("capabilities", "uid", "landlock", "seccomp", "disk_quota", "ipc_namespace", "memory_cgroup")

_libc = ctypes.CDLL(None, use_errno=True)

# -- Landlock (include/uapi/linux/landlock.h) ----------------------------------------------------

_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1

_FS_EXECUTE = 1 << 0
_FS_WRITE_FILE = 1 << 1
_FS_READ_FILE = 1 << 2
_FS_READ_DIR = 1 << 3
_FS_ALL_V1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_FS_IOCTL_DEV = 1 << 15  # ABI 5
_NET_BIND_TCP = 1 << 0  # ABI 4
_NET_CONNECT_TCP = 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
_SCOPE_SIGNAL = 1 << 1

_PR_SET_NO_NEW_PRIVS = 38
_PR_CAPBSET_DROP = 24
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CLONE_NEWNS = 0x00020000
_CLONE_NEWIPC = 0x08000000
_CLONE_THREAD = 0x00010000
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_BIND = 4096


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where Landlock is unavailable."""
    version = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), _LANDLOCK_CREATE_RULESET_VERSION)
    return max(int(version), 0)


def _landlock(read_paths: Iterable[str], write_paths: Iterable[str], list_paths: Iterable[str] = ()) -> str:
    abi = landlock_abi()
    if abi < 1:
        raise OSError(errno.ENOSYS, "Landlock is not available in this kernel")
    handled = (
        _FS_ALL_V1
        | (_FS_REFER if abi >= 2 else 0)
        | (_FS_TRUNCATE if abi >= 3 else 0)
        | (_FS_IOCTL_DEV if abi >= 5 else 0)
    )
    attr = _RulesetAttr(
        handled_access_fs=handled,
        handled_access_net=(_NET_BIND_TCP | _NET_CONNECT_TCP) if abi >= 4 else 0,
        scoped=(_SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL) if abi >= 6 else 0,
    )
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    fd = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        read = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
        file_rights = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | (_FS_TRUNCATE if abi >= 3 else 0)
        for paths, rights in ((read_paths, read), (write_paths, handled), (list_paths, _FS_READ_DIR)):
            for path in paths:
                try:
                    pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    allowed = rights if os.path.isdir(path) else rights & file_rights
                    rule = _PathBeneathAttr(allowed_access=allowed, parent_fd=pfd)
                    if (
                        _libc.syscall(_SYS_LANDLOCK_ADD_RULE, fd, _LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0)
                        < 0
                    ):
                        raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
                finally:
                    os.close(pfd)
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if _libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, fd, 0) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(fd)
    extras = []
    if abi >= 4:
        extras.append("TCP denied")
    if abi >= 6:
        extras.append("signals scoped")
    return f"ABI {abi}" + (f" ({', '.join(extras)})" if extras else "")


# -- seccomp ---------------------------------------------------------------------------------------

_DENIED_SYSCALLS = (
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_open",
    "pidfd_getfd",
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "socket",
    "socketpair",
    "fork",
    "vfork",
    "kexec_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "open_by_handle_at",
    "name_to_handle_at",
    "personality",
    # Kernel objects that outlive a process or are shared memory outside the address-space limit.
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "semget",
    "semop",
    "semtimedop",
    "semctl",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    "memfd_create",
    "memfd_secret",
)


_SECCOMP_SET_MODE_FILTER = 1
_SYS_SECCOMP = 317  # x86_64


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _seccomp_filter() -> Any:
    import pyseccomp as seccomp

    flt = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in _DENIED_SYSCALLS:
        try:
            flt.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (OSError, RuntimeError, ValueError):
            pass  # a syscall this architecture does not have
    # fork through clone (no CLONE_THREAD) is denied; threads are allowed. clone3 passes its flags in
    # memory that seccomp cannot read, so it answers ENOSYS and the C library falls back to clone.
    flt.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_THREAD, 0))
    flt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    return flt


_seccomp_program: bytes | Exception | None = None


def prepare() -> None:
    """Compile the seccomp filter once, in the zygote: each sandbox then only loads it (~8 ms saved)."""
    global _seccomp_program
    library_dirs()  # computed once, inherited by every sandbox
    _private_ids_exist()
    if _seccomp_program is not None:
        return
    if os.uname().machine != "x86_64":
        _seccomp_program = RuntimeError("precompiled filters are only loaded on x86_64")
        return
    try:
        import tempfile

        with tempfile.TemporaryFile() as f:
            _seccomp_filter().export_bpf(f)
            f.seek(0)
            _seccomp_program = f.read()
    except Exception as exc:  # noqa: BLE001 - compiled again, or reported as off, in each sandbox
        _seccomp_program = exc


def _seccomp() -> str:
    rules = f"{len(_DENIED_SYSCALLS) + 2} rules"
    if not isinstance(_seccomp_program, bytes):
        _seccomp_filter().load()
        return rules
    program = ctypes.create_string_buffer(_seccomp_program, len(_seccomp_program))
    fprog = _SockFprog(len=len(_seccomp_program) // 8, filter=ctypes.cast(program, ctypes.c_void_p))
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if _libc.syscall(_SYS_SECCOMP, _SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(fprog)) != 0:
        raise OSError(ctypes.get_errno(), "seccomp(SECCOMP_SET_MODE_FILTER) failed")
    return rules


# -- capabilities ----------------------------------------------------------------------------------


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_bounding_set() -> str:
    """Drop every capability from the bounding and ambient sets (needs CAP_SETPCAP: before a change of uid)."""
    for cap in range(64):
        if _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
            raise OSError(ctypes.get_errno(), f"could not drop capability {cap}")
    _libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    return "all dropped"


def _clear_capabilities() -> str:
    """Empty the effective, permitted and inheritable sets (a change of uid away from 0 already has)."""
    header = _CapHeader(version=0x20080522, pid=0)
    data = (_CapData * 2)()
    if _libc.syscall(126, ctypes.byref(header), ctypes.byref(data)) != 0:  # capset
        raise OSError(ctypes.get_errno(), "capset failed")
    return "all dropped"


# -- an unprivileged user ---------------------------------------------------------------------------

_PRIVATE_ID_BASE = 2_000_000_000  # + the sandbox's pid: an id no other live process has (pid_max <= 2**22)
_NOBODY = 65534


def _mapped(ids_file: str, value: int) -> bool:
    """Whether `value` is mapped in this user namespace (uid_map or gid_map)."""
    try:
        with open(ids_file) as f:
            for line in f:
                inside, _, count = (int(x) for x in line.split())
                if inside <= value < inside + count:
                    return True
    except (OSError, ValueError):
        return True  # no map to read: the initial namespace, where every id exists
    return False


@functools.lru_cache(maxsize=1)
def _private_ids_exist() -> bool:
    """Whether this user namespace maps the private ids (a rootless container may map only 65536 ids)."""
    last = _PRIVATE_ID_BASE + (1 << 22)
    return all(_mapped(f, v) for f in ("/proc/self/uid_map", "/proc/self/gid_map") for v in (_PRIVATE_ID_BASE, last))


def sandbox_ids(pid: int) -> tuple[int, int]:
    """The uid and gid a sandbox with this pid runs under: its own, else nobody's where only that exists."""
    if _private_ids_exist():
        return _PRIVATE_ID_BASE + pid, _PRIVATE_ID_BASE + pid
    return _NOBODY, _NOBODY


def has_private_uid() -> bool:
    """Whether this process runs under a sandbox's own uid (no other process has it)."""
    return os.getuid() >= _PRIVATE_ID_BASE


def _can_search(info: os.stat_result, uid: int, gid: int) -> bool:
    if info.st_uid == uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid == gid:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def _barrier(path: str, uid: int, gid: int) -> str | None:
    """The highest folder above `path` that `uid` may not pass through (None when there is none)."""
    folder = "/"
    for part in path.strip("/").split("/")[:-1]:
        try:
            info = os.stat(folder)
        except OSError:
            return None
        if not _can_search(info, uid, gid):
            return folder
        folder = os.path.join(folder, part)
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return None if _can_search(info, uid, gid) else folder


def _make_reachable(paths: Iterable[str], uid: int, gid: int) -> list[str]:
    """Let `uid` reach each of `paths` through folders that bar it, in this mount namespace only.

    A barring folder (a Python installed under /root, a job's private 0700 folder) is covered by a
    small tmpfs that holds only the entries on the way to the paths, each bound back to the original:
    the user passes through to what it needs, and sees nothing else of that folder. Returns the
    folders covered.
    """
    paths = [p for p in paths if p != "/" and os.path.lexists(p)]
    covered: list[str] = []
    for _ in range(8):  # a bound entry may hold a barring folder of its own: one level per round
        barriers: dict[str, set[str]] = {}
        for path in paths:
            folder = _barrier(path, uid, gid)
            if folder is not None:
                barriers.setdefault(folder, set()).add(path[len(folder.rstrip("/")) + 1 :].split("/")[0])
        if not barriers:
            return covered
        if "/" in barriers:
            raise OSError(errno.EACCES, "the root folder is not searchable")
        _private_mounts()
        for folder, entries in sorted(barriers.items()):
            held = {name: os.open(os.path.join(folder, name), os.O_PATH | os.O_CLOEXEC) for name in sorted(entries)}
            try:
                options = b"size=64k,mode=0755"
                if _libc.mount(b"tmpfs", folder.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, options) != 0:
                    raise OSError(ctypes.get_errno(), f"covering {folder} failed")
                for name, fd in held.items():
                    target = os.path.join(folder, name)
                    if stat.S_ISDIR(os.fstat(fd).st_mode):
                        os.mkdir(target)
                    else:
                        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
                    if (
                        _libc.mount(f"/proc/self/fd/{fd}".encode(), target.encode(), None, _MS_BIND | _MS_REC, None)
                        != 0
                    ):
                        raise OSError(ctypes.get_errno(), f"binding {target} back failed")
            finally:
                for fd in held.values():
                    os.close(fd)
            covered.append(folder)
    raise OSError(errno.ELOOP, "folders nested too deeply to make reachable")


def _become(uid: int, gid: int, covered: list[str]) -> str:
    """Change to `uid`:`gid` with no supplementary groups; the kernel then empties the capability sets."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    return f"uid {uid}" + (f" ({', '.join(covered)} passed through)" if covered else "")


# -- namespaces ----------------------------------------------------------------------------------------

_private_mounts_done = False


def _private_mounts() -> None:
    """Enter a mount namespace of this process's own, in which no mount propagates out (root only)."""
    global _private_mounts_done
    if _private_mounts_done:
        return
    if os.geteuid() != 0:
        raise OSError(errno.EPERM, "needs root")
    if _libc.unshare(_CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    if _libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "making mounts private failed")
    _private_mounts_done = True


def _ipc_namespace() -> str:
    """A System V IPC and POSIX message-queue namespace of its own: gone, with all it holds, at exit."""
    if _libc.unshare(_CLONE_NEWIPC) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWIPC) failed")
    return "private"


# -- memory --------------------------------------------------------------------------------------------

_cgroup_base: cgroup.CgroupBase | None = None
_cgroup_reason = "not prepared (only a zygote makes memory cgroups)"


def prepare_memory_cgroups() -> str:
    """In the zygote: find or make the folder for the sandboxes' memory cgroups; what was found."""
    global _cgroup_base, _cgroup_reason
    if os.geteuid() != 0:
        _cgroup_reason = "needs root"
    else:
        _cgroup_base, _cgroup_reason = cgroup.find_base(f"grader-zygote-{os.getpid()}")
    return _cgroup_base.path if _cgroup_base is not None else _cgroup_reason


def memory_cgroup_base() -> cgroup.CgroupBase | None:
    """The folder of this zygote's sandbox cgroups, or None where there is none."""
    return _cgroup_base


def _memory_cgroup(limit_bytes: int) -> str:
    if _cgroup_base is None:
        raise OSError(errno.ENOTSUP, _cgroup_reason)
    return cgroup.enter(_cgroup_base, limit_bytes)


# -- disk quota --------------------------------------------------------------------------------------


def _tmpfs(workdir: str, size_mb: int, owner: tuple[int, int] | None) -> str:
    """Mount a size-capped tmpfs on `workdir` in a private mount namespace (root only), owned by `owner`."""
    _private_mounts()
    options = f"size={size_mb}m,mode=0700"
    if owner is not None:
        options += f",uid={owner[0]},gid={owner[1]}"
    if _libc.mount(b"tmpfs", workdir.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options.encode()) != 0:
        raise OSError(ctypes.get_errno(), "mounting tmpfs failed")
    os.chdir(workdir)
    # The machine's shared-memory folder is memory that no limit counts, and it outlives the sandbox:
    # an empty one of its own, with room for nothing, stands in for it (Landlock refuses writing there).
    if os.path.isdir(_SHM) and not _inside(os.path.realpath(workdir), _SHM):
        if (
            _libc.mount(
                b"tmpfs", _SHM.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, b"size=4k,nr_inodes=8,mode=1777"
            )
            != 0
        ):
            raise OSError(ctypes.get_errno(), f"covering {_SHM} failed")
    return f"{size_mb} MiB tmpfs"


_SHM = "/dev/shm"


# -- all together ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def library_dirs() -> tuple[str, ...]:
    """Where this interpreter and its installed packages really are, whatever the install kind.

    The interpreter's install scheme (`sysconfig`: the standard library, site-packages of the
    environment and its base), the site directories, and the folder of the grader package itself
    (its own code, public in every kit). Taken from Python's own view, never from where a checkout
    of the grader happens to sit, so an editable install, a plain `pip install .`, a wheel, a kit
    and a Gradescope bundle give a sandbox the same import path and the same readable files.
    """
    import site
    import sysconfig

    dirs: set[str] = set()
    for scheme_vars in ({}, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}):
        paths = sysconfig.get_paths(vars=scheme_vars or None)
        dirs.update(paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths)
    dirs.update(site.getsitepackages())
    dirs.add(os.path.dirname(os.path.realpath(sys.executable)))
    import grader

    dirs.add(os.path.dirname(os.path.realpath(grader.__file__)))
    return tuple(sorted({os.path.realpath(d) for d in dirs if os.path.isdir(d)}))


def grader_checkout() -> str | None:
    """The source checkout the grader package is imported from, if any (an editable install).

    The folder above the package is a checkout (with the demo's `reference/` and `problems/`) only
    when it is not a library directory; after a plain install it is site-packages, which stays.
    """
    import grader

    parent = os.path.dirname(os.path.dirname(os.path.realpath(grader.__file__)))
    library = set(library_dirs())
    return None if parent in library else parent


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + os.sep)


# What the libraries open outside the Python install, and why; nothing else of /etc, /usr, /proc or /sys.
SYSTEM_FILES = (
    # Shared libraries that extension modules load when a student first imports them (lzma, sqlite3,
    # ctypes' libffi, ...), the dynamic loader's cache and configuration, and glibc's C.UTF-8 locale.
    "/usr/lib",
    "/usr/lib64",
    "/usr/lib32",
    "/usr/local/lib",
    "/lib",
    "/lib64",
    "/lib32",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    # The local time zone (time.localtime, datetime) and the zone database (zoneinfo).
    "/etc/localtime",
    "/etc/timezone",
    "/usr/share/zoneinfo",
    # The CPU's description, read by torch (cpuinfo) on first use, and numpy's CPU count.
    "/proc/cpuinfo",
    "/sys/devices/system/cpu",
    # glibc's malloc reads the overcommit policy when a thread's heap shrinks.
    "/proc/sys/vm/overcommit_memory",
    "/dev/null",
    "/dev/zero",
    "/dev/urandom",
    "/dev/random",
)


# Folders that may be listed but not read (every file in them stays closed unless listed above):
# listing /proc shows process ids, which code that enumerates processes expects to see.
LISTABLE = ("/proc",)


def readable_roots(student_dir: str, hidden: Iterable[str]) -> list[str]:
    """Where the sandbox may read: Python and its libraries, `SYSTEM_FILES`, its own /proc entry, the student's folder.

    A root above a `hidden` folder (the course's bank and references, the grader's source checkout)
    would expose it and is left out; so is one inside a hidden folder, unless it is a library
    directory (a virtual environment inside the course folder is fine).
    """
    hidden = [os.path.realpath(h) for h in hidden]
    library = library_dirs()
    roots = set(library)
    roots.update(p for p in sys.path if p and os.path.isdir(p))
    roots.update(SYSTEM_FILES)
    keep = []
    for root in roots:
        real = os.path.realpath(root)
        if any(_inside(h, real) for h in hidden):
            continue  # would expose a hidden folder
        if any(_inside(real, h) for h in hidden) and real not in library:
            continue
        keep.append(real)
    keep.append(f"/proc/{os.getpid()}")  # /proc/self: its own status, maps and descriptors, no other process's
    keep.append(student_dir)
    return sorted(set(keep))


def import_path(path: Iterable[str], hidden: Iterable[str]) -> list[str]:
    """`path` (a `sys.path`) without the entries that hold or lie in a hidden folder, library directories kept."""
    hidden = [os.path.realpath(h) for h in hidden]
    library = set(library_dirs())
    kept = []
    for entry in path:
        if not entry:
            continue
        real = os.path.realpath(entry)
        if any(_inside(h, real) for h in hidden) or (any(_inside(real, h) for h in hidden) and real not in library):
            continue
        kept.append(entry)
    return kept


def confine(
    *,
    student_dir: str,
    workdir: str,
    hidden: Iterable[str],
    disk_mb: int,
    required: Iterable[str],
    disabled: Iterable[str] = (),
    memory_bytes: int = 1 << 30,
) -> dict[str, Any]:
    """Apply every protection this machine supports and the instructor did not switch off.

    Returns {name: description, or None when off}; raises ConfinementError when a required one is off.
    `memory_bytes` is the memory cgroup's limit (the memory limit and the working directory's tmpfs).
    """
    required, disabled = set(required), set(disabled)
    state: dict[str, Any] = {}

    def attempt(name: str, fn: Any, *args: Any) -> Any:
        if name in disabled:
            state[name] = None
            if name in required:
                raise ConfinementError(f"the required protection {name!r} is switched off (GRADER_SANDBOX_DISABLE)")
            return None
        try:
            state[name] = fn(*args)
        except Exception as exc:  # noqa: BLE001 - any failure means the protection is off
            state[name] = None
            if name in required:
                raise ConfinementError(f"the required protection {name!r} is unavailable: {exc}") from exc
        return state[name]

    root = os.geteuid() == 0
    read = readable_roots(student_dir, hidden)
    attempt("ipc_namespace", _ipc_namespace)
    attempt("memory_cgroup", _memory_cgroup, memory_bytes)
    # Root's powers go last, since making namespaces, cgroups and mounts needs them; the mounts that
    # let the sandbox's own user reach its files come before the working directory's tmpfs.
    uid, gid = sandbox_ids(os.getpid())
    covered = attempt("uid", _make_reachable, [*read, workdir], uid, gid) if root else None
    owner = (uid, gid) if covered is not None else None
    attempt("disk_quota", _tmpfs, workdir, disk_mb, owner)
    if owner is not None and state["disk_quota"] is None:
        try:
            os.chown(workdir, *owner)  # no tmpfs of its own: its user must own the job's folder itself
        except OSError:
            pass
    if root:
        attempt("capabilities", _drop_bounding_set)
        if owner is not None:
            attempt("uid", _become, uid, gid, covered)
        if state["capabilities"] is not None and os.geteuid() == 0:
            attempt("capabilities", _clear_capabilities)
    else:
        state["capabilities"] = state["uid"] = "not root"
    attempt("landlock", _landlock, read, [workdir, "/dev/null"], LISTABLE)
    attempt("seccomp", _seccomp)
    return state
