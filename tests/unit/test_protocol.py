"""The protocol across the trust boundary (grader.sandbox.protocol): its limits, its names, and that both
sides keep to them: every reply a real sandbox gives has a kind the protocol names, and every sandbox
limit `problem.toml` sets reaches the sandbox."""

import json
import pickle
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.course import spec as spec_module
from grader.course.spec import Limits, load_problem
from grader.errors import SpecError
from grader.grading.proxy import StudentSession
from grader.sandbox import wire
from grader.sandbox.protocol import ExitCode, Op, ReplyKind, SandboxConfig, SandboxLimits

REPO = Path(__file__).resolve().parent.parent.parent

# -- the limits ---------------------------------------------------------------------------------------


@given(st.builds(SandboxLimits, **{name: st.integers(0, 1 << 40) for name in SandboxLimits().to_wire()}))
def test_sandbox_limits_round_trip_through_json(limits):
    assert SandboxLimits.from_wire(json.loads(json.dumps(limits.to_wire()))) == limits


def test_a_limit_not_sent_keeps_its_default_and_a_wrong_one_is_refused():
    assert SandboxLimits.from_wire(None) == SandboxLimits.from_wire({}) == SandboxLimits()
    assert SandboxLimits.from_wire({"open_files": 64}) == SandboxLimits(open_files=64)
    assert SandboxLimits().to_wire() == {
        "memory_mb": 1024, "cpu_seconds": 120, "file_bytes": 16 << 20, "open_files": 256, "disk_mb": 64,
        "output_bytes": 4 << 20,
    }
    with pytest.raises(ValueError, match="unknown sandbox limit 'open_file'"):
        SandboxLimits.from_wire({"open_file": 64})
    with pytest.raises(ValueError, match="must be a number"):
        SandboxLimits.from_wire({"open_files": True})
    with pytest.raises(ValueError, match="must be an object"):
        SandboxLimits.from_wire([64])


def test_a_problems_limits_give_the_sandbox_the_same_defaults_as_before():
    """The CPU limit was always the job's time and 5 s more; the others are the sandbox's defaults."""
    assert Limits().sandbox_limits() == SandboxLimits(cpu_seconds=305)
    assert Limits(job_timeout=60.5, memory_mb=256).sandbox_limits() == SandboxLimits(cpu_seconds=65, memory_mb=256)
    assert Limits(cpu_seconds=30).sandbox_limits().cpu_seconds == 30


def test_every_limit_is_a_key_of_problem_toml_and_documented():
    """[limits] in problem.toml sets every field of Limits, and docs/writing-problems.md lists every key."""
    fields = set(Limits.__dataclass_fields__)
    assert set(spec_module._LIMIT_KEYS) == fields
    assert set(SandboxLimits().to_wire()) <= fields
    docs = (REPO / "docs/writing-problems.md").read_text()
    block = docs.split("\n[limits]", 1)[1].split("\n[", 1)[0]
    assert set(re.findall(r"^(\w+) =", block, re.MULTILINE)) == fields


# -- the names on the wire --------------------------------------------------------------------------


def test_names_are_the_bytes_on_the_wire():
    header = {"op": Op.CALL, "kind": ReplyKind.RAISED, "code": ExitCode.SANDBOX_BROKEN}
    assert json.dumps(header) == '{"op": "call", "kind": "raised", "code": 70}'
    assert f"{ReplyKind.TIMEOUT}" == "timeout"


def test_the_sandbox_writes_no_reply_kind_as_a_literal():
    source = (REPO / "grader/sandbox/server.py").read_text()
    assert '"kind"' not in source and "'kind'" not in source
    assert "_exit(70)" not in source and "= 70" not in (REPO / "grader/sandbox/zygote.py").read_text()


_STUDENT = """
    import sys

    def raises():
        raise ValueError("no")

    def loops():
        while True:
            pass

    def exits():
        sys.exit(3)

    def allocates():
        raise MemoryError()

    def unsendable():
        x = []
        for _ in range(200):
            x = [x]
        return x
"""


@pytest.fixture
def spawn(tmp_path, zygote):
    processes = []

    def start(**extra):
        student, work = tmp_path / f"student{len(processes)}", tmp_path / f"work{len(processes)}"
        student.mkdir()
        work.mkdir()
        (student / "sub.py").write_text(textwrap.dedent(_STUDENT))
        config: SandboxConfig = {"student_dir": str(student), "workdir": str(work),
                                 "output_path": str(work / "out.txt"), **extra}
        process = zygote.spawn(config)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.close()


def _ask(process, header, blobs=()):
    reply, out = process.request({"timeout": 5.0, **header}, list(blobs), timeout=30)
    return reply, out


def test_every_kind_of_failed_reply_a_real_sandbox_gives_is_a_reply_kind(spawn):
    process = spawn()
    assert _ask(process, {"op": Op.IMPORT, "module": "sub"})[0]["ok"] is True
    kinds = {}

    def call(name, timeout=5.0):
        reply, out = _ask(process, {"op": Op.GETATTR, "id": 0, "name": name})
        handle = wire.decode_value(reply["value"], out)
        reply, _ = _ask(process, {"op": Op.CALL, "id": handle.id, "timeout": timeout}, [pickle.dumps(((), {}))])
        return reply

    for name, expected in [("raises", "raised"), ("exits", "exited"), ("allocates", "memory"),
                           ("unsendable", "unsendable")]:
        kinds[name] = call(name)["kind"]
        assert kinds[name] == expected
    kinds["loops"] = call("loops", timeout=0.3)["kind"]
    kinds["bogus"] = _ask(process, {"op": "bogus"})[0]["kind"]
    refusing = spawn(require=["landlock"], disable=["landlock"])
    kinds["refused"] = _ask(refusing, {"op": Op.HELLO})[0]["kind"]
    assert kinds == {"raises": "raised", "exits": "exited", "allocates": "memory", "unsendable": "unsendable",
                     "loops": "timeout", "bogus": "protocol", "refused": "refused"}
    assert {ReplyKind(kind) for kind in kinds.values()} == set(ReplyKind)


# -- problem.toml's [limits] reach the sandbox ---------------------------------------------------------------


@pytest.fixture
def problem(tmp_path):
    for part in ("problems/hw7/true_softmax", "reference/hw7"):
        shutil.copytree(REPO / part, tmp_path / part)
    return tmp_path


def _write_limits(root, limits):
    path = root / "problems/hw7/true_softmax/problem.toml"
    text = path.read_text()
    head, _, rest = text.partition("[limits]")
    path.write_text(head + "[limits]\n" + limits + "\n\n[" + rest.split("\n[", 1)[1])
    return path


_PROBE = """
    import resource

    def probe():
        print("x" * 500)
        return [resource.getrlimit(r)[0] for r in (resource.RLIMIT_NOFILE, resource.RLIMIT_CPU, resource.RLIMIT_FSIZE)]
"""


def _probe(tmp_path, zygote, limits):
    student, work = tmp_path / "student", tmp_path / "work"
    student.mkdir(parents=True)
    work.mkdir()
    (student / "probe.py").write_text(textwrap.dedent(_PROBE))
    session = StudentSession(zygote=zygote, student_dir=str(student), module="probe", workdir=str(work), limits=limits)
    try:
        return session.module().probe(), session.read_output(0, 10_000)
    finally:
        session.close()


def test_sandbox_limits_in_problem_toml_reach_the_sandbox(problem, zygote):
    _write_limits(problem, "job_timeout = 60\nopen_files = 48\ncpu_seconds = 50\nfile_bytes = 4096\noutput_bytes = 100")
    limits = load_problem(problem, "hw7", "true_softmax").limits
    assert (limits.open_files, limits.cpu_seconds, limits.file_bytes, limits.output_bytes) == (48, 50, 4096, 100)
    (open_files, cpu, file_bytes), output = _probe(problem / "run", zygote, limits)
    assert (open_files, cpu, file_bytes) == (48, 50, 4096)
    assert output == "x" * 100 + "\n[... further output dropped: over the output limit]\n"


def test_the_default_limits_reach_the_sandbox_as_before(tmp_path, zygote):
    (open_files, cpu, file_bytes), output = _probe(tmp_path, zygote, Limits(job_timeout=30))
    assert (open_files, cpu, file_bytes) == (256, 35, 16 << 20)
    assert output == "x" * 500 + "\n"


@pytest.mark.parametrize(("limits", "rule"), [
    ("open_file = 64", "unknown key 'limits.open_file' (known keys: call_timeout, cpu_seconds, disk_mb,"),
    ("open_files = 8", "limits.open_files = 8 must be between 32 and 1048576"),
    ('output_bytes = "lots"', "limits.output_bytes = 'lots' must be of type int (got str)"),
    ("cpu_seconds = 1.5", "limits.cpu_seconds = 1.5 must be of type int (got float)"),
    ("disk_mb = 0", "limits.disk_mb = 0 must be between 1 and 1048576"),
])
def test_a_wrong_limit_is_a_spec_error_naming_the_file(problem, limits, rule):
    path = _write_limits(problem, limits)
    with pytest.raises(SpecError) as caught:
        load_problem(problem, "hw7", "true_softmax")
    assert str(caught.value).startswith(f"{path}: {rule}")
