"""The student's code on their page: captured within caps, escaped, lines from tracebacks marked and linked."""

from __future__ import annotations

from grader.records import TestResult
from grader.results.codeview import (
    MAX_FILE_CHARS,
    capture_sources,
    code_refs,
    failure_refs,
    links,
    render_files,
    style_css,
)


def test_sources_are_the_python_files_the_module_first_and_capped():
    files = (("a_helper.py", b"x = 1\n"), ("data.bin", b"\0\1"), ("bn_fold.py", b"y = 2\n"),
             ("big.py", b"z" * (MAX_FILE_CHARS + 10)))
    kept = capture_sources(files, first="bn_fold.py")
    assert [name for name, _ in kept] == ["bn_fold.py", "a_helper.py", "big.py"]
    assert kept[2][1].endswith("it is longer than the grader keeps)\n") and len(kept[2][1]) < MAX_FILE_CHARS + 200


def test_places_come_from_tracebacks_and_syntax_errors_and_hidden_tests_point_nowhere():
    traceback = 'Traceback:\n  File "bn_fold.py", line 12, in fold\n    x = y\n  File "helpers/u.py", line 3, in g\n'
    message = "bn_fold.py could not be imported: the import raised SyntaxError: expected ':' (bn_fold.py, line 24)"
    assert code_refs(traceback, message) == [("bn_fold.py", 12), ("helpers/u.py", 3), ("bn_fold.py", 24)]
    failed = TestResult(name="t", outcome="failed", points=0, max_points=1, student_traceback=traceback)
    assert failure_refs(failed) == [("bn_fold.py", 12), ("helpers/u.py", 3)]
    assert failure_refs(TestResult(name="t", outcome="failed", points=0, max_points=1, hidden=True,
                                student_traceback=traceback)) == []


def test_code_is_escaped_highlighted_and_anchored():
    text = 'def f():\n    return "</pre><script>alert(1)</script>"\n'
    files = {"bn_fold.py": text}
    slugs = {"bn_fold.py": "bn_fold.py"}
    [shown] = render_files(files, {"bn_fold.py": {2}}, slugs)
    assert "<script>" not in shown.html and "&lt;/pre&gt;&lt;script&gt;" in shown.html
    assert 'id="code-bn_fold.py-2"' in shown.html and '<span class="hll">' in shown.html
    assert shown.marked == (2,) and shown.lines == 2
    assert [(x.label, x.href) for x in links([("bn_fold.py", 2), ("other.py", 1)], files, slugs)] == [
        ("bn_fold.py, line 2", "#code-bn_fold.py-2")
    ]
    css = style_css()
    assert ".code .k" in css and "<" not in css
