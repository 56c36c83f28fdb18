"""Finding forbidden names in a student's source."""

import pytest

from grader.grading.forbidden import SourceNotScanned, find_forbidden

RULES = ["torch.autograd", "torch.Tensor.backward", "torch.nn.functional.conv2d", "torch.func"]


def found(source):
    return [(v.line, v.name, v.rule) for v in find_forbidden(source, RULES)]


def test_attribute_chains_through_import_aliases():
    src = "import torch\nimport torch.nn.functional as F\ny = F.conv2d(x, w)\ng = torch.autograd.grad(y, x)\n"
    assert found(src) == [
        (3, "torch.nn.functional.conv2d", "torch.nn.functional.conv2d"),
        (4, "torch.autograd.grad", "torch.autograd"),
    ]


def test_from_imports_and_module_imports():
    assert found("from torch.autograd import grad as g\n") == [(1, "torch.autograd.grad", "torch.autograd")]
    assert found("import torch.autograd\n") == [(1, "torch.autograd", "torch.autograd")]
    assert found("from torch import func\n") == [(1, "torch.func", "torch.func")]


def test_methods_match_only_through_their_class():
    assert found("import torch\ntorch.Tensor.backward(y)\n") == [(2, "torch.Tensor.backward", "torch.Tensor.backward")]
    assert found("from torch import Tensor\nb = Tensor.backward\n") == [(2, "torch.Tensor.backward", "torch.Tensor.backward")]
    # The type of a receiver is unknown before running: the tripwires catch a tensor's backward then.
    assert found("def f(loss):\n    loss.backward()\n") == []


def test_a_students_own_layer_classes_with_backward_methods_are_not_flagged():
    src = (
        "import numpy as np\n"
        "class Linear:\n"
        "    def backward(self, grad):\n"
        "        return grad @ self.w\n"
        "class Net:\n"
        "    def backward(self, grad):\n"
        "        for layer in reversed(self.layers):\n"
        "            grad = layer.backward(grad)\n"
        "        return self.backward_tail(grad)\n"
    )
    assert found(src) == []


@pytest.mark.parametrize("body", [
    "x = torch" + ".a" * 100_000,
    "x = f" + "()" * 100_000,
    "x = " + "+".join(["a"] * 100_000),
    "x = " + "-" * 100_000 + "1",
])
def test_source_too_deeply_nested_to_scan_is_a_syntax_error_not_a_crash(body):
    with pytest.raises(SourceNotScanned):
        find_forbidden("import torch\n" + body + "\n", RULES)


def test_a_long_attribute_chain_that_parses_is_resolved_without_recursion():
    chain = "torch.autograd" + ".x" * 5_000
    try:
        result = found(f"import torch\ny = {chain}\n")
    except SourceNotScanned:
        return  # too deep for this Python's parser: the tripwires still apply
    assert result == [(2, chain, "torch.autograd")]


def test_getattr_and_import_module_with_constant_strings():
    src = "import torch, importlib\nag = getattr(torch, 'autograd')\nm = importlib.import_module('torch.func')\n"
    assert found(src) == [(2, "torch.autograd", "torch.autograd"), (3, "torch.func", "torch.func")]


def test_allowed_code_is_not_flagged():
    src = "import torch\nwith torch.no_grad():\n    y = torch.nn.functional.conv1d(x, w)\n"
    assert found(src) == []


def test_message_names_file_line_and_rule():
    [v] = find_forbidden("import torch\ntorch.autograd.grad(a, b)\n", RULES)
    assert v.message("m.py") == "m.py line 2 uses torch.autograd.grad, which falls under the forbidden torch.autograd; this problem forbids it"
