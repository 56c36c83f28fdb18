"""The benchmark's baselines' harness: the bank's tests with the student's module imported into the
test process itself, no sandbox. The floor (the tests alone, in this process) and both naive
baselines (a fresh `pytest` per job, or per student) use this one plugin, so they differ from one
another only in how processes are started, and from the grader only in isolation.

In this process: `pytest.main(..., plugins=[InProcess(modules)])`. In a fresh `pytest`: `-p inprocess`
with this folder on the path and BENCH_MODULES set to the same mapping as JSON. `modules` maps each
test file's path to (student file, reference file, max_examples). Student code runs unconfined here:
only the benchmark's own generated class is ever run this way.
"""

from __future__ import annotations

import importlib.util
import json
import os
from types import ModuleType

import pytest
import torch

from grader.grading.plugin import register_profile, skip_hypothesis_patch

Modules = dict[str, tuple[str, str, int]]


def _load(path: str, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class InProcess:
    """`student` and `reference` fixtures per test file, the grading profile with the problem's
    max_examples, and the grader's skipped Hypothesis patch-writing (grader.grading.plugin)."""

    def __init__(self, modules: Modules) -> None:
        self.modules = modules
        self._loaded = 0

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        torch.set_num_threads(1)  # one thread, as each grading worker has
        config.addinivalue_line("markers", "points(n): points")
        config.addinivalue_line("markers", "hidden: hidden")

    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        # @given and @settings take the settings in force when the test module is imported: pin the
        # problem's before it is (as the grader's plugins do), and again before its tests run.
        if isinstance(collector, pytest.Module) and str(collector.path) in self.modules:
            register_profile(self.modules[str(collector.path)][2])

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        skip_hypothesis_patch(item)

    def _entry(self, request: pytest.FixtureRequest) -> tuple[str, str, int]:
        return self.modules[str(request.node.path)]

    def _fresh(self, path: str, role: str) -> ModuleType:
        self._loaded += 1  # each load its own module object, as a fresh process would have
        return _load(path, f"_bench_{role}_{self._loaded}")

    @pytest.fixture(scope="module")
    def student(self, request: pytest.FixtureRequest) -> ModuleType:
        return self._fresh(self._entry(request)[0], "student")

    @pytest.fixture(scope="module")
    def reference(self, request: pytest.FixtureRequest) -> ModuleType:
        return self._fresh(self._entry(request)[1], "reference")

    @pytest.fixture(scope="module", autouse=True)
    def _problem_profile(self, request: pytest.FixtureRequest) -> None:
        register_profile(self._entry(request)[2])


def pytest_configure(config: pytest.Config) -> None:
    """Loaded with `-p inprocess` in a fresh pytest: the mapping comes from BENCH_MODULES."""
    if "BENCH_MODULES" in os.environ and not config.pluginmanager.has_plugin("bench-inprocess"):
        modules = {k: (v[0], v[1], int(v[2])) for k, v in json.loads(os.environ["BENCH_MODULES"]).items()}
        config.pluginmanager.register(InProcess(modules), "bench-inprocess")
