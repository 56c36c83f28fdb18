"""Student kits built from a small course and from the bank: no secret in what is shipped, the kit is a
course folder that `grader check` uses, and its recorded and hashed checks tell each declared mutant
apart. Each builds a kit (a pytest run over the problem's tests, a sandbox per mutant): end-to-end."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.distribute.kit import build_kit
from grader.grading.answers import hash_answer, matches

# -- a kit built from a small course --------------------------------------------------------------------

REFERENCE_DOUBLE = '''"""Reference: REFERENCE-SOURCE-MARKER-double."""
import torch


def double(x):
    return x * 2.0  # reference-only-comment-5d1e


def make_doubler():
    return torch.nn.Linear(1, 1)
'''

REFERENCE_ANSWER = '''"""Reference: REFERENCE-SOURCE-MARKER-answer."""
import torch

MAGIC = 918273645


def solve(x):
    return (x.double() * 3.0).sum(dim=-1)  # reference-only-comment-77aa
'''

TEST_DOUBLE = '''"""Tests for double."""
import torch
from hypothesis import given
from hypothesis import strategies as st

from grader import assert_close, hidden, points


def _secret_inputs():
    return "CANARY-helper-e9d0"


@points(2)
@given(n=st.integers(1, 4))
def test_double_by_oracle(student, n):
    x = torch.arange(n, dtype=torch.float64)
    assert_close(student.double(x), x + x, name="double(x)")


@points(1)
@given(n=st.integers(1, 4))
def test_double_against_reference(student, reference, n):
    x = torch.linspace(-1, 1, n, dtype=torch.float64)
    assert_close(student.double(x), reference.double(x), name="double(x)")


@points(2)
def test_doubler_module(student, reference):
    # Only an object comes back from the student's code: nothing the kit can hash.
    assert student.make_doubler()(torch.ones(1, 1)).shape == reference.make_doubler()(torch.ones(1, 1)).shape


@points(1)
@hidden
def test_hidden_edge_case(student):
    assert _secret_inputs()  # CANARY-hidden-4c21
    assert_close(student.double(torch.zeros(3, dtype=torch.float64)), torch.zeros(3, dtype=torch.float64))
'''

TEST_ANSWER = '''"""Tests for answer: the test knows the answer, so the problem is secret."""
import torch
from hypothesis import given
from hypothesis import strategies as st

from grader import assert_close, call_pure, points


@points(2)
@given(n=st.integers(1, 5), m=st.integers(1, 3))
def test_solve(student, n, m):
    x = torch.arange(n * m, dtype=torch.float64).reshape(m, n) / 3
    assert_close(call_pure(student.solve, x), (x * 3.0).sum(dim=-1), name="solve(x)")


@points(1)
def test_magic(student):
    assert student.MAGIC == 918273645
'''


def write_problem(root: Path, problem: str, *, names: list[str], points: int, test: str, reference: str,
                  secret: bool) -> None:
    folder = root / "problems/hwk" / problem
    (folder / "mutants").mkdir(parents=True)
    (folder / "problem.toml").write_text(
        f'id = "{problem}"\ntitle = "{problem}"\nmodule = "{problem}"\nnames = {names!r}\n'
        f"points = {points}\nsecret = {'true' if secret else 'false'}\n\n[hypothesis]\nmax_examples = 5\n"
    )
    (folder / "README.md").write_text(f"# {problem}\n\nThe statement.\n")
    (folder / f"test_{problem}.py").write_text(test)
    (root / "reference/hwk").mkdir(parents=True, exist_ok=True)
    (root / "reference/hwk" / f"{problem}.py").write_text(reference)


def make_small_course(root: Path) -> Path:
    write_problem(root, "double", names=["double", "make_doubler"], points=6, test=TEST_DOUBLE, reference=REFERENCE_DOUBLE,
                  secret=False)
    write_problem(root, "answer", names=["solve", "MAGIC"], points=3, test=TEST_ANSWER, reference=REFERENCE_ANSWER,
                  secret=True)
    (root / "problems/hwk/assignment.toml").write_text('title = "Small"\nproblems = ["double", "answer"]\n')
    return root


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    course = make_small_course(tmp_path_factory.mktemp("course"))
    out = tmp_path_factory.mktemp("kit") / "kit"
    return course, out, build_kit(course, "hwk", out)


def kit_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def test_the_kit_holds_no_secret(kit):
    course, out, _ = kit
    secrets = [b"CANARY", b"test_hidden_edge_case", b"_secret_inputs", b"REFERENCE-SOURCE-MARKER",
               b"reference-only-comment", b"918273645"]
    for path in kit_files(out):
        if "grader" in path.relative_to(out).parts[:1]:
            continue  # the harness's own source, copied as is
        data = path.read_bytes()
        for secret in secrets:
            assert secret not in data, f"{secret!r} in {path}"
    reference_lines = {line.strip() for ref in (course / "reference/hwk").glob("*.py")
                       for line in ref.read_text().splitlines() if len(line.strip()) > 12}
    for path in kit_files(out):
        if path.suffix in (".py", ".md", ".toml", ".txt"):
            text = path.read_text()
            assert not [line for line in reference_lines if line in text], path


def test_the_kit_is_a_course_folder_that_grader_check_can_use(kit):
    from grader.course.spec import load_assignment

    _, out, built = kit
    assignment = load_assignment(out, "hwk")  # validates the kit's specs
    assert [(p.id, p.points) for p in assignment.problems] == [("double", 3.0), ("answer", 3.0)]
    assert [(kp.id, kp.tests, kp.hashed, kp.instructor_only, kp.hidden) for kp in built.problems] == [
        ("double", ["test_double_by_oracle", "test_double_against_reference"], ["test_double_against_reference"],
         ["test_doubler_module"], 1),
        ("answer", ["test_solve", "test_magic"], ["test_solve", "test_magic"], [], 0),
    ]
    assert "test_doubler_module" not in (out / "problems/hwk/double/test_double.py").read_text()
    double_tests = (out / "problems/hwk/double/test_double.py").read_text()
    assert TEST_DOUBLE[TEST_DOUBLE.index("@points(2)"):TEST_DOUBLE.index("@points(1)\n@given")] in double_tests
    assert "_kit_check_answers(student, __file__, 'test_double_against_reference')" in double_tests
    assert "@_kit_points(1)\ndef test_double_against_reference(student):" in double_tests
    assert (out / "problems/hwk/answer/kit_answers.pt").is_file()
    assert "points = 3  # the kit's tests only" in (out / "problems/hwk/double/problem.toml").read_text()
    assert (out / "requirements.txt").read_text().splitlines()[1].startswith("torch")
    assert (out / "grader/cli.py").is_file() and (out / "pyproject.toml").is_file()
    readme = (out / "README.md").read_text()
    assert "grader check hwk path/to/your/folder --problem ID" in readme
    assert "| answer | `answer.py` | 2 | 3 / 3 | 2 checked against hashed answers |" in readme
    assert ("| double | `double.py` | 2 | 3 / 6 | 1 checked against hashed answers; 1 checked by the instructor "
            "only (test_doubler_module); 1 hidden (graded by the instructor only) |") in readme


def test_the_recorded_checks_pass_the_reference_and_fail_a_wrong_answer(kit):
    from grader.grading.answers import load_checks

    _, out, _ = kit
    checks = load_checks(str(out / "problems/hwk/answer/test_answer.py"))
    assert {c.test for c in checks} == {"test_solve", "test_magic"}
    assert {(c.name, c.kind, c.pure) for c in checks} == {("solve", "call", True), ("MAGIC", "attribute", False)}
    for c in checks:
        if c.kind == "call":
            x = c.args[0]
            assert matches((x * 3.0).sum(dim=-1).float(), c.answer)[0]
            assert not matches((x * 3.0).sum(dim=-1) + 1, c.answer)[0]
        else:
            assert matches(918273645, c.answer)[0] and not matches(918273646, c.answer)[0]


def test_the_hashed_checks_of_a_secret_bank_problem_fail_each_mutant_exactly_as_declared(tmp_path):
    import shutil
    import types

    from grader import call_pure
    from grader.course.spec import load_problem
    from grader.grading.answers import load_checks

    repo = Path(__file__).resolve().parents[2]
    course = tmp_path / "course"
    shutil.copytree(repo / "problems/hw7/layer_ops", course / "problems/hw7/layer_ops",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (course / "problems/hw7/assignment.toml").write_text('title = "hw7"\nproblems = ["layer_ops"]\n')
    (course / "reference/hw7").mkdir(parents=True)
    shutil.copy(repo / "reference/hw7/layer_ops.py", course / "reference/hw7")
    build_kit(course, "hw7", tmp_path / "kit")
    checks = load_checks(str(tmp_path / "kit/problems/hw7/layer_ops/test_layer_ops.py"))

    def failing(name: str, source: str) -> set[str]:
        module = types.ModuleType(f"_kit_mutant_{name}")
        exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102  (bank code: trusted)
        failed = set()
        for c in checks:
            value = getattr(module, c.name)
            try:  # as the kit's tests do: a check recorded through call_pure also checks purity
                if c.kind == "call":
                    value = call_pure(value, *c.args, **c.kwargs) if c.pure else value(*c.args, **c.kwargs)
            except AssertionError:
                failed.add(c.test)
                continue
            if not matches(value, c.answer)[0]:
                failed.add(c.test)
        return failed

    problem = load_problem(course, "hw7", "layer_ops")
    assert failing("reference", problem.reference.read_text()) == set()
    for mutant in problem.mutants():  # .py files and .diffs applied to the reference
        assert failing(mutant.name, mutant.source) == set(mutant.fails), mutant.name


def test_check_answers_passes_a_right_module_and_explains_a_wrong_one(kit):
    from types import SimpleNamespace

    from grader.grading.answers import check_answers

    _, out, _ = kit
    test_file = str(out / "problems/hwk/double/test_double.py")
    check_answers(SimpleNamespace(double=lambda x: x.float() * 2), test_file, "test_double_against_reference")
    with pytest.raises(AssertionError) as failure:
        check_answers(SimpleNamespace(double=lambda x: x * 3), test_file, "test_double_against_reference")
    message = str(failure.value)
    assert message.startswith("double(tensor(shape=(1,), dtype=float64)): wrong answer on fixed input 1 of ")
    assert "the values differ from the expected float tensor(1)" in message


def test_the_kit_keeps_a_check_that_tells_each_declared_mutant_apart(tmp_path):
    """Only the 20th of 20 recorded calls tells the mutant apart: a plain spread of 8 would miss it."""
    from grader.course.spec import Limits, ProblemSpec
    from grader.distribute.kit import MAX_CHECKS_PER_TEST, _select

    folder = tmp_path / "p"
    (folder / "mutants").mkdir(parents=True)
    (folder / "mutants" / "wrong_at_19.py").write_text("# fails: test_f\ndef f(x):\n    return x * 2 if x != 19 else 0\n")
    (folder / "mutants" / "other_test.py").write_text("# fails: test_g\ndef f(x):\n    return 0\n")
    problem = ProblemSpec(
        assignment="a", id="p", title="p", module="p", names=("f",), points=1.0, forbidden=(), secret=True,
        limits=Limits(), max_examples=10, folder=folder, reference=tmp_path / "ref.py",
    )
    recorded = [
        {"test": "test_f", "name": "f", "kind": "call", "args": [x], "kwargs": {},
         "answer": __import__("dataclasses").asdict(hash_answer(2 * x))}
        for x in range(20)
    ]
    kept = _select(recorded, problem, "test_f")
    assert len(kept) == MAX_CHECKS_PER_TEST
    assert [19] in [c["args"] for c in kept]
