"""Shared fixtures for the harness's own tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.sandbox.client import Zygote

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def zygote() -> Iterator[Zygote]:
    z = Zygote.start()
    yield z
    z.close()
