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
