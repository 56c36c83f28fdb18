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


@pytest.fixture(scope="session")
def zygote() -> Iterator[Zygote]:
    z = Zygote.start()
    yield z
    z.close()
