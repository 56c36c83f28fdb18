"""Verdicts the trusted side makes itself, against submissions that lie, cheat or break what they return.

Two parts. First, one class of hostile submissions (tests/fixtures/hostile_verdicts/, each folder's
`_expected.toml` gives its score, status and a text it must be told, per problem) graded through the
real command line between two correct students, on problems that return modules or forbid autograd:
hw7/bn_fold, hw7/conv1d_backprop and hw6/split_transform_merge, gathered in one assignment. Second,
each mechanism on its own, through a sandbox session: protections read from outside the sandbox,
modules rebuilt on the trusted side, purity judged on the trusted side, and tripwires for forbidden
functions however they are reached.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
import tomllib
from pathlib import Path

import pytest
import torch

from grader import call_pure, remote_type
from grader.course.spec import Limits
from grader.grading.proxy import REMOTE_NOTE, SandboxRefused, StudentError, StudentFault, StudentSession

from .conftest import REPO, run_cli

HOSTILE = REPO / "tests/fixtures/hostile_verdicts"
EXPECTED_FILE = "_expected.toml"
PROBLEMS = {"bn_fold": "hw7", "conv1d_backprop": "hw7", "split_transform_merge": "hw6"}
ASSIGNMENT = "verdicts"

BUILD = "build"  # a table of _expected.toml that says how to finish a file when it is copied


def expectations(folder: Path) -> dict[str, dict[str, object]]:
    return tomllib.loads((folder / EXPECTED_FILE).read_text())


# (student, problem) -> {"score": ..., "status": ..., "says": ...}
EXPECTED: dict[tuple[str, str], dict[str, object]] = {
    (folder.name, problem): row
    for folder in sorted(HOSTILE.iterdir())
    for problem, row in expectations(folder).items()
    if problem != BUILD
}


def finish(folder: Path, build: dict[str, object]) -> None:
    """Append what a fixture cannot store: source nested too deeply for linters that recurse."""
    terms = int(build.get("nested_sum_terms", 0))  # type: ignore[call-overload]
    if terms:
        with open(folder / str(build["file"]), "a") as f:
            f.write("\n_TOTAL = " + " + ".join(["1"] * terms) + "\n")


def make_verdicts_course(root: Path) -> Path:
    """One assignment with the three problems, two correct students (the references) and the fixtures."""
    for problem, home in PROBLEMS.items():
        shutil.copytree(REPO / "problems" / home / problem, root / "problems" / ASSIGNMENT / problem,
                        ignore=shutil.ignore_patterns("__pycache__"))
        (root / "reference" / ASSIGNMENT).mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "reference" / home / f"{problem}.py", root / "reference" / ASSIGNMENT)
    (root / "problems" / ASSIGNMENT / "assignment.toml").write_text(
        f'title = "Verdicts"\ncourse = "Demo"\nproblems = {json.dumps(list(PROBLEMS))}\n'
    )
    subs = root / "submissions" / ASSIGNMENT
    for correct in ("aaa_correct", "zzz_correct"):
        (subs / correct).mkdir(parents=True)
        for problem, home in PROBLEMS.items():
            shutil.copy(REPO / "reference" / home / f"{problem}.py", subs / correct)
    for folder in sorted(HOSTILE.iterdir()):
        shutil.copytree(folder, subs / folder.name, ignore=shutil.ignore_patterns(EXPECTED_FILE))
        finish(subs / folder.name, expectations(folder).get(BUILD, {}))
    return root


@pytest.fixture(scope="module")
def verdicts_class(tmp_path_factory: pytest.TempPathFactory):
    root = make_verdicts_course(tmp_path_factory.mktemp("verdicts"))
    result = run_cli("--root", str(root), "grade", ASSIGNMENT, "--jobs", "2", timeout=1800)
    doc = json.loads((root / "reports" / ASSIGNMENT / "results.json").read_text())
    return result, {s["id"]: {p["id"]: p for p in s["problems"]} for s in doc["students"]}


def everything_said(problem: dict) -> str:
    parts = [problem["message"]]
    for t in problem["tests"]:
        parts += [t["message"], t["output"], t["student_traceback"], t["falsifying_example"]]
    return "\n".join(parts)


def test_the_run_ends_without_grader_errors(verdicts_class):
    result, students = verdicts_class
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    errors = {(s, p): q["message"][:300] for s, problems in students.items() for p, q in problems.items()
              if q["status"] == "error"}
    assert errors == {}


def test_correct_students_get_full_marks(verdicts_class):
    _, students = verdicts_class
    for student in ("aaa_correct", "zzz_correct"):
        assert {p: q["score"] for p, q in students[student].items()} == dict.fromkeys(PROBLEMS, 10), student


@pytest.mark.parametrize(("student", "problem"), sorted(EXPECTED), ids=lambda v: v)
def test_each_submission_gets_the_verdict_it_deserves(verdicts_class, student, problem):
    _, students = verdicts_class
    row = EXPECTED[student, problem]
    got = students[student][problem]
    said = everything_said(got)
    assert (got["score"], got["status"]) == (row["score"], row["status"]), said[:3000]
    assert str(row["says"]) in said, said[:3000]


def test_every_fixture_says_what_it_expects():
    folders = {p.name for p in HOSTILE.iterdir()}
    assert folders == {student for student, _ in EXPECTED}
    assert all(problem in PROBLEMS for _, problem in EXPECTED)


# -- each mechanism through a sandbox session -----------------------------------------------------------

LIMITS = Limits(call_timeout=10, import_timeout=10, job_timeout=120, memory_mb=1024)
AUTOGRAD_RULES = ("torch.autograd", "torch.Tensor.backward", "torch.func")


@pytest.fixture
def session_for(tmp_path, zygote):
    sessions: list[StudentSession] = []

    def make(source: str, *, forbidden: tuple[str, ...] = (), require: tuple[str, ...] = ()) -> StudentSession:
        student, work = tmp_path / f"student{len(sessions)}", tmp_path / f"work{len(sessions)}"
        student.mkdir()
        work.mkdir()
        (student / "sub.py").write_text(textwrap.dedent(source))
        session = StudentSession(zygote=zygote, student_dir=str(student), module="sub", workdir=str(work),
                                 limits=LIMITS, forbidden_calls=forbidden, require=require)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


def fully_protected_machine() -> bool:
    """Root on Linux with Landlock and seccomp: every protection can be on, so every one must be."""
    from grader.sandbox.confine import landlock_abi

    try:
        import pyseccomp  # noqa: F401
    except ImportError:
        return False
    return os.uname().sysname == "Linux" and os.geteuid() == 0 and landlock_abi() > 0


FORGES_THE_REPORT = """
    import gc
    NAMES = {"capabilities", "landlock", "seccomp", "disk_quota"}
    for obj in gc.get_objects():
        if isinstance(obj, dict) and set(obj) == NAMES:
            obj.update(dict.fromkeys(NAMES, "forged: on"))
    def f():
        return 1
"""


def test_protections_are_established_from_outside_and_a_forged_report_changes_nothing(session_for):
    honest = session_for("def f():\n    return 1\n")
    honest.module().f()
    forger = session_for(FORGES_THE_REPORT.replace('"forged: on"', "None"))
    forger.module().f()
    on = {name: value is not None for name, value in forger.protections.items()}
    assert on == {name: value is not None for name, value in honest.protections.items()}
    assert not any("forged" in str(v) for v in forger.protections.values())
    if fully_protected_machine():
        assert all(forger.protections.values()), forger.protections


def test_a_protection_switched_off_shows_as_off_whatever_the_sandbox_says(session_for, monkeypatch):
    monkeypatch.setenv("GRADER_SANDBOX_DISABLE", "seccomp")
    forger = session_for(FORGES_THE_REPORT)
    forger.module().f()
    assert forger.protections["seccomp"] is None
    with pytest.raises(SandboxRefused, match="'seccomp'"):
        session_for("def f():\n    return 1\n", require=("seccomp",)).module()


def test_the_kernel_view_of_an_unconfined_process_shows_every_protection_off():
    from grader.grading import protections
    from grader.sandbox.confine import PROTECTIONS

    # This test's own process: no seccomp filter, no_new_privs unset, the grader's own namespaces and
    # cgroups, no tmpfs on "/", and a hidden file it can read. Landlock's claim is the sandbox's word,
    # taken only with an unreadable canary; a protection this module cannot see is taken from it.
    claims = {name: "on, says the sandbox" for name in PROTECTIONS}
    seen = protections.observed(os.getpid(), workdir="/", reported=claims, canary_readable=True)
    if os.geteuid() == 0:
        assert seen == dict.fromkeys(PROTECTIONS)
    else:  # a process of an ordinary user has no uid 0 and no capabilities, but no seccomp filter either
        assert seen["seccomp"] is None and seen["landlock"] is None and seen["ipc_namespace"] is None


MODULES = """
    import copy
    import torch
    from torch import nn

    class Liar(nn.Module):
        def forward(self, x):
            return x * 0
    Liar.__module__, Liar.__qualname__ = "torch.nn.modules.linear", "Linear"

    class Conv2d(nn.Module):  # the student's own class, honestly named
        def forward(self, x):
            return x

    def liar():
        return Liar()

    def own():
        return Conv2d()

    def hooked(conv):
        out = copy.deepcopy(conv)
        out.register_forward_hook(lambda module, args, result: result * 0 + 42)
        return out

    def pair(n):
        layer = nn.Linear(n, n)
        return [layer, {"again": layer}]
"""


def test_a_module_is_what_its_tensors_compute_here_not_what_the_sandbox_says(session_for):
    m = session_for(MODULES).module()
    with pytest.raises(StudentError, match="claims to be a torch.nn.modules.linear.Linear was not sent as one"):
        m.liar()
    own = m.own()
    assert remote_type(own) == "sub.Conv2d" + REMOTE_NOTE and not remote_type(own).endswith("Conv2d")
    conv = torch.nn.Conv2d(1, 1, 2)
    x = torch.ones(1, 1, 3, 3)
    hooked = m.hooked(conv)
    assert type(hooked) is torch.nn.Conv2d and remote_type(hooked) == "torch.nn.modules.conv.Conv2d"
    assert torch.equal(hooked(x), conv(x))  # computed here, by the weights sent: the hook stayed behind
    layer, inner = m.pair(2)
    assert inner["again"] is layer  # one object in the sandbox is one object here


PURITY = """
    import sys

    def _nothing(*args, **kwargs):
        return []

    for name in ("grader.sandbox.purity", "grader.sandbox.server"):
        module = sys.modules.get(name)
        for attr in ("mutated_arguments", "changed_arguments", "snapshot_arguments"):
            if module is not None and hasattr(module, attr):
                setattr(module, attr, _nothing)

    def scale_(x):
        x.mul_(2)
        return 1

    def retrain(layer):
        layer.train()
        return 1
"""


def test_purity_is_judged_here_whatever_the_sandbox_replaced(session_for):
    m = session_for(PURITY).module()
    with pytest.raises(AssertionError, match=r"scale_ modified its argument 1 in place"):
        call_pure(m.scale_, torch.ones(3))
    with pytest.raises(AssertionError, match=r"retrain modified its argument 1 \(train/eval mode of the module\)"):
        call_pure(m.retrain, torch.nn.Linear(2, 2).eval())


def test_no_account_of_the_arguments_is_no_pass(session_for):
    m = session_for(PURITY.replace('"snapshot_arguments"', '"snapshot_arguments", "argument_images"')).module()
    with pytest.raises(AssertionError, match="scale_: the grader could not confirm that it left its arguments unchanged"):
        call_pure(m.scale_, torch.ones(3))


ATTACKS = {
    "built_name": ("getattr(torch, 'auto' + 'grad').grad(t, [x])", "torch.autograd.grad"),
    "importlib": ("importlib.import_module('torch.' + 'autograd').grad(t, [x])", "torch.autograd.grad"),
    "dunder_import": ("__import__('torch.autograd', fromlist=['grad']).backward(t)", "torch.autograd.backward"),
    "vars": ("vars(torch)['autograd'].backward(t)", "torch.autograd.backward"),
    "tensor_method": ("t.backward()", "torch.Tensor.backward"),
    "legacy_type": ("torch.FloatTensor.backward(t)", "torch.Tensor.backward"),
    "engine": ("sys.modules['torch.autograd.variable'].Variable._execution_engine.run_backward((t,), "
               "(torch.ones(()),), False, False, (), False, False)", "the backward engine"),
    "new_engine": ("[c for c in object.__subclasses__() if c.__name__ == '_EngineBase'][0]().run_backward((t,), "
                   "(torch.ones(()),), False, False, (), False, False)", "the backward engine"),
    "func_grad": ("torch.func.grad(lambda v: (v * v).sum())(torch.ones(2))", "torch.func.grad"),
    "func_jacfwd": ("torch.func.jacfwd(lambda v: v * v)(torch.ones(2))", "torch.func.jacfwd"),
    "functional": ("torch.autograd.functional.jacobian(lambda v: v * v, torch.ones(2))",
                   "torch.autograd.functional.jacobian"),
    "forward_mode": ("sys.modules['torch.autograd.forward_ad'].dual_level().__enter__()", "enter_dual_level"),
    "dual_level_in_C": ("torch._C._enter_dual_level()", "torch._C._enter_dual_level"),
}
ATTACK_MODULE = """
    import importlib
    import sys
    import torch

    def attack():
        x = torch.tensor([1.0, 2.0], requires_grad=True)
        t = (x * x).sum()
        try:
            {code}
        except BaseException:
            pass  # caught: the trip is still recorded, and nothing was computed
        return 1
"""


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_autograd_is_caught_when_it_runs_however_it_is_reached(session_for, name):
    code, called = ATTACKS[name]
    session = session_for(ATTACK_MODULE.replace("{code}", code), forbidden=AUTOGRAD_RULES)
    with pytest.raises(StudentFault, match="which this problem forbids"):
        session.module().attack()
    assert any(called in c for c in session.tripped), session.tripped
    with pytest.raises(StudentFault, match="which this problem forbids"):  # and it stays forbidden
        session.module().attack()


def test_the_recorded_graph_cannot_be_run_by_hand(session_for):
    m = session_for("""
        import torch
        def node():
            x = torch.tensor([1.0, 2.0], requires_grad=True)
            return (x * x).sum().grad_fn is None
    """, forbidden=AUTOGRAD_RULES).module()
    assert m.node() is True


def test_ordinary_code_is_untouched_by_the_tripwires(session_for):
    m = session_for("""
        import torch
        from torch import nn
        class Layer:  # the student's own backward method
            def backward(self, g):
                return 2 * g
        def work():
            layer = nn.Linear(2, 2)
            x = torch.ones(1, 2, requires_grad=True)
            y = layer(x)
            with torch.no_grad():
                z = layer(x)
            with torch.inference_mode():
                w = torch.nn.functional.conv1d(torch.ones(1, 1, 5), torch.ones(1, 1, 2))
            return repr(y)[:6], float(z.sum() - z.sum()), w.shape[-1], float(Layer().backward(torch.ones(()))), y.requires_grad
    """, forbidden=AUTOGRAD_RULES).module()
    assert m.work() == ("tensor", 0.0, 4, 2.0, True)


def test_a_forbidden_operator_is_refused_by_the_dispatcher_on_every_path(session_for):
    m = session_for("""
        import torch
        x, w = torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2)
        PATHS = {
            "torch": lambda: torch.conv2d(x, w),
            "functional": lambda: torch.nn.functional.conv2d(x, w),
            "ops": lambda: torch.ops.aten.conv2d(x, w),
            "module": lambda: torch.nn.Conv2d(1, 1, 2)(x),
        }
        def attempt(path):
            try:
                PATHS[path]()
            except BaseException as exc:
                return type(exc).__name__
            return "ran"
        def allowed():
            return torch.nn.functional.conv1d(torch.ones(1, 1, 3), torch.ones(1, 1, 2)).shape[-1]
    """, forbidden=("torch.nn.functional.conv2d",)).module()
    assert m.allowed() == 2
    with pytest.raises(StudentFault, match="called torch.nn.functional.conv2d, which this problem forbids"):
        m.attempt("ops")
