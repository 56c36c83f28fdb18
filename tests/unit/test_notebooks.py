"""Notebook submissions: definitions are taken by parsing; top-level work and magics are left out."""

from __future__ import annotations

import nbformat

from grader.layouts import convert_notebooks
from grader.notebooks import extract_module


def notebook(*cells: str) -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Homework 7")] + [nbformat.v4.new_code_cell(c) for c in cells]
    return nbformat.writes(nb).encode()


TRAINING = notebook(
    "%matplotlib inline\nimport torch\nfrom torch import nn\n!pip install tqdm",
    "EPS = 1e-5\nSIZES = (3, 4)\ndevice = torch.device('cpu')\n\ndef nu(x, beta):\n    return torch.logsumexp(beta * x, -1) / beta",
    "class Net(nn.Module):\n    pass",
    "model = Net()\nfor epoch in range(10**9):\n    train(model)\nprint('done')\nmodel.weight = None",
    "%%time\nwhile True:\n    pass",
)


def test_definitions_are_kept():
    source = extract_module(TRAINING, name="hw7.ipynb").source
    for kept in ("import torch", "from torch import nn", "EPS = 1e-5", "SIZES = (3, 4)",
                 "device = torch.device('cpu')", "def nu(x, beta):", "class Net(nn.Module):"):
        assert kept in source
    compile(source, "hw7.py", "exec")


def test_top_level_work_and_magics_are_left_out_with_a_note():
    module = extract_module(TRAINING, name="hw7.ipynb")
    code = "\n".join(line for line in module.source.splitlines() if not line.startswith("#"))
    for left_out in ("for epoch", "print(", "model = Net()", "model.weight", "while True", "%matplotlib", "!pip"):
        assert left_out not in code
    assert "hw7.ipynb cell 1 line 1: skipped '%matplotlib inline' (a magic or shell line)" in module.notes
    assert "hw7.ipynb cell 1 line 4: skipped '!pip install tqdm' (a magic or shell line)" in module.notes
    assert "hw7.ipynb cell 4 line 2: left out top-level for loop (not run when grading)" in module.notes
    assert "hw7.ipynb cell 5: skipped the cell magic '%%time'" in module.notes
    assert "# note: hw7.ipynb cell 4 line 2: left out top-level for loop (not run when grading)" in module.source


def test_a_name_a_problem_asks_for_is_kept_whatever_its_value():
    data = notebook("import torch", "TOTAL_OPS = count(model)\nOTHER = count(model)")
    source = extract_module(data, name="nb.ipynb", keep=frozenset({"TOTAL_OPS"})).source
    assert "TOTAL_OPS = count(model)" in source
    assert "OTHER" not in source.split("# cell", 1)[1]


def test_a_cell_with_a_syntax_error_is_kept_so_the_import_reports_it():
    source = extract_module(notebook("def f(:\n    pass"), name="nb.ipynb").source
    assert "def f(:" in source


def test_a_broken_notebook_becomes_a_module_that_fails_to_import():
    module = extract_module(b"{not json", name="nb.ipynb")
    assert module.source.startswith("raise ImportError(")
    assert "not a readable Jupyter notebook" in module.notes[0]


def test_extraction_never_runs_the_notebook(tmp_path):
    canary = tmp_path / "ran"
    data = notebook(f"open({str(canary)!r}, 'w').write('x')", f"X = open({str(canary)!r}, 'w')")
    extract_module(data, name="nb.ipynb")
    assert not canary.exists()


def test_the_only_notebook_stands_in_for_missing_modules(tmp_path):
    (tmp_path / "homework.ipynb").write_bytes(TRAINING)
    (tmp_path / "bn_fold.py").write_text("X = 1\n")
    notes = convert_notebooks(tmp_path, modules=("true_softmax.py", "bn_fold.py"))
    assert notes == {"homework.ipynb": 7}  # 3 magics, 4 top-level statements
    assert "def nu(x, beta):" in (tmp_path / "true_softmax.py").read_text()
    assert (tmp_path / "homework.py").is_file()
    assert (tmp_path / "bn_fold.py").read_text() == "X = 1\n"  # a handed-in module wins
