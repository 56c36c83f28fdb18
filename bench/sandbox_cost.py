"""The cost of one sandbox: fork from the zygote, set up and confine, one import and one call, exit.

Prints the wall-clock time per sandbox on the trusted side, the sandbox's own CPU (as the zygote
measures it when it reaps the sandbox), and the zygote's CPU per sandbox (the fork, reaping and any
per-sandbox bookkeeping such as a memory cgroup). Run it twice to compare two versions of the sandbox:

    python bench/sandbox_cost.py --sandboxes 200

`--large` makes the call build tensors of two million entries (as conv1d_backprop's long tests do)
instead of adding one; `--compare-huge-pages` measures zygotes with and without glibc's malloc set to
transparent huge pages (grader.grading.sandbox_client.zygote_environment), side by side in one run
(off, on, on, off, so that a drift of the machine weighs on both alike), and prints the ratios:

    python bench/sandbox_cost.py --sandboxes 100 --large --compare-huge-pages
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
from grader.grading import sandbox_client  # noqa: E402
from grader.grading.proxy import StudentSession  # noqa: E402
from grader.grading.sandbox_client import Zygote  # noqa: E402

TINY = "def f(x):\n    return x + 1\n"
# Five tensors of two million float64 entries built and reduced: 2e7 for x = 1.
LARGE = """import torch

def f(x):
    total = 0.0
    for _ in range(5):
        t = torch.full((2_000_000,), float(x), dtype=torch.float64)
        total += float((t * 2).sum())
    return total
"""


def _process_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(sandboxes: int, *, large: bool = False, huge_pages: bool = True) -> dict[str, float]:
    limits = Limits(call_timeout=10, import_timeout=10, job_timeout=60, memory_mb=1024)
    default = sandbox_client.zygote_environment
    sandbox_client.zygote_environment = lambda: default(huge_pages=huge_pages)  # type: ignore[assignment]
    try:
        zygote = Zygote.start()
    finally:
        sandbox_client.zygote_environment = default
    assert zygote.process is not None
    try:
        with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
            student = Path(tmp, "student")
            student.mkdir()
            (student / "sub.py").write_text(LARGE if large else TINY)
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
                assert session.module().f(1) == (2e7 if large else 2)
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
    parser.add_argument("--large", action="store_true", help="a call that builds tensors of two million entries")
    parser.add_argument("--compare-huge-pages", action="store_true", help="zygotes with and without huge pages")
    args = parser.parse_args()
    if not args.compare_huge_pages:
        print(json.dumps(measure(args.sandboxes, large=args.large), indent=2))
        return
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for huge_pages in (False, True, True, False):
        runs[huge_pages].append(measure(args.sandboxes, large=args.large, huge_pages=huge_pages))
    means = {
        huge_pages: {key: sum(run[key] for run in found) / len(found) for key in found[0]}
        for huge_pages, found in runs.items()
    }
    for key in ("wall_ms_median", "sandbox_cpu_ms_mean", "zygote_cpu_ms_mean"):
        off, on = means[False][key], means[True][key]
        print(f"{key:22s} without huge pages {off:8.2f}   with {on:8.2f}   ({on / off:.2f}x)")


if __name__ == "__main__":
    main()
