"""`grader new ASSIGNMENT PROBLEM`: a problem folder that validates out of the box.

The scaffold is a small, complete problem (a leaky ReLU and its gradient) that shows every part an
author needs: a spec, a statement, tests with points, a named edge hit in every run (`@example`), an
oracle computed on the trusted side in float64, a forbidden name, two mutants that declare the tests
they fail, three correct alternatives, and the reference. `grader validate ASSIGNMENT/PROBLEM`
passes on it as written; the author then replaces the mathematics and keeps the shape.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from grader.errors import UsageError

_ASSIGNMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*\Z")
_PROBLEM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_PROBLEMS_LINE = re.compile(r"^problems\s*=\s*\[(?P<items>[^\]\n]*)\]\s*$", re.MULTILINE)

_PROBLEM_TOML = """\
id = "{problem}"
title = "A leaky ReLU and its gradient (the scaffold's example: replace it with your problem)"
module = "{problem}"                     # the student hands in {problem}.py
names = ["leaky_relu", "leaky_relu_grad"]   # the API: a name the student leaves out fails its tests
points = 10                              # the tests' @points must add up to this
forbidden = ["torch.autograd", "torch.Tensor.backward"]   # the gradient must be derived by hand

[limits]
call_timeout = 10                        # seconds per call into the student's code
job_timeout = 120                        # seconds for the whole problem
memory_mb = 1024

[hypothesis]
max_examples = 30
"""

_README = """\
# A leaky ReLU and its gradient

*This statement comes from `grader new`: replace it with your problem's, in your own words.*

For a slope `a` with `0 <= a <= 1`, the leaky ReLU is applied elementwise:

    leaky_relu(x, a) = x      where x > 0
                       a * x  elsewhere

Write, in `{problem}.py`:

- `leaky_relu(x: Tensor, slope: float) -> Tensor`: the function above, the shape and dtype of `x`.
- `leaky_relu_grad(x: Tensor, slope: float, dy: Tensor) -> Tensor`: given `dy`, the gradient of
  a loss with respect to the output, the gradient with respect to `x` (the shape and dtype of `x`).

Conventions:

- The derivative at exactly `x = 0` is `slope` (PyTorch's convention): tests include exact zeros.
- Inputs are float32 or float64 tensors of one to three dimensions; results keep the input's dtype.
- A function never modifies its arguments.
- `torch.autograd` and `Tensor.backward` are forbidden: derive the gradient by hand.
"""

_TEST = '''\
"""Tests for {assignment}/{problem}: the forward pass, the gradient, and the convention at exactly 0.

Run them against the reference with `pytest problems/{assignment}/{problem}`, against any file with
`--student PATH`, and check the whole problem with `grader validate {assignment}/{problem}`.
"""

import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st

from grader import assert_close, points
from grader.strategies import dtypes, seeds, tensor

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)
slopes = st.sampled_from([0.0, 1.0]) | st.floats(0.0, 1.0)  # both ends of the domain, then anything


def inputs(shape: tuple[int, ...], seed: int, dtype: torch.dtype, zeros: bool = False):
    """x and dy; with `zeros`, every other entry of x is exactly 0, where the convention decides."""
    x, dy = tensor(shape, seed, dtype=dtype), tensor(shape, seed + 1, dtype=dtype)
    if zeros:
        x.view(-1)[::2] = 0
    return x, dy


def expected_grad(x: torch.Tensor, slope: float, dy: torch.Tensor) -> torch.Tensor:
    """The oracle: autograd in float64, on the trusted side (the student may not use it)."""
    leaf = x.double().detach().requires_grad_(True)
    (F.leaky_relu(leaf, slope) * dy.double()).sum().backward()
    return leaf.grad


@points(3)
@given(shape=shapes, seed=seeds(), slope=slopes, dtype=dtypes())
def test_forward(student, shape, seed, slope, dtype):
    x, _ = inputs(shape, seed, dtype)
    assert_close(student.leaky_relu(x, slope), F.leaky_relu(x.double(), slope), dtype=dtype,
                 name="leaky_relu(x, slope)")


@points(4)
@given(shape=shapes, seed=seeds(), slope=slopes, dtype=dtypes())
def test_grad(student, shape, seed, slope, dtype):
    x, dy = inputs(shape, seed, dtype)
    assert_close(student.leaky_relu_grad(x, slope, dy), expected_grad(x, slope, dy), dtype=dtype,
                 name="leaky_relu_grad(x, slope, dy)")


@points(3)
@given(shape=shapes, seed=seeds(), slope=st.floats(0.1, 0.9), dtype=dtypes())
@example(shape=(2, 3), seed=0, slope=0.5, dtype=torch.float32)  # every run meets the convention at 0
def test_grad_at_zero(student, shape, seed, slope, dtype):
    x, dy = inputs(shape, seed, dtype, zeros=True)
    assert_close(student.leaky_relu_grad(x, slope, dy), expected_grad(x, slope, dy), dtype=dtype,
                 name="leaky_relu_grad(x, slope, dy) where x has exact zeros (the derivative there is slope)")
'''

_REFERENCE = '''\
"""Reference for {assignment}/{problem}: a leaky ReLU and its gradient (the scaffold's example)."""

import torch


def leaky_relu(x: torch.Tensor, slope: float) -> torch.Tensor:
    return torch.where(x > 0, x, slope * x)


def leaky_relu_grad(x: torch.Tensor, slope: float, dy: torch.Tensor) -> torch.Tensor:
    return torch.where(x > 0, dy, slope * dy)
'''

# Each mutant is a plausible wrong solution; its `# fails:` line lists the tests it must fail.
_MUTANTS = {
    # A mutant may be a unified diff against the reference (`diff -u`, `git diff`): it stays in step with it.
    "mask_includes_zero.diff": """\
# Takes the derivative at exactly 0 to be 1 (a mask `x >= 0`), against the statement's convention.
# fails: test_grad_at_zero
--- reference/{assignment}/{problem}.py
+++ mutants/mask_includes_zero.diff
@@ -10,2 +10,2 @@
 def leaky_relu_grad(x: torch.Tensor, slope: float, dy: torch.Tensor) -> torch.Tensor:
-    return torch.where(x > 0, dy, slope * dy)
+    return torch.where(x >= 0, dy, slope * dy)
""",
    "slope_forgotten_in_grad": """\
# Differentiates a plain ReLU: the gradient is 0, not slope, where x < 0.
# fails: test_grad, test_grad_at_zero
import torch


def leaky_relu(x, slope):
    return torch.where(x > 0, x, slope * x)


def leaky_relu_grad(x, slope, dy):
    return torch.where(x > 0, dy, torch.zeros_like(dy))
""",
}

# Correct solutions written far from the reference: each must score full marks.
_ALTERNATIVES = {
    "max_min": """\
# max(x, 0) + slope * min(x, 0), and the gradient from a mask of floats.
import torch


def leaky_relu(x, slope):
    return torch.clamp(x, min=0) + slope * torch.clamp(x, max=0)


def leaky_relu_grad(x, slope, dy):
    positive = (x > 0).to(dy.dtype)
    return dy * (positive + slope * (1 - positive))
""",
    "numpy_float64": """\
# NumPy in float64, converted back to the input's dtype.
import numpy as np
import torch


def leaky_relu(x, slope):
    a = x.detach().cpu().numpy().astype(np.float64)
    return torch.from_numpy(np.where(a > 0, a, slope * a)).to(x.dtype)


def leaky_relu_grad(x, slope, dy):
    a = x.detach().cpu().numpy().astype(np.float64)
    g = dy.detach().cpu().numpy().astype(np.float64)
    return torch.from_numpy(np.where(a > 0, g, slope * g)).to(x.dtype)
""",
    "layer_class": """\
# A textbook layer object with its own forward and backward methods (not autograd's).
import torch


class LeakyReLU:
    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        self.x = x
        return x.clone().masked_scatter_(x <= 0, (self.slope * x)[x <= 0])

    def backward(self, dy):
        return dy * torch.where(self.x > 0, torch.ones_like(dy), torch.full_like(dy, self.slope))


def leaky_relu(x, slope):
    return LeakyReLU(slope).forward(x)


def leaky_relu_grad(x, slope, dy):
    layer = LeakyReLU(slope)
    layer.forward(x)
    return layer.backward(dy)
""",
}


def new_problem(root: Path, assignment: str, problem: str) -> list[Path]:
    """Write a problem folder, its reference and (if needed) the assignment; return the files written.

    Raises UsageError, before writing anything, for an id that cannot be used, a problem that already
    exists, or an assignment.toml whose `problems` list cannot be extended safely.
    """
    if not _ASSIGNMENT.match(assignment):
        raise UsageError(f"assignment id {assignment!r} must be letters, digits, '_' and '-' (a folder name)")
    if not _PROBLEM.match(problem):
        raise UsageError(f"problem id {problem!r} must be a Python identifier (it is the student's module name)")
    folder = root / "problems" / assignment / problem
    reference = root / "reference" / assignment / f"{problem}.py"
    for path in (folder, reference):
        if path.exists():
            raise UsageError(f"{path} already exists: choose another problem id, or remove it first")
    toml = root / "problems" / assignment / "assignment.toml"
    assignment_text = _extended_assignment(toml, assignment, problem)

    files = {
        folder / "problem.toml": _PROBLEM_TOML,
        folder / "README.md": _README,
        folder / f"test_{problem}.py": _TEST,
        reference: _REFERENCE,
        **{folder / "mutants" / (name if "." in name else f"{name}.py"): text for name, text in _MUTANTS.items()},
        **{folder / "alternatives" / f"{name}.py": text for name, text in _ALTERNATIVES.items()},
    }
    written = []
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("{assignment}", assignment).replace("{problem}", problem))
        written.append(path)
    toml.write_text(assignment_text)
    written.append(toml)
    return written


def _extended_assignment(toml: Path, assignment: str, problem: str) -> str:
    """The text of assignment.toml with `problem` added to its `problems` list (a new file if none)."""
    if not toml.exists():
        return f'title = "{assignment}"\nproblems = ["{problem}"]\n'
    text = toml.read_text()
    try:
        problems = tomllib.loads(text).get("problems", [])
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{toml}: not valid TOML ({exc}); fix it, then run grader new again") from None
    if problem in problems:
        raise UsageError(f"{toml} already lists {problem!r}, but its folder is missing: remove it from the list first")
    match = _PROBLEMS_LINE.search(text)
    if match is None:
        raise UsageError(
            f"{toml}: the problems list is not on one line; add {problem!r} to it by hand, then run grader new again"
        )
    items = match.group("items").strip().rstrip(",")
    new_items = f'{items}, "{problem}"' if items else f'"{problem}"'
    return text[: match.start()] + f"problems = [{new_items}]" + text[match.end() :]
