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


def test_every_report_holds_every_students_text_bounded(hostile_class):
    # What a student sends is bounded and made encodable where the trusted side receives it, so a forged
    # reply of tens of MB, a lone surrogate or a control character never makes a report huge or unwritable.
    root, _, doc, _ = hostile_class
    reports = root / "reports/hw7"
    assert (reports / "results.json").stat().st_size < 20_000_000
    for s in doc["students"]:
        for p in s["problems"]:
            assert len(p["message"]) <= 20_000 and all(len(v) <= 20_000 for t in p["tests"] for v in t.values()
                                                       if isinstance(v, str)), s["id"]
    assert {p.name for p in (reports / "students").iterdir()} >= {f"{s['id']}.html" for s in doc["students"]}
    for page in reports.rglob("*"):
        if page.is_file() and page.suffix in (".html", ".json", ".csv", ".xml"):
            page.read_bytes().decode("utf-8")  # strict: every file is valid UTF-8
    import xml.etree.ElementTree as ET

    ET.parse(reports / "junit.xml")  # no character XML 1.0 forbids
    forged = by_student(doc)["forges_a_huge_reply_of_unencodable_text"]["true_softmax"]
    assert "\ufffd" in everything_said(forged) and "\ud800" not in json.dumps(doc, ensure_ascii=False)


# --- downloads no one planned for: identity, names, zips, folders, notebooks (classes 7-10) -------------

def _zip_claiming(path: Path, members: dict[str, str], *, flag_bits: int = 0, method: int | None = None) -> None:
    """A zip whose headers claim encryption (`flag_bits`) or a compression method zipfile cannot read."""
    import struct
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    data = bytearray(path.read_bytes())
    for signature, flags_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = data.find(signature)
        while at >= 0:
            if flag_bits:
                data[at + flags_at:at + flags_at + 2] = struct.pack("<H", flag_bits)
            if method is not None:
                data[at + method_at:at + method_at + 2] = struct.pack("<H", method)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


def _notebook(*cells: str) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "source": c, "outputs": [],
                                  "execution_count": None} for i, c in enumerate(cells)],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def build_odd_downloads(subs: Path, correct: Path) -> dict[str, float]:
    """Submissions of every odd kind beside aaa_correct and zzz_correct; returns each one's honest total (of 20)."""
    import zipfile

    softmax, fold = (correct / "true_softmax.py").read_text(), (correct / "bn_fold.py").read_text()
    both = {"true_softmax.py": softmax, "bn_fold.py": fold}

    def folder(name: str | bytes, files: dict[str, str]) -> None:
        path = os.path.join(os.fsencode(subs), os.fsencode(name))
        os.makedirs(path)
        for file, text in files.items():
            with open(os.path.join(path, os.fsencode(file)), "w") as f:
                f.write(text)

    # Class 8, identity: none of these may be merged with another.
    folder("alice", both)  # alice/ beside alice.zip: two students
    with zipfile.ZipFile(subs / "alice.zip", "w") as zf:
        zf.writestr("hw7/bn_fold.py", fold)
    (subs / "smithjohn_111_901_true_softmax.py").write_text(softmax)  # two Canvas students of one name
    (subs / "smithjohn_222_902_bn_fold.py").write_text(fold)
    (subs / "Ann Lee_777_assignsubmission_file_").mkdir()  # and two Moodle students of one name
    (subs / "Ann Lee_777_assignsubmission_file_/bn_fold.py").write_text(fold)
    (subs / "Ann Lee_888_assignsubmission_file_true_softmax.py").write_text(softmax)
    folder("Bob", both)  # ids that differ only by case
    folder("bob", {"true_softmax.py": "def nu(x, beta):\n    return x\n"})
    # Class 9, names that become paths: an id equal to another's file name, a long one, one that is not
    # UTF-8, one that a spreadsheet would run, one with a terminal escape.
    from grader.results.classbook import slug

    folder("a b", both)
    folder(slug("a b"), {"bn_fold.py": fold})
    folder("L" * 200, both)
    folder(b"mallory\xff\xfe", both)
    folder("=cmd|' -c calc'!A0", both)
    folder("eve\x1b[31m", {"true_softmax.py": softmax})
    # Class 7, files the grader cannot read: the student is refused, with the reason; others are graded.
    _zip_claiming(subs / "locked.zip", both, flag_bits=0x1)
    _zip_claiming(subs / "squeezed.zip", both, method=99)
    with zipfile.ZipFile(subs / "oddly_named_members.zip", "w") as zf:
        for name, text in both.items():
            zf.writestr(name, text)
        zf.writestr("notes/\x1b[2J" + "n" * 200 + ".txt", "x")
        zf.writestr("cafZ.py", "x = 1\n")
    archive = subs / "oddly_named_members.zip"  # a member name that is not UTF-8 (and no UTF-8 flag)
    archive.write_bytes(archive.read_bytes().replace(b"cafZ.py", b"caf\xe9.py"))
    folder("deep", both)
    fd = os.open(subs / "deep", os.O_RDONLY)
    for _ in range(300):  # a path far longer than the system allows
        os.mkdir("d" * 30, dir_fd=fd)
        inner = os.open("d" * 30, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    # Class 10, notebooks: a long expression (left out: it is top-level work), and a cell crafted to make a
    # parser that searches the cell again for every statement quadratic (minutes before; now well under one).
    long_expression = "print(" + "+".join(["1"] * 100_000) + ")"
    folder("long_expression", {"homework.ipynb": _notebook(softmax, fold, long_expression)})
    redefinitions = "".join(f"@torch.no_grad()\ndef helper(x):\n    return x + {i}\n" for i in range(15_000))
    folder("redefines_a_helper", {"homework.ipynb": _notebook("import torch\n" + redefinitions, softmax, fold)})
    return {
        "alice [alice/]": 20, "alice [alice.zip]": 10, "smithjohn [111]": 10, "smithjohn [222]": 10,
        "Ann Lee [777]": 10, "Ann Lee [888]": 10, "Bob": 20, "bob": 0, "a b": 20, slug("a b"): 10,
        "mallory\\xff\\xfe": 20, "=cmd|' -c calc'!A0": 20, "eve?[31m": 10, "locked": 0, "squeezed": 0,
        "oddly_named_members": 20, "deep": 20, "long_expression": 20, "redefines_a_helper": 20,
    }


@pytest.fixture(scope="module")
def odd_downloads(tmp_path_factory: pytest.TempPathFactory):
    root = make_course(tmp_path_factory.mktemp("odd"), students=["alice_correct"])
    subs = root / "submissions/hw7"
    (subs / "alice_correct").rename(subs / "aaa_correct")
    shutil.copytree(subs / "aaa_correct", subs / "zzz_correct")
    honest = build_odd_downloads(subs, subs / "aaa_correct")
    result = run_cli("--root", str(root), "grade", "hw7", "--jobs", "2", timeout=1200)
    doc = json.loads((root / "reports/hw7/results.json").read_text())
    return root, result, doc, honest


def _long_id(ids: list[str]) -> str:
    return next(i for i in ids if i.startswith("LLLL"))


def test_odd_downloads_are_graded_each_as_its_own_student(odd_downloads):
    root, result, doc, honest = odd_downloads
    assert result.returncode == 0, result.stdout + result.stderr
    totals = {s["id"]: s["score"] for s in doc["students"]}
    long_id = _long_id(list(totals))  # 200 characters, cut to 120 with a hash
    assert len(long_id) <= 120 and totals.pop(long_id) == 20
    assert totals == {"aaa_correct": 20, "zzz_correct": 20, **honest}
    assert all(p["status"] != "error" for s in doc["students"] for p in s["problems"])


def test_a_shared_name_is_a_warning_that_names_both_sources(odd_downloads):
    root, result, doc, _ = odd_downloads
    for text in (result.stderr, (root / "reports/hw7/index.html").read_text()):
        import html

        text = html.unescape(text)
        assert "2 submissions are named 'alice'; all are graded, none merged: alice/ as 'alice [alice/]'; " \
               "alice.zip as 'alice [alice.zip]'" in text
        assert "smithjohn_111_901_true_softmax.py as 'smithjohn [111]'" in text
        assert "smithjohn_222_902_bn_fold.py as 'smithjohn [222]'" in text
        assert "the ids 'Bob', 'bob' differ only by case or accents" in text


def test_an_unreadable_download_is_refused_with_its_reason(odd_downloads):
    _, result, doc, _ = odd_downloads
    problems = by_student(doc)
    assert "password required" in problems["locked"]["bn_fold"]["message"]
    assert "could not read the submission" in problems["squeezed"]["bn_fold"]["message"]
    assert "locked: could not read the submission" in result.stderr


def test_every_odd_student_has_a_page_and_files_of_its_own(odd_downloads):
    root, _, doc, _ = odd_downloads
    reports = root / "reports/hw7"
    pages = [p.name for p in (reports / "students").iterdir()]
    gradescope = [p.name for p in (reports / "gradescope").iterdir()]
    assert len(pages) == len(gradescope) == len(doc["students"])
    assert len({p.casefold() for p in pages}) == len(pages)
    assert max(len(p.encode()) for p in pages + gradescope) <= 100
    import csv
    import io

    ids = [row[0] for row in csv.reader(io.StringIO((reports / "grades.csv").read_text()))][1:]
    assert "'=cmd|' -c calc'!A0" in ids  # a spreadsheet shows it, never runs it


def test_odd_notebooks_are_read_in_bounded_time(odd_downloads):
    _, result, _, _ = odd_downloads
    assert "redefines_a_helper: read homework.ipynb as a module of its definitions" in result.stderr
