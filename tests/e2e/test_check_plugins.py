"""A pytest plugin installed beside the grader does not reach a grading session.

A student's machine may have any pytest plugin installed (pytest-randomly reorders tests and reseeds
generators, pytest-timeout kills slow calls, ...). Pytest loads installed plugins from their entry
points into every session, so before grading sessions turned that off, a kit's verdict and feedback
depended on what else was installed. Here a plugin that fails every test and reverses their order is
installed (a distribution on PYTHONPATH with a `pytest11` entry point): a check grades exactly as
without it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import REPO

PLUGIN = '''
import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    raise AssertionError("an installed plugin failed this test")


def pytest_collection_modifyitems(items):
    items.reverse()
'''


def _install_plugin(site: Path) -> None:
    (site / "intrusive_plugin.py").write_text(PLUGIN)
    info = site / "intrusive_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: intrusive-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pytest11]\nintrusive = intrusive_plugin\n")


def _check(student: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "grader", "check", "hw7", str(REPO / "submissions/hw7" / student),
         "--problem", "true_softmax", "--problem", "layer_ops"],
        capture_output=True, text=True, env=env, timeout=600,
    )


def test_an_installed_pytest_plugin_changes_no_verdict_and_no_message(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install_plugin(site)
    env = {**os.environ, "GRADER_KEEP_WARM": "0"}
    with_plugin = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))}
    # the plugin is really there: a plain pytest session loads it and fails
    plain = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", str(site)],
                           capture_output=True, text=True, env=with_plugin, timeout=120, cwd=tmp_path)
    assert "intrusive" in subprocess.run(
        [sys.executable, "-c", "from importlib.metadata import entry_points; "
                               "print([e.name for e in entry_points(group='pytest11')])"],
        capture_output=True, text=True, env=with_plugin, timeout=60).stdout, plain.stdout + plain.stderr
    for student in ("dave_forgot_eps",):  # failures in two problems: their order and messages must not change
        clean = _check(student, env)
        intruded = _check(student, with_plugin)
        assert clean.returncode in (0, 1), clean.stdout + clean.stderr
        assert intruded.stdout == clean.stdout, (student, intruded.stdout)
        assert "an installed plugin" not in intruded.stdout + intruded.stderr
