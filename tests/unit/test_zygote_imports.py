"""What the sandbox zygote imports before it forks, whatever else is installed."""

from __future__ import annotations

import subprocess
import sys


def test_the_zygote_imports_torch_dynamo_without_torchvision() -> None:
    """Without torchvision, a student's first optimizer step would import it inside the sandbox."""
    code = (
        "import sys; sys.modules['torchvision'] = None\n"  # as where torchvision is not installed
        "from grader.sandbox.zygote import import_libraries; import_libraries()\n"
        "print('torch._dynamo' in sys.modules, 'torchvision' in sys.modules and sys.modules['torchvision'] is not None)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["True", "False"], done.stdout + done.stderr
