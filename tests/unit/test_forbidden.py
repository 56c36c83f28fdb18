"""Finding forbidden names in a student's source."""

from grader.forbidden import find_forbidden

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


def test_methods_match_on_any_object():
    assert found("def f(loss):\n    loss.backward()\n") == [(2, ".backward", "torch.Tensor.backward")]


def test_getattr_and_import_module_with_constant_strings():
    src = "import torch, importlib\nag = getattr(torch, 'autograd')\nm = importlib.import_module('torch.func')\n"
    assert found(src) == [(2, "torch.autograd", "torch.autograd"), (3, "torch.func", "torch.func")]


def test_allowed_code_is_not_flagged():
    src = "import torch\nwith torch.no_grad():\n    y = torch.nn.functional.conv1d(x, w)\n"
    assert found(src) == []


def test_message_names_file_line_and_rule():
    [v] = find_forbidden("import torch\ntorch.autograd.grad(a, b)\n", RULES)
    assert v.message("m.py") == "m.py line 2 uses torch.autograd.grad, which falls under the forbidden torch.autograd; this problem forbids it"
