"""Hostile and broken submissions: the sandbox holds, nothing is lost, no one else is affected.

Every submission in tests/fixtures/hostile/ attacks through true_softmax.py (with a correct
bn_fold.py beside it) and is graded in one class between two correct students. Each row of the
threat table is one submission, named by what it does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from .conftest import REPO, make_course, run_cli

HOSTILE = REPO / "tests/fixtures/hostile"
CANARY = "CANARY-5e1f0c3a-never-visible-to-students"

# student -> (true_softmax score, text that must appear in a message or the output)
EXPECTED: dict[str, tuple[float, str]] = {
    "ships_conftest_and_sitecustomize": (0, "values are not close"),
    "writes_fake_results": (0, "could not write"),
    "exits_at_import": (0, "true_softmax.py could not be imported: the import exited before returning (sys.exit(0))"),
    "exits_in_a_call": (0, "nu exited before returning (exit status 0)"),
    "kills_its_parent": (0, "raised PermissionError: [Errno 1] Operation not permitted"),
    "prints_fake_passed_lines": (0, "values are not close"),
    "returns_always_equal_object": (0, "expected a tensor, got an object of type true_softmax.AlwaysEqual"),
    "returns_tensor_subclass": (0, "values are not close"),
    "monkeypatches_comparisons": (0, "values are not close"),
    "shadows_torch_numpy_hypothesis": (10, ""),
    "reads_secrets": (10, ""),
    "searches_memory_for_the_reference": (0, "reference modules: []"),
    "loops_forever_in_a_call": (0, "nu timed out after 3 s"),
    "hangs_ignoring_signals": (0, "nu timed out after 3 s"),
    "fork_bomb": (0, "nu raised PermissionError: [Errno 1] Operation not permitted"),
    "thread_bomb": (0, "nu raised RuntimeError: can't start new thread"),
    "memory_bomb": (0, "exceeded the memory limit of 1024 MiB"),
    "fills_disk_and_floods_stdout": (10, "[... output truncated:"),
    "opens_a_network_connection": (0, "network: PermissionError: [Errno 1] Operation not permitted"),
    "leaves_threads_and_atexit_hooks": (10, ""),
    "sets_global_state": (10, ""),
    "returns_a_pickle_payload": (0, "expected a tensor, got an object of type builtins.bytes"),
    "modifies_its_arguments": (9, "nu modified its argument 1 in place; it must leave its arguments unchanged"),
    "caches_answers_by_id_and_returns_aliased_memory": (10, ""),
    "answers_nondeterministically": (0, ""),
    "returns_nan_inf_and_wrong_shapes": (0, "the shape does not match: expected (2,), got (2, 1)"),
}

# A fixture folder may carry its row itself, in `_expected.toml` (`score = 0`, `says = "..."`); that file is
# not handed in with the submission.
EXPECTED_FILE = "_expected.toml"
for _folder in sorted(HOSTILE.iterdir()):
    if (_folder / EXPECTED_FILE).is_file():
        import tomllib

        _row = tomllib.loads((_folder / EXPECTED_FILE).read_text())
        EXPECTED[_folder.name] = (float(_row["score"]), str(_row.get("says", "")))


def tree_digest(*folders: Path) -> str:
    h = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                h.update(str(path).encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory: pytest.TempPathFactory):
    root = make_course(tmp_path_factory.mktemp("hostile"), students=["alice_correct"])
    subs = root / "submissions/hw7"
    correct = subs / "alice_correct"
    correct.rename(subs / "aaa_correct")
    shutil.copytree(subs / "aaa_correct", subs / "zzz_correct")
    for folder in sorted(HOSTILE.iterdir()):
        shutil.copytree(folder, subs / folder.name, ignore=shutil.ignore_patterns(EXPECTED_FILE))
        shutil.copy(subs / "aaa_correct/bn_fold.py", subs / folder.name)
    spec = root / "problems/hw7/true_softmax/problem.toml"
    spec.write_text(spec.read_text().replace("call_timeout = 10", "call_timeout = 3").replace("job_timeout = 120", "job_timeout = 90"))
    for secret in (root / "problems/hw7/true_softmax/test_true_softmax.py", root / "reference/hw7/true_softmax.py"):
        secret.write_text(secret.read_text() + f"\n# {CANARY}\n")
    for leftover in ("/tmp/atexit_ran", "/tmp/pwned_by_student", "/tmp/results.json"):
        if os.path.exists(leftover):
            os.remove(leftover)
    bank_before = tree_digest(root / "problems", root / "reference")
    env_secret = {"GRADER_TEST_SECRET": CANARY}
    os.environ.update(env_secret)
    try:
        result = run_cli("--root", str(root), "grade", "hw7", "--jobs", "2", timeout=1200)
    finally:
        os.environ.pop("GRADER_TEST_SECRET")
    doc = json.loads((root / "reports/hw7/results.json").read_text())
    return root, result, doc, bank_before


def by_student(doc):
    return {s["id"]: {p["id"]: p for p in s["problems"]} for s in doc["students"]}


def everything_said(problem) -> str:
    parts = [problem["message"]]
    for t in problem["tests"]:
        parts += [t["message"], t["output"], t["student_traceback"], t["falsifying_example"]]
    return "\n".join(parts)


def test_the_run_finishes_without_grader_errors(hostile_class):
    root, result, doc, _ = hostile_class
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(p["status"] != "error" for s in doc["students"] for p in s["problems"])


def test_correct_students_and_other_problems_are_unaffected(hostile_class):
    _, _, doc, _ = hostile_class
    scores = by_student(doc)
    assert scores["aaa_correct"]["true_softmax"]["score"] == 10 and scores["zzz_correct"]["true_softmax"]["score"] == 10
    for student, problems in scores.items():
        assert problems["bn_fold"]["score"] == 10, student


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_attack_gets_the_score_and_message_it_deserves(hostile_class, student):
    _, _, doc, _ = hostile_class
    score, text = EXPECTED[student]
    problem = by_student(doc)[student]["true_softmax"]
    said = everything_said(problem)
    assert problem["score"] == score, said[:3000]
    assert text in said, said[:3000]


def test_every_hostile_fixture_is_in_the_table():
    assert sorted(p.name for p in HOSTILE.iterdir()) == sorted(EXPECTED)


def test_the_bank_and_reports_were_not_written(hostile_class):
    root, _, doc, bank_before = hostile_class
    assert tree_digest(root / "problems", root / "reference") == bank_before
    assert "writes_fake_results" not in {s["id"] for s in doc["students"] if s["score"] > 10}
    assert not os.path.exists("/tmp/results.json")


def test_secrets_never_reach_a_student(hostile_class):
    root, _, doc, _ = hostile_class
    assert CANARY not in json.dumps(doc)
    for page in (root / "reports/hw7/students").glob("*.html"):
        assert CANARY not in page.read_text()


def test_nothing_outlives_the_job(hostile_class):
    assert not os.path.exists("/tmp/atexit_ran")
    assert not os.path.exists("/tmp/pwned_by_student")


def test_nondeterminism_fails_cleanly(hostile_class):
    _, _, doc, _ = hostile_class
    problem = by_student(doc)["answers_nondeterministically"]["true_softmax"]
    assert problem["status"] == "graded"
    assert any(t["outcome"] == "failed" for t in problem["tests"])
    assert all(t["outcome"] != "error" for t in problem["tests"])


def protections_this_machine_cannot_have() -> set[str]:
    """The sandbox protections that cannot be on here: each needs the kernel, root, or a library."""
    from grader.sandbox.confine import landlock_abi

    missing = set()
    if os.uname().sysname != "Linux":
        return {"capabilities", "landlock", "seccomp", "disk_quota"}
    if landlock_abi() < 1:
        missing.add("landlock")
    try:
        import pyseccomp  # noqa: F401
    except ImportError:
        missing.add("seccomp")
    if os.geteuid() != 0:
        missing.add("disk_quota")  # a private tmpfs needs root
    return missing


def test_protections_were_all_on(hostile_class):
    # Established from outside each sandbox (the kernel's view), so no submission can change them:
    # on a machine that has them all (Linux, root, Landlock, seccomp) not one job may lack one, and
    # elsewhere only those the machine cannot have may be off. (forges_its_protections_report tries.)
    _, _, doc, _ = hostile_class
    warnings = {w for s in doc["students"] for p in s["problems"] for w in p.get("warnings", [])}
    may_be_off = {f"sandbox protection off: {name}" for name in protections_this_machine_cannot_have()}
    assert warnings <= may_be_off, warnings  # where every protection can be on: no warning at all


def test_a_protection_switched_off_is_reported_and_a_required_one_refuses(tmp_path):
    root = make_course(tmp_path, students=["alice_correct"])
    env = {**os.environ, "GRADER_SANDBOX_DISABLE": "seccomp"}
    import subprocess
    import sys

    def grade(*extra):
        return subprocess.run(
            [sys.executable, "-P", "-m", "grader", "--root", str(root), "grade", "hw7", "--regrade", *extra],
            capture_output=True, text=True, env=env, timeout=600,
        )

    degraded = grade()
    assert degraded.returncode == 0, degraded.stderr
    assert "warning: sandbox protection off: seccomp" in degraded.stderr
    doc = json.loads((root / "reports/hw7/results.json").read_text())
    assert doc["students"][0]["score"] == 20
    assert "Sandbox protections that were off" in (root / "reports/hw7/index.html").read_text()

    refused = grade("--require", "seccomp")
    assert refused.returncode == 1
    assert "grader error" in refused.stderr
    doc = json.loads((root / "reports/hw7/results.json").read_text())
    problem = doc["students"][0]["problems"][0]
    assert problem["status"] == "error"
    assert "the required protection 'seccomp' is switched off" in json.dumps(problem)
