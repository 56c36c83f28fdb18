"""The proxy and the sandbox: what crosses, what stays, and how student failures are reported."""

import os
import textwrap
import time

import pytest
import torch

from grader import call_pure, remote_type
from grader.course.spec import Limits
from grader.grading.proxy import Remote, StudentError, StudentFault, StudentSession

FAST_LIMITS = Limits(call_timeout=2, import_timeout=2, job_timeout=30, memory_mb=256)


@pytest.fixture
def session_for(tmp_path, zygote):
    sessions = []

    def make(source, *, module="sub", limits=FAST_LIMITS, names=()):
        student = tmp_path / f"student{len(sessions)}"
        work = tmp_path / f"work{len(sessions)}"
        student.mkdir()
        work.mkdir()
        (student / f"{module}.py").write_text(textwrap.dedent(source))
        s = StudentSession(zygote=zygote, student_dir=str(student), module=module, workdir=str(work), limits=limits, required_names=names)
        sessions.append(s)
        return s

    yield make
    for s in sessions:
        s.close()


def test_plain_results_cross_standard_modules_are_rebuilt_and_others_stay_behind(session_for):
    m = session_for("""
        import torch
        SIZE = 3
        def double(x):
            return 2 * x
        def make(n):
            return torch.nn.Linear(n, 2)
        class Own(torch.nn.Module):
            def forward(self, x):
                return x
        def own():
            return Own()
    """).module()
    assert m.SIZE == 3
    assert torch.equal(m.double(torch.ones(2)), torch.full((2,), 2.0))
    layer = m.make(4)  # a standard module crosses as data and is rebuilt here, on the trusted side
    assert type(layer) is torch.nn.Linear and type(layer.weight) is torch.nn.Parameter
    assert layer.in_features == 4 and layer(torch.ones(1, 4)).shape == (1, 2)
    assert set(layer.state_dict()) == {"weight", "bias"}
    own = m.own()  # the student's own class stays in the sandbox, and never passes for a standard type
    assert isinstance(own, Remote) and remote_type(own).endswith("(kept in the sandbox: not a standard torch.nn module)")


def test_handles_can_be_passed_back(session_for):
    m = session_for("""
        def make():
            return [1, 2, 3].copy
        def call(f):
            return f()
        class Box:
            def __init__(self, v): self.v = v
    """).module()
    assert m.call(m.make()) == [1, 2, 3]
    box = m.Box(7)
    assert box.v == 7


def test_a_handle_lives_as_long_as_any_of_its_references(session_for):
    import gc

    m = session_for("""
        def f(x):
            return x + 1
    """).module()
    kept = m.f
    for _ in range(3):
        assert m.f(1) == 2  # each access makes a reference to the same function, dropped at once
    gc.collect()
    assert kept(1) == 2 and m.f(2) == 3


def test_an_exception_reports_the_students_own_traceback(session_for, tmp_path):
    m = session_for("""
        def helper(x):
            return 1 / x
        def f(x):
            return helper(x)
    """).module()
    with pytest.raises(StudentError) as info:
        m.f(0)
    assert str(info.value) == "f raised ZeroDivisionError: division by zero"
    tb = info.value.student_traceback
    assert 'File "sub.py", line 5, in f' in tb and 'File "sub.py", line 3, in helper' in tb
    assert str(tmp_path) not in tb and "grader" not in tb


def test_endless_loop_times_out_and_the_next_test_gets_a_fresh_sandbox(session_for):
    s = session_for("""
        def spin():
            while True:
                pass
        def ok():
            return 1
    """)
    m = s.module()
    with pytest.raises(StudentFault, match=r"^spin timed out after 2 s$"):
        m.spin()
    with pytest.raises(StudentFault, match="timed out"):  # the rest of this test fails at once
        m.ok()
    s.begin_test()
    assert s.module().ok() == 1


def test_a_hang_that_ignores_the_alarm_is_killed_from_outside(session_for):
    m = session_for("""
        import signal, time
        def stubborn():
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            while True:
                time.sleep(0.1)
    """).module()
    with pytest.raises(StudentFault, match="stubborn timed out after 2 s"):
        m.stubborn()


@pytest.mark.parametrize("how", ["import sys; sys.exit(0)", "import os; os._exit(0)"])
def test_exiting_is_a_fault_not_a_success(session_for, how):
    m = session_for(f"""
        def f():
            {how}
    """).module()
    with pytest.raises(StudentFault, match="f exited before returning"):
        m.f()


def test_memory_bomb_is_contained(session_for):
    m = session_for("""
        import torch
        def bomb():
            return torch.ones(4096, 1024, 1024).sum()
    """).module()
    with pytest.raises(StudentFault, match="bomb exceeded the memory limit of 256 MiB"):
        m.bomb()


def test_import_failures_are_cached_with_the_reason(session_for):
    s = session_for("raise RuntimeError('no data file')\n")
    with pytest.raises(StudentFault, match="^sub.py could not be imported: the import raised RuntimeError: no data file$"):
        s.module()
    with pytest.raises(StudentFault, match="could not be imported"):
        s.module()
    assert s.import_failure is not None


def test_a_missing_required_name(session_for):
    m = session_for("def f(): pass\n", names=("f", "g")).module()
    with pytest.raises(StudentFault, match="^sub.py does not define g$"):
        m.g
    with pytest.raises(AttributeError):
        m.something_else


def test_call_pure_detects_modified_arguments(session_for):
    m = session_for("""
        import torch
        def scale_(x):
            x.mul_(2)
            return x
        def retrain(layer):
            layer.train()
            return layer.weight.sum()
        def pure(x):
            return x * 2
    """).module()
    with pytest.raises(AssertionError, match="scale_ modified its argument 1 in place"):
        call_pure(m.scale_, torch.ones(3))
    with pytest.raises(AssertionError, match=r"retrain modified its argument 1 \(train/eval mode of the module\)"):
        call_pure(m.retrain, torch.nn.Linear(2, 2).eval())
    assert torch.equal(call_pure(m.pure, torch.ones(2)), torch.full((2,), 2.0))


def test_the_trusted_side_never_sees_student_patches(session_for):
    m = session_for("""
        import torch
        torch.allclose = lambda *a, **k: True
        def f():
            return torch.allclose(torch.zeros(1), torch.ones(1))
    """).module()
    assert m.f() is True  # inside the sandbox the patch works ...
    assert torch.allclose(torch.zeros(1), torch.ones(1)) is False  # ... here it never happened


def test_output_is_captured_per_range_and_capped(session_for):
    s = session_for("""
        def talk(n):
            print("x" * n)
    """)
    m = s.module()
    start = s.output_size()
    m.talk(10)
    assert s.read_output(start, 100) == "x" * 10 + "\n"
    start = s.output_size()
    m.talk(500)
    assert s.read_output(start, 100).endswith("[... output truncated: 401 more bytes]")


def test_a_local_torch_py_cannot_shadow_torch(session_for, tmp_path):
    s = session_for("""
        import torch
        def version():
            return torch.__version__
    """)
    with open(os.path.join(s.student_dir, "torch.py"), "w") as f:
        f.write("raise SystemExit('shadowed')\n")
    assert s.module().version() == torch.__version__


def test_after_a_fault_the_next_test_can_use_the_module_again(session_for):
    s = session_for("""
        def spin():
            while True:
                pass
        def ok():
            return 1
    """)
    with pytest.raises(StudentFault, match="timed out"):
        s.module().spin()
    s.begin_test()
    m = s.module()
    assert m.ok() == 1  # the module's names resolve in the restarted sandbox


def test_replacing_builtins_is_reported_plainly(session_for):
    m = session_for("""
        import builtins
        def sabotage():
            builtins.isinstance = None
            return 1
    """).module()
    with pytest.raises((StudentFault, StudentError)) as info:
        m.sabotage()
    assert "broke the sandbox" in str(info.value) or "raised" in str(info.value)


def test_a_module_function_is_looked_up_once_per_sandbox(session_for):
    s = session_for("""
        def f(x):
            return x * 2
    """)
    m = s.module()
    assert m.f is m.f and m.f(2) == 4
    s.close()  # a new sandbox: the cached function is from the old one and is looked up again
    s.begin_test()
    assert m.f(3) == 6


def test_output_names_the_students_files_as_the_student_knows_them(session_for):
    s = session_for("""
        import warnings
        def f():
            warnings.warn("careful")
            return 1
    """)
    assert s.module().f() == 1
    output = s.read_output(0, 10_000)
    assert "sub.py:4: UserWarning: careful" in output and s.student_dir not in output


def test_a_shared_zygote_starts_once_serves_many_and_is_replaced_when_it_dies(tmp_path):
    from grader.grading.sandbox_client import SharedZygote

    def answer(zygote):
        student, work = tmp_path / "s", tmp_path / "w"
        student.mkdir(exist_ok=True)
        work.mkdir(exist_ok=True)
        (student / "sub.py").write_text("def f(x):\n    return x + 1\n")
        s = StudentSession(zygote=zygote, student_dir=str(student), module="sub", workdir=str(work), limits=FAST_LIMITS)
        try:
            return s.module().f(1)
        finally:
            s.close()

    with SharedZygote() as shared:
        assert shared._zygote is None  # nothing started until a job needs a sandbox
        first = shared.get()
        assert shared.get() is first and answer(first) == 2
        first.process.kill()
        first.process.wait()
        second = shared.get()
        assert second is not first and answer(second) == 2
    assert second.process.poll() is not None and shared._zygote is None


def test_a_batch_runs_its_calls_in_order_one_reply_each_and_stops_after_a_failure(session_for):
    import pickle

    from grader.sandbox import wire
    from grader.sandbox.protocol import Op

    s = session_for("""
        CALLS = []
        def f(x):
            CALLS.append(x)
            if x == 3:
                raise ValueError("three")
            return x * 2
        def seen():
            return list(CALLS)
    """)
    m = s.module()
    f = object.__getattribute__(m.f, "_ref").id

    def call(x):
        return {"op": Op.CALL, "id": f, "timeout": 2.0}, [pickle.dumps(((x,), {}))]

    replies = s._process.request_batch([call(1), call(2), call(3), call(4)], timeout=10, until=time.monotonic() + 30)
    assert [wire.decode_value(r["value"], b) for r, b in replies[:2]] == [2, 4]
    assert replies[2][0]["ok"] is False and replies[2][0]["kind"] == "raised" and len(replies) == 3
    assert m.seen() == [1, 2, 3]  # the call after the failure never ran, and no reply is left over
    # A batch may carry only getattr and call requests: anything else is one protocol failure, and nothing runs.
    refused = s._process.request_batch(
        [call(5), ({"op": Op.IMPORT, "module": "os"}, [])], timeout=10, until=time.monotonic() + 30
    )
    assert [r["kind"] for r, _ in refused] == ["protocol"]
    assert m.seen() == [1, 2, 3] and m.f(6) == 12


def test_a_call_in_a_batch_that_ignores_the_alarm_costs_its_own_time_not_the_jobs(session_for):
    import pickle

    from grader.grading.sandbox_client import SandboxGone
    from grader.sandbox.protocol import Op

    s = session_for("""
        import signal, time
        def f(x):
            if x == 3:
                signal.signal(signal.SIGALRM, signal.SIG_IGN)
                while True:
                    time.sleep(0.1)
            return x
    """)
    m = s.module()
    f = object.__getattribute__(m.f, "_ref").id
    calls = [({"op": Op.CALL, "id": f, "timeout": 1.0}, [pickle.dumps(((x,), {}))]) for x in range(1, 6)]
    started = time.monotonic()
    with pytest.raises(SandboxGone) as gone:  # each reply within its call's time of the one before, as alone
        s._process.request_batch(calls, timeout=1.0 + 2.0, until=started + 120)
    assert gone.value.timed_out and time.monotonic() - started < 20


def test_a_sandbox_runs_convolutions_on_pytorchs_own_kernels(session_for):
    """oneDNN compiles a kernel per new shape into a cache that no fresh sandbox has (see
    zygote.native_convolutions): property tests' random shapes paid that compilation in every job."""
    m = session_for("""
        import torch
        import torch.nn.functional as F
        def onednn():
            return torch.backends.mkldnn.enabled
        def correlate(x, w):
            return F.conv1d(x[None, None], w[None, None])[0, 0]
    """).module()
    assert m.onednn() is False
    x, w = torch.randn(50), torch.randn(5)
    torch.testing.assert_close(m.correlate(x, w), torch.stack([x[i : i + 5] @ w for i in range(46)]))


def test_a_students_numpy_products_run_on_one_thread(session_for):
    """numpy's BLAS, as torch, computes on the sandbox's one thread: a pool of threads would spin after
    each product while the sandbox waits for its next call, out of the student's CPU limit."""
    m = session_for("""
        import os
        import numpy as np
        def threads_after_products():
            a = np.ones((400, 400))
            for _ in range(3):
                a = a @ a / 400
            return len(os.listdir("/proc/self/task"))
    """).module()
    assert m.threads_after_products() == 1
