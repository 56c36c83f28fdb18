"""The cost of one sandbox: fork from the zygote, set up and confine, one import and one call, exit.

Prints the wall-clock time per sandbox on the trusted side, the sandbox's own CPU (as the zygote
measures it when it reaps the sandbox), and the zygote's CPU per sandbox (the fork, reaping and any
per-sandbox bookkeeping such as a memory cgroup). Run it twice to compare two versions of the sandbox:

    python bench/sandbox_cost.py --sandboxes 200
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.course.spec import Limits  # noqa: E402
from grader.grading.proxy import StudentSession  # noqa: E402
from grader.grading.sandbox_client import Zygote  # noqa: E402


def _process_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(sandboxes: int) -> dict[str, float]:
    limits = Limits(call_timeout=10, import_timeout=10, job_timeout=60, memory_mb=1024)
    zygote = Zygote.start()
    assert zygote.process is not None
    try:
        with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
            student = Path(tmp, "student")
            student.mkdir()
            (student / "sub.py").write_text("def f(x):\n    return x + 1\n")
            walls = []
            sandbox_cpu = 0.0
            zygote_before = _process_cpu(zygote.process.pid)
            for i in range(sandboxes + 5):
                work = Path(tmp, f"work{i}")
                work.mkdir()
                started = time.perf_counter()
                session = StudentSession(
                    zygote=zygote, student_dir=str(student), module="sub", workdir=str(work), limits=limits
                )
                assert session.module().f(1) == 2
                session.close()
                if i >= 5:  # the first few warm the zygote's and this process's caches
                    walls.append(time.perf_counter() - started)
                    sandbox_cpu += session.sandbox_cpu_seconds
            zygote_cpu = _process_cpu(zygote.process.pid) - zygote_before
    finally:
        zygote.close()
    walls.sort()
    return {
        "sandboxes": sandboxes,
        "wall_ms_median": 1000 * walls[len(walls) // 2],
        "wall_ms_mean": 1000 * sum(walls) / len(walls),
        "sandbox_cpu_ms_mean": 1000 * sandbox_cpu / sandboxes,
        "zygote_cpu_ms_mean": 1000 * zygote_cpu / (sandboxes + 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandboxes", type=int, default=100)
    args = parser.parse_args()
    print(json.dumps(measure(args.sandboxes), indent=2))


if __name__ == "__main__":
    main()
