"""Mutation analysis of the bank: small automatic changes to a reference that its tests must notice.

Each operator changes one place of the reference's source (`ast`): an arithmetic or comparison
operator swapped, `>` for `>=`, a constant moved by one or scaled, a term dropped from a sum, an axis
moved, a float64 cast made float32, a `keepdim` or boolean flipped, a slice bound moved by one, a
unary minus dropped. Every mutant is graded through the problem's own tests, in the sandbox, as a
student's module would be; one that scores full marks *survives*: either the tests are too weak to
tell it from the reference, or it is equivalent to it (computes the same thing), which the problem
records in `problem.toml`:

    [mutation]
    equivalent = ["L12C8:compare:Gt->GtE  the mask's value at exactly 0 never reaches the output"]

Mutants are generated here, not by a general mutation-testing tool: those run a project's test
command over its own package, while a mutant here must be graded the way a student's file is (one
module, sandboxed, through the problem's tests), and the grader already does that.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass

_SWAP_BINOP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.Pow: ast.Mult,
    ast.MatMult: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
}
_SWAP_COMPARE: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_AXIS_KEYWORDS = ("dim", "axis")
_FLOAT32_FOR = {"double": "float", "float64": "float32"}


@dataclass(frozen=True)
class Mutant:
    """One automatic change to a source: its id (line, operator, what changed) and the new source."""

    id: str
    source: str

    @property
    def line(self) -> int:
        return int(self.id.split(":", 1)[0][1:].split("C")[0])


def _name(node: object) -> str:
    return type(node).__name__


class _Sites(ast.NodeVisitor):
    """Every place an operator applies, as (path to the node, description, function that mutates a copy)."""

    def __init__(self) -> None:
        self.sites: list[tuple[str, str, list[tuple[str, int | None]], str]] = []
        self._path: list[tuple[str, int | None]] = []

    def generic_visit(self, node: ast.AST) -> None:
        for field, value in ast.iter_fields(node):
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        self._path.append((field, i))
                        self.visit(item)
                        self._path.pop()
            elif isinstance(value, ast.AST):
                self._path.append((field, None))
                self.visit(value)
                self._path.pop()

    def _add(self, node: ast.AST, kind: str, what: str) -> None:
        where = f"L{getattr(node, 'lineno', 0)}C{getattr(node, 'col_offset', 0)}"
        self.sites.append((where, kind, list(self._path), what))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        # Docstrings and annotations change nothing a test can see; the body is where mutants live.
        for i, item in enumerate(node.body):
            if i == 0 and isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant):
                continue
            self._path.append(("body", i))
            self.visit(item)
            self._path.pop()

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # a docstring
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if type(node.op) in _SWAP_BINOP:
            self._add(node, "binop", f"{_name(node.op)}->{_SWAP_BINOP[type(node.op)].__name__}")
        if isinstance(node.op, (ast.Add, ast.Sub)):
            self._add(node, "drop", "right term")
            if isinstance(node.op, ast.Add):
                self._add(node, "drop", "left term")
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        if len(node.ops) == 1 and type(node.ops[0]) in _SWAP_COMPARE:
            self._add(node, "compare", f"{_name(node.ops[0])}->{_SWAP_COMPARE[type(node.ops[0])].__name__}")
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, (ast.USub, ast.Not)):
            self._add(node, "unary", f"drop {_name(node.op)}")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            self._add(node, "constant", f"{value}->{not value}")
        elif isinstance(value, int):
            self._add(node, "constant", f"{value}->{value + 1}")
            if value != 0:
                self._add(node, "constant", f"{value}->{value - 1}")
        elif isinstance(value, float):
            self._add(node, "constant", f"{value!r}->{value * 2 if value else 1.0!r}")

    def visit_keyword(self, node: ast.keyword) -> None:
        value = node.value
        if node.arg in _AXIS_KEYWORDS and _int_constant(value) is not None:
            axis = _int_constant(value)
            assert axis is not None
            self._add(node, "axis", f"{node.arg}={axis}->{axis - 1 if axis < 0 else axis + 1}")
            return
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in _FLOAT32_FOR:
            self._add(node, "float32", f"{node.attr}->{_FLOAT32_FOR[node.attr]}")
        self.generic_visit(node)

    def visit_Slice(self, node: ast.Slice) -> None:
        for bound in ("lower", "upper"):
            if getattr(node, bound) is not None:
                self._add(node, "slice", f"{bound}+1")
        self.generic_visit(node)


def _int_constant(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        value = node.operand.value
        return -value if type(value) is int else None
    return None


def _resolve(tree: ast.AST, path: list[tuple[str, int | None]]) -> tuple[ast.AST, str, int | None, ast.AST]:
    """The node at `path` in `tree`, with its parent and where it sits in the parent."""
    parent, node = tree, tree
    field, index = "", None
    for field, index in path:
        parent = node
        value = getattr(node, field)
        node = value[index] if index is not None else value
    return parent, field, index, node


def _replace(parent: ast.AST, field: str, index: int | None, new: ast.AST) -> None:
    if index is None:
        setattr(parent, field, new)
    else:
        getattr(parent, field)[index] = new


def _apply(node: ast.AST, kind: str, what: str) -> ast.AST:
    """A mutated copy of `node`."""
    new = copy.deepcopy(node)
    if kind == "binop":
        assert isinstance(new, ast.BinOp)
        new.op = _SWAP_BINOP[type(new.op)]()
    elif kind == "drop":
        assert isinstance(new, ast.BinOp)
        return new.left if what == "right term" else new.right
    elif kind == "compare":
        assert isinstance(new, ast.Compare)
        new.ops = [_SWAP_COMPARE[type(new.ops[0])]()]
    elif kind == "unary":
        assert isinstance(new, ast.UnaryOp)
        return new.operand
    elif kind == "constant":
        assert isinstance(new, ast.Constant)
        value = new.value
        if isinstance(value, bool):
            new.value = not value
        elif isinstance(value, int):
            new.value = value + 1 if what.endswith(f"->{value + 1}") else value - 1
        elif isinstance(value, float):
            new.value = value * 2 if value else 1.0
    elif kind == "axis":
        assert isinstance(new, ast.keyword)
        axis = _int_constant(new.value)
        assert axis is not None
        moved = axis - 1 if axis < 0 else axis + 1
        new.value = ast.Constant(moved) if moved >= 0 else ast.UnaryOp(ast.USub(), ast.Constant(-moved))
    elif kind == "float32":
        assert isinstance(new, ast.Attribute)
        new.attr = _FLOAT32_FOR[new.attr]
    elif kind == "slice":
        assert isinstance(new, ast.Slice)
        bound = what.split("+")[0]
        setattr(new, bound, ast.BinOp(getattr(new, bound), ast.Add(), ast.Constant(1)))
    return new


def mutants(source: str) -> Iterator[Mutant]:
    """Every single-change mutant of `source` that still compiles and differs from it, in source order."""
    tree = ast.parse(source)
    original = ast.unparse(tree)
    finder = _Sites()
    finder.visit(tree)
    seen: set[str] = set()
    for where, kind, path, what in finder.sites:
        mutated = copy.deepcopy(tree)
        parent, field, index, node = _resolve(mutated, path)
        _replace(parent, field, index, _apply(node, kind, what))
        text = ast.unparse(ast.fix_missing_locations(mutated))
        if text == original or text in seen:
            continue
        try:
            compile(text, "<mutant>", "exec")
        except SyntaxError:
            continue
        seen.add(text)
        yield Mutant(id=f"{where}:{kind}:{what.replace(' ', '-')}", source=text + "\n")


def equivalent_ids(entries: list[str]) -> dict[str, str]:
    """`problem.toml`'s `[mutation] equivalent` entries ("ID  reason") as {id: reason}."""
    found = {}
    for entry in entries:
        mutant_id, _, reason = entry.strip().partition(" ")
        found[mutant_id] = reason.strip()
    return found
