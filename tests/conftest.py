"""Shared fixtures for the harness's own tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.grading.sandbox_client import Zygote

REPO = Path(__file__).resolve().parent.parent

# A student's `grader check` keeps its sandbox zygote for the next check; the tests' checks keep none
# (no process outlives the test that started it), except those that test keeping one.
os.environ.setdefault("GRADER_KEEP_WARM", "0")


# How the README's test command (`pytest -n 3 --dist loadfile`) hands test files to its processes. As
# with plain `loadfile`, a file's tests run in one process, in order, so its module-scoped fixtures are
# built once; in addition:
# - files that share a costly session fixture run in one process, which builds it once for them all
#   (elsewhere each process that ran one of them would build its own);
# - the longest files start first, so that no process is left with an hour's tail of them at the end
#   while the others idle. Seconds summed over a run of the whole suite; a file not listed counts 0,
#   and the others keep their order. The table only orders the work: a stale one costs time, never a
#   result.
_SHARED_SCOPES = {
    "tests/e2e/test_grade.py": "graded_course",
    "tests/e2e/test_exports.py": "graded_course",
    "tests/e2e/test_report_browser.py": "graded_course",
}
_SECONDS = {  # measured at 16f35ba (the graded_course files: test_grade, test_exports, test_report_browser)
    "tests/e2e/test_deploy.py": 645,
    "tests/e2e/test_bank.py": 629,
    "graded_course": 400,
    "tests/e2e/test_adversarial.py": 368,
    "tests/e2e/test_feedback_e2e.py": 208,
    "tests/e2e/test_kit_e2e.py": 194,
    "tests/e2e/test_kit_build.py": 153,
    "tests/unit/test_plugin.py": 131,
    "tests/e2e/test_adversarial_kernel.py": 127,
    "tests/e2e/test_store_keeps.py": 124,
    "tests/e2e/test_install.py": 123,
    "tests/e2e/test_term.py": 119,
    "tests/e2e/test_lockstep.py": 110,
    "tests/e2e/test_training_hostile.py": 104,
    "tests/e2e/test_layouts_e2e.py": 97,
    "tests/e2e/test_check_warm.py": 96,
    "tests/e2e/test_adversarial_verdicts.py": 93,
    "tests/e2e/test_resume.py": 90,
    "tests/e2e/test_training_regrade.py": 73,
    "tests/unit/test_sandbox_kernel.py": 68,
    "tests/e2e/test_cluster.py": 67,
    "tests/unit/test_call_stream.py": 66,
    "tests/unit/test_lint.py": 66,
    "tests/e2e/test_check.py": 56,
    "tests/e2e/test_check_plugins.py": 54,
    "tests/unit/test_sandbox.py": 40,
    "tests/unit/test_training.py": 39,
}


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, where it is installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FileScheduling(LoadFileScheduling):
        _ordered = False

        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return _SHARED_SCOPES.get(file, file)

        def _assign_work_unit(self, node: object) -> None:
            if not self._ordered:  # the first assignment: the queue holds every file
                self._ordered = True
                for scope in sorted(self.workqueue, key=lambda s: _SECONDS.get(s, 0), reverse=True):
                    self.workqueue.move_to_end(scope)
            super()._assign_work_unit(node)

    return FileScheduling(config, log)


@pytest.fixture(scope="session")
def zygote() -> Iterator[Zygote]:
    z = Zygote.start()
    yield z
    z.close()
