"""The course extension seam (grader.course.extensions): a course's `course_helpers` package is imported by
its path for the trusted side, replaced when another course is graded, and a broken one is the
bank's error, named by its file."""

from __future__ import annotations

import sys

import pytest

from grader.course import extensions
from grader.errors import BankError


@pytest.fixture(autouse=True)
def _clean():
    saved = {n: m for n, m in sys.modules.items() if n.split(".")[0] == extensions.PACKAGE}
    extensions._forget()
    yield
    extensions._forget()
    sys.modules.update(saved)


def course(root, value: str):
    (root / "course_helpers").mkdir(parents=True)
    (root / "course_helpers/__init__.py").write_text("")
    (root / "course_helpers/strategies.py").write_text(f"VALUE = {value!r}\n")
    return root


def test_a_course_helpers_package_is_importable_and_replaced_by_another_courses(tmp_path):
    first, second = course(tmp_path / "a", "first"), course(tmp_path / "b", "second")
    extensions.install(first)
    from course_helpers.strategies import VALUE

    assert VALUE == "first"
    extensions.install(first)  # the same course: kept as it is
    assert sys.modules["course_helpers.strategies"].VALUE == "first"
    extensions.install(second)
    from course_helpers.strategies import VALUE as again

    assert again == "second"
    assert str(first) not in sys.path and str(second) not in sys.path  # never on sys.path


def test_a_course_without_helpers_forgets_the_last_courses(tmp_path):
    extensions.install(course(tmp_path / "a", "first"))
    (tmp_path / "plain").mkdir()
    extensions.install(tmp_path / "plain")
    assert "course_helpers" not in sys.modules and "course_helpers.strategies" not in sys.modules


def test_helpers_that_do_not_import_are_the_banks_error_naming_the_file(tmp_path):
    root = course(tmp_path / "a", "x")
    (root / "course_helpers/__init__.py").write_text("import a_module_that_does_not_exist\n")
    with pytest.raises(BankError, match=r"course_helpers/__init__.py: the course's helpers failed to import: "
                                         r"ModuleNotFoundError"):
        extensions.install(root)
    assert "course_helpers" not in sys.modules


def test_the_course_root_of_a_problem_folder(tmp_path):
    assert extensions.course_root(tmp_path / "problems/hw5/receptive_field") == tmp_path
