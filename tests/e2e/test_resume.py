"""Interrupted runs resume; a change to one problem regrades exactly that problem's jobs."""

from __future__ import annotations

import json
import signal
import sqlite3

from .conftest import grader_leftovers, interrupt_when, make_course, run_cli, slow_copy

STUDENTS = ["alice_correct", "carol_no_max_shift", "dave_forgot_eps", "bob_loops_and_float64"]


def stored_jobs(root) -> int:
    path = root / "reports/hw7/grades.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_ctrl_c_stops_cleanly_and_the_next_run_resumes(tmp_path, monkeypatch):
    root = make_course(tmp_path, STUDENTS)
    scratch = tmp_path / "tmp"  # the run's temporary folder: the folders of the jobs it interrupts among them
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    # Graded last (students in order, one job at a time): the run is still going after two jobs are stored.
    slow_copy(root / "submissions/hw7/alice_correct", root / "submissions/hw7/zz_slow_but_right")
    args = ["-P", "-m", "grader", "--root", str(root), "grade", "hw7", "--jobs", "1"]
    stopped = interrupt_when(args, lambda: stored_jobs(root) >= 2)
    assert stopped.returncode == 130, stopped.stderr
    assert "interrupted; finished jobs are stored, run again to resume" in stopped.stderr
    kept = stored_jobs(root)
    assert 2 <= kept < 10
    # Nothing of the grader's is left there: not the interrupted job's folder with the student's files, nor
    # the zygote's or the workers' folders.
    assert grader_leftovers(scratch) == []

    again = run_cli("--root", str(root), "grade", "hw7", "--jobs", "2")
    assert again.returncode == 0, again.stderr
    graded = int(again.stdout.split("(")[1].split(" graded")[0])
    assert graded <= 10 - kept + 1  # at most the one job that was running when interrupted is redone
    doc = json.loads((root / "reports/hw7/results.json").read_text())
    totals = {s["id"]: s["score"] for s in doc["students"]}
    assert totals == {"alice_correct": 20, "bob_loops_and_float64": 20, "carol_no_max_shift": 16, "dave_forgot_eps": 12,
                      "zz_slow_but_right": 20}


def test_sigterm_to_the_process_group_stops_the_run_as_ctrl_c_does(tmp_path, monkeypatch):
    """A CI runner cancels a job with SIGTERM to its process group: the workers, the forkserver and the
    zygote get it too. The run still stops as at Ctrl-C: the finished jobs stored, every process of it
    ended, nothing of it left in the temporary folder (a killed forkserver had left its folder, and its
    workers running, taken for dead)."""
    root = make_course(tmp_path, STUDENTS[:2])
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    slow_copy(root / "submissions/hw7/alice_correct", root / "submissions/hw7/zz_slow_but_right")
    args = ["-P", "-m", "grader", "--root", str(root), "grade", "hw7", "--jobs", "2"]
    stopped = interrupt_when(args, lambda: stored_jobs(root) >= 1, sig=signal.SIGTERM)
    assert stopped.returncode == 143, stopped.stdout + stopped.stderr
    assert stopped.stderr.strip() == "grader: terminated; finished jobs are stored, run again to resume", stopped.stderr
    assert 1 <= stored_jobs(root) < 6
    assert grader_leftovers(scratch) == []


def test_changing_one_problem_regrades_exactly_its_jobs(tmp_path):
    root = make_course(tmp_path, STUDENTS[:2])
    assert run_cli("--root", str(root), "grade", "hw7").returncode == 0
    statement = root / "problems/hw7/bn_fold/README.md"
    statement.write_text(statement.read_text() + "\nA clarification.\n")
    again = run_cli("--root", str(root), "grade", "hw7")
    assert "4 jobs (2 graded, 2 unchanged)" in again.stdout, again.stdout
