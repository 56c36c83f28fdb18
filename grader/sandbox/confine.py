"""Confining a sandbox process with kernel mechanisms, and saying which ones are in force.

Applied in the forked sandbox child, after its files are open and before student code runs:

- `capabilities`: when running as root, every capability is dropped (bounding set included), so
  root's uid gives no power beyond its file permissions; no_new_privs is set in every case.
- `landlock`: the filesystem becomes read-only except the private working directory, and readable
  only where Python, its libraries and the student's folder live (never the grader's checkout,
  `reference/`, the tests or other students); TCP bind/connect is denied (ABI >= 4); signals and
  abstract Unix sockets cannot reach processes outside the sandbox (ABI >= 6).
- `seccomp` (through libseccomp): no sockets, no fork (threads are allowed), no ptrace or reading
  other processes' memory, no namespaces, mounts, BPF, io_uring or kernel keyrings.
- `disk_quota`: the working directory is a size-capped tmpfs in a private mount namespace.

Each protection that cannot be applied is reported as off (the report shows a warning); a
protection listed in `required` that cannot be applied makes the sandbox refuse to run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import sys
from collections.abc import Iterable
from typing import Any

PROTECTIONS = ("capabilities", "landlock", "seccomp", "disk_quota")

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
_CLONE_NEWNS = 0x00020000
_CLONE_THREAD = 0x00010000
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_MS_NOSUID = 2
_MS_NODEV = 4


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class ConfinementError(RuntimeError):
    """A required protection could not be applied."""


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where Landlock is unavailable."""
    version = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), _LANDLOCK_CREATE_RULESET_VERSION)
    return max(int(version), 0)


def _landlock(read_paths: Iterable[str], write_paths: Iterable[str]) -> str:
    abi = landlock_abi()
    if abi < 1:
        raise OSError(errno.ENOSYS, "Landlock is not available in this kernel")
    handled = _FS_ALL_V1 | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0) | (_FS_IOCTL_DEV if abi >= 5 else 0)
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
        for paths, rights in ((read_paths, read), (write_paths, handled)):
            for path in paths:
                try:
                    pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    allowed = rights if os.path.isdir(path) else rights & file_rights
                    rule = _PathBeneathAttr(allowed_access=allowed, parent_fd=pfd)
                    if _libc.syscall(_SYS_LANDLOCK_ADD_RULE, fd, _LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0) < 0:
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
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_open", "pidfd_getfd",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "bpf", "perf_event_open",
    "keyctl", "add_key", "request_key", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "socket", "socketpair", "fork", "vfork", "kexec_load", "init_module",
    "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct", "quotactl",
    "open_by_handle_at", "name_to_handle_at", "personality",
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


def _drop_capabilities() -> str:
    if os.geteuid() != 0:
        return "not root"
    for cap in range(64):
        if _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
            raise OSError(ctypes.get_errno(), f"could not drop capability {cap}")
    header = _CapHeader(version=0x20080522, pid=0)
    data = (_CapData * 2)()
    if _libc.syscall(126, ctypes.byref(header), ctypes.byref(data)) != 0:  # capset
        raise OSError(ctypes.get_errno(), "capset failed")
    return "all dropped"


# -- disk quota --------------------------------------------------------------------------------------


def _tmpfs(workdir: str, size_mb: int) -> str:
    """Mount a size-capped tmpfs on `workdir` in a private mount namespace (root only)."""
    if os.geteuid() != 0:
        raise OSError(errno.EPERM, "needs root")
    if _libc.unshare(_CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    if _libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "making mounts private failed")
    options = f"size={size_mb}m,mode=0700".encode()
    if _libc.mount(b"tmpfs", workdir.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options) != 0:
        raise OSError(ctypes.get_errno(), "mounting tmpfs failed")
    os.chdir(workdir)
    return f"{size_mb} MiB tmpfs"


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


def readable_roots(student_dir: str, hidden: Iterable[str]) -> list[str]:
    """Where the sandbox may read: Python and its libraries, system libraries, the student's folder.

    A root above a `hidden` folder (the course's bank and references, the grader's source checkout)
    would expose it and is left out; so is one inside a hidden folder, unless it is a library
    directory (a virtual environment inside the course folder is fine).
    """
    hidden = [os.path.realpath(h) for h in hidden]
    library = library_dirs()
    roots = set(library)
    roots.update(p for p in sys.path if p and os.path.isdir(p))
    roots.update(["/usr", "/lib", "/lib64", "/lib32", "/etc", "/proc", "/sys/devices/system/cpu", "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"])
    keep = []
    for root in roots:
        real = os.path.realpath(root)
        if any(_inside(h, real) for h in hidden):
            continue  # would expose a hidden folder
        if any(_inside(real, h) for h in hidden) and real not in library:
            continue
        keep.append(real)
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
    *, student_dir: str, workdir: str, hidden: Iterable[str], disk_mb: int, required: Iterable[str],
    disabled: Iterable[str] = (),
) -> dict[str, Any]:
    """Apply every protection this machine supports and the instructor did not switch off.

    Returns {name: description, or None when off}; raises ConfinementError when a required one is off.
    """
    required, disabled = set(required), set(disabled)
    state: dict[str, Any] = {}

    def attempt(name: str, fn: Any, *args: Any) -> None:
        if name in disabled:
            state[name] = None
            if name in required:
                raise ConfinementError(f"the required protection {name!r} is switched off (GRADER_SANDBOX_DISABLE)")
            return
        try:
            state[name] = fn(*args)
        except Exception as exc:  # noqa: BLE001 - any failure means the protection is off
            state[name] = None
            if name in required:
                raise ConfinementError(f"the required protection {name!r} is unavailable: {exc}") from exc

    attempt("disk_quota", _tmpfs, workdir, disk_mb)
    read = readable_roots(student_dir, hidden)
    attempt("landlock", _landlock, read, [workdir, "/dev/null"])
    attempt("capabilities", _drop_capabilities)
    attempt("seccomp", _seccomp)
    return state
