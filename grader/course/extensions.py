"""The course extension seam: trusted helpers a course keeps beside its problems.

A course folder may hold a package `course_helpers/` (strategies, oracles, model builders that its
tests share). The bank's tests import it as `course_helpers` (`from course_helpers.nets import
cnn_stacks`); it runs only on the trusted side, where tests run, and never in a sandbox: the
sandbox cannot read the course folder. The grader imports it by its path, without putting the
course folder on `sys.path` (which would let a `grader/` folder inside the course shadow the
installed grader).

Student kits and Gradescope bundles carry it when the course has one, because public tests may
import it: keep secrets (answers, hidden oracles) in references, not here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from grader.errors import BankError

PACKAGE = "course_helpers"


def folder(root: Path) -> Path | None:
    """The course's helper package, if it has one."""
    path = root / PACKAGE
    return path if (path / "__init__.py").is_file() else None


def install(root: Path) -> None:
    """Make the course's `course_helpers` importable here (a fresh import if another course's is loaded).

    BankError, naming the file, when the package does not import.
    """
    path = folder(root)
    loaded = sys.modules.get(PACKAGE)
    if path is None:
        if loaded is not None and getattr(loaded, "__grader_course__", None) is not None:
            _forget()
        return
    if loaded is not None and getattr(loaded, "__grader_course__", None) == str(path):
        return
    _forget()
    spec = importlib.util.spec_from_file_location(PACKAGE, path / "__init__.py", submodule_search_locations=[str(path)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.__grader_course__ = str(path)  # type: ignore[attr-defined]
    sys.modules[PACKAGE] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        _forget()
        raise BankError(
            f"{path / '__init__.py'}: the course's helpers failed to import: {type(exc).__name__}: {exc}"
        ) from exc


def course_root(problem_folder: Path) -> Path:
    """The course folder of a problem folder (`ROOT/problems/<assignment>/<problem>`)."""
    return problem_folder.parent.parent.parent


def _forget() -> None:
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]
