"""The contract with the installed Hypothesis: the grader reads every part of its report of a failing test.

A Hypothesis release may word its report differently ("Falsifying example:" became "Failing test case:"
in 6.16x). These tests run small failing property tests through the real grading path (a job: pytest,
the grading plugin, the sandbox) and fail when the installed Hypothesis reports something the plugin
no longer reads: the smallest failing example, the notes from `note()` and `st.data()`, and the
`@reproduce_failure` decorator, which must replay the same failure.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import hypothesis
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from grader.grading.jobs import JobSpec, run_job
from grader.grading.plugin import EXAMPLE_LABEL, hypothesis_report
from grader.records import JobResult, TestResult

TESTS = '''
from hypothesis import given, note, strategies as st

from grader import points


@points(1)
@given(n=st.integers(0, 100), data=st.data())
def test_double_stays_small(student, n, data):
    k = data.draw(st.integers(0, 3), label="k")
    note(f"double({n}) + {k} is what the test compared")
    assert student.double(n) + k < 10, f"double({n}) + {k} is too big"


@points(1)
@given(n=st.integers(0, 5))
def test_double_passes(student, n):
    assert student.double(n) == 2 * n
'''
REPRODUCE = re.compile(r"^@reproduce_failure\('" + re.escape(hypothesis.__version__) + r"', b'[A-Za-z0-9+/=]+'\)$")


def make_problem(root: Path, tests: str = TESTS, *, forbidden: tuple[str, ...] = ()) -> Path:
    folder = root / "problems/hwc/contract"
    (folder / "mutants").mkdir(parents=True, exist_ok=True)
    (folder / "problem.toml").write_text(textwrap.dedent("""\
        id = "contract"
        title = "Contract"
        module = "contract"
        names = ["double"]
        points = 2
        forbidden = {forbidden}

        [limits]
        call_timeout = 10
        job_timeout = 120

        [hypothesis]
        max_examples = 50
        """).format(forbidden=list(forbidden)).replace("'", '"'))
    (folder / "README.md").write_text("# Contract\n")
    (folder / "test_contract.py").write_text(tests)
    (root / "problems/hwc/assignment.toml").write_text('title = "Contract"\nproblems = ["contract"]\n')
    (root / "reference/hwc").mkdir(parents=True, exist_ok=True)
    (root / "reference/hwc/contract.py").write_text("def double(x):\n    return 2 * x\n")
    return root


def grade_job(root: Path, zygote: object, files: tuple[tuple[str, bytes], ...]) -> JobResult:
    from grader.run.runner import _TrustedState

    job = JobSpec(root=str(root), assignment="hwc", problem="contract", student="s", files=files, key="",
                  zygote_address=zygote.address)  # type: ignore[attr-defined]
    # As a grading worker does between jobs: the test file is imported afresh by the next job (every
    # course here has a test_contract.py, each a little different).
    state = _TrustedState.capture()
    try:
        return run_job(job)
    finally:
        state.restore(str(root))


def grade(root: Path, zygote: object) -> dict[str, TestResult]:
    result = grade_job(root, zygote, (("contract.py", b"def double(x):\n    return 2 * x\n"),))
    assert result.status == "graded", result.message
    return {t.name: t for t in result.tests}


def test_the_plugin_reads_the_example_the_notes_and_the_replay_line_of_the_installed_hypothesis(tmp_path, zygote):
    root = make_problem(tmp_path)
    failed = grade(root, zygote)["test_double_stays_small"]
    assert failed.outcome == "failed" and failed.message.startswith("double(5) + 0 is too big")
    assert failed.falsifying_example == (
        "Falsifying example: test_double_stays_small(\n"
        "    student=<student module contract>,\n"
        "    n=5,\n"
        "    data=data(...),\n"
        ")"
    )
    assert failed.notes.splitlines() == ["Draw 1 (k): 0", "double(5) + 0 is what the test compared"]
    assert REPRODUCE.match(failed.reproduce), failed.reproduce
    assert failed.failing_input == "double(\n    [0] 5\n)"  # the call that gave the failure

    # The decorator replays exactly that input: added above the test, the same failure, no search.
    patched = TESTS.replace("@points(1)\n@given(n=st.integers(0, 100)",
                            f"{failed.reproduce}\n@points(1)\n@given(n=st.integers(0, 100)")
    patched = patched.replace("from grader import points",
                              "from hypothesis import reproduce_failure\n\nfrom grader import points")
    (root / "problems/hwc/contract/test_contract.py").write_text(patched)
    again = grade(root, zygote)["test_double_stays_small"]
    # The same input reached the student's code, and the same failure came of it (Hypothesis prints
    # no notes when it replays a blob: they belong to its own report of a search).
    assert (again.outcome, again.message, again.failing_input) == (failed.outcome, failed.message, failed.failing_input)


def test_the_example_is_found_from_the_notes_alone_whatever_their_label():
    """Without the record Hypothesis keeps for its pytest plugin, the notes of the exception suffice."""

    @settings(database=None, derandomize=True, print_blob=True, max_examples=50)
    @given(n=st.integers(0, 100))
    def test_small(n):
        note(f"n={n}")
        assert n < 7

    with pytest.raises(AssertionError) as info:
        test_small()
    found = hypothesis_report(info.value, test_function="test_small")
    assert found.example == EXAMPLE_LABEL + "test_small(\n    n=7,\n)"
    assert found.notes == "n=7"
    assert REPRODUCE.match(found.reproduce), found.reproduce
