"""Automatic mutants of a reference: each operator, unique ids, sources that compile, and equivalents."""

from __future__ import annotations

import textwrap

from grader.run.mutate import equivalent_ids, mutants

SOURCE = textwrap.dedent('''
    """A docstring is never mutated."""
    import torch


    def f(x, y):
        """Neither is a function's."""
        z = x @ y + 1
        mask = z > 0
        s = z.sum(dim=-1, keepdim=True)
        return -(z * mask)[1:] / s, x.double()
''')


def test_every_operator_applies_and_ids_are_unique():
    found = list(mutants(SOURCE))
    ids = [m.id for m in found]
    assert len(ids) == len(set(ids))
    kinds = {i.split(":")[1] for i in ids}
    assert kinds == {"binop", "drop", "compare", "constant", "axis", "unary", "slice", "float32"}
    by_id = {m.id: m.source for m in found}
    assert any("z >= 0" in src for src in by_id.values())  # > became >=
    assert any("dim=-2" in src for src in by_id.values())  # the axis moved
    assert any("keepdim=False" in src for src in by_id.values())
    assert any("x.float()" in src for src in by_id.values())  # a float32 cast
    assert any("[1 + 1:]" in src for src in by_id.values())  # a slice bound moved by one
    assert any("z = x @ y\n" in src for src in by_id.values())  # a dropped term
    assert all("A docstring" in src and "Neither is" in src for src in by_id.values())


def test_each_mutant_compiles_differs_and_names_its_line():
    original = mutants.__globals__["ast"].unparse(mutants.__globals__["ast"].parse(SOURCE)) + "\n"
    for m in mutants(SOURCE):
        compile(m.source, m.id, "exec")
        assert m.source != original
        assert m.line in (8, 9, 10, 11)  # the body of f, never a docstring


def test_the_same_source_gives_the_same_mutants():
    assert [(m.id, m.source) for m in mutants(SOURCE)] == [(m.id, m.source) for m in mutants(SOURCE)]


def test_equivalent_entries_are_an_id_and_a_reason():
    assert equivalent_ids(["L8C11:compare:Gt->GtE  the mask at 0 is never used"]) == {
        "L8C11:compare:Gt->GtE": "the mask at 0 is never used"
    }
