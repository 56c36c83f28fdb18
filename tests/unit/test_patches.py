"""Mutants and alternatives as diffs against the reference (grader.course.patches, ProblemSpec.mutants)."""

from __future__ import annotations

import difflib

import pytest

from grader.course.patches import apply_diff
from grader.course.spec import load_assignment
from grader.errors import SpecError

REFERENCE = '''import torch


def f(x):
    return torch.relu(x)


def g(x, dy):
    return dy * (x > 0)
'''


def unified(old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), "reference", "mutant"))


@pytest.mark.parametrize(
    "mutant",
    [REFERENCE.replace("x > 0", "x >= 0"), REFERENCE.replace("import torch\n", "import torch\nimport math\n"),
     REFERENCE.replace("    return torch.relu(x)\n", ""), REFERENCE + "\n\ndef h():\n    return 1\n"],
)
def test_a_diff_made_by_difflib_gives_back_the_mutant(mutant):
    assert apply_diff(REFERENCE, "# fails: test_g\n" + unified(REFERENCE, mutant), where="m.diff") == mutant


def test_a_hunk_finds_its_lines_when_the_reference_moved():
    diff = unified(REFERENCE, REFERENCE.replace("x > 0", "x >= 0"))
    moved = "# a new first line\n\n" + REFERENCE
    assert apply_diff(moved, diff, where="m.diff") == moved.replace("x > 0", "x >= 0")


def test_a_hunk_that_no_longer_applies_names_the_file_and_the_hunk():
    diff = unified(REFERENCE, REFERENCE.replace("x > 0", "x >= 0"))
    with pytest.raises(SpecError, match=r"m.diff: hunk 1 does not apply to the reference"):
        apply_diff(REFERENCE.replace("dy * (x > 0)", "dy * (x > 0).to(dy.dtype)"), diff, where="m.diff")
    with pytest.raises(SpecError, match="no '@@ -a,b"):
        apply_diff(REFERENCE, "# fails: test_g\njust text\n", where="m.diff")


def test_diff_mutants_and_alternatives_are_read_with_the_files(tmp_path):
    problem = tmp_path / "problems/a/p"
    for folder in ("mutants", "alternatives"):
        (problem / folder).mkdir(parents=True)
    (tmp_path / "problems/a/assignment.toml").write_text('title = "A"\nproblems = ["p"]\n')
    (problem / "problem.toml").write_text('id = "p"\ntitle = "P"\nmodule = "p"\nnames = ["f", "g"]\npoints = 1\n')
    (problem / "README.md").write_text("f\n")
    (problem / "test_p.py").write_text("")
    (tmp_path / "reference/a").mkdir(parents=True)
    (tmp_path / "reference/a/p.py").write_text(REFERENCE)
    wrong = REFERENCE.replace("x > 0", "x >= 0")
    (problem / "mutants/mask_at_zero.diff").write_text("# the mask includes 0\n# fails: test_g\n" + unified(REFERENCE, wrong))
    (problem / "mutants/plain.py").write_text("# fails: test_f\ndef f(x):\n    return x\n")
    (problem / "alternatives/where.diff").write_text(unified(REFERENCE, REFERENCE.replace("dy * (x > 0)", "torch.where(x > 0, dy, 0 * dy)")))

    spec = load_assignment(tmp_path, "a").problem("p")
    mutants = {m.name: m for m in spec.mutants()}
    assert mutants["mask_at_zero"].source == wrong and mutants["mask_at_zero"].fails == {"test_g"}
    assert mutants["plain"].source.startswith("# fails: test_f")
    assert [name for name, _ in spec.alternatives()] == ["where"] and "torch.where" in spec.alternatives()[0][1]

    (problem / "mutants/plain.diff").write_text("# fails: test_f\n" + unified(REFERENCE, wrong))
    with pytest.raises(SpecError, match="plain.py: plain.diff has the same name"):
        spec.mutants()

