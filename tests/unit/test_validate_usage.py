"""What a correct solution used, beside its problem's limits: the sandbox's peak memory as the zygote
reports it, and `grader validate`'s 2x margin under the job's time and the memory limit."""

import textwrap
from types import SimpleNamespace

from grader.course.spec import Limits
from grader.grading.proxy import StudentSession
from grader.records import JobResult, TestResult
from grader.run.validate import _verdict, usage_against_limits

MiB = 1 << 20
LIMITS = Limits(call_timeout=5, import_timeout=5, job_timeout=30, memory_mb=512)


def _session(tmp_path, zygote, name, source):
    student, work = tmp_path / f"student-{name}", tmp_path / f"work-{name}"
    student.mkdir()
    work.mkdir()
    (student / "sub.py").write_text(textwrap.dedent(source))
    return StudentSession(zygote=zygote, student_dir=str(student), module="sub", workdir=str(work), limits=LIMITS)


def test_a_sandbox_reports_its_peak_memory_once_closed(tmp_path, zygote):
    big = _session(tmp_path, zygote, "big", """
        def hold(n):
            block = bytearray(n)  # zero-filled: every page is touched
            return len(block)
    """)
    small = _session(tmp_path, zygote, "small", """
        def nothing():
            return 0
    """)
    try:
        assert big.module().hold(160 * MiB) == 160 * MiB
        assert small.module().nothing() == 0
    finally:
        big.close()
        small.close()
    (peak, counted_by), (small_peak, small_counted_by) = big.sandbox_memory, small.sandbox_memory
    assert counted_by == small_counted_by and counted_by in ("cgroup", "rss")
    assert peak >= 160 * MiB
    assert small_peak + 100 * MiB < peak
    if counted_by == "cgroup":  # the sandbox's own pages only, not the torch it shares with the zygote
        assert small_peak < 100 * MiB and peak < 300 * MiB


def _result(duration: float, peak: int, counted_by: str) -> JobResult:
    return JobResult(
        student="alternative x", assignment="hw", problem="p", status="graded", score=10, max_score=10,
        tests=(TestResult("test_a", "passed", 10, 10, duration=duration / 2),), duration=duration,
        memory_peak=peak, memory_counted_by=counted_by, cpu_seconds=duration * 0.8, sandbox_cpu_seconds=duration / 2,
    )


def test_usage_is_printed_beside_the_limits():
    usage, tight = usage_against_limits(LIMITS, _result(3.0, 100 * MiB, "cgroup"))
    assert tight == []
    assert "in 3.0 of 30 s (2.4 s CPU, 1.5 s of it in the sandbox;" in usage and "slowest test 1.5 s, 5 s a call" in usage and "peak 100 of 512 MiB" in usage
    usage, _ = usage_against_limits(LIMITS, _result(3.0, 100 * MiB, "rss"))
    assert "peak resident 100 MiB, shared pages included (limit 512 MiB)" in usage
    usage, _ = usage_against_limits(LIMITS, _result(3.0, 0, ""))
    assert "peak memory not measured" in usage


def test_more_than_half_a_limit_is_flagged():
    _, tight = usage_against_limits(LIMITS, _result(16.0, 300 * MiB, "cgroup"))
    assert tight == ["it took 16.0 s of the job's 30 s", "it held 300 MiB of the 512 MiB memory limit"]
    # A resident set also counts the pages shared with the zygote: shown, never judged.
    assert usage_against_limits(LIMITS, _result(1.0, 900 * MiB, "rss"))[1] == []


def test_validate_fails_a_full_marks_alternative_without_a_2x_margin():
    problem = SimpleNamespace(points=10, limits=LIMITS)
    ok, detail = _verdict(problem, None, _result(2.0, 100 * MiB, "cgroup"))
    assert ok and detail.startswith("10/10 in 2.0 of 30 s")
    ok, detail = _verdict(problem, None, _result(2.0, 400 * MiB, "cgroup"))
    assert not ok
    assert "the alternative x scores 10/10 but leaves less than a 2x margin under a limit" in detail
    assert "it held 400 MiB of the 512 MiB memory limit" in detail


def test_the_peak_comes_from_the_memory_cgroup_where_there_is_one_else_from_the_resident_set(tmp_path):
    from grader.sandbox import cgroup
    from grader.sandbox.zygote import memory_report

    for version, name in ((1, "memory.max_usage_in_bytes"), (2, "memory.peak")):
        base = cgroup.CgroupBase(str(tmp_path / f"v{version}"), version)
        folder = tmp_path / f"v{version}" / "sandbox-42"
        folder.mkdir(parents=True)
        assert cgroup.peak_bytes(base, 42) is None  # no such file (cgroup v2 before Linux 5.19)
        (folder / name).write_text("12345\n")
        assert cgroup.peak_bytes(base, 42) == 12345
    assert memory_report(12345, 999) == {"peak": 12345, "counted_by": "cgroup"}
    assert memory_report(None, 999) == {"peak": 999 * 1024, "counted_by": "rss"}  # ru_maxrss is in KiB
