"""Kernel-side attacks graded end to end: every run ends, sandboxes share nothing, nothing is left behind.

The IPC, descriptor, channel and shared-memory attackers of tests/fixtures/hostile/ are graded as one
class between two correct students with seccomp and Landlock switched off, so that what stands
against them is the kernel's own separation alone: an IPC namespace per sandbox, a uid of its own,
a memory cgroup, the sandbox's private /dev/shm, the descriptors it does not inherit, the deadlines
on its channel. (tests/e2e/test_adversarial.py grades them again with every protection on.) Then a
run whose sandbox zygote is wedged: it is replaced and the job it failed is graded again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from grader.grading import sandbox_client as client
from grader.sandbox import confine

from .conftest import REPO, make_course, run_cli

HOSTILE = REPO / "tests/fixtures/hostile"
ATTACKERS = (
    "leaves_ipc_objects_for_other_sandboxes",
    "meddles_with_every_inherited_descriptor",
    "dribbles_its_reply",
    "sends_a_garbage_frame",
    "shared_memory_bomb",
    "memfd_memory_bomb",
    "dev_shm_memory_bomb",
)
FOUND = "FOUND ANOTHER SANDBOX'S OBJECTS"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces, uids and cgroups of the sandbox's own need root")


def _sysvipc() -> dict[str, list[str]]:
    """Every System V IPC object of this (the machine's) IPC namespace."""
    return {kind: Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:] for kind in ("shm", "msg", "sem")}


def _posix_queues() -> list[str] | None:
    """The POSIX message queues of this IPC namespace (mqueue mounted in a private mount namespace)."""
    if shutil.which("unshare") is None:
        return None
    listed = subprocess.run(
        ["unshare", "--mount", "sh", "-c", "mount -t mqueue none /mnt && ls -A /mnt"],
        capture_output=True, text=True, timeout=60,
    )
    return sorted(listed.stdout.split()) if listed.returncode == 0 else None


def _sandbox_processes(tmp: Path) -> list[str]:
    """Processes under a sandbox's uid working in a folder of `tmp` (a run's own; none may outlive it)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as f:
                uid = next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except (OSError, StopIteration, ValueError):
            continue
        if uid >= confine._PRIVATE_ID_BASE and cwd.startswith(str(tmp)):
            found.append(pid)
    return found


def _shm_files() -> list[str]:
    """What dev_shm_memory_bomb would leave in the machine's /dev/shm."""
    return sorted(n for n in os.listdir("/dev/shm") if n.startswith("hoard-")) if os.path.isdir("/dev/shm") else []


@pytest.fixture(scope="module")
def kernel_class(tmp_path_factory: pytest.TempPathFactory):
    root = make_course(tmp_path_factory.mktemp("kernel"), students=["alice_correct"])
    subs = root / "submissions/hw7"
    (subs / "alice_correct").rename(subs / "aaa_correct")
    shutil.copytree(subs / "aaa_correct", subs / "zzz_correct")
    students = [*ATTACKERS, "leaves_ipc_objects_for_other_sandboxes_again"]  # two of them, to find each other
    for name in students:
        source = HOSTILE / name.removesuffix("_again")
        shutil.copytree(source, subs / name, ignore=shutil.ignore_patterns("_expected.toml"))
        shutil.copy(subs / "aaa_correct/bn_fold.py", subs / name)
    spec = root / "problems/hw7/true_softmax/problem.toml"
    spec.write_text(spec.read_text().replace("call_timeout = 10", "call_timeout = 3").replace("job_timeout = 120", "job_timeout = 90"))
    tmp = root / "tmp"  # the run's temporary folders, and so its sandboxes' working directories
    tmp.mkdir()
    before = {"sysvipc": _sysvipc(), "mqueue": _posix_queues(), "shm": _shm_files()}
    saved = {k: os.environ.get(k) for k in ("GRADER_SANDBOX_DISABLE", "TMPDIR")}
    os.environ.update(GRADER_SANDBOX_DISABLE="seccomp,landlock", TMPDIR=str(tmp))
    try:
        result = run_cli("--root", str(root), "grade", "hw7", "--jobs", "2", timeout=1200)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    after = {"sysvipc": _sysvipc(), "mqueue": _posix_queues(), "shm": _shm_files(), "processes": _sandbox_processes(tmp)}
    doc = json.loads((root / "reports/hw7/results.json").read_text())
    return result, doc, before, after


def _problems(doc) -> dict[str, dict[str, dict]]:
    return {s["id"]: {p["id"]: p for p in s["problems"]} for s in doc["students"]}


def _said(problem) -> str:
    return "\n".join([problem["message"]] + [t[k] for t in problem["tests"] for k in ("message", "output")])


def test_the_run_ends_without_grader_errors_and_correct_students_keep_full_marks(kernel_class):
    result, doc, _, _ = kernel_class
    assert result.returncode == 0, result.stdout + result.stderr
    problems = _problems(doc)
    assert all(p["status"] != "error" for student in problems.values() for p in student.values()), result.stdout
    assert problems["aaa_correct"]["true_softmax"]["score"] == 10 and problems["zzz_correct"]["true_softmax"]["score"] == 10
    for student, by_problem in problems.items():
        assert by_problem["bn_fold"]["score"] == 10, student


def test_no_sandbox_saw_another_ones_kernel_objects(kernel_class):
    _, doc, _, _ = kernel_class
    for student in ("leaves_ipc_objects_for_other_sandboxes", "leaves_ipc_objects_for_other_sandboxes_again"):
        problem = _problems(doc)[student]["true_softmax"]
        assert problem["score"] == 10, _said(problem)  # the objects were made, in a namespace of its own
        assert FOUND not in _said(problem)


def test_nothing_outlives_the_run(kernel_class):
    _, _, before, after = kernel_class
    assert after["sysvipc"] == before["sysvipc"]
    assert after["mqueue"] == before["mqueue"]
    assert after["shm"] == before["shm"]
    assert after["processes"] == []


def test_the_channel_and_memory_attacks_fail_only_their_student(kernel_class):
    _, doc, _, _ = kernel_class
    problems = _problems(doc)
    expected = {
        "dribbles_its_reply": "nu timed out after 3 s",
        "sends_a_garbage_frame": "broke the grader's protocol",
        "shared_memory_bomb": "nu exceeded the memory limit of 1024 MiB (shared memory counted)",
        "dev_shm_memory_bomb": "No space left on device",
    }
    for student, says in expected.items():
        problem = problems[student]["true_softmax"]
        assert problem["score"] == 0 and says in _said(problem), (student, _said(problem)[:2000])
    memfd = problems["memfd_memory_bomb"]["true_softmax"]
    warnings = " ".join(memfd.get("warnings", []))
    if "memory_cgroup" not in warnings:  # where the kernel counts it, anonymous files count too
        assert memfd["score"] == 0 and "exceeded the memory limit of 1024 MiB" in _said(memfd), _said(memfd)[:2000]
    meddler = problems["meddles_with_every_inherited_descriptor"]["true_softmax"]
    assert meddler["score"] == 10 and "closed inherited descriptors: ['0 -> /dev/null']" in _said(meddler)


def test_a_wedged_zygote_is_replaced_and_its_job_graded_again(tmp_path, monkeypatch):
    from grader.results.store import Store
    from grader.run.session import GradingSession

    monkeypatch.setattr(client, "SPAWN_TIMEOUT", 3.0)
    monkeypatch.setattr(client, "PING_TIMEOUT", 2.0)
    root = make_course(tmp_path, students=["alice_correct"])
    with GradingSession(root, workers=1) as session:
        wedged = session.zygote.get()
        assert wedged.process is not None
        os.kill(wedged.process.pid, signal.SIGSTOP)  # alive, holding its socket, answering nothing
        try:
            summary = session.grade("hw7", root / "submissions/hw7", root / "reports/hw7", only=("true_softmax",))
        finally:
            os.kill(wedged.process.pid, signal.SIGCONT)
        assert session.zygote.replaced == 1
    assert summary.errors == [] and summary.ran == 1
    store = Store(root / "reports/hw7/grades.sqlite")
    try:
        [result] = [r for r in store.results() if r.problem == "true_softmax"]
    finally:
        store.close()
    assert result.status == "graded" and result.score == 10
