"""How much code pairs of submissions share, per problem: winnowed fingerprints of normalized tokens.

Each module is read with pygments' Python lexer; comments, docstrings and spaces are dropped, every
name becomes `N`, every string `S` and every number `1`, so that renaming variables or rewording
comments changes nothing. Every run of K tokens (a k-gram) is hashed, and winnowing keeps the
smallest hash of each window of W consecutive k-grams (Schleimer, Wilkerson and Aiken, 2003): any
run of K + W - 1 shared tokens is found, and only pairs that share a fingerprint are compared
k-gram by k-gram. k-grams of the reference and of starter code
(`problems/<a>/<p>/starter/`) are boilerplate and never count. A file's similarity to another is the
share of its own tokens (those not in boilerplate) covered by fingerprints the two have in common; a
pair ranks by the mean of its two shares.

These are facts about text: code written from the same statement, the course's own examples, or an
allowed discussion all make submissions alike. Reports say how much is shared and where, and leave
the reading to a person; they never reach students.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pygments.lexers import PythonLexer
from pygments.token import Comment, Name, Number, String, Text, Whitespace

from grader.course.spec import AssignmentSpec, ProblemSpec
from grader.records import JobResult

K = 16  # tokens in a k-gram: shorter shared runs are noise (a signature, a return statement)
W = 5  # winnowing window: every shared run of K + W - 1 = 20 tokens is found
SHOWN_PAIRS = 10  # per problem, on similarity.html
REPORT_PAIRS = 3  # per problem, on the class page
WORDING = (
    "Similarity is a fact about the text, not a finding: code written from the same statement, the "
    "course's examples, or an allowed discussion make submissions alike. Read both before concluding anything."
)


@dataclass(frozen=True)
class Token:
    kind: str
    start: int  # character offsets in the source
    end: int


def tokens(text: str) -> list[Token]:
    """The normalized tokens of Python source (comments, docstrings and spaces dropped)."""
    out: list[Token] = []
    for index, kind, value in PythonLexer().get_tokens_unprocessed(text):
        if kind in Comment or kind in Text or kind in Whitespace or kind in String.Doc or not value.strip():
            continue
        if kind in Name:
            norm = "N"
        elif kind in String:
            norm = "S"
            if out and out[-1].kind == "S" and out[-1].end == index:  # the lexer cuts a string into pieces
                out[-1] = Token("S", out[-1].start, index + len(value))
                continue
        elif kind in Number:
            norm = "1"
        else:
            norm = value.strip()
        out.append(Token(norm, index, index + len(value)))
    return out


def _hash(gram: Iterable[str]) -> int:
    return int.from_bytes(hashlib.blake2b("\0".join(gram).encode(), digest_size=8).digest(), "big")


def kgram_hashes(toks: list[Token], k: int = K) -> list[int]:
    kinds = [t.kind for t in toks]
    return [_hash(kinds[i : i + k]) for i in range(len(kinds) - k + 1)]


def winnow(hashes: list[int], w: int = W) -> list[tuple[int, int]]:
    """(hash, position) of the smallest hash in each window of `w` (the rightmost on ties), once each."""
    if not hashes:
        return []
    chosen: list[tuple[int, int]] = []
    for start in range(max(len(hashes) - w + 1, 1)):
        window = hashes[start : start + w]
        low = min(window)
        pos = start + max(i for i, h in enumerate(window) if h == low)
        if not chosen or chosen[-1][1] != pos:
            chosen.append((low, pos))
    return chosen


@dataclass(frozen=True)
class Fingerprint:
    text: str
    tokens: tuple[Token, ...]
    grams: tuple[int, ...]  # the hash of the k-gram at each token, boilerplate included
    prints: frozenset[int]  # the winnowed hashes, boilerplate removed: two files with none in common share nothing
    own: int  # tokens not covered by a k-gram of the boilerplate: what a share is a share of
    boilerplate: frozenset[int]

    @property
    def hashes(self) -> frozenset[int]:
        """Every k-gram's hash but the boilerplate's (where the shares and the marked pieces come from)."""
        return frozenset(self.grams) - self.boilerplate


def fingerprint(text: str, boilerplate: frozenset[int] = frozenset()) -> Fingerprint:
    toks = tokens(text)
    grams = kgram_hashes(toks)
    common = [(i, i + K - 1) for i, h in enumerate(grams) if h in boilerplate]
    covered = sum(hi - lo + 1 for lo, hi in _merge(common))
    prints = frozenset(h for h, _ in winnow(grams) if h not in boilerplate)
    return Fingerprint(text, tuple(toks), tuple(grams), prints, len(toks) - covered, boilerplate)


def boilerplate_hashes(texts: Iterable[str]) -> frozenset[int]:
    """Every k-gram of the reference and starter code: shared with them is not shared between students."""
    return frozenset(h for text in texts for h in kgram_hashes(tokens(text)))


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _covered(fp: Fingerprint, common: frozenset[int]) -> list[tuple[int, int]]:
    """Merged (first, last) token ranges of `fp` covered by k-grams in `common`."""
    return _merge((pos, pos + K - 1) for pos, h in enumerate(fp.grams) if h in common)


def share(fp: Fingerprint, common: frozenset[int]) -> float:
    """The share of `fp`'s own tokens (boilerplate left out) covered by k-grams in `common`, at most 1."""
    if fp.own <= 0:
        return 0.0
    return min(sum(hi - lo + 1 for lo, hi in _covered(fp, common)) / fp.own, 1.0)


@dataclass(frozen=True)
class Piece:
    text: str
    shared: bool


def pieces(fp: Fingerprint, common: frozenset[int]) -> list[Piece]:
    """The source cut into shared and unshared pieces, for side-by-side display."""
    out: list[Piece] = []
    at = 0
    for lo, hi in _covered(fp, common):
        start, end = fp.tokens[lo].start, fp.tokens[min(hi, len(fp.tokens) - 1)].end
        if start > at:
            out.append(Piece(fp.text[at:start], False))
        out.append(Piece(fp.text[start:end], True))
        at = end
    if at < len(fp.text):
        out.append(Piece(fp.text[at:], False))
    return out


@dataclass(frozen=True)
class Pair:
    problem: str
    a: str
    b: str
    share_a: float  # of a's tokens, in code b has too
    share_b: float
    pieces_a: tuple[Piece, ...]
    pieces_b: tuple[Piece, ...]

    @property
    def score(self) -> float:
        return (self.share_a + self.share_b) / 2

    @property
    def anchor(self) -> str:
        digest = hashlib.sha256(f"{self.problem}\0{self.a}\0{self.b}".encode()).hexdigest()[:10]
        return f"pair-{self.problem}-{digest}"


@dataclass(frozen=True)
class ProblemSimilarity:
    problem: ProblemSpec
    compared: int  # students whose module was compared
    pairs: tuple[Pair, ...]  # the most similar first, at most SHOWN_PAIRS


def compare_problem(
    problem: ProblemSpec, sources: Mapping[str, str], boilerplate: Iterable[str] = (), *, top: int = SHOWN_PAIRS
) -> ProblemSimilarity:
    """The `top` most similar pairs of `sources` (student -> module text); ties by student names."""
    common_code = boilerplate_hashes(boilerplate)
    prints = {s: fingerprint(text, common_code) for s, text in sorted(sources.items())}
    students = list(prints)
    scored: list[tuple[float, str, str, float, float]] = []
    for i, a in enumerate(students):
        for b in students[i + 1 :]:
            if not prints[a].prints & prints[b].prints:  # winnowing: no shared run of K + W - 1 tokens
                continue
            common = prints[a].hashes & prints[b].hashes
            sa, sb = share(prints[a], common), share(prints[b], common)
            scored.append(((sa + sb) / 2, a, b, sa, sb))
    scored.sort(key=lambda x: (-x[0], x[1], x[2]))
    pairs = []
    for _, a, b, sa, sb in scored[:top]:
        common = prints[a].hashes & prints[b].hashes
        pairs.append(Pair(problem.id, a, b, sa, sb, tuple(pieces(prints[a], common)), tuple(pieces(prints[b], common))))
    return ProblemSimilarity(problem, len(students), tuple(pairs))


def starter_code(problem: ProblemSpec) -> list[str]:
    """The reference and any starter code (`problems/<a>/<p>/starter/*.py`) of a problem."""
    texts = []
    paths = [problem.reference, *sorted((problem.folder / "starter").glob("**/*.py"))]
    for path in paths:
        try:
            texts.append(Path(path).read_text(errors="replace"))
        except OSError:
            continue
    return texts


def compare_class(
    assignment: AssignmentSpec, results: Iterable[JobResult], *, top: int = SHOWN_PAIRS
) -> list[ProblemSimilarity]:
    """Per problem of the assignment, the most similar pairs of the students' stored modules."""
    modules: dict[str, dict[str, str]] = {p.id: {} for p in assignment.problems}
    files = {p.id: p.module_file for p in assignment.problems}
    for r in results:
        if r.problem not in modules or r.status == "missing":
            continue
        for name, text in r.sources:
            if name == files[r.problem]:
                modules[r.problem][r.student] = text
    return [compare_problem(p, modules[p.id], starter_code(p), top=top) for p in assignment.problems]
