"""What the sandbox zygote imports before it forks, whatever else is installed."""

from __future__ import annotations

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
