"""What a student writes reaches the instructor's files bounded and encodable, under a file name of its own."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

from hypothesis import example, given, settings
from hypothesis import strategies as st

from grader.records import JobResult, TestResult
from grader.results.classbook import SLUG_CHARS, build_rows, slug
from grader.results.exports import write_exports
from grader.results.report import render_pages
from grader.results.store import Store
from grader.safetext import MESSAGE_CHARS, OUTPUT_CHARS, TRACEBACK_CHARS, bounded, bounded_result, one_line

from .test_report import RUN, make_assignment

LONE = "\udcff\ud800"  # lone surrogates: os.fsdecode's stand-ins for bytes that are not UTF-8, or forged
HUGE = 10_000_000


def test_bounded_makes_any_text_encodable_and_short():
    assert bounded("ok") == "ok"
    assert bounded(f"a{LONE}b") == "a\ufffd\ufffdb"
    text = bounded("x" * 500, 100)
    assert len(text) == 100 and text.endswith("x\n[... 500 characters in all, not all kept]")
    assert bounded(text, 100) == text  # bounding twice changes nothing
    assert bounded(12) == "12"

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert bounded(Unprintable()) == "?"


def test_one_line_names_are_printable_and_bounded():
    assert one_line("eve\x1b[31m\nfake line") == "eve?[31m?fake line"
    assert len(one_line("n" * 10_000)) == 300 and one_line("n" * 10_000).endswith("…")


def hostile_test(name: str = "test_forward") -> TestResult:
    return TestResult(
        name=name, outcome="failed", points=0.0, max_points=4.0,
        message=f"=HYPERLINK(\"http://x\") {LONE} \x00\x07" + "m" * HUGE,
        student_traceback="t" * HUGE + LONE, output="\x1b[2J" + "o" * HUGE + LONE,
        falsifying_example="f" * HUGE, notes="n" * HUGE, failing_input="i" * HUGE, reproduce="r" * HUGE,
    )


def hostile_job(student: str, problem: str = "conv") -> JobResult:
    return JobResult(
        student=student, assignment="hw", problem=problem, status="graded", score=0.0, max_score=4.0,
        message="M" * HUGE + LONE, tests=(hostile_test(),), warnings=tuple(f"w{i}{LONE}" for i in range(1000)),
        sources=(("conv.py", "s" * HUGE + LONE),),
    )


def test_a_forged_result_is_bounded_where_it_enters_the_store(tmp_path):
    store = Store(tmp_path / "grades.sqlite")
    store.put(hostile_job("mallory"))
    [stored] = list(store.results())
    store.close()
    assert (tmp_path / "grades.sqlite").stat().st_size < 2_000_000  # not tens of MB
    json.dumps(stored.to_dict(), ensure_ascii=False).encode("utf-8")  # every string encodes
    [test] = stored.tests
    assert len(test.message) < MESSAGE_CHARS + 100 and len(test.output) < OUTPUT_CHARS + 100
    assert len(test.student_traceback) < TRACEBACK_CHARS + 100
    assert test.message.endswith("characters in all, not all kept]")
    assert len(stored.warnings) == 51 and stored.warnings[-1] == "... 950 more warnings not kept"


def test_a_result_stored_before_results_were_bounded_is_bounded_when_read(tmp_path):
    store = Store(tmp_path / "grades.sqlite")
    raw = hostile_job("mallory").to_dict()
    with store.db:  # as an older grader wrote it: straight in
        store.db.execute("INSERT INTO jobs (student, problem, key, result, finished_at) VALUES (?, ?, ?, ?, ?)",
                         ("mallory", "conv", "k", json.dumps(raw), 0.0))
    [stored] = list(store.results())
    store.close()
    assert "\udcff" not in stored.message and len(stored.message) < MESSAGE_CHARS + 100


def test_bounded_result_keeps_an_honest_result_as_it_is():
    honest = JobResult(student="alice", assignment="hw", problem="conv", status="graded", score=4.0, max_score=4.0,
                       tests=(TestResult(name="test_a", outcome="passed", points=4.0, max_points=4.0, output="hi\n"),))
    assert bounded_result(honest) == honest


ODD_IDS = [
    "i" * 10_000,  # a very long id
    "a b", f"a_b-{slug('a b').rsplit('-', 1)[1]}",  # an id equal to another's file name
    "Alice", "alice", "ALICE",  # ids that differ only by case
    "bob?", "bob*", "bob/",  # ids that differ only by characters the file name drops
    "=cmd|' /C calc'!A0", "@SUM(1+1)", "+1", "-2",  # formulas
    "eve\udcff", "..", ".hidden", "",  # not UTF-8; dot names; empty
]


def test_every_id_gets_a_page_and_files_of_its_own_whatever_it_is(tmp_path):
    assignment = make_assignment(tmp_path)
    results = [hostile_job(student, problem) for student in ODD_IDS for problem in ("conv", "fold")]
    store = Store(tmp_path / "grades.sqlite")
    for r in results:
        store.put(r)
    stored = list(store.results())
    store.close()
    out = tmp_path / "out"
    index = render_pages(assignment, stored, RUN, out)
    rows = build_rows(assignment, stored)
    write_exports(assignment, rows, RUN, out)
    pages = sorted(p.name for p in (out / "students").iterdir())
    files = sorted(p.name for p in (out / "gradescope").iterdir())
    assert len(pages) == len(files) == len(ODD_IDS)  # a report for everyone, none overwritten
    assert len({p.casefold() for p in pages}) == len(pages)  # distinct on a case-insensitive file system too
    assert all(len(p.encode()) <= 100 for p in pages + files)
    text = index.read_text(encoding="utf-8")
    assert "\ufffd" in text and "<script" not in text.replace("<script nonce", "").split("</table>")[0]
    ET.parse(out / "junit.xml")  # control characters left out: the XML parses
    cells = [row[0] for row in csv.reader(io.StringIO((out / "grades.csv").read_text(encoding="utf-8")))][1:]
    assert "'=cmd|' /C calc'!A0" in cells and "'@SUM(1+1)" in cells and "'+1" in cells and "'-2" in cells


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=300), min_size=2, max_size=6, unique=True))
@example(["", "0\n"])  # a final newline passed a `$`-anchored pattern: the id was its own file name
@example(["alice", "alice\n", "alice\r\n", "x-0123456789abcdef\n"])
def test_slugs_are_safe_bounded_and_distinct(ids):
    slugs = [slug(i) for i in ids]
    for s in slugs:
        assert s and not s.startswith(".") and len(s) <= SLUG_CHARS + 17
        assert all(c.isascii() and (c.isalnum() or c in "_.-") for c in s), s
    assert len({s.casefold() for s in slugs}) == len(ids)


def test_a_plain_lower_case_id_keeps_its_name():
    assert slug("alice_correct") == "alice_correct"
    assert slug("Alice") != "Alice" and slug("x" * 65) != "x" * 65
    assert slug(slug("a b")) != slug("a b")  # an id shaped like another's file name gets its own


def test_a_submission_with_names_that_are_not_utf8_gets_a_key_and_a_bounded_temporary_folder(tmp_path):
    import os

    from grader.grading.jobs import read_submission

    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "bn_fold.py").write_text("A = 1\n")
    with open(os.fsencode(folder) + b"/odd\xff.py", "w") as f:
        f.write("B = 2\n")
    assert [name for name, _ in read_submission(folder)] == ["bn_fold.py"]


FORGER = '''
import json, os, struct

def f(x):
    head = json.dumps({"ok": False, "kind": "raised", "type": "E" * 100_000,
                       "message": "\\ud800 =1+1 " + "m" * 5_000_000, "traceback": "\\udfff" + "t" * 5_000_000}).encode()
    frame = struct.pack("!II", len(head), 0) + head
    while frame:
        frame = frame[os.write(3, frame):]
    os._exit(0)
'''


def test_a_forged_reply_is_bounded_where_the_trusted_side_receives_it(tmp_path, zygote):
    import pytest

    from grader.course.spec import Limits
    from grader.errors import StudentError
    from grader.grading.proxy import RECEIVED_MESSAGE_CHARS, RECEIVED_TRACEBACK_CHARS, StudentSession

    student, work = tmp_path / "student", tmp_path / "work"
    student.mkdir()
    work.mkdir()
    (student / "sub.py").write_text(FORGER)
    session = StudentSession(zygote=zygote, student_dir=str(student), module="sub", workdir=str(work),
                             limits=Limits(call_timeout=20, import_timeout=20, job_timeout=60, memory_mb=1024))
    try:
        with pytest.raises(StudentError) as raised:
            session.module().f(1)
    finally:
        session.close()
    message, traceback = str(raised.value), raised.value.student_traceback
    assert message.startswith("f raised EEEE") and "E" * 300 not in message  # the type name: one line, 200 characters
    assert len(message) < RECEIVED_MESSAGE_CHARS + 300 and len(traceback) <= RECEIVED_TRACEBACK_CHARS
    assert "\ufffd =1+1" in message and traceback.startswith("\ufffd")
    message.encode("utf-8")
    traceback.encode("utf-8")


def test_no_pattern_lets_a_final_newline_through() -> None:
    """`$` matches before a final newline: every anchored pattern the grader applies to names ends in `\\Z`."""
    from grader.course import layouts, scaffold, spec
    from grader.results import adjustments
    from grader.sandbox import gpu

    assert layouts._MOODLE.match("Ann Lee_123_assignsubmission_file_bn_fold.py\n") is None
    assert layouts._CANVAS.match("annlee_123_456_bn_fold.py\n") is None
    assert spec._IDENTIFIER.match("bn_fold\n") is None and scaffold._PROBLEM.match("bn_fold\n") is None
    assert adjustments._CHANGE.match("+5\n") is None and gpu._DEVICE.match("nvidia0\n") is None
    assert layouts._MOODLE.match("Ann Lee_123_assignsubmission_file_bn_fold.py") is not None
