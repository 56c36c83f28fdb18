"""A student's self-check in the terminal: scores, and for each failed test what to do next."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from grader.results import JobResult
from grader.spec import AssignmentSpec


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
            console.print(Panel(r.message, title=f"{p.id}: {r.status}", border_style="red"))
            all_passed = False
            continue
        for t in r.tests:
            if t.outcome == "passed":
                continue
            all_passed = False
            if t.hidden:
                console.print(f"[red]failed[/red] {p.id}/{t.name} (hidden test: only its outcome is shown)")
                continue
            parts = [t.message]
            if t.falsifying_example:
                parts.append("Smallest failing input:\n" + t.falsifying_example)
            if t.student_traceback:
                parts.append("Your traceback:\n" + t.student_traceback)
            if t.reproduce:
                parts.append("To reproduce: " + t.reproduce)
            if t.output:
                parts.append("Your output:\n" + t.output)
            console.print(Panel("\n\n".join(parts), title=f"{p.id}/{t.name}: {t.outcome}", border_style="red"))
    return 0 if all_passed else 1
