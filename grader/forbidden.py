"""Finding uses of forbidden names (e.g. `torch.autograd`) in a student's source, with their lines.

The scan resolves import aliases (`import torch.nn.functional as F; F.conv2d`), `from` imports,
`getattr(torch, "autograd")` and `importlib.import_module("torch.autograd")` with constant strings.
A forbidden method such as `torch.Tensor.backward` matches any `.backward` attribute, since the type
of a receiver is unknown before running. The sandbox also replaces forbidden callables by tripwires,
so a use the scan cannot see still fails when it runs.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    name: str  # what the code refers to, e.g. torch.autograd.grad
    rule: str  # the forbidden entry it matches, e.g. torch.autograd
    line: int

    def message(self, filename: str) -> str:
        what = self.name if self.name == self.rule else f"{self.name}, which falls under the forbidden {self.rule}"
        return f"{filename} line {self.line} uses {what}; this problem forbids it"


def _is_method_rule(rule: str) -> bool:
    parts = rule.split(".")
    return len(parts) >= 2 and parts[-2][:1].isupper()


def _matches(name: str, rule: str) -> bool:
    return name == rule or name.startswith(rule + ".")


def find_forbidden(source: str, forbidden: Sequence[str]) -> list[Violation]:
    """Every use of a forbidden name in `source`, in line order (a SyntaxError propagates)."""
    if not forbidden:
        return []
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    found: list[Violation] = []
    methods = {rule.rsplit(".", 1)[1]: rule for rule in forbidden if _is_method_rule(rule)}

    def check(name: str, line: int) -> None:
        for rule in forbidden:
            if _matches(name, rule):
                found.append(Violation(name=name, rule=rule, line=line))
                return

    def resolve(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = resolve(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

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
            if node.attr in methods and isinstance(node.ctx, ast.Load):
                found.append(Violation(name=f".{node.attr}", rule=methods[node.attr], line=node.lineno))
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
