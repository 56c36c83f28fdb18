"""The student's code beside the failure: the submitted files kept with a result, highlighted with the traceback's lines marked.

A job's result carries the text of the submission's Python files as graded (`JobResult.sources`,
capped here). The student's page shows each file once, highlighted by pygments' HTML formatter (which
escapes the code) with an anchor per line; the lines that the student's tracebacks and messages
point at are marked, and each failure links to them. The token styles go into the page's own
stylesheet: nothing is fetched, and no script runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from grader.records import JobResult, TestResult

MAX_FILE_CHARS = 100_000
MAX_TOTAL_CHARS = 300_000
MAX_FILES = 30
TRUNCATED = "# … (the rest of this file is not shown: it is longer than the grader keeps)\n"
CSS_CLASS = "code"
_FILE_LINE = re.compile(r'File "(?P<file>[^"\n]+)", line (?P<line>\d+)')
_SYNTAX_LINE = re.compile(r"\((?P<file>[^()\n,]+\.py), line (?P<line>\d+)\)")


def capture_sources(files: Iterable[tuple[str, bytes]], *, first: str = "") -> tuple[tuple[str, str], ...]:
    """The submission's Python files as text (name, text), `first` first, then by name, within the caps."""
    python = sorted((n, d) for n, d in files if n.endswith(".py"))
    python.sort(key=lambda item: item[0] != first)
    kept: list[tuple[str, str]] = []
    total = 0
    for name, data in python[:MAX_FILES]:
        text = data.decode("utf-8", errors="replace")
        if len(text) > MAX_FILE_CHARS:
            text = text[:MAX_FILE_CHARS] + "\n" + TRUNCATED
        if total + len(text) > MAX_TOTAL_CHARS:
            break
        total += len(text)
        kept.append((name, text))
    return tuple(kept)


def code_refs(*texts: str) -> list[tuple[str, int]]:
    """The (file, line) places that a traceback or a message points at, in order, once each."""
    found: list[tuple[str, int]] = []
    for text in texts:
        for pattern in (_FILE_LINE, _SYNTAX_LINE):
            for m in pattern.finditer(text or ""):
                ref = (m.group("file").strip(), int(m.group("line")))
                if ref not in found:
                    found.append(ref)
    return found


def failure_refs(t: TestResult) -> list[tuple[str, int]]:
    """Where a visible failed test points in the student's files (hidden tests point nowhere)."""
    if t.hidden or t.outcome == "passed":
        return []
    return code_refs(t.student_traceback, t.message)


def anchor(slug: str) -> str:
    """The id prefix of a file's lines: `code-<slug>`, lines are `code-<slug>-<n>`."""
    return f"code-{slug}"


@dataclass(frozen=True)
class CodeFile:
    name: str
    anchor: str
    html: Markup
    lines: int
    marked: tuple[int, ...]


@dataclass(frozen=True)
class CodeLink:
    label: str  # "bn_fold.py, line 24"
    href: str  # "#code-bn_fold.py-24"


def student_files(results: Iterable[JobResult | None]) -> dict[str, str]:
    """Each file of the student's results once (the first result that holds it, in problem order)."""
    files: dict[str, str] = {}
    for r in results:
        if r is None:
            continue
        for name, text in r.sources:
            files.setdefault(name, text)
    return files


def render_files(files: Mapping[str, str], marked: Mapping[str, set[int]], slugs: Mapping[str, str]) -> list[CodeFile]:
    """Each file highlighted, with line anchors and the `marked` lines highlighted."""
    shown = []
    for name, text in files.items():
        lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        prefix = anchor(slugs[name])
        formatter = HtmlFormatter(
            linenos="inline",
            anchorlinenos=True,
            lineanchors=prefix,
            cssclass=CSS_CLASS,
            wrapcode=True,
            hl_lines=sorted(marked.get(name, ())),
        )
        html = Markup(highlight(text, PythonLexer(), formatter))  # noqa: S704 (pygments escapes the code)
        shown.append(CodeFile(name, prefix, html, lines, tuple(sorted(marked.get(name, ())))))
    return shown


def links(refs: Iterable[tuple[str, int]], files: Mapping[str, str], slugs: Mapping[str, str]) -> list[CodeLink]:
    """Links to the lines of files the page shows (places in other files are left out)."""
    out = []
    for name, line in refs:
        if name in files:
            out.append(CodeLink(f"{name}, line {line}", f"#{anchor(slugs[name])}-{line}"))
    return out


def style_css() -> Markup:
    """The token styles for the page's stylesheet, scoped to the code blocks (pygments' default style)."""
    rules = HtmlFormatter(style="default").get_style_defs(f".{CSS_CLASS}").splitlines()
    kept = [r for r in rules if r.startswith((f".{CSS_CLASS}", "span.linenos"))]
    return Markup("\n".join(kept))  # noqa: S704 (a fixed style's rules, no input in them)
