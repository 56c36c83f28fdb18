"""Every error the grader raises on purpose, in one hierarchy, sorted by whose fault it is.

The tree says who must act, and the CLI prints one line from it (never a traceback unless
`--debug`):

    GraderError                     base: anything the grader raises on purpose; `hint` says what to do
    ├── InputError                  exit 2: what the user gave cannot be used
    │   ├── UsageError              a command line that parses but asks for the impossible
    │   ├── SpecError               a problem.toml / assignment.toml that breaks a rule
    │   ├── SubmissionsError        a submissions folder that is missing or holds nothing gradable
    │   ├── LayoutError             one submission that cannot be read safely (that student only)
    │   ├── StoreError              a results store that cannot be opened or read
    │   └── KitError                a student kit that cannot be built
    ├── BankError                   exit 1: a broken test or reference; the instructor's to fix
    └── SandboxSetupError           exit 1: this machine cannot start or confine a sandbox
        ├── ConfinementError        a required protection could not be applied
        ├── ZygoteError             the sandbox zygote could not be started or stopped answering
        └── SandboxRefused          the sandbox would not run student code

    StudentCaused                   a marker: the student's code (or what it returned) is the cause
        StudentError (Exception), StudentFault (BaseException), ForbiddenCall (BaseException),
        RebuildError (ValueError)

Not here, on purpose: the wire's own errors (`grader.sandbox.wire`), raised on both sides of the boundary
about the other side's bytes, and private control-flow signals (`SandboxGone`, `_CallTimeout`, and
`grader.cli.Terminated`, a KeyboardInterrupt for SIGTERM and SIGHUP).

Student-caused errors are never shown as a grader error: they become the student's failure, with a
message the student can act on. The module imports nothing but the standard library, because the
sandbox side (wire, tripwires) uses it too; each class is also importable from the module that
raises it (`grader.course.spec.SpecError`, ...).
"""

from __future__ import annotations


class GraderError(Exception):
    """Anything the grader raises on purpose. `hint` is what the user can do about it ("" if nothing)."""

    exit_status = 1
    hint = ""


class InputError(GraderError):
    """What the user gave (a command line, a spec, a folder, a store) cannot be used; exit status 2."""

    exit_status = 2


class UsageError(InputError):
    """A command line that parses but asks for something that cannot be done (a student with no results)."""


class SpecError(InputError):
    """A problem or assignment spec that breaks a rule; the message names file, key, value and rule."""


class SubmissionsError(InputError):
    """A submissions folder that does not exist or holds no submission the assignment can grade."""


class LayoutError(InputError):
    """A submission that cannot be read safely (an unsafe or oversized zip)."""


class StoreError(InputError):
    """A results store that cannot be opened or read (not an SQLite database, a locked or read-only file)."""


class KitError(InputError):
    """A kit that cannot be built (an output folder in the way, a recorder that failed)."""


class BankError(GraderError):
    """A fault of the problem bank (a bad spec, a broken test or reference): shown to the instructor."""

    hint = "run 'grader validate' on the problem to see it fail for the reference"


class SandboxSetupError(GraderError, RuntimeError):
    """This machine cannot start or confine a sandbox; no student is graded until it is fixed."""

    hint = "rerun with --debug to see why"


class ConfinementError(SandboxSetupError):
    """A required protection could not be applied."""


class ZygoteError(SandboxSetupError):
    """The zygote could not be started or stopped answering."""


class SandboxRefused(SandboxSetupError):
    """The sandbox would not run student code because a required protection is unavailable."""


class StudentCaused:
    """A marker for errors whose cause is the student's code or what it returned (never a grader error)."""


class StudentError(StudentCaused, Exception):
    """The student's code raised an exception; carries the student's own traceback."""

    def __init__(self, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.student_traceback = traceback


class StudentFault(StudentCaused, BaseException):
    """The student's code cannot answer (timeout, exit, crash, memory, import, missing name).

    A BaseException so that Hypothesis stops at once instead of replaying the fault while shrinking.
    """

    def __init__(self, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.student_traceback = traceback


class ForbiddenCall(StudentCaused, BaseException):
    """A forbidden function was called (a BaseException, so that `except Exception` does not hide it)."""


class RebuildError(StudentCaused, ValueError):
    """A description that does not make a module of a known kind (the student's failure)."""
