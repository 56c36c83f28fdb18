"""Text a student controls, made bounded and safe for each file the trusted side writes.

Whatever a sandbox sends (messages, tracebacks, output, type names) and whatever a submission's
folder is called reaches the instructor's files: HTML pages, `results.json`, `grades.csv`, JUnit XML,
Gradescope files, the store. Each helper here makes such text safe for one of them, where the trusted
side receives or writes it, so that no student can make a report huge, unreadable or unwritable:

- `bounded`: valid UTF-8 (a lone surrogate, as `os.fsdecode` makes of a byte that is not UTF-8,
  becomes U+FFFD) and at most a number of characters, with a note of what was cut;
- `one_line`: a name or an id on one line, printable and bounded;
- `bounded_result`: every string of a job's result bounded, the one place a result enters the store.

The writers do the rest: HTML only through autoescaped jinja2 templates (grader.results.report), XML without
the characters XML 1.0 forbids and CSV cells never read as formulas (grader.results.exports), files written
as UTF-8.
"""

from __future__ import annotations

import dataclasses
import re

from grader.records import JobResult, TestResult

MESSAGE_CHARS = 20_000  # a test's or a job's message, falsifying example, notes, failing input
TRACEBACK_CHARS = 20_000
OUTPUT_CHARS = 20_000  # the sandbox caps output per test far lower; this holds whatever reaches here
NAME_CHARS = 300  # a test's name, a type name, a warning
WARNINGS_KEPT = 50

_SURROGATES = re.compile("[\ud800-\udfff]")


def bounded(text: object, most: int = MESSAGE_CHARS) -> str:
    """`text` as a string that encodes as UTF-8, cut to `most` characters with a note of how many were left out."""
    if not isinstance(text, str):
        try:
            text = str(text)
        except Exception:  # noqa: BLE001 - an object whose str() fails is still reported
            text = "?"
    if len(text) > most:  # cut so that the whole, note included, fits: bounding twice changes nothing
        note = f"\n[... {len(text)} characters in all, not all kept]"
        text = text[: max(0, most - len(note))] + note
    return _SURROGATES.sub("\ufffd", text)


def one_line(text: object, most: int = NAME_CHARS) -> str:
    """`text` bounded, on one line (control characters shown as `?`): for names and ids."""
    flat = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", "?", bounded(text, 10 * most))
    return flat if len(flat) <= most else flat[: most - 1] + "…"


def bounded_test(test: TestResult) -> TestResult:
    """A test's result with every student-made string bounded and encodable."""
    return dataclasses.replace(
        test,
        name=one_line(test.name),
        message=bounded(test.message, MESSAGE_CHARS),
        falsifying_example=bounded(test.falsifying_example, MESSAGE_CHARS),
        reproduce=bounded(test.reproduce, MESSAGE_CHARS),
        notes=bounded(test.notes, MESSAGE_CHARS),
        student_traceback=bounded(test.student_traceback, TRACEBACK_CHARS),
        output=bounded(test.output, OUTPUT_CHARS),
        failing_input=bounded(test.failing_input, MESSAGE_CHARS),
    )


def bounded_result(result: JobResult) -> JobResult:
    """A job's result with every string bounded and encodable, however it was made (a worker, a cluster, the store)."""
    warnings = tuple(dict.fromkeys(one_line(w) for w in result.warnings))
    if len(warnings) > WARNINGS_KEPT + 1:  # the note is the last one kept: bounding twice changes nothing
        warnings = (*warnings[:WARNINGS_KEPT], f"... {len(warnings) - WARNINGS_KEPT} more warnings not kept")
    return dataclasses.replace(
        result,
        student=bounded(result.student, 10 * NAME_CHARS),  # ids are bounded at discovery; this only makes it encodable
        message=bounded(result.message, MESSAGE_CHARS),
        tests=tuple(bounded_test(t) for t in result.tests),
        warnings=warnings,
        sources=tuple((bounded(name, NAME_CHARS), bounded(text, 10 * MESSAGE_CHARS)) for name, text in result.sources),
    )
