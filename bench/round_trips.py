"""What sending a test's calls to the sandbox in batches could save, measured on real request streams.

    python bench/round_trips.py [--problems hw7/bn_fold hw3/softmax_xent ...] [--window 32]

For each problem, one passing job (the bundled correct student) is graded twice in this process: the
first run records the tests' examples (grader.grading.lockstep), the second replays them, and every
request that replay sends to its sandbox is captured as it went over the wire (header and pickled
arguments). The captured stream is then sent again, byte for byte, to two fresh sandboxes:

- one request at a time, each waiting for its reply (what grading does today);
- pipelined: the same requests sent ahead of their replies, up to `--window` in flight, which is
  the most that a batch (one message for many calls) could save on the transport, since a batch
  still has the sandbox unpickle, run and encode every call.

Everything runs on one core (the zygote and its sandboxes inherit it), as a grading worker does when
the run keeps every core busy; each way is measured `--repeat` times, alternating, and the least
kept. It prints, per problem, the CPU per request of both ways (this process and the sandbox, as the
kernel counts them) and what the pipelined way saves, beside the replayed job's whole CPU time, so
that the saving reads as a share of a passing job. Nothing of the trusted side's own work per call
(pickling arguments, reading replies, comparing) is in either figure: a batch would not remove it.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from grader.course.spec import Limits  # noqa: E402
from grader.grading import sandbox_client  # noqa: E402
from grader.grading.jobs import JobSpec, read_submission, run_job  # noqa: E402
from grader.grading.sandbox_client import Zygote  # noqa: E402
from grader.sandbox import wire  # noqa: E402

DEFAULT_PROBLEMS = ("hw3/softmax_xent", "hw3/conv_lowering", "hw5/receptive_field", "hw7/true_softmax", "hw7/bn_fold")
Stream = list[tuple[dict[str, Any], list[bytes]]]


def _process_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def capture(zygote: Zygote, assignment: str, problem: str) -> tuple[Stream, float]:
    """The requests a replayed passing job sends, in order, and that job's CPU time (trusted and sandbox)."""
    files = read_submission(ROOT / "submissions" / assignment / "alice_correct")
    job = JobSpec(
        root=str(ROOT),
        assignment=assignment,
        problem=problem,
        student="alice_correct",
        files=files,
        key="bench",
        zygote_address=zygote.address,
    )
    first = run_job(job)  # records the tests' examples in this process
    assert first.score == first.max_score, (problem, first.message)
    stream: Stream = []
    real = sandbox_client.SandboxProcess.request

    def keep(self: Any, header: Any, blobs: list[bytes], **options: Any) -> Any:
        stream.append((dict(header), [bytes(b) for b in blobs]))
        return real(self, header, blobs, **options)

    sandbox_client.SandboxProcess.request = keep  # type: ignore[method-assign]
    try:
        replayed = run_job(job)
    finally:
        sandbox_client.SandboxProcess.request = real  # type: ignore[method-assign]
    assert replayed.modes[0] > 0 and replayed.score == replayed.max_score, (problem, replayed.modes)
    return stream, replayed.cpu_seconds


def _fresh_sandbox(zygote: Zygote, student: Path, work: Path) -> sandbox_client.SandboxProcess:
    limits = Limits(call_timeout=60, import_timeout=60, job_timeout=600, memory_mb=2048)
    return zygote.spawn(
        {
            "student_dir": str(student),
            "workdir": str(work),
            "output_path": str(work / "output.txt"),
            "forbidden_calls": [],
            "hidden": [],
            "require": [],
            "disable": [],
            "limits": limits.sandbox_limits().to_wire(),
        }
    )


def _framed(header: dict[str, Any], blobs: list[bytes]) -> bytes:
    """A message as `wire.Channel.send` frames it."""
    head = json.dumps(header, allow_nan=False).encode()
    parts = [wire._COUNTS.pack(len(head), len(blobs)), head]
    for blob in blobs:
        parts += [wire._SIZE.pack(len(blob)), blob]
    return b"".join(parts)


def send_again(zygote: Zygote, stream: Stream, student: Path, work: Path, window: int) -> tuple[float, float]:
    """CPU seconds (this process, the sandbox) to send `stream` to a fresh sandbox; window 1: one at a time."""
    work.mkdir()
    sandbox = _fresh_sandbox(zygote, student, work)
    channel = sandbox._messages
    replies: list[dict[str, Any]] = []
    sandbox_before, before = _process_cpu(sandbox.pid), time.process_time()
    sent = 0
    if window == 1:  # today's way: each request waits for its reply
        for header, blobs in stream:
            channel.send(header, blobs)
            replies.append(channel.recv()[0])
    sock = sandbox.channel
    pending = b""  # the part of the current request not yet taken by the socket
    while len(replies) < len(stream):
        # One thread, never blocked on a send: a request goes out in what the socket takes at once,
        # while fewer than `window` wait for replies, and a reply is read whenever one arrives (the
        # sandbox writes a whole reply before it reads on, so reading one never waits on us).
        if not pending and sent < len(stream) and sent - len(replies) < window:
            pending = _framed(*stream[sent])
            sent += 1
        if channel._end > channel._start:  # the channel reads ahead: a reply may be here already
            replies.append(channel.recv()[0])
            continue
        readable, writable, _ = select.select([sock], [sock] if pending else [], [])
        if readable:
            replies.append(channel.recv()[0])
        elif writable:
            taken = sock.send(pending, socket.MSG_DONTWAIT)
            pending = pending[taken:]
    here, there = time.process_time() - before, _process_cpu(sandbox.pid) - sandbox_before
    sandbox.close()
    failed = [r for r in replies if not r.get("ok")]
    assert len(replies) == len(stream) and not failed, failed[:1]
    return here, there


def measure(problems: list[str], window: int, repeat: int) -> dict[str, dict[str, float]]:
    torch.set_num_threads(1)
    # One core for this process and (through the zygote, which inherits it) every sandbox: what a
    # grading worker has when the run keeps every core busy, and no second core to hide a wait on.
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    figures: dict[str, dict[str, float]] = {}
    zygote = Zygote.start()
    try:
        with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
            for index, name in enumerate(problems):
                assignment, problem = name.split("/")
                stream, job_cpu = capture(zygote, assignment, problem)
                student = Path(tmp, f"student{index}")
                student.mkdir()
                for rel, data in read_submission(ROOT / "submissions" / assignment / "alice_correct"):
                    (student / rel).parent.mkdir(parents=True, exist_ok=True)
                    (student / rel).write_bytes(data)
                assert stream[0][0].get("op") in ("hello", "import"), stream[0][0]  # the stream starts a sandbox
                calls = len(stream)
                one = send_again(zygote, stream, student, Path(tmp, f"one{index}"), 1)
                many = send_again(zygote, stream, student, Path(tmp, f"many{index}"), window)
                saved = (one[0] + one[1]) - (many[0] + many[1])
                figures[name] = {
                    "requests": calls,
                    "job_cpu_seconds": job_cpu,
                    "one_at_a_time_ms_per_request": 1000 * (one[0] + one[1]) / calls,
                    "pipelined_ms_per_request": 1000 * (many[0] + many[1]) / calls,
                    "saved_ms_per_job": 1000 * saved,
                    "saved_share_of_job": saved / job_cpu,
                }
                print(
                    f"{name:24s} {calls:4d} requests: one at a time {figures[name]['one_at_a_time_ms_per_request']:.3f} "
                    f"ms/request, pipelined {figures[name]['pipelined_ms_per_request']:.3f}; saves "
                    f"{1000 * saved:.0f} ms of the replayed job's {1000 * job_cpu:.0f} ms ({100 * saved / job_cpu:.1f}%)",
                    flush=True,
                )
    finally:
        zygote.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="*", default=list(DEFAULT_PROBLEMS))
    parser.add_argument("--window", type=int, default=32, help="requests in flight when pipelined")
    parser.add_argument("--repeat", type=int, default=3, help="times each way is measured (the least is kept)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures = measure(args.problems, args.window, args.repeat)
    total_saved = sum(f["saved_ms_per_job"] for f in figures.values())
    total_job = sum(1000 * f["job_cpu_seconds"] for f in figures.values())
    print(
        f"all: batching's transport saving is at most {total_saved:.0f} ms of {total_job:.0f} ms "
        f"({100 * total_saved / total_job:.1f}%) of these passing jobs' CPU"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
