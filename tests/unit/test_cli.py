"""The command line's argument checks and error lines: one line that says what to do, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import cli
from grader.grading.sandbox_client import ZygoteError
from grader.records import JobResult
from grader.results.store import Store

REPO = Path(__file__).resolve().parents[2]
EXPECTED = "expected a folder with one sub-folder (or zip, or LMS-named files) per student"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# --- --jobs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["grade", "hw7"], ["check", "hw7", "."], ["validate", "hw7"]])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "argument --jobs/-j: 0 workers cannot grade anything; give 1 or more, or 'auto'"),
        ("-1", "argument --jobs/-j: -1 workers cannot grade anything; give 1 or more, or 'auto'"),
        ("two", "argument --jobs/-j: 'two' is not a number of workers; give 1 or more, or 'auto'"),
    ],
)
def test_jobs_must_be_at_least_one_or_auto(capsys, command, value, message):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*command, "--jobs", value])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"grader {command[0]}: error: {message}"


def test_jobs_auto_means_one_worker_per_core():
    parser = cli.build_parser()
    assert parser.parse_args(["grade", "hw7", "--jobs", "auto"]).jobs is None
    assert parser.parse_args(["grade", "hw7", "-j", "3"]).jobs == 3
    assert parser.parse_args(["grade", "hw7"]).jobs is None


def test_debug_is_taken_before_or_after_the_command():
    parser = cli.build_parser()
    assert parser.parse_args(["--debug", "list"]).debug is True
    assert parser.parse_args(["list", "--debug"]).debug is True
    assert parser.parse_args(["list"]).debug is False


# --- submissions folders --------------------------------------------------------------------------


def test_a_folder_that_does_not_exist_is_one_line_and_writes_nothing(capsys, tmp_path):
    status, out, err = run(capsys, "--root", str(REPO), "grade", "hw7", str(tmp_path / "hw7x"), "--out", str(tmp_path / "r"))
    assert status == 2 and out == ""
    assert err == f"grader: {tmp_path / 'hw7x'} does not exist; {EXPECTED}\n"
    assert not (tmp_path / "r").exists()


def test_a_folder_with_no_submission_is_one_line_and_writes_nothing(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty/notes.txt").write_text("nothing here\n")
    status, _, err = run(capsys, "--root", str(REPO), "grade", "hw7", str(tmp_path / "empty"), "--out", str(tmp_path / "r"))
    assert status == 2
    assert err == f"grader: {tmp_path / 'empty'} holds no student; {EXPECTED}\n"
    assert not (tmp_path / "r").exists()


def test_the_folder_of_every_assignment_is_not_a_class(capsys, tmp_path):
    status, _, err = run(capsys, "--root", str(REPO), "grade", "hw7", str(REPO / "submissions"), "--out", str(tmp_path))
    assert status == 2
    assert err.startswith(f"grader: {REPO / 'submissions'} holds no student with any of hw7's files (true_softmax.py, ")
    assert err.endswith(f"; {EXPECTED} (did you mean {REPO / 'submissions/hw7'}?)\n")
    assert list(tmp_path.iterdir()) == []


def test_one_students_folder_is_not_a_class(capsys, tmp_path):
    alice = REPO / "submissions/hw7/alice_correct"
    status, _, err = run(capsys, "--root", str(REPO), "grade", "hw7", str(alice), "--out", str(tmp_path))
    assert status == 2
    assert err.startswith(f"grader: {alice} holds one student's files (true_softmax.py, ") and err.endswith(
        f"), not a class; {EXPECTED}\n"
    )


def test_grading_a_course_with_no_submissions_says_what_to_give(capsys, tmp_path):
    (tmp_path / "problems").mkdir()
    status, _, err = run(capsys, "--root", str(tmp_path), "grade")
    assert status == 2
    assert err == (
        f"grader: no assignment in {tmp_path / 'problems'} has submissions in {tmp_path / 'submissions'}; "
        "give them: grader grade ASSIGNMENT SUBMISSIONS\n"
    )


def test_check_names_the_folder_the_student_gave(capsys, tmp_path):
    status, _, err = run(capsys, "--root", str(REPO), "check", "hw7", str(tmp_path / "mine"))
    assert status == 2
    assert err.startswith(f"grader: {tmp_path / 'mine'} does not exist; expected the folder with your files (true_softmax.py, ")
    (tmp_path / "mine").mkdir()
    status, _, err = run(capsys, "--root", str(REPO), "check", "hw7", str(tmp_path / "mine"))
    assert status == 2
    assert err.startswith(f"grader: {tmp_path / 'mine'} holds none of your files for hw7; expected the folder with your files (")
    assert len(err.splitlines()) == 1


# --- error lines ----------------------------------------------------------------------------------


def test_a_spec_error_is_one_line(capsys):
    status, _, err = run(capsys, "--root", str(REPO), "grade", "hw9")
    assert status == 2
    assert err == f"grader: no assignment 'hw9' in {REPO / 'problems'} (assignments: hw3, hw5, hw6, hw7)\n"


def raising(exc: BaseException):
    def command(args: object) -> int:
        raise exc

    return command


@pytest.fixture
def failing_list(monkeypatch: pytest.MonkeyPatch):
    def use(exc: BaseException) -> None:
        monkeypatch.setattr(cli, "cmd_list", raising(exc))

    return use


def test_an_unexpected_error_is_one_line_with_a_hint_and_status_1(capsys, failing_list):
    failing_list(RuntimeError("boom\nsecond line"))
    status, _, err = run(capsys, "list")
    assert status == 1
    assert err == "grader: internal error: RuntimeError: boom; rerun with --debug to see the traceback, and report it\n"


def test_debug_shows_the_traceback(capsys, failing_list):
    failing_list(RuntimeError("boom"))
    status, _, err = run(capsys, "list", "--debug")
    assert status == 1
    assert err.startswith("Traceback (most recent call last):\n") and "RuntimeError: boom\n" in err
    assert err.endswith("grader: internal error: RuntimeError: boom; please report it\n")


def test_a_file_error_names_the_file(capsys, failing_list):
    failing_list(PermissionError(13, "Permission denied", "/reports/hw7"))
    assert run(capsys, "list") == (2, "", "grader: /reports/hw7: Permission denied\n")


def test_a_sandbox_that_cannot_start_says_so(capsys, failing_list):
    failing_list(ZygoteError("the sandbox zygote failed to start (exit status 1)"))
    status, _, err = run(capsys, "list")
    assert (status, err) == (1, "grader: the sandbox zygote failed to start (exit status 1); rerun with --debug to see why\n")


def test_a_long_input_error_shows_its_first_line(capsys, failing_list):
    from grader.distribute.kit import KitError

    failing_list(KitError("problems/hw7/x/test_x.py: recording the reference's answers failed:\nlog line 1\nlog line 2"))
    status, _, err = run(capsys, "list")
    assert status == 2
    assert err == (
        "grader: problems/hw7/x/test_x.py: recording the reference's answers failed: (rerun with --debug for the details)\n"
    )


def test_report_and_export_without_a_store_say_so_in_one_line(capsys, tmp_path):
    for command in ("report", "export"):
        status, _, err = run(capsys, "--root", str(REPO), command, "hw7", "--out", str(tmp_path))
        assert status == 2
        assert err == f"no results for hw7 in {tmp_path / 'hw7'}: run 'grader grade hw7' first\n"


# --- grader forget --------------------------------------------------------------------------------


def stored(out: Path, runs: list[list[str]], problems: tuple[str, ...] = ("true_softmax", "bn_fold")) -> None:
    store = Store(out / "hw7/grades.sqlite")
    for i, students in enumerate(runs):
        run_id = store.start_run({"submissions": f"/folder{i}", "students": len(students)}, students=students)
        for s in students:
            for p in problems:
                store.put(JobResult(student=s, assignment="hw7", problem=p, status="graded", score=5.0, max_score=10.0))
        store.finish_run(run_id, {})
    store.close()


def keys(out: Path) -> list[tuple[str, str]]:
    store = Store(out / "hw7/grades.sqlite")
    try:
        return sorted(store.keys())
    finally:
        store.close()


def test_forget_without_yes_lists_and_removes_nothing(capsys, tmp_path):
    stored(tmp_path, [["ann", "ben"]])
    status, out, _ = run(capsys, "--root", str(REPO), "forget", "hw7", "ben", "--out", str(tmp_path))
    assert status == 0
    assert out == (
        "hw7: would forget 2 results (run again with --yes to remove them):\n"
        "  ben / bn_fold\n"
        "  ben / true_softmax\n"
    )
    assert len(keys(tmp_path)) == 4


def test_forget_missing_with_yes_removes_those_and_renders_again(capsys, tmp_path):
    stored(tmp_path, [["ann", "ben", "cat"], ["ann"]])
    status, out, _ = run(capsys, "--root", str(REPO), "forget", "hw7", "--missing", "--problem", "bn_fold", "--yes",
                         "--out", str(tmp_path))
    assert status == 0
    assert out.splitlines()[:3] == ["hw7: forgot 2 results:", "  ben / bn_fold", "  cat / bn_fold"]
    assert out.splitlines()[3] == f"hw7: reports -> {tmp_path / 'hw7/index.html'}"
    assert keys(tmp_path) == [("ann", "bn_fold"), ("ann", "true_softmax"), ("ben", "true_softmax"), ("cat", "true_softmax")]
    doc = json.loads((tmp_path / "hw7/results.json").read_text())
    assert [s["id"] for s in doc["students"]] == ["ann", "ben", "cat"]


def test_forget_a_problem_alone_means_every_students_result_of_it(capsys, tmp_path):
    stored(tmp_path, [["ann", "ben"]], problems=("true_softmax", "old_problem"))
    status, out, _ = run(capsys, "--root", str(REPO), "forget", "hw7", "--problem", "old_problem", "--out", str(tmp_path))
    assert status == 0
    assert out.splitlines()[1:] == ["  ann / old_problem", "  ben / old_problem"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["zed"], "grader: no stored results for zed; 'grader report hw7' lists the students\n"),
        (["--problem", "nope"], "grader: no stored results of the problem 'nope' (stored: bn_fold, true_softmax)\n"),
        ([], "grader: say what to forget: STUDENT..., --missing, or --problem ID\n"),
    ],
)
def test_forget_refuses_what_it_cannot_find(capsys, tmp_path, args, message):
    stored(tmp_path, [["ann"]])
    assert run(capsys, "--root", str(REPO), "forget", "hw7", *args, "--yes", "--out", str(tmp_path)) == (2, "", message)
    assert len(keys(tmp_path)) == 2


def test_forget_missing_when_nobody_is_missing_forgets_nothing(capsys, tmp_path):
    stored(tmp_path, [["ann"]])
    assert run(capsys, "--root", str(REPO), "forget", "hw7", "--missing", "--yes", "--out", str(tmp_path)) == (
        0, "hw7: nothing to forget\n", ""
    )


def test_gradescope_require_is_written_into_the_bundle(tmp_path, capsys):
    import json

    from grader.cli import main

    repo = __import__("pathlib").Path(__file__).resolve().parents[2]
    assert main(["--root", str(repo), "gradescope", "hw7", "--out", str(tmp_path), "--require", "seccomp"]) == 0
    config = json.loads((tmp_path / "autograder/grader-bundle.json").read_text())
    assert config["require"] == ["seccomp"]
    with __import__("pytest").raises(SystemExit) as exit_:
        main(["--root", str(repo), "gradescope", "hw7", "--out", str(tmp_path / "x"), "--require", "nope"])
    assert exit_.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_a_broken_bank_says_what_to_do(capsys, failing_list):
    from grader.errors import BankError

    failing_list(BankError("reference/hw7/x.py: the reference does not define f"))
    status, _, err = run(capsys, "list")
    assert status == 1
    assert err == (
        "grader: reference/hw7/x.py: the reference does not define f; "
        "run 'grader validate' on the problem to see it fail for the reference\n"
    )


@pytest.mark.parametrize(
    ("path", "root"),
    [(".", None), ("my work/hw 7", None), ("subs/alice", Path("/courses/deep learning ü")), ("it's", Path("c"))],
)
def test_the_command_to_check_a_problem_again_runs_as_printed(path, root):
    """Pasted into a shell, the printed command is the same check: folders with spaces or quotes stay one argument."""
    import shlex

    (line,) = cli.check_again_commands("hw7", ["bn_fold"], path=path, root=root)
    argv = shlex.split(line)
    expected = ["grader", *(["--root", str(root)] if root is not None else []), "check", "hw7",
                *([path] if path != "." else []), "--problem", "bn_fold"]
    assert argv == expected
    parsed = cli.build_parser().parse_args(argv[1:])
    assert (parsed.path, parsed.root, parsed.problem) == (path, root, ["bn_fold"])


@pytest.mark.parametrize(("name", "said", "status"), [("SIGTERM", "terminated", 143), ("SIGHUP", "hung up", 129)])
def test_sigterm_and_sighup_stop_a_command_as_ctrl_c_does_and_the_handlers_are_put_back(capsys, monkeypatch, name, said,
                                                                                      status):
    import os
    import signal

    sig = getattr(signal, name)

    def cancelled(args):  # a command that a CI runner cancels (or whose terminal closes) while it runs
        os.kill(os.getpid(), sig)
        os.kill(os.getpid(), sig)  # a second one, while the first one's clean-up runs, is ignored
        raise AssertionError(f"{name} did not stop the command")

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_func(parser(), cancelled))
    # As in a terminal: the tests themselves may run under `nohup`, which ignores SIGHUP (and the grader then too).
    previous = signal.signal(sig, signal.SIG_DFL)
    try:
        before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
        assert cli.main(["list"]) == status
        assert {s: signal.getsignal(s) for s in before} == before  # a caller's own handlers are back
    finally:
        signal.signal(sig, previous)
    assert f"grader: {said}; finished jobs are stored, run again to resume" in capsys.readouterr().err


def test_an_ignored_sighup_stays_ignored(monkeypatch):
    """Under `nohup` a closed terminal must not stop the run."""
    import os
    import signal

    seen = []

    def command(args):
        seen.append(signal.getsignal(signal.SIGHUP))
        os.kill(os.getpid(), signal.SIGHUP)
        return 0

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        parser = cli.build_parser
        monkeypatch.setattr(cli, "build_parser", lambda: _with_func(parser(), command))
        assert cli.main(["list"]) == 0
        assert seen == [signal.SIG_IGN]
    finally:
        signal.signal(signal.SIGHUP, previous)


def _with_func(parser, func):
    parser.set_defaults(func=func)
    for action in parser._subparsers._group_actions:  # every command calls `func`
        for sub in action.choices.values():
            sub.set_defaults(func=func)
    return parser
