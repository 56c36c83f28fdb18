"""`grader grade --cluster`: the same jobs on a Dask cluster give the same results as a local run, and
the cluster's jobs replay the lockstep recordings earlier jobs made (grader.grading.lockstep, grader.run.runner)."""

from __future__ import annotations

import json

import pytest

from .conftest import make_course, run_cli, without_times

distributed = pytest.importorskip("distributed")


def scores_and_messages(root):
    doc = json.loads((root / "reports/hw7/results.json").read_text())
    return {
        (s["id"], p["id"]): (p["score"], p["status"], p["message"], [(t["name"], t["outcome"], t["message"]) for t in p["tests"]])
        for s in doc["students"]
        for p in s["problems"]
    }


def test_a_local_cluster_grades_like_the_local_pool(tmp_path, monkeypatch):
    students = ["alice_correct", "carol_no_max_shift", "heidi_raises_at_import"]
    local = make_course(tmp_path / "local", students)
    remote = make_course(tmp_path / "remote", students)
    # The cluster's workers read the bank by path: the same course folder for both runs of this test.
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=None,
    )
    try:
        result = run_cli("--root", str(remote), "grade", "hw7", "--cluster", cluster.scheduler_address)
    finally:
        cluster.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 jobs (6 graded, 0 unchanged)" in result.stdout
    run = json.loads((remote / "reports/hw7/results.json").read_text())["run"]
    assert run["lockstep_split"]["replayed"] > 0, run  # later jobs replayed earlier recordings
    monkeypatch.setenv("GRADER_LOCKSTEP", "0")  # the baseline: every test under Hypothesis
    baseline = run_cli("--root", str(local), "grade", "hw7", "--jobs", "2")
    assert baseline.returncode == 0, baseline.stderr
    assert scores_and_messages(remote) == scores_and_messages(local)
    on, off = (without_times(json.loads((r / "reports/hw7/results.json").read_text())["students"]) for r in (remote, local))
    assert on == off  # smallest failing inputs, reproduce lines, output: all alike
