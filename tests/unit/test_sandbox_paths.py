"""Where a sandbox may import and read from: Python's own view of the install, never a checkout's position."""

from __future__ import annotations

import os
import sysconfig
import textwrap

import pytest

import grader
from grader.course.spec import Limits
from grader.grading.proxy import StudentSession
from grader.sandbox import confine


def test_library_dirs_are_the_interpreters_install_scheme_and_the_grader_package():
    dirs = confine.library_dirs()
    assert os.path.realpath(sysconfig.get_paths()["purelib"]) in dirs
    assert os.path.realpath(sysconfig.get_paths()["stdlib"]) in dirs
    assert os.path.dirname(os.path.realpath(grader.__file__)) in dirs


def test_a_plain_install_is_no_checkout(monkeypatch):
    parent = os.path.dirname(os.path.dirname(os.path.realpath(grader.__file__)))
    monkeypatch.setattr(confine, "library_dirs", lambda: (parent, os.path.join(parent, "grader")))
    assert confine.grader_checkout() is None  # site-packages: never hidden
    monkeypatch.setattr(confine, "library_dirs", lambda: (os.path.join(parent, "grader"),))
    assert confine.grader_checkout() == parent  # a source checkout, with the demo's references: hidden


def test_a_folder_above_or_inside_a_hidden_one_is_not_readable_but_a_venv_in_the_course_is(tmp_path, monkeypatch):
    course = tmp_path / "course"
    venv_lib = course / ".venv/lib/python3/site-packages"
    other = course / "notes"
    for d in (venv_lib, other, course / "reference"):
        d.mkdir(parents=True)
    monkeypatch.setattr(confine, "library_dirs", lambda: (str(venv_lib),))
    monkeypatch.setattr("sys.path", [str(tmp_path), str(other), str(venv_lib)])
    roots = confine.readable_roots("/student", [str(course)])
    assert str(venv_lib) in roots  # the interpreter's own packages, though inside the course folder
    assert str(other) not in roots and str(course) not in roots
    assert str(tmp_path) not in roots  # above the course: would expose it
    assert confine.import_path(["", str(tmp_path), str(other), str(venv_lib)], [str(course)]) == [str(venv_lib)]


@pytest.fixture
def session(tmp_path, zygote):
    sessions = []

    def make(source: str) -> StudentSession:
        student, work = tmp_path / "student", tmp_path / "work"
        student.mkdir()
        work.mkdir()
        (student / "sub.py").write_text(textwrap.dedent(source))
        s = StudentSession(
            zygote=zygote, student_dir=str(student), module="sub", workdir=str(work),
            limits=Limits(call_timeout=10, import_timeout=10, job_timeout=30, memory_mb=512),
            hidden=(str(tmp_path / "course"),),
        )
        sessions.append(s)
        return s

    yield make
    for s in sessions:
        s.close()


def test_a_student_can_import_any_installed_package_not_preloaded(session):
    # Modules the zygote never imported: read from site-packages and the standard library at run time.
    m = session("""
        import importlib
        def load(name):
            return importlib.import_module(name).__name__
    """).module()
    for name in ("mdurl", "jinja2", "torch.utils.model_zoo", "xml.dom.minidom"):
        assert m.load(name) == name


def test_the_course_and_a_checkout_stay_unreadable(session, tmp_path):
    course = tmp_path / "course"
    (course / "reference").mkdir(parents=True)
    (course / "reference" / "secret.py").write_text("ANSWER = 42\n")
    m = session(f"""
        def read():
            try:
                return open({str(course / "reference" / "secret.py")!r}).read()
            except OSError as exc:
                return type(exc).__name__
    """).module()
    s = m.read()
    # Landlock refuses it; where the folders above it bar the sandbox's own user, it is not even there.
    assert s in ("PermissionError", "FileNotFoundError")
