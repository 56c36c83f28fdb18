"""Tripwires planned once in the zygote and installed in each sandbox forked from it.

Each test runs in a fresh interpreter: installing tripwires changes torch for the whole process.
"""

import subprocess
import sys
import textwrap

AUTOGRAD_RULES = ("torch.autograd", "torch.Tensor.backward", "torch.func")


def run_fresh(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_bank_rules_are_planned_in_the_zygote_without_importing_anything():
    run_fresh(f"""
        import sys
        from grader.sandbox import zygote
        zygote.import_libraries()
        from grader.sandbox import tripwires
        conv_rules = ("torch.nn.functional.conv2d", "torch.nn.Conv2d", "torch.nn.grad") + {AUTOGRAD_RULES!r}
        for rules in ({AUTOGRAD_RULES!r}, conv_rules):
            loaded = set(sys.modules)
            tripwires.prepare(rules)
            assert set(sys.modules) == loaded, set(sys.modules) - loaded
            assert rules in tripwires._PLANS, rules
        # What the zygote found is what a sandbox without a plan would find.
        def where(plan):
            return (sorted((id(n), k, id(o)) for n, k, o, _ in plan.bindings),
                    sorted((id(c), k, id(o)) for c, k, o, _ in plan.holders), plan.operators, plan.unknown)
        fresh = tripwires._plan(conv_rules, importing=True)
        fresh.locate()
        assert where(fresh) == where(tripwires._PLANS[conv_rules])
        assert len(fresh.bindings) > 50 and len(fresh.holders) > 30
    """)


def test_a_planned_sandbox_also_guards_modules_and_classes_made_after_the_plan():
    run_fresh(f"""
        import sys, types
        import torch
        from grader.sandbox import tripwires
        from grader.errors import ForbiddenCall
        tripwires.prepare({AUTOGRAD_RULES!r})
        assert {AUTOGRAD_RULES!r} in tripwires._PLANS
        # As if loaded in the sandbox between the fork and the install: an alias of autograd.grad
        # in a new module, and a tensor subclass holding backward in its own dict.
        late = types.ModuleType("late_module")
        late.grad = torch.autograd.grad
        sys.modules["late_module"] = late
        class LateTensor(torch.Tensor):
            backward = torch.Tensor.backward
        assert tripwires.install({AUTOGRAD_RULES!r}) == []
        for call in (lambda: late.grad, lambda: LateTensor.backward, lambda: torch.autograd.grad):
            try:
                call()(torch.zeros(()))
            except ForbiddenCall:
                pass
            else:
                raise AssertionError("not guarded")
        assert torch.zeros(2).sum().item() == 0.0  # ordinary code is untouched
    """)


def test_a_rule_whose_module_is_not_loaded_is_left_to_the_sandbox_and_still_installed():
    run_fresh("""
        import sys
        from grader.sandbox import tripwires
        from grader.errors import ForbiddenCall
        assert "wave" not in sys.modules
        tripwires.prepare(("wave.open",))
        assert "wave" not in sys.modules and ("wave.open",) not in tripwires._PLANS
        assert tripwires.install(("wave.open", "wave.no_such_name")) == ["wave.no_such_name"]
        import wave
        try:
            wave.open("x.wav")
        except ForbiddenCall:
            pass
        else:
            raise AssertionError("not guarded")
    """)


def test_a_planned_method_is_also_guarded_in_a_subclass_made_after_the_plan():
    run_fresh("""
        import json
        from grader.sandbox import tripwires
        from grader.errors import ForbiddenCall
        rules = ("json.JSONEncoder.encode",)
        tripwires.prepare(rules)
        assert rules in tripwires._PLANS
        class LateEncoder(json.JSONEncoder):
            encode = json.JSONEncoder.encode  # its own copy, which the zygote's walk never saw
        tripwires.install(rules)
        for encoder in (json.JSONEncoder(), LateEncoder()):
            try:
                encoder.encode(1)
            except ForbiddenCall:
                pass
            else:
                raise AssertionError(type(encoder).__name__ + " not guarded")
    """)


def test_a_zygote_keeps_a_bounded_number_of_plans():
    run_fresh("""
        from grader.sandbox import tripwires
        for i in range(tripwires.MAX_PLANS + 5):
            tripwires.prepare(("os.getcwd",) * (i + 1))
        assert len(tripwires._PLANS) == tripwires.MAX_PLANS
        assert ("os.getcwd",) not in tripwires._PLANS and ("os.getcwd",) * (tripwires.MAX_PLANS + 5) in tripwires._PLANS
    """)
