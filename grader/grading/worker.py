"""Preparing a trusted worker process once, so that every job forked from it starts warm.

`prepare` pins one torch thread and deterministic algorithms and, for a process that jobs are forked
from (the local pool's forkserver, through grader.grading.worker_preload), runs a tiny pytest + Hypothesis
session so that their lazily imported machinery is already loaded when a job forks, and freezes the
heap so that garbage collection leaves it alone. Importing this module does nothing by itself.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import sys
import tempfile
from typing import Any

# What numpy's BLAS reads when it loads, for one thread (torch's own threads: `prepare`): a trusted
# worker's and a sandbox's (grader.grading.worker_threads, grader.grading.sandbox_client.Zygote).
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}

_WARMUP_TEST = """
import torch
from hypothesis import given, strategies as st

@given(st.integers(0, 3), st.floats(0, 1))
def test_warm(n, x):
    assert torch.ones(n).sum().item() == n
"""


def prepare(*, warm: bool = False) -> None:
    """Make this process ready to run jobs (idempotent); `warm` for a process that jobs are forked from.

    The warm-up session only pays where many jobs are forked from one process; a process that runs
    one job (a student's `grader check --problem`) would spend a second on it for nothing.
    """
    import torch

    torch.set_num_threads(1)
    deterministic_algorithms()
    if warm:
        _warm_pytest()
    # Hypothesis imports its target optimiser the first time a test calls `target()`.
    import hypothesis.internal.conjecture.optimiser  # noqa: F401

    # Only now: the libraries above load their compiled code from the installed caches (a private
    # prefix set earlier would recompile them from source at every start).
    _private_bytecode_cache()
    # Everything loaded so far lives as long as the process: keep it out of garbage collections, which
    # would otherwise walk (and, in forked children, copy) the whole of torch's heap again and again.
    gc.freeze()


def deterministic_algorithms() -> None:
    """Deterministic algorithms on, as `torch.use_deterministic_algorithms(True)` sets them for eager code.

    That function also sets the flag of TorchInductor's config, importing all of TorchDynamo (two
    seconds of CPU at every start) for code the grader never compiles; the debug mode sets the same
    flag of the eager kernels, alone.
    """
    import torch

    if not torch.are_deterministic_algorithms_enabled() or torch.is_deterministic_algorithms_warn_only_enabled():
        torch.set_deterministic_debug_mode("error")


_warmed = False


def _private_bytecode_cache() -> None:
    """Compiled test files and references go to a private folder, never into the bank.

    pytest rewrites a test file's asserts and compiles it on every import, which costs a job tens of
    milliseconds; with `sys.pycache_prefix` set, pytest and the import system write the compiled code
    there and later jobs load it (each job still runs the module afresh). The folder is this process's
    own (mode 0700, removed at exit); processes forked from here share it.
    """
    if sys.pycache_prefix is not None and os.path.basename(sys.pycache_prefix).startswith("grader-pycache-"):
        return
    import atexit
    import shutil

    sys.pycache_prefix = tempfile.mkdtemp(prefix="grader-pycache-")
    atexit.register(shutil.rmtree, sys.pycache_prefix, True)
    _installed_code_keeps_its_cache()


def installed_roots() -> tuple[str, ...]:
    """The folders installed Python code lives in: the standard library and the site-packages."""
    import site
    import sysconfig

    folders = {sysconfig.get_paths()[name] for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    folders.update(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        folders.add(site.getusersitepackages())
    return tuple(sorted(os.path.join(os.path.realpath(f), "") for f in folders))


def _installed_code_keeps_its_cache() -> None:
    """Installed modules imported later still load the bytecode installed beside them.

    With `sys.pycache_prefix` set, the import system looks for every module's bytecode under the
    prefix alone, so a library first imported during a job (the trusted side's first `torch.optim`
    optimizer imports all of TorchDynamo) was compiled from source in every worker: 8 s of CPU
    against 2 s. The private prefix is for the bank's files; code under the installed folders keeps
    its own `__pycache__`, where a plain `python` would look.
    """
    from importlib import _bootstrap_external as external  # the function the source loader calls

    original = external.cache_from_source
    if getattr(original, "grader_installed_roots", None) is not None:
        return
    roots = installed_roots()

    def cache_from_source(path: Any, debug_override: Any = None, *, optimization: Any = None) -> str:
        cached = original(path, debug_override, optimization=optimization)
        source = os.fspath(path)
        if sys.pycache_prefix is None or not (source.startswith(roots) or os.path.realpath(source).startswith(roots)):
            return cached
        # The file name is the same with or without a prefix; only the folder differs.
        return os.path.join(os.path.dirname(source), "__pycache__", os.path.basename(cached))

    cache_from_source.grader_installed_roots = roots  # type: ignore[attr-defined]
    external.cache_from_source = cache_from_source


def _warm_pytest() -> None:
    global _warmed
    if _warmed:
        return
    _warmed = True
    import pytest

    from grader.grading.plugin import UNUSED_BUILTINS, installed_plugins_off, register_profile, session_plugins

    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    with tempfile.TemporaryDirectory(prefix="grader-warmup-") as tmp:
        path = os.path.join(tmp, "test_warmup.py")
        with open(path, "w") as f:
            f.write(_WARMUP_TEST)
        with open(os.path.join(tmp, "pytest.ini"), "w") as f:
            f.write("[pytest]\n")
        register_profile(5)
        with (
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
            installed_plugins_off(),
        ):
            pytest.main(
                [
                    path,
                    "-c",
                    os.path.join(tmp, "pytest.ini"),
                    "-p",
                    "no:cacheprovider",
                    "-q",
                    "--import-mode=importlib",
                    # as in every job (grader.grading.jobs): their gc.collect() calls cost a second on a heap that holds torch
                    "-p",
                    "no:unraisableexception",
                    "-p",
                    "no:threadexception",
                    *UNUSED_BUILTINS,
                ],
                plugins=session_plugins(),
            )
    sys.dont_write_bytecode = dont_write
