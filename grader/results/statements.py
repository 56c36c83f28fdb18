"""Problem statements (each problem's README.md) from Markdown to HTML that is safe to put in a page.

Raw HTML in the Markdown is escaped, not passed through; images are not rendered (a page must need
no network); links keep markdown-it's check that refuses `javascript:` and similar schemes. TeX math
(`$...$`, `$$...$$`) is kept verbatim as code, so that Markdown does not read its `_` and `\\` as
emphasis and escapes.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markupsafe import Markup


def _math(state: StateInline, silent: bool) -> bool:
    start = state.pos
    if state.src[start] != "$":
        return False
    delimiter = "$$" if state.src.startswith("$$", start) else "$"
    end = state.src.find(delimiter, start + len(delimiter))
    if end <= start + len(delimiter):
        return False
    if not silent:
        token = state.push("code_inline", "code", 0)
        token.markup = "`"
        token.content = state.src[start : end + len(delimiter)]
    state.pos = end + len(delimiter)
    return True


_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
_MARKDOWN.disable("image")
_MARKDOWN.inline.ruler.before("escape", "math", _math)


def statement_html(markdown: str) -> Markup:
    """The statement as HTML; markdown-it escapes every piece of text and attribute it writes."""
    return Markup(_MARKDOWN.render(markdown))
