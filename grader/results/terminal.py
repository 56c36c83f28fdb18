"""A student's self-check in the terminal: scores, and for each failed test what to do next."""

from __future__ import annotations

import shlex

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from grader.course.spec import AssignmentSpec, ProblemSpec
from grader.records import NOT_RUN, JobResult, TestResult


def replay_command(problem: ProblemSpec, test: str) -> str:
    """The command that replays one test on the student's file, run from the course folder or the student kit.

    The grader's pytest plugin (grader.grading.pytest_plugin) gives plain pytest the `student` fixture;
    `--student` names the student's file or folder (here the module's file, in the folder the command
    runs from).
    """
    path = f"problems/{problem.assignment}/{problem.id}/{problem.test_file.name}"
    return f"python -m pytest {shlex.quote(f'{path}::{test}')} --student {shlex.quote(problem.module_file)}"


def print_check(assignment: AssignmentSpec, results: list[JobResult], console: Console | None = None) -> int:
    """Print each problem's score and every failure's message; 0 when everything passed."""
    console = console or Console(highlight=False)
    by_problem = {r.problem: r for r in results}
    table = Table(title=f"{assignment.title}")
    table.add_column("Problem")
    table.add_column("Score", justify="right")
    table.add_column("Status")
    total = 0.0
    for p in assignment.problems:
        r = by_problem.get(p.id)
        score = r.score if r else 0.0
        total += score
        table.add_row(p.id, f"{score:g} / {p.points:g}", r.status if r else "not graded")
    table.add_row("[bold]total", f"[bold]{total:g} / {sum(p.points for p in assignment.problems):g}", "")
    console.print(table)
    all_passed = True
    for p in assignment.problems:
        r = by_problem.get(p.id)
        if r is None:
            continue
        if r.message and r.status != "graded":
            console.print(Panel(escape(_problem_failure(r)), title=f"{p.id}: {r.status}", border_style="red"))
            all_passed = False
        for t in r.tests:
            if t.outcome == "passed":
                continue
            all_passed = False
            if r.message and r.status != "graded" and t.message.startswith(NOT_RUN):
                continue  # the problem's reason, said once above
            if t.hidden:
                console.print(f"[red]failed[/red] {p.id}/{t.name} (hidden test: only its outcome is shown)")
                continue
            console.print(
                Panel(escape(_test_feedback(p, t)), title=f"{p.id}/{t.name}: {t.outcome}", border_style="red")
            )
    return 0 if all_passed else 1


def _problem_failure(r: JobResult) -> str:
    """A problem that could not run: its reason once, the tests it kept from running, the student's traceback."""
    not_run = [t for t in r.tests if t.message.startswith(NOT_RUN)]
    parts = [r.message]
    if not_run:
        parts.append(f"{len(not_run)} of {len(r.tests)} tests were not run.")
    traceback = next((t.student_traceback for t in not_run if t.student_traceback), "")
    if traceback:
        parts.append("Your traceback:\n" + traceback)
    return "\n\n".join(parts)


def _test_feedback(p: ProblemSpec, t: TestResult) -> str:
    parts = [t.message]
    if t.falsifying_example:
        parts.append("Smallest failing input:\n" + t.falsifying_example)
    if t.notes:
        parts.append("Notes:\n" + t.notes)
    if t.failing_input:
        parts.append("What your code was given (the last calls into it before the failure):\n" + t.failing_input)
    if t.student_traceback:
        parts.append("Your traceback:\n" + t.student_traceback)
    test_path = f"problems/{p.assignment}/{p.id}/{p.test_file.name}"
    replay = (
        "To run this test again on your code (the same smallest failing input), from the course folder or the "
        f"student kit, with --student naming your file or folder:\n  {replay_command(p, t.name)}"
    )
    if t.reproduce:
        replay += (
            f"\nTo replay only that input, add `from hypothesis import reproduce_failure` to the imports of "
            f"{test_path} and this line above `def {t.name}`:\n  {t.reproduce}"
        )
    parts.append(replay)
    if t.output:
        parts.append("Your output:\n" + t.output)
    return "\n\n".join(parts)
