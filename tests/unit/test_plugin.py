"""The grading plugin: deterministic failure messages; no Hypothesis source patches for failing tests."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import pytest

from grader.grading.plugin import skip_hypothesis_patch

FAILING = """
from hypothesis import given, settings, strategies as st

@settings(database=None, derandomize=True)
@given(st.integers())
def test_fails(n):
    assert n < 10
"""


class _Recorder:
    """Collects the patches that Hypothesis's plugin attached to test reports."""

    def __init__(self) -> None:
        self.patches: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.__dict__.get("_hypothesis_failing_examples"):
            self.patches.append(report.nodeid)


class _Skipper:
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        skip_hypothesis_patch(item)


def _patches_after_running(tmp_path, monkeypatch, plugins) -> list[str]:
    recorder = _Recorder()
    from hypothesis import configuration

    monkeypatch.chdir(tmp_path)
    configuration.set_hypothesis_home_dir(tmp_path / ".hypothesis")  # a patch file goes here, not into the checkout
    (tmp_path / "test_failing.py").write_text(FAILING)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.ExitStack() as restore:
        restore.callback(configuration.set_hypothesis_home_dir, None)
        code = pytest.main(
            [str(tmp_path / "test_failing.py"), "-c", str(tmp_path / "pytest.ini"), "-p", "no:cacheprovider", "-q",
             "--import-mode=importlib", "--rootdir", str(tmp_path),
             "-W", "ignore"],
            plugins=[*plugins, recorder],
        )
    assert code == pytest.ExitCode.TESTS_FAILED, log.getvalue()[-2000:]
    return recorder.patches


def test_hypothesis_writes_a_patch_for_a_failing_test_by_default(tmp_path, monkeypatch):
    assert _patches_after_running(tmp_path, monkeypatch, []) != []


def test_the_grading_plugin_hook_leaves_no_patch(tmp_path, monkeypatch):
    assert _patches_after_running(tmp_path, monkeypatch, [_Skipper()]) == []


def test_failure_messages_say_the_same_whatever_the_memory_addresses():
    from grader.grading.plugin import _message

    first = AssertionError("assert False\n +  where False = <built-in method endswith of str object at 0x7fddc31188f0>('x')")
    second = AssertionError("assert False\n +  where False = <built-in method endswith of str object at 0x7fbf7b6225b0>('x')")
    assert _message(first) == _message(second) == (
        "assert False\n +  where False = <built-in method endswith of str object at 0x…>('x')"
    )
    assert _message(AssertionError("expected 0x10 flags")) == "expected 0x10 flags"  # short hex is a value, kept


# -- what Hypothesis reported, whatever its wording ------------------------------------------------------

EXAMPLE_BODY = "test_x(\n    student=<student module m>,\n    n=2,\n)"


@pytest.mark.parametrize("label", [
    "Falsifying example: ",  # Hypothesis up to 6.15x
    "Falsifying explicit example: ",
    "Failing test case: ",  # 6.16x on
    "Failing explicit example: ",
    "Minimal failing input: ",  # a label no release has used yet: found by the test function's name
])
def test_the_failing_example_is_read_whatever_its_label(label):
    from grader.grading.plugin import EXAMPLE_LABEL, hypothesis_report

    exc = AssertionError("wrong")
    for note in [label + EXAMPLE_BODY, "Draw 1: 3", "a note from the test",
                 "\nYou can reproduce this example by temporarily adding @reproduce_failure('6.155.2', "
                 "b'AEEC') as a decorator on your test case"]:
        exc.add_note(note)
    found = hypothesis_report(exc, test_function="test_x")
    assert found.example == EXAMPLE_LABEL + EXAMPLE_BODY
    assert found.notes == "Draw 1: 3\na note from the test"
    assert found.reproduce == "@reproduce_failure('6.155.2', b'AEEC')"


def test_hypothesis_s_own_record_of_the_example_wins_over_any_label():
    from grader.grading.plugin import EXAMPLE_LABEL, hypothesis_report

    exc = AssertionError("wrong")
    exc.add_note("Some future wording, on two lines:\n" + EXAMPLE_BODY)
    exc.add_note("test_x(n=2) is what a note said")  # not the example: it carries no label
    found = hypothesis_report(exc, test_function="test_x", examples=(EXAMPLE_BODY,))
    assert found.example == EXAMPLE_LABEL + EXAMPLE_BODY
    assert found.notes == "test_x(n=2) is what a note said"
    assert hypothesis_report(AssertionError("plain"), test_function="test_x") == type(found)("", "", "")


# -- a problem that cannot run says so once, on every test --------------------------------------------------


@pytest.mark.parametrize("files, status, reason", [
    ((), "missing", "the submission has no file contract.py"),
    ((("contract.py", b"def double(x)\n    return 2 * x\n"),), "crashed",
     "contract.py could not be imported: the import raised SyntaxError: expected ':' (contract.py, line 1)"),
    ((("contract.py", b"import torch.autograd\ndef double(x):\n    return 2 * x\n"),), "forbidden",
     "contract.py line 1 uses torch.autograd; this problem forbids it"),
])
def test_every_test_of_a_problem_that_cannot_run_carries_the_one_reason(tmp_path, zygote, files, status, reason):
    from grader.records import NOT_RUN

    from .test_hypothesis_contract import grade_job, make_problem

    root = make_problem(tmp_path, forbidden=("torch.autograd",))
    result = grade_job(root, zygote, files)
    assert (result.status, result.message, result.score) == (status, reason, 0.0)
    assert [(t.outcome, t.message) for t in result.tests] == [("failed", NOT_RUN + reason)] * 2
    if status == "crashed":
        assert all("SyntaxError: expected ':'" in t.student_traceback for t in result.tests)


# -- plain pytest on the bank (grader.grading.pytest_plugin) ----------------------------------------------------------


def _pytest(*args: str, cwd, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider"], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env)


def _zygote_listening(run: Path) -> int | None:
    """The pid of the kept zygote listening in the runtime folder `run` (its peer credentials), or None."""
    sockets = sorted((run / f"grader-{os.getuid()}").glob("zygote-*.sock"))
    assert len(sockets) <= 1, sockets
    for address in sockets:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(str(address))
            except OSError:
                return None
            return struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    return None


@pytest.mark.slow  # pytest in subprocesses
def test_outside_the_bank_the_plugin_only_registers_its_markers(tmp_path):
    (tmp_path / "test_other.py").write_text(
        "import pytest, torch\n"
        "THREADS = torch.get_num_threads()\n\n"
        "@pytest.mark.points(1)\n@pytest.mark.hidden\n"
        "def test_inert(pytestconfig):\n"
        "    assert pytestconfig.pluginmanager.get_plugin('grader') is not None  # loaded by its entry point\n"
        "    assert pytestconfig.pluginmanager.get_plugin('grader-bank') is None\n"
        "    assert torch.get_num_threads() == THREADS\n\n"
        "def test_student_is_not_a_fixture_here(student):\n"
        "    pass\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\naddopts = --strict-markers\n")
    done = _pytest("test_other.py", cwd=tmp_path)
    assert "1 passed, 1 error" in done.stdout, done.stdout[-3000:]
    assert "fixture 'student' not found" in done.stdout
    refused = _pytest("test_other.py", "--student", "x.py", cwd=tmp_path)
    assert refused.returncode == 4 and "--student applies to the problem bank's tests" in refused.stderr


def test_a_session_that_brings_its_own_student_fixture_keeps_the_plugin_inert(tmp_path):
    from .test_hypothesis_contract import make_problem

    root = make_problem(tmp_path)
    seen = []

    class OwnFixtures:
        @pytest.fixture(scope="session")
        def student(self):
            return types.SimpleNamespace(double=lambda x: 2 * x)

        @pytest.hookimpl(trylast=True)
        def pytest_configure(self, config):
            seen.append(config.pluginmanager.get_plugin("grader-bank"))

    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        code = pytest.main([str(root / "problems/hwc/contract/test_contract.py"), "-p", "no:cacheprovider", "-q",
                            "--rootdir", str(tmp_path), "-W", "ignore", "--import-mode=importlib"],
                           plugins=[OwnFixtures()])
    assert seen == [None]
    assert code == pytest.ExitCode.TESTS_FAILED, log.getvalue()[-2000:]  # the fixture given, not a sandbox


@pytest.mark.slow  # pytest and a sandbox in subprocesses
def test_plain_pytest_runs_a_bank_test_on_a_students_file_in_the_sandbox(tmp_path):
    from .test_hypothesis_contract import make_problem

    root = make_problem(tmp_path)
    (root / "mine.py").write_text("def double(x):\n    return 2 * x\n")
    # A runtime folder of its own, with a short path (a Unix socket's must fit in about 100 bytes).
    run = Path(tempfile.mkdtemp(prefix="gkw-", dir="/tmp"))
    env = {**os.environ, "XDG_RUNTIME_DIR": str(run), "GRADER_KEEP_WARM": "120"}
    try:
        done = _pytest("problems/hwc/contract/test_contract.py", "--student", "mine.py", cwd=root, env=env)
        assert done.returncode == 1 and "1 failed, 1 passed" in done.stdout, done.stdout[-3000:]
        assert "AssertionError: double(5) + 0 is too big" in done.stdout
        assert "What the student's code was given" in done.stdout and "double(\n    [0] 5\n)" in done.stdout
        # The sandbox zygote is kept for the next run, as `grader check` keeps it; the next runs use it.
        kept = _zygote_listening(run)
        assert kept is not None, "pytest --student kept no zygote"
        author = _pytest("problems/hwc/contract", "-k", "passes", cwd=root, env=env)  # no --student: the reference
        assert author.returncode == 0 and "1 passed, 1 deselected" in author.stdout, author.stdout[-3000:]
        (root / "mine.py").write_text("import os\nos.exit_now()\n")
        broken = _pytest("problems/hwc/contract/test_contract.py", "--student", "mine.py", cwd=root, env=env)
        assert "contract.py could not be imported: the import raised AttributeError" in broken.stdout
        assert _zygote_listening(run) == kept
        off = _pytest("problems/hwc/contract/test_contract.py", "--student", "mine.py", cwd=root,
                      env={**env, "GRADER_KEEP_WARM": "soon"})
        assert off.returncode != 0 and "GRADER_KEEP_WARM='soon': expected a number of seconds" in off.stdout, off.stdout
    finally:
        pid = _zygote_listening(run)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
        shutil.rmtree(run, ignore_errors=True)


def test_a_grader_error_is_never_hidden_behind_a_student_module_that_could_not_run(tmp_path, zygote):
    from .test_hypothesis_contract import TESTS, grade_job, make_problem

    broken_test = "\n\n@points(0)\ndef test_with_a_bug_of_its_own():\n    {}['missing']\n"
    root = make_problem(tmp_path, TESTS + broken_test)
    result = grade_job(root, zygote, (("contract.py", b"raise RuntimeError('no')\n"),))
    outcomes = {t.name: (t.outcome, t.message.split(":")[0]) for t in result.tests}
    assert outcomes == {
        "test_double_stays_small": ("failed", "not run"),
        "test_double_passes": ("failed", "not run"),
        "test_with_a_bug_of_its_own": ("error", "grader error in test_with_a_bug_of_its_own"),
    }


def test_a_trusted_session_loads_its_two_plugins_without_looking_through_installed_distributions(tmp_path):
    """The session's plugins are handed over as modules: `-p name` scanned every distribution's entry
    points at every job's start. Nothing installed loads; pytest's plugins for unused options are off."""
    code = f"""
import importlib.metadata, json, pathlib, pytest
from grader.grading.plugin import installed_plugins_off, session_args, session_plugins
folder = pathlib.Path({str(tmp_path)!r})
(folder / "test_one.py").write_text("from hypothesis import given, strategies as st\\n@given(st.integers())\\ndef test_n(n):\\n    assert n == n\\n")
scans = []
real = importlib.metadata.distributions
importlib.metadata.distributions = lambda *a, **k: scans.append(1) or real(*a, **k)
class Names:
    def pytest_configure(self, config):
        self.names = sorted(n for n, p in config.pluginmanager.list_name_plugin() if p is not None)
names = Names()
with installed_plugins_off():
    code = pytest.main([str(folder / "test_one.py"), *session_args(folder, folder / "pytest.ini")],
                       plugins=[names, *session_plugins()])
print(json.dumps({{"code": int(code), "scans": len(scans), "names": names.names}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    out = __import__("json").loads(done.stdout.strip().splitlines()[-1])
    assert out["code"] == 0, done.stdout + done.stderr
    assert out["scans"] == 0
    assert {"grader.grading.pytest_plugin", "_hypothesis_pytestplugin"} <= set(out["names"])
    assert not {"doctest", "junitxml", "pastebin", "stepwise"} & set(out["names"])


def test_a_module_snapshot_puts_back_what_a_body_changed_and_leaves_the_rest_alone():
    from grader.grading.plugin import ModuleSnapshot, module_state

    module = types.ModuleType("tests_module")
    seen, table, names, raw, kept = [1, 2], {"a": 1}, {"x"}, bytearray(b"ab"), [object()]
    module.__dict__.update(SEEN=seen, TABLE=table, NAMES=names, RAW=raw, KEPT=kept, LIMIT=3)

    def state():
        return {name: held for name, held in module_state(module).items() if not name.startswith("__")}

    before = state()
    snapshot = ModuleSnapshot.take(module)
    seen.append(3)  # what a replay's body could leave for a later test
    table["b"] = 2
    table["a"] = 5
    names.add("y")
    raw.extend(b"c")
    module.LIMIT = 4
    module.ADDED = "new"
    del module.KEPT
    module.__doc__ = "a dunder the snapshot leaves alone"
    snapshot.restore()
    assert state() == before  # every name and container as it was, the very same objects
    assert (seen, table, names, raw, module.LIMIT) == ([1, 2], {"a": 1}, {"x"}, bytearray(b"ab"), 3)
    assert module.KEPT is kept and not hasattr(module, "ADDED")
    assert module.__doc__ == "a dunder the snapshot leaves alone"
    untouched = module.SEEN
    snapshot.restore()  # nothing changed: nothing is rebuilt
    assert module.SEEN is untouched == [1, 2]
