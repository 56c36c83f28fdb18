"""Finding uses of forbidden names (e.g. `torch.autograd`) spelled in a student's source, with their lines.

The scan reports only what it can name exactly: import aliases (`import torch.nn.functional as F;
F.conv2d`), `from` imports, and `getattr(torch, "autograd")` or `importlib.import_module("torch.autograd")`
with constant strings. A method is found only through its class (`torch.Tensor.backward`): `x.backward()`
is not reported, since the type of `x` is unknown before running (it may be the student's own layer
class). What the scan cannot name is caught when it runs: the sandbox installs tripwires
(grader.sandbox.tripwires) that make forbidden functions unusable however they are reached.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass


class SourceNotScanned(SyntaxError):
    """The source is too deeply nested (or too large) for the scan; the sandbox's tripwires still apply."""


@dataclass(frozen=True)
class Violation:
    name: str  # what the code refers to, e.g. torch.autograd.grad
    rule: str  # the forbidden entry it matches, e.g. torch.autograd
    line: int

    def message(self, filename: str) -> str:
        what = self.name if self.name == self.rule else f"{self.name}, which falls under the forbidden {self.rule}"
        return f"{filename} line {self.line} uses {what}; this problem forbids it"


def _matches(name: str, rule: str) -> bool:
    return name == rule or name.startswith(rule + ".")


def find_forbidden(source: str, forbidden: Sequence[str]) -> list[Violation]:
    """Every use of a forbidden name spelled in `source`, in line order.

    A SyntaxError propagates (the import reports it, with the student's line); so does
    :class:`SourceNotScanned` (a SyntaxError too) for source that Python's parser accepts but that is
    too deeply nested to walk.
    """
    if not forbidden:
        return []
    try:
        return _scan(source, forbidden)
    except SyntaxError:
        raise
    except (RecursionError, MemoryError, ValueError) as exc:
        raise SourceNotScanned(f"the source could not be scanned ({type(exc).__name__})") from None


def _scan(source: str, forbidden: Sequence[str]) -> list[Violation]:
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    found: list[Violation] = []

    def check(name: str, line: int) -> None:
        for rule in forbidden:
            if _matches(name, rule):
                found.append(Violation(name=name, rule=rule, line=line))
                return

    def resolve(node: ast.AST) -> str | None:
        attributes: list[str] = []  # walked without recursion: an attribute chain may be very long
        while isinstance(node, ast.Attribute):
            attributes.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in aliases:
            return None
        return ".".join([aliases[node.id], *reversed(attributes)])

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check(alias.name, node.lineno)
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    aliases[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                check(full, node.lineno)
                aliases[alias.asname or alias.name] = full
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = resolve(node)
            if name is not None:
                check(name, node.lineno)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[-1], ast.Constant):
            fn = node.func
            text = node.args[-1].value
            if not isinstance(text, str):
                continue
            if isinstance(fn, ast.Name) and fn.id == "getattr" and len(node.args) >= 2:
                base = resolve(node.args[0])
                if base is not None:
                    check(f"{base}.{text}", node.lineno)
            elif (isinstance(fn, ast.Name) and fn.id == "__import__") or resolve(fn) == "importlib.import_module":
                check(text, node.lineno)
    # `torch.autograd.grad` also contains the chain `torch.autograd`: keep the longest per line and rule.
    longest: dict[tuple[int, str], Violation] = {}
    for v in found:
        key = (v.line, v.rule)
        if key not in longest or len(v.name) > len(longest[key].name):
            longest[key] = v
    return sorted(longest.values(), key=lambda v: (v.line, v.name))
