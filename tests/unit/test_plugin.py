"""The grading plugin: deterministic failure messages; no Hypothesis source patches for failing tests."""

from __future__ import annotations

import contextlib
import io

import pytest

from grader.plugin import skip_hypothesis_patch

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
    from grader.plugin import _message

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
    from grader.plugin import EXAMPLE_LABEL, hypothesis_report

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
    from grader.plugin import EXAMPLE_LABEL, hypothesis_report

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
    from grader.results import NOT_RUN

    from .test_hypothesis_contract import grade_job, make_problem

    root = make_problem(tmp_path, forbidden=("torch.autograd",))
    result = grade_job(root, zygote, files)
    assert (result.status, result.message, result.score) == (status, reason, 0.0)
    assert [(t.outcome, t.message) for t in result.tests] == [("failed", NOT_RUN + reason)] * 2
    if status == "crashed":
        assert all("SyntaxError: expected ':'" in t.student_traceback for t in result.tests)
