"""Similarity by winnowed fingerprints: renaming and comments change nothing, boilerplate never counts."""

from __future__ import annotations

from pathlib import Path

from grader.course.spec import Limits, ProblemSpec
from grader.results.similarity import K, W, compare_problem, fingerprint, kgram_hashes, share, tokens, winnow

ORIGINAL = '''import torch


def softmax(x, dim=-1):
    """Softmax along dim."""
    shifted = x - x.max(dim=dim, keepdim=True).values
    e = torch.exp(shifted)
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(x, dim=-1):
    total = 0.0
    for i in range(3):
        total = total + i * 2.5
    return torch.log(softmax(x, dim)) + total * 0
'''
RENAMED = '''import torch

# my own work


def soft(inputs, axis=-1):
    """A docstring of my own."""
    moved = inputs - inputs.max(dim=axis, keepdim=True).values  # stable
    ex = torch.exp(moved)
    return ex / ex.sum(dim=axis, keepdim=True)


def log_soft(inputs, axis=-1):
    acc = 0.0
    for j in range(3):
        acc = acc + j * 2.5
    return torch.log(soft(inputs, axis)) + acc * 0
'''
DIFFERENT = '''import numpy as np


def softmax(x, dim=-1):
    arr = np.asarray(x)
    arr = np.moveaxis(arr, dim, -1)
    out = []
    for row in arr.reshape(-1, arr.shape[-1]):
        m = max(row)
        ex = [np.exp(v - m) for v in row]
        out.append([v / sum(ex) for v in ex])
    return np.moveaxis(np.array(out).reshape(arr.shape), -1, dim)
'''


def problem(tmp_path: Path) -> ProblemSpec:
    return ProblemSpec(assignment="hw", id="softmax", title="Softmax", module="softmax", names=("softmax",), points=1.0,
                       forbidden=(), secret=False, limits=Limits(), max_examples=1, folder=tmp_path,
                       reference=tmp_path / "ref.py")


def test_names_strings_numbers_comments_and_docstrings_are_normalized():
    assert [t.kind for t in tokens('x = foo(1.5, "a")  # note\n')] == ["N", "=", "N", "(", "1", ",", "S", ")"]
    assert [t.kind for t in tokens(ORIGINAL)] == [t.kind for t in tokens(RENAMED)]


def test_winnowing_keeps_a_fingerprint_in_every_window():
    hashes = kgram_hashes(tokens(ORIGINAL))
    chosen = winnow(hashes)
    positions = [pos for _, pos in chosen]
    assert positions == sorted(set(positions))
    assert all(any(start <= p < start + W for p in positions) for start in range(len(hashes) - W + 1))
    assert len(tokens(ORIGINAL)) > K + W


def test_a_renamed_copy_shares_everything_and_another_solution_little(tmp_path):
    a, b, c = fingerprint(ORIGINAL), fingerprint(RENAMED), fingerprint(DIFFERENT)
    assert share(a, a.hashes & b.hashes) == 1.0 == share(b, a.hashes & b.hashes)
    assert share(a, a.hashes & c.hashes) < 0.2
    result = compare_problem(problem(tmp_path), {"ann": ORIGINAL, "zed": RENAMED, "bob": DIFFERENT})
    assert result.compared == 3
    first = result.pairs[0]
    assert (first.a, first.b, first.share_a, first.share_b) == ("ann", "zed", 1.0, 1.0)
    shared = "".join(p.text for p in first.pieces_b if p.shared)
    assert shared.startswith("import torch") and "moved = inputs" in shared  # all of it, comments within included
    assert "".join(p.text for p in first.pieces_b) == RENAMED  # the pieces are the whole file


def test_code_from_the_reference_or_starter_code_never_counts(tmp_path):
    result = compare_problem(problem(tmp_path), {"ann": ORIGINAL, "zed": RENAMED}, boilerplate=[ORIGINAL])
    assert result.pairs == ()
