"""What the sandbox zygote imports before it forks, whatever else is installed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_the_zygote_imports_torch_dynamo_without_torchvision() -> None:
    """Without torchvision, a student's first optimizer step would import it inside the sandbox."""
    code = (
        "import sys; sys.modules['torchvision'] = None\n"  # as where torchvision is not installed
        "from grader.sandbox.zygote import import_libraries; import_libraries()\n"
        "print('torch._dynamo' in sys.modules, 'torchvision' in sys.modules and sys.modules['torchvision'] is not None)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["True", "False"], done.stdout + done.stderr


@pytest.mark.slow  # a real zygote
def test_ctrl_c_or_a_closed_terminal_while_the_zygote_imports_torch_leaves_it_to_the_grader() -> None:
    """SIGINT and SIGHUP reach the whole process group, the starting zygote too: it used to die in the
    middle of `import torch`, printing a KeyboardInterrupt traceback under the grader's own message."""
    import os
    import signal
    import time

    from grader.grading.sandbox_client import Zygote

    zygote = Zygote.launch()
    try:
        assert zygote.process is not None
        time.sleep(0.5)  # importing torch by now
        os.kill(zygote.process.pid, signal.SIGINT)
        os.kill(zygote.process.pid, signal.SIGHUP)
        zygote.wait_ready()  # ZygoteError (exit status 1) before
        assert zygote.ping(timeout=30)
    finally:
        zygote.close()


def _huge_pages_on_request() -> bool:
    """Whether this machine's glibc (2.35 or later) and kernel give transparent huge pages on request."""
    import platform

    libc, version = platform.libc_ver()
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            offered = "[never]" not in f.read()
    except OSError:
        offered = False
    return libc == "glibc" and tuple(int(part) for part in version.split(".")[:2]) >= (2, 35) and offered


@pytest.mark.skipif(not _huge_pages_on_request(), reason="needs glibc 2.35+ and transparent huge pages")
def test_the_zygote_allocates_from_huge_pages_its_sandboxes_inherit() -> None:
    """Its malloc advises its memory for huge pages (a fork copies fewer page tables; a sandbox's large
    tensors fault every 2 MiB)."""
    from grader.grading.sandbox_client import Zygote

    zygote = Zygote.start()
    try:
        assert zygote.process is not None
        with open(f"/proc/{zygote.process.pid}/smaps") as f:
            flags = [line.split()[1:] for line in f if line.startswith("VmFlags:")]
        assert any("hg" in mapping for mapping in flags)
    finally:
        zygote.close()


def test_the_zygote_and_its_sandboxes_compute_on_one_thread() -> None:
    """numpy's BLAS starts no pool of threads (one a core, spinning after each product), as torch."""
    from grader.grading.sandbox_client import Zygote

    zygote = Zygote.start()
    try:
        assert zygote.process is not None
        assert os.listdir(f"/proc/{zygote.process.pid}/task") == [str(zygote.process.pid)]
    finally:
        zygote.close()
