"""grader: an autograder for deep-learning homework in Python and PyTorch.

This is the public facade that problem tests import from. The names load lazily, so that the
sandbox (which imports `grader.sandbox`) never pulls in pytest, Hypothesis or the comparison code.

    from grader import points, hidden, assert_close, call_pure, call_training, record_curve, remote_type, strategies
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "StudentError",
    "StudentFault",
    "assert_close",
    "call_pure",
    "call_training",
    "hidden",
    "points",
    "record_curve",
    "remote_type",
    "strategies",
]


def points(n: float) -> Any:
    """Mark a test as worth `n` points (all or nothing)."""
    import pytest

    return pytest.mark.points(n)


def __getattr__(name: str) -> Any:
    if name == "hidden":
        import pytest

        return pytest.mark.hidden
    if name == "assert_close":
        from grader.grading.compare import assert_close

        return assert_close
    if name in ("call_pure", "remote_type", "StudentError", "StudentFault"):
        from grader.grading import proxy

        return getattr(proxy, name)
    if name in ("call_training", "record_curve"):
        from grader.grading import training

        return getattr(training, name)
    if name == "strategies":
        import importlib

        return importlib.import_module("grader.strategies")
    raise AttributeError(f"module 'grader' has no attribute {name!r}")
