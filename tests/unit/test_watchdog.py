"""A run always ends: a job that never finishes in its trusted worker is killed at its watchdog deadline."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from grader.course.spec import load_assignment
from grader.grading.jobs import make_job
from grader.run import runner

from .test_runner import make_course

# A bank test that hangs on the trusted side (a fault of the bank, not of the student) for one student.
HANGS_ON_THE_TRUSTED_SIDE = '''
import os
import tempfile
import time

from grader import points


@points(3)
def test_hangs_for_one_student(student):
    if getattr(student, "HANG", False):
        with open(os.path.join(os.path.dirname(__file__), "hung_in"), "w") as f:
            f.write(os.getcwd())  # the job's own folder (its trusted part)
        time.sleep(3600)
    assert student.double(1) == 2
'''


@pytest.mark.slow  # a job left to run past a (shortened) watchdog
def test_a_job_past_its_watchdog_is_a_grader_error_and_the_run_goes_on(tmp_path, zygote, monkeypatch):
    correct = "def double(x):\n    return 2 * x\n"
    course = make_course(tmp_path, HANGS_ON_THE_TRUSTED_SIDE, correct, [correct, correct])
    monkeypatch.setattr(runner, "_watchdog_seconds", lambda job: 20.0)
    problem = load_assignment(course, "hw1").problems[0]
    jobs = [make_job(course, problem, f"s{i}", course / f"submissions/hw1/s{i}", zygote_address=zygote.address) for i in range(2)]
    jobs[0] = dataclasses.replace(jobs[0], files=(("leaky.py", b"HANG = True\n" + correct.encode()),))
    results = []
    started = time.monotonic()
    runner.run_jobs(jobs, workers=2, on_result=results.append)
    assert time.monotonic() - started < 120
    by_student = {r.student: r for r in results}
    assert by_student["s0"].status == "error" and "did not finish within 20 s" in by_student["s0"].message
    assert by_student["s1"].status == "graded" and by_student["s1"].score == 3.0
    # The killed worker could not remove its job's folder, which holds the student's files; its parent did.
    job_folder = Path((course / "problems/hw1/leaky/hung_in").read_text()).parent
    assert job_folder.name.startswith("grader-") and not job_folder.exists()
