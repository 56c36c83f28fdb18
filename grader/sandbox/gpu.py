"""Whether a job may train on a GPU: the problem's `gpu` setting, the machine's device files, the sandbox.

A problem declares `gpu = "when-present"` in problem.toml to say that its training may run on a GPU
where the grading machine has one. The sandbox would then have to admit the GPU's device files
(Landlock read-write and device-ioctl rights on `/dev/nvidiactl`, `/dev/nvidia-uvm` and one
`/dev/nvidiaN`, read access to `/proc/driver/nvidia` and the device's `/sys` entries) for that job
only; the README's "GPU" section gives the whole design. This version has not built that part of the
sandbox (`SANDBOX_ADMITS_GPU` is False) and was never run on a GPU: :func:`plan` therefore decides
"CPU" for every job, and says why, so that tests and reports can state it. The decision itself is a
pure function of its inputs, so its rules are tested on machines without a GPU.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

# Set to True only together with the Landlock rules, the seccomp review and the tests on a GPU
# machine that the README's "GPU" section lists.
SANDBOX_ADMITS_GPU = False

CONTROL_FILES = ("/dev/nvidiactl", "/dev/nvidia-uvm")
_DEVICE = re.compile(r"^nvidia(\d+)\Z")


@dataclass(frozen=True)
class GpuPlan:
    """Where a job's training runs: `device` is "cpu" or "cuda:N"; `device_files` what the sandbox must admit."""

    device: str
    device_files: tuple[str, ...]
    reason: str


def device_files(dev: str = "/dev") -> tuple[str, ...]:
    """The NVIDIA device files present under `dev`: the control files, then /dev/nvidia0, 1, ... in order."""
    try:
        names = os.listdir(dev)
    except OSError:
        return ()
    cards = sorted((int(m.group(1)), name) for name in names if (m := _DEVICE.match(name)))
    control = [os.path.basename(p) for p in CONTROL_FILES if os.path.basename(p) in names]
    return tuple(os.path.join(dev, name) for name in [*control, *(name for _, name in cards)])


def plan(gpu: str, present: tuple[str, ...], *, sandbox_admits: bool = SANDBOX_ADMITS_GPU, card: int = 0) -> GpuPlan:
    """Where a job of a problem with `gpu` ("never" or "when-present") trains, given the device files present.

    The GPU is used only when the problem asks for it, the machine has the control files and the
    card, and the sandbox can admit them; otherwise the CPU, with the problem's CPU budget. `card`
    is the GPU this job was given (one job per card at a time, so no two sandboxes share one).
    """
    if gpu != "when-present":
        return GpuPlan("cpu", (), "the problem does not use a GPU")
    names = {os.path.basename(p) for p in present}
    wanted = [*(os.path.basename(p) for p in CONTROL_FILES), f"nvidia{card}"]
    missing = [n for n in wanted if n not in names]
    if missing:
        return GpuPlan(
            "cpu", (), f"no GPU on this machine ({', '.join(missing)} missing): the CPU, with the CPU budget"
        )
    if not sandbox_admits:
        return GpuPlan(
            "cpu", (), "this grader's sandbox does not admit GPU device files yet: the CPU, with the CPU budget"
        )
    files = tuple(p for p in present if os.path.basename(p) in wanted)
    return GpuPlan(f"cuda:{card}", files, f"GPU {card}, its device files admitted to this job's sandbox only")
