"""Mutants and alternatives written as small diffs against the reference (`mutants/NAME.diff`).

A mutant is usually the reference with one line changed; writing it as a unified diff (what
`diff -u` and `git diff` print) keeps the point of the mutant in view and keeps it in step with the
reference: when the reference changes under a diff, validation says which hunk no longer applies,
instead of testing a stale copy. Lines before the diff's first `---`/`@@` are free text, where the
mutant's description and its `# fails: ...` line go.

The applier is strict: every hunk's context and removed lines must match the text exactly (at the
line the hunk names, or, if the reference moved, at the nearest place after the previous hunk where
they match), hunks apply in order and never overlap.
"""

from __future__ import annotations

import re

from grader.errors import SpecError

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def apply_diff(original: str, diff: str, *, where: str) -> str:
    """`original` with the unified diff `diff` applied; SpecError naming `where` and the hunk if it does not apply."""
    hunks = _parse(diff, where)
    if not hunks:
        raise SpecError(f"{where}: no '@@ -a,b +c,d @@' hunk: a diff mutant is a unified diff against the reference")
    lines = original.splitlines(keepends=True)
    out: list[str] = []
    position = 0  # the first line of `lines` not yet copied
    for number, (start, old, new) in enumerate(hunks, 1):
        at = _find(lines, old, max(start - 1, 0) if old else start, position)
        if at is None:
            shown = "".join(old[:3]).rstrip("\n") or "(nothing)"
            raise SpecError(
                f"{where}: hunk {number} does not apply to the reference (it expects, from line {start}:\n{shown})"
            )
        out.extend(lines[position:at])
        out.extend(new)
        position = at + len(old)
    out.extend(lines[position:])
    return "".join(out)


def _find(lines: list[str], old: list[str], hint: int, first: int) -> int | None:
    """Where `old` occurs in `lines` at or after `first`: at `hint` if it does, else the nearest place."""

    def matches(at: int) -> bool:
        return at + len(old) <= len(lines) and [line.rstrip("\n") for line in lines[at : at + len(old)]] == [
            line.rstrip("\n") for line in old
        ]

    if hint >= first and matches(hint):
        return hint
    candidates = [at for at in range(first, len(lines) - len(old) + 1) if matches(at)]
    if not old:
        return min(max(hint, first), len(lines))
    return min(candidates, key=lambda at: abs(at - hint)) if candidates else None


def _parse(diff: str, where: str) -> list[tuple[int, list[str], list[str]]]:
    """The hunks of a unified diff: (first line of the old text, old lines, new lines)."""
    hunks: list[tuple[int, list[str], list[str]]] = []
    current: tuple[int, list[str], list[str]] | None = None
    for raw in diff.splitlines(keepends=True):
        match = _HUNK.match(raw)
        if match:
            current = (int(match.group(1)), [], [])
            hunks.append(current)
            continue
        if current is None:
            continue  # the header: free text, `---` and `+++` lines
        line = raw if raw.endswith("\n") else raw + "\n"
        if raw.startswith("\\"):  # "\ No newline at end of file"
            continue
        if raw.startswith(" ") or raw in ("\n", "\r\n"):
            text = line[1:] if raw.startswith(" ") else line
            current[1].append(text)
            current[2].append(text)
        elif raw.startswith("-"):
            current[1].append(line[1:])
        elif raw.startswith("+"):
            current[2].append(line[1:])
        else:
            raise SpecError(f"{where}: the line {raw.rstrip()!r} is not part of a unified diff hunk")
    return hunks
