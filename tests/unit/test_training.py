"""grader.grading.training: a model trained in place in the sandbox comes back as tensors into a trusted copy.

Also the hostile cases of a training call (a train that hangs, burns CPU, changes the architecture,
sends back huge tensors or garbage) and the spec keys of a training budget.
"""

import dataclasses
import shutil
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from grader import call_training, record_curve
from grader.course.spec import Limits, SpecError, load_problem
from grader.grading.proxy import Remote, StudentFault, StudentSession
from grader.grading.training import budget_note, put_back_curves, take_curves

REPO = Path(__file__).resolve().parents[2]
LIMITS = Limits(call_timeout=2, import_timeout=5, job_timeout=30, memory_mb=512, train_timeout=3,
                train_cpu_seconds=1, train_reference_seconds=0.25)

TRAINS = """
    import torch
    def train(model, x, y, steps=3, lr=0.1):
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        model.train()
        for _ in range(steps):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        model.eval()
        return [0.5] * steps
"""


@pytest.fixture
def student(tmp_path, zygote):
    sessions = []

    def make(source, *, limits=LIMITS):
        folder, work = tmp_path / f"student{len(sessions)}", tmp_path / f"work{len(sessions)}"
        folder.mkdir()
        work.mkdir()
        (folder / "sub.py").write_text(textwrap.dedent(source))
        session = StudentSession(zygote=zygote, student_dir=str(folder), module="sub", workdir=str(work), limits=limits)
        sessions.append(session)
        return session.module()

    yield make
    for s in sessions:
        s.close()


def model_and_data():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    return model, torch.randn(16, 4), torch.randint(0, 3, (16,))


def plain_train(model, x, y, steps=3, lr=0.1):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    return [0.5] * steps


def test_the_trained_state_comes_back_into_a_trusted_copy_and_the_tests_model_is_untouched(student):
    m = student(TRAINS)
    model, x, y = model_and_data()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trained = call_training(m.train, model, x, y)
    assert trained.value == [0.5, 0.5, 0.5]
    assert type(trained.model) is nn.Sequential and trained.model is not model
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())  # the sandbox trained a copy
    expected = plain_train(model_and_data()[0], x, y)  # the same steps, here
    assert expected == trained.value
    reference = model_and_data()[0]
    plain_train(reference, x, y)
    for key, value in reference.state_dict().items():
        assert torch.equal(trained.model.state_dict()[key], value), key
    assert trained.changed == () and trained.mode_change == " (train/eval mode of the module)"
    assert not trained.model.training  # the modes it left come back too


def test_plain_code_trains_copies_so_the_tests_objects_never_change():
    model, x, y = model_and_data()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trained = call_training(plain_train, model, x, y)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
    assert not torch.equal(trained.model[0].weight, model[0].weight)
    assert trained.changed == ()


def test_other_arguments_changed_in_place_are_named(student):
    m = student("""
        def train(model, x, y):
            x.mul_(0)
            return []
    """)
    model, x, y = model_and_data()
    assert call_training(m.train, model, x, y).changed == ("argument 2",)


def test_a_train_that_hangs_runs_out_of_its_wall_clock_budget_with_the_reference_time_beside_it(student):
    m = student("""
        import time
        def train(model, x, y):
            time.sleep(30)
    """)
    model, x, y = model_and_data()
    with pytest.raises(StudentFault) as info:
        call_training(m.train, model, x, y)
    assert str(info.value) == (
        "train timed out after 3 s (the training budget in problem.toml; the reference trains in about 0.25 s of "
        "CPU time)"
    )


def test_a_train_that_burns_cpu_past_its_budget_fails_even_within_the_wall_clock_budget(student):
    # A wall-clock budget far above the CPU budget, so that a loaded machine cannot make it a timeout.
    m = student(limits=dataclasses.replace(LIMITS, train_timeout=20, job_timeout=60), source="""
        import time
        def train(model, x, y):
            end = time.process_time() + 1.5
            while time.process_time() < end:
                pass
            return []
    """)
    model, x, y = model_and_data()
    with pytest.raises(StudentFault) as info:
        call_training(m.train, model, x, y)
    assert str(info.value) == (
        "train ran out of its budget: it used more than 1 s of CPU time (the training budget in problem.toml; the "
        "reference trains in about 0.25 s of CPU time)"
    )


@pytest.mark.parametrize(("body", "message"), [
    ("model[0].weight = torch.nn.Parameter(torch.zeros(5, 4))",
     "train changed the model's 0.weight: it is now (5, 4) torch.float32, but the model's is (8, 4) torch.float32"),
    ("model[0].weight.data = model[0].weight.data.double()",
     "train changed the model's 0.weight: it is now (8, 4) torch.float64, but the model's is (8, 4) torch.float32"),
    ("model.append(torch.nn.Linear(3, 3))", "train changed the model's architecture: its state has 3.weight, 3.bias besides"),
    ("del model[2]", "train changed the model's architecture: its state lacks 2.weight, 2.bias"),
    ("model.add_module('extra', torch.nn.Identity())", "train changed the model's submodules"),
])
def test_a_state_that_does_not_fit_the_tests_architecture_fails_with_what_differs(student, body, message):
    m = student(f"""
        import torch
        def train(model, x, y):
            {body}
            return []
    """)
    model, x, y = model_and_data()
    with pytest.raises(AssertionError) as info:
        call_training(m.train, model, x, y)
    assert str(info.value) == message


def test_a_layer_swapped_for_one_without_state_changes_nothing_the_test_measures(student):
    m = student("""
        import torch
        def train(model, x, y):
            model[1] = torch.nn.Tanh()
            return []
    """)
    model, x, y = model_and_data()
    trained = call_training(m.train, model, x, y)
    assert type(trained.model[1]) is nn.ReLU  # the test's own architecture, always


def test_huge_tensors_sent_back_are_the_students_fault_and_bounded(student):
    m = student("""
        import torch
        def train(model, x, y):
            model[0].register_buffer("junk", torch.zeros(40 << 20, dtype=torch.uint8))
            return []
    """)
    model, x, y = model_and_data()
    with pytest.raises(StudentFault) as info:
        call_training(m.train, model, x, y)
    assert str(info.value) == (
        "train sent back more than the 16 MiB the grader accepts for this call (were the arguments' tensors replaced "
        "by larger ones?)"
    )


def test_garbage_in_place_of_a_history_is_the_tests_to_judge(student):
    m = student("""
        class Weird:
            pass
        def train(model, x, y):
            return Weird()
    """)
    model, x, y = model_and_data()
    trained = call_training(m.train, model, x, y)
    assert isinstance(trained.value, Remote)  # not plain data: it stays in the sandbox, as any result would


def test_the_budget_note_names_the_reference_time_only_where_one_is_recorded():
    assert budget_note(Limits()) == " (the training budget in problem.toml)"
    assert budget_note(Limits(train_reference_seconds=0.2)) == (
        " (the training budget in problem.toml; the reference trains in about 0.2 s of CPU time)"
    )


def test_curves_are_rounded_bounded_and_replaced_by_title():
    take_curves()
    record_curve("acc", [0.123456789, float("nan"), "x"], [1, 2])
    record_curve("acc", [0.5], [1.0])
    record_curve("loss", range(500), [], y_label="loss")
    curves = take_curves()
    assert [c["title"] for c in curves] == ["acc", "loss"]
    assert curves[0]["student"] == [0.5] and curves[0]["reference"] == [1.0]
    assert len(curves[1]["student"]) == 200 and curves[1]["y_label"] == "loss"
    record_curve("a", [0.123456789, float("inf"), "x"], [])
    assert take_curves()[0]["student"] == [0.1235, None, None]
    put_back_curves(curves)
    assert take_curves() == curves and take_curves() == ()


@pytest.fixture
def problem(tmp_path):
    for part in ("problems/hw7/true_softmax", "reference/hw7"):
        shutil.copytree(REPO / part, tmp_path / part)
    return tmp_path


def write_limits(root, limits, extra=""):
    """problem.toml of hw7/true_softmax with its [limits] replaced by `limits` and `extra` top-level keys."""
    path = root / "problems/hw7/true_softmax/problem.toml"
    text = path.read_text()
    head, _, rest = text.partition("[limits]")
    path.write_text(head + extra + "[limits]\n" + limits + "\n\n[" + rest.split("\n[", 1)[1])
    return path


def test_training_budgets_and_gpu_use_are_read_from_problem_toml(problem):
    write_limits(problem, "job_timeout = 60\ntrain_timeout = 8\ntrain_cpu_seconds = 4\ntrain_reference_seconds = 0.2",
                 extra='gpu = "when-present"\n\n')
    spec = load_problem(problem, "hw7", "true_softmax")
    assert (spec.limits.train_timeout, spec.limits.train_cpu_seconds, spec.limits.train_reference_seconds) == (8, 4, 0.2)
    assert spec.gpu == "when-present"
    assert load_problem(REPO, "hw7", "true_softmax").gpu == "never"


@pytest.mark.parametrize(("limits", "extra", "rule"), [
    ("train_timeout = 400", "", "limits.train_timeout = 400 must not exceed limits.job_timeout = 300 (a training"),
    ("train_timeout = 5\ntrain_cpu_seconds = 6", "", "limits.train_cpu_seconds = 6 must not exceed limits.train_timeout = 5"),
    ("train_cpu_seconds = 1\ntrain_reference_seconds = 0.6", "",
     "limits.train_reference_seconds = 0.6 must be at most half of limits.train_cpu_seconds = 1"),
    ("train_cpu_seconds = 0", "", "limits.train_cpu_seconds = 0 must be positive"),
    ("", 'gpu = "always"\n', "gpu = 'always' must be one of 'never', 'when-present'"),
])
def test_training_budgets_that_break_a_rule_are_refused_naming_it(problem, limits, extra, rule):
    path = write_limits(problem, limits, extra=extra)
    with pytest.raises(SpecError) as info:
        load_problem(problem, "hw7", "true_softmax")
    assert str(info.value).startswith(f"{path}: {rule}")


# -- the GPU plan (grader.sandbox.gpu): decided on any machine, used on none yet -----------------------


def test_the_gpu_plan_falls_back_to_the_cpu_and_says_why(tmp_path):
    from grader.sandbox import gpu

    dev = tmp_path / "dev"
    dev.mkdir()
    assert gpu.device_files(str(dev)) == ()
    assert gpu.plan("never", ()).reason == "the problem does not use a GPU"
    none = gpu.plan("when-present", gpu.device_files(str(dev)))
    assert none.device == "cpu" and none.reason.startswith("no GPU on this machine (nvidiactl, nvidia-uvm, nvidia0 missing)")
    for name in ("nvidia1", "nvidiactl", "nvidia-uvm", "nvidia0", "nvidia-modeset", "null"):
        (dev / name).write_text("")
    present = gpu.device_files(str(dev))
    assert [p.rsplit("/", 1)[1] for p in present] == ["nvidiactl", "nvidia-uvm", "nvidia0", "nvidia1"]
    # This version's sandbox never admits them: the same problem trains on the CPU, with its CPU budget.
    assert not gpu.SANDBOX_ADMITS_GPU
    fallback = gpu.plan("when-present", present)
    assert (fallback.device, fallback.device_files) == ("cpu", ())
    assert "does not admit GPU device files yet" in fallback.reason
    # What a sandbox that admits them would be given: the control files and its own card, nothing else.
    admitted = gpu.plan("when-present", present, sandbox_admits=True, card=1)
    assert admitted.device == "cuda:1"
    assert [p.rsplit("/", 1)[1] for p in admitted.device_files] == ["nvidiactl", "nvidia-uvm", "nvidia1"]
    assert gpu.plan("never", present, sandbox_admits=True).device == "cpu"


def test_validate_shows_the_slowest_training_call_and_judges_it_against_its_budget():
    from grader.records import JobResult
    from grader.run.validate import usage_against_limits

    limits = Limits(train_cpu_seconds=4, train_timeout=8, train_reference_seconds=0.05)
    result = JobResult(student="reference", assignment="hw5", problem="p", status="graded", score=10, max_score=10,
                       duration=1.0, training_cpu_seconds=0.06)
    usage, tight = usage_against_limits(limits, result)
    assert usage.endswith("; slowest training call 0.06 of 4 s CPU (recorded for the reference: 0.05 s)")
    assert tight == []
    usage, tight = usage_against_limits(limits, JobResult(**{**result.to_dict(), "training_cpu_seconds": 2.5}))
    assert tight == ["a training call used 2.50 s of the 4 s CPU budget"]
    untrained, _ = usage_against_limits(limits, JobResult(**{**result.to_dict(), "training_cpu_seconds": 0.0}))
    assert "training call" not in untrained


@pytest.mark.parametrize(("forged", "message"), [
    ("[]", "train: no readable account of the trained model came back from its sandbox"),
    ("[('module', (), (), (0, 0, 0)), ('other',), ('other',)]", "train changed the model's architecture: its state lacks "
     "0.weight, 0.bias, 2.weight, 2.bias"),
    ("[('module', ((['list'], 1),), (), (0, 0, 0)), ('other',), ('other',)]",
     "train: no readable account of the trained model came back from its sandbox"),
    ("[('module', real[0][1], [(['x'], True, '')], real[0][3]), ('other',), ('other',)]",
     "train: no readable account of the trained model came back from its sandbox"),
])
def test_a_forged_account_of_the_trained_model_is_the_students_failure(student, forged, message):
    # Student code owns its sandbox, the grader's code there included: it may replace the function that
    # takes the arguments' account after a call. What comes back is then only data, checked here.
    m = student(f"""
        import sys
        server = sys.modules["grader.sandbox.server"]
        taken = server.argument_images
        def forged(args, kwargs, copy=False):
            real = taken(args, kwargs, copy=copy)
            return {forged}
        server.argument_images = forged
        def train(model, x, y):
            return []
    """)
    model, x, y = model_and_data()
    with pytest.raises(AssertionError) as info:
        call_training(m.train, model, x, y)
    assert str(info.value) == message
