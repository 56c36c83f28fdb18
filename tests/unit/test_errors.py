"""One error hierarchy: every exception class the grader defines is in grader/errors.py, under
GraderError (the user's or the machine's to fix) or marked StudentCaused (the student's), apart from
a short list of protocol and control-flow signals that never reach a user."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import grader
from grader import errors

# Raised and caught inside the grader, never shown to anyone as such. The wire's own errors (its
# module is exempt) are raised on both sides of the boundary about the other side's bytes.
SIGNALS = {
    "grader.grading.sandbox_client.SandboxGone",  # the sandbox ended before it replied: becomes the student's fault
    "grader.sandbox.server._CallTimeout",  # a call ran past its deadline, inside the sandbox
    "grader.grading.forbidden.SourceNotScanned",  # the scan gave up; the tripwires still apply
    "grader.grading.answers.NotPlainData",  # a recorded answer that is not plain data
    "grader.grading.lockstep.Diverged",  # a replay that cannot follow its recording: the test runs under Hypothesis
    # a test's body asked for another call than its sandbox already ran: the test runs under Hypothesis
    "grader.grading.call_stream.PrefetchDiverged",
    # a test fails as an earlier job's failing run did on the same replies: its result is that run's
    "grader.grading.lockstep.RepeatedFailure",
    "grader.cli.Terminated",  # SIGTERM or SIGHUP: a KeyboardInterrupt, the run stops as at Ctrl-C
}


def _defined_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(grader.__path__, "grader."):
        if info.name in {"grader.__main__", "grader.grading.worker_preload"}:
            continue  # running them has effects (a CLI, a forkserver warm-up)
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == info.name:
                found[f"{info.name}.{obj.__qualname__}"] = obj
    return found


def test_every_error_the_grader_defines_is_in_the_hierarchy():
    outside = sorted(
        name for name, cls in _defined_exceptions().items()
        if name not in SIGNALS and cls.__module__ not in {"grader.errors", "grader.sandbox.wire"}
    )
    assert outside == [], f"define these in grader/errors.py, under GraderError or StudentCaused: {outside}"


def test_every_error_in_the_module_is_the_users_the_machines_or_the_students():
    for name, cls in vars(errors).items():
        if inspect.isclass(cls) and issubclass(cls, BaseException):
            assert issubclass(cls, (errors.GraderError, errors.StudentCaused)), name


@pytest.mark.parametrize(
    ("where", "name"),
    [("grader.course.spec", "SpecError"), ("grader.run.session", "SubmissionsError"), ("grader.course.layouts", "LayoutError"),
     ("grader.results.store", "StoreError"), ("grader.distribute.kit", "KitError"), ("grader.cli", "UsageError")],
)
def test_input_errors_are_importable_where_they_are_raised_and_exit_2(where, name):
    cls = getattr(importlib.import_module(where), name)
    assert cls is getattr(errors, name)
    assert issubclass(cls, errors.InputError) and cls.exit_status == 2


def test_sandbox_setup_errors_keep_their_runtime_error_base():
    from grader.grading.proxy import SandboxRefused
    from grader.grading.sandbox_client import ZygoteError
    from grader.sandbox.confine import ConfinementError

    for cls in (SandboxRefused, ZygoteError, ConfinementError):
        assert issubclass(cls, errors.SandboxSetupError) and issubclass(cls, RuntimeError)
        assert cls.exit_status == 1


def test_student_faults_keep_the_bases_their_handlers_rely_on():
    from grader.grading.proxy import StudentError, StudentFault
    from grader.sandbox.rebuild import RebuildError
    from grader.sandbox.tripwires import ForbiddenCall

    assert issubclass(StudentError, Exception) and not issubclass(StudentFault, Exception)
    assert not issubclass(ForbiddenCall, Exception)  # `except Exception` in student code cannot hide it
    assert issubclass(RebuildError, ValueError)
    for cls in (StudentError, StudentFault, ForbiddenCall, RebuildError):
        assert issubclass(cls, errors.StudentCaused) and not issubclass(cls, errors.GraderError)
    assert StudentError("boom", "tb").student_traceback == "tb"
