"""A course's own helpers, end to end: its tests import `course_helpers` (a strategy kept beside the
problems), the problem validates, a class grades, and a student's module cannot import the helpers
(the sandbox never sees the course folder)."""

from __future__ import annotations

import json
import shutil

from .conftest import run_cli


def test_course_helpers_serve_the_tests_and_never_the_students(tmp_path):
    assert run_cli("new", "hw9", "leaky", cwd=tmp_path).returncode == 0
    (tmp_path / "course_helpers").mkdir()
    (tmp_path / "course_helpers/__init__.py").write_text('"""The course\'s strategies."""\n')
    (tmp_path / "course_helpers/shapes.py").write_text(
        "from hypothesis import strategies as st\n\n"
        "SECRET = 'the helpers are trusted code'\n\n"
        "def shapes():\n    return st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple)\n"
    )
    test = tmp_path / "problems/hw9/leaky/test_leaky.py"
    text = test.read_text().replace(
        "shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)\n",
        "from course_helpers.shapes import shapes as course_shapes\n\nshapes = course_shapes()\n",
    )
    assert "course_shapes" in text
    test.write_text(text)

    validated = run_cli("validate", "hw9/leaky", "--jobs", "1", cwd=tmp_path, timeout=600)
    assert validated.returncode == 0, validated.stdout + validated.stderr

    subs = tmp_path / "submissions/hw9"
    (subs / "alice").mkdir(parents=True)
    shutil.copy(tmp_path / "reference/hw9/leaky.py", subs / "alice/leaky.py")
    (subs / "mallory").mkdir()
    (subs / "mallory/leaky.py").write_text(
        "from course_helpers.shapes import SECRET\n" + (tmp_path / "reference/hw9/leaky.py").read_text()
    )
    graded = run_cli("grade", "hw9", str(subs), "--jobs", "2", cwd=tmp_path, timeout=900)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    students = {s["id"]: s for s in json.loads((tmp_path / "reports/hw9/results.json").read_text())["students"]}
    assert students["alice"]["score"] == 10
    assert students["mallory"]["score"] == 0
    assert "No module named 'course_helpers'" in json.dumps(students["mallory"])
