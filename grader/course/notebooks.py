"""A Jupyter notebook submission turned into a module of its definitions, by parsing alone.

The grader never runs a notebook on the trusted side. It reads the notebook's code cells with
nbformat and keeps, with `ast`, the top-level statements that define things: imports, functions,
classes, and assignments whose value is a literal or a simple expression (arithmetic on literals
and names, containers of these, and calls of an imported module's functions on such values, like
`torch.device("cpu")`). Top-level work (a training loop, a call of the notebook's own functions,
`print`, plotting) is left out, unless the assignment names something a problem asks for (a name
in a problem's `names`, such as a constant computed by a call). Magics and shell lines
(`%matplotlib`, `!pip install`) are skipped, each with a note. The module that comes out is what
goes to the sandbox, like any student file.

A kept statement is kept whole: a decorated function or class with its decorators (`@dataclass`,
`@torch.no_grad()`), its comments, a statement that shares its line with others cut from that line.
This runs in the grader's own process, so its cost is bounded by the notebook's size: each cell is
parsed once, statements are cut by their positions (never by searching the cell again), expressions
are looked into only so deep, and a notebook over the budget (MAX_CODE_CHARS, MAX_STATEMENTS) is not
read ("could not read the submission: ..."). The worst notebooks within the budget take seconds.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

_MAGIC_PREFIXES = ("%", "!")
_MAX_NOTEBOOK_BYTES = 16 << 20
MAX_CODE_CHARS = 2 << 20  # the code cells' text that one notebook may hold (a long course notebook holds ~100 KB)
MAX_STATEMENTS = 20_000  # top-level statements in one notebook
MAX_NOTES_SHOWN = 200  # notes written at the top of the module (all are returned)
_MAX_DEPTH = 100  # an expression nested deeper than this is not a simple value (left out, never a RecursionError)


@dataclass(frozen=True)
class ExtractedModule:
    """A notebook's definitions as module source, and what was left out (one note per thing)."""

    source: str
    notes: tuple[str, ...]


def notebook_cells(data: bytes) -> list[str]:
    """The source of each code cell, in order; raises ValueError for a file that is not a notebook."""
    import nbformat

    if len(data) > _MAX_NOTEBOOK_BYTES:
        raise ValueError(f"the notebook is larger than {_MAX_NOTEBOOK_BYTES >> 20} MiB")
    try:
        nb = nbformat.reads(data.decode("utf-8", errors="replace"), as_version=4)
    except Exception as exc:  # noqa: BLE001  (nbformat raises many unrelated types for a broken file)
        raise ValueError(f"not a readable Jupyter notebook ({type(exc).__name__}: {exc})") from None
    return [str(cell.source) for cell in nb.cells if cell.cell_type == "code"]


def extract_module(data: bytes, *, name: str, keep: frozenset[str] = frozenset()) -> ExtractedModule:
    """The module made of notebook `name`'s definitions; `keep` names assignments kept whatever their value.

    The cost is linear in the notebook's size: each cell is parsed once and each kept statement is
    cut from the cell's lines by its position (decorators included). A notebook over the budget
    (MAX_CODE_CHARS of code, MAX_STATEMENTS top-level statements) is not read: the module that comes
    out fails to import with the reason, like a notebook that is not one.
    """
    try:
        cells = notebook_cells(data)
        code_chars = sum(len(c) for c in cells)
        if code_chars > MAX_CODE_CHARS:
            raise ValueError(
                f"could not read the submission: {code_chars} characters of code, more than the "
                f"grader reads ({MAX_CODE_CHARS})"
            )
        return _extract(cells, name, keep)
    except ValueError as exc:
        # A module that fails to import with the reason, so the student sees it as an import failure.
        return ExtractedModule(source=f"raise ImportError({f'{name}: {exc}'!r})\n", notes=(f"{name}: {exc}",))


def _extract(cells: list[str], name: str, keep: frozenset[str]) -> ExtractedModule:
    notes: list[str] = []
    parts: list[str] = [f"# Definitions taken from {name} by the grader; top-level work was left out.\n"]
    imported: set[str] = set()
    statements = 0
    for number, text in enumerate(cells, start=1):
        code = _strip_magics(text, f"{name} cell {number}", notes)
        if not code.strip():
            continue
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            # Kept as written: importing the module then reports the error at the student's line.
            parts.append(f"# cell {number}\n{code}\n")
            continue
        except (RecursionError, MemoryError):
            # Valid Python nested deeper than the parser goes (`print(1+1+...+1)`): Python cannot run it
            # either, so it is no definition the grader could keep; left out, with a note.
            notes.append(f"{name} cell {number}: left out the whole cell (nested too deeply for Python to read)")
            continue
        statements += len(tree.body)
        if statements > MAX_STATEMENTS:
            raise ValueError(f"could not read the submission: more than {MAX_STATEMENTS} top-level statements")
        lines = code.splitlines(keepends=True)
        encoded: dict[int, bytes] = {}
        kept: list[str] = []
        for index, node in enumerate(tree.body):
            if _keeps(node, imported, keep):
                _note_imports(node, imported)
                kept.append(_segment(lines, tree.body, index, encoded))
            else:
                notes.append(
                    f"{name} cell {number} line {node.lineno}: left out top-level "
                    f"{_describe(node)} (not run when grading)"
                )
        if kept:
            parts.append(f"# cell {number}\n" + "\n".join(kept) + "\n")
    shown = (
        notes
        if len(notes) <= MAX_NOTES_SHOWN
        else [*notes[:MAX_NOTES_SHOWN], f"... and {len(notes) - MAX_NOTES_SHOWN} more"]
    )
    header = "".join(f"# note: {n}\n" for n in shown)
    return ExtractedModule(source=parts[0] + header + "\n".join(parts[1:]), notes=tuple(notes))


def _first_line(node: ast.stmt) -> int:
    """The first line of a statement, its decorators included (`node.lineno` is the `def`'s or `class`'s)."""
    decorators = getattr(node, "decorator_list", None) or []
    return min([node.lineno, *(d.lineno for d in decorators)])


def _segment(lines: list[str], body: list[ast.stmt], index: int, encoded: dict[int, bytes]) -> str:
    """The source of top-level statement `body[index]`, decorators included, cut from the cell's lines.

    Whole lines where the statement has its lines to itself; where it shares one with another
    statement (`import os; x = 1`), from its first to its last character (the parser's offsets count
    UTF-8 bytes: each such line is encoded once, so that a line of many statements costs its length).
    """
    node = body[index]
    first, last = _first_line(node), node.end_lineno or node.lineno
    shares = (index > 0 and (body[index - 1].end_lineno or 0) >= first) or (
        index + 1 < len(body) and _first_line(body[index + 1]) <= last
    )
    if not shares:
        return "".join(lines[first - 1 : last]).rstrip("\n")
    start = 0 if getattr(node, "decorator_list", None) else node.col_offset
    end = node.end_col_offset if node.end_col_offset is not None else len(_encoded(lines, last, encoded))
    if first == last:
        return _encoded(lines, first, encoded)[start:end].decode("utf-8", "replace")
    middle = "".join(lines[first : last - 1])
    return (
        _encoded(lines, first, encoded)[start:].decode("utf-8", "replace")
        + middle
        + _encoded(lines, last, encoded)[:end].decode("utf-8", "replace")
    )


def _encoded(lines: list[str], number: int, encoded: dict[int, bytes]) -> bytes:
    if number not in encoded:
        encoded[number] = lines[number - 1].encode("utf-8", "surrogatepass")
    return encoded[number]


def _strip_magics(text: str, where: str, notes: list[str]) -> str:
    lines = text.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        notes.append(f"{where}: skipped the cell magic {lines[0].strip()!r}")
        return ""
    out = []
    for i, line in enumerate(lines, start=1):
        stripped = line.lstrip()
        if stripped.startswith(_MAGIC_PREFIXES) or (stripped.endswith("?") and not stripped.startswith("#")):
            notes.append(f"{where} line {i}: skipped {stripped[:60]!r} (a magic or shell line)")
            out.append("")  # keep line numbers
        else:
            out.append(line)
    return "\n".join(out)


def _keeps(node: ast.stmt, imported: set[str], keep: frozenset[str]) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, ast.Try):  # `try: import x except ImportError: ...`
        return all(
            isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass)) or _keeps(s, imported, keep)
            for block in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers])
            for s in block
        )
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
        return True  # a docstring
    targets: list[ast.expr]
    value: ast.expr | None
    if isinstance(node, ast.Assign):
        targets, value = node.targets, node.value
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets, value = [node.target], node.value
    else:
        return False
    if not all(_is_plain_target(t) for t in targets):
        return False
    if keep and any(n in keep for t in targets for n in _target_names(t)):
        return True
    return value is None or _is_simple(value, imported)


def _is_plain_target(target: ast.expr) -> bool:
    if isinstance(target, ast.Name):
        return True
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(_is_plain_target(e) for e in target.elts)
    return False  # `model.weight = ...`, `x[0] = ...` change objects: that is work, not a definition


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for e in target.elts for n in _target_names(e)]
    return []


def _is_simple(node: ast.expr, imported: set[str], depth: int = 0) -> bool:
    """A literal, a name, or arithmetic, containers, attributes and module-function calls of these.

    An expression nested deeper than _MAX_DEPTH is not simple: it is left out, never a RecursionError.
    """
    if depth > _MAX_DEPTH:
        return False
    if isinstance(node, (ast.Constant, ast.Name, ast.Lambda)):
        return True
    if isinstance(node, ast.Attribute):
        return _is_simple(node.value, imported, depth + 1)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_simple(e, imported, depth + 1) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is None or _is_simple(k, imported, depth + 1) for k in node.keys) and all(
            _is_simple(v, imported, depth + 1) for v in node.values
        )
    if isinstance(node, ast.UnaryOp):
        return _is_simple(node.operand, imported, depth + 1)
    if isinstance(node, ast.BinOp):
        return _is_simple(node.left, imported, depth + 1) and _is_simple(node.right, imported, depth + 1)
    if isinstance(node, ast.BoolOp):
        return all(_is_simple(v, imported, depth + 1) for v in node.values)
    if isinstance(node, ast.Compare):
        return _is_simple(node.left, imported, depth + 1) and all(
            _is_simple(c, imported, depth + 1) for c in node.comparators
        )
    if isinstance(node, ast.Subscript):
        return _is_simple(node.value, imported, depth + 1) and _is_simple(node.slice, imported, depth + 1)
    if isinstance(node, ast.Slice):
        return all(p is None or _is_simple(p, imported, depth + 1) for p in (node.lower, node.upper, node.step))
    if isinstance(node, ast.Starred):
        return _is_simple(node.value, imported, depth + 1)
    if isinstance(node, ast.Call):
        # `torch.device("cpu")`, `math.sqrt(2)`: a function of an imported module on simple values.
        # A call of the notebook's own functions or objects (`train(model)`, `model.fit()`) is work.
        root = node.func
        while isinstance(root, ast.Attribute):
            root = root.value
        return (
            isinstance(node.func, ast.Attribute)
            and isinstance(root, ast.Name)
            and root.id in imported
            and all(_is_simple(a, imported, depth + 1) for a in node.args)
            and all(_is_simple(k.value, imported, depth + 1) for k in node.keywords)
        )
    return False


def _note_imports(node: ast.stmt, imported: set[str]) -> None:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Import):
            for alias in sub.names:
                imported.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(sub, ast.ImportFrom):
            for alias in sub.names:
                # Only modules count as roots of a constructor call: `from torch import nn` gives `nn`.
                if alias.name[:1].islower():
                    imported.add(alias.asname or alias.name)


def _describe(node: ast.stmt) -> str:
    kinds = {
        ast.For: "for loop",
        ast.While: "while loop",
        ast.With: "with block",
        ast.If: "if block",
        ast.Expr: "expression",
        ast.Assign: "assignment",
        ast.AugAssign: "assignment",
        ast.AnnAssign: "assignment",
    }
    for kind, label in kinds.items():
        if isinstance(node, kind):
            return label
    return type(node).__name__.lower()
