"""The `grader` command line: grade, check, validate, list, report, export, kit, gradescope."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.sandbox.confine import PROTECTIONS
from grader.spec import SpecError, list_assignments, load_assignment


def _root(args: argparse.Namespace) -> Path:
    from grader.course import find_root

    return find_root(args.root)


def _workers(args: argparse.Namespace) -> int:
    from grader.runner import default_workers

    return args.jobs or default_workers()


def cmd_grade(args: argparse.Namespace) -> int:
    from grader.course import grade_assignment
    from grader.report import render
    from grader.sandbox.client import SharedZygote

    root = _root(args)
    if args.assignment:
        assignments = [args.assignment]
    else:
        assignments = [a for a in list_assignments(root) if (root / "submissions" / a).is_dir()]
        if not assignments:
            print(f"no assignment in {root / 'problems'} has submissions in {root / 'submissions'}", file=sys.stderr)
            return 2
    if args.submissions and len(assignments) != 1:
        print("give the assignment when giving a submissions folder", file=sys.stderr)
        return 2
    status = 0
    with SharedZygote() as zygote:  # one sandbox zygote for every assignment of this run
        for assignment_id in assignments:
            assignment = load_assignment(root, assignment_id)  # validates every spec before anything runs
            submissions = Path(args.submissions) if args.submissions else root / "submissions" / assignment_id
            out = (Path(args.out) if args.out else root / "reports") / assignment_id
            progress = _Progress(assignment_id)
            summary = grade_assignment(
                root, assignment_id, submissions, out, workers=_workers(args), regrade=args.regrade,
                require=tuple(args.require), cluster=args.cluster, on_result=progress.update, zygote=zygote,
            )
            progress.close()
            index = render(assignment, out)
            for warning in summary.warnings:
                print(f"  warning: {warning}", file=sys.stderr)
            print(
                f"{assignment_id}: {summary.students} students, {summary.jobs} jobs "
                f"({summary.ran} graded, {summary.reused} unchanged) in {summary.seconds:.1f} s -> {index}"
            )
            for error in summary.errors:
                print(f"  grader error: {error.student}/{error.problem}: {error.message.splitlines()[0]}", file=sys.stderr)
                status = 1
    return status


class _Progress:
    """A rich progress bar on a terminal; nothing otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.task: Any = None
        if sys.stdout.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                ProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.text import Text

            class JobsPerSecond(ProgressColumn):
                def render(self, task: object) -> Text:
                    speed = getattr(task, "speed", None)
                    return Text("" if speed is None else f"{speed:.1f} jobs/s")

            self.bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), JobsPerSecond(),
                TimeRemainingColumn(),
            )
            self.bar.start()

    def update(self, result: object, done: int, total: int) -> None:
        if self.bar is None:
            return
        if self.task is None:
            self.task = self.bar.add_task(self.label, total=total)
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def cmd_check(args: argparse.Namespace) -> int:
    from grader.course import grade_assignment
    from grader.terminal import print_check

    root = _root(args)
    assignment = load_assignment(root, args.assignment)
    only = tuple(args.problem)
    if only:
        import dataclasses

        assignment = dataclasses.replace(assignment, problems=tuple(assignment.problem(p) for p in only))
    path = Path(args.path).resolve()
    with tempfile.TemporaryDirectory(prefix="grader-check-") as tmp:
        # A one-student class: the student's folder, graded like any other.
        class_dir = Path(tmp) / "class"
        class_dir.mkdir()
        (class_dir / "you").symlink_to(path, target_is_directory=True)
        summary = grade_assignment(root, assignment.id, class_dir, Path(tmp) / "out", workers=_workers(args), only=only)
        from grader.store import Store

        store = Store(Path(tmp) / "out" / "grades.sqlite")
        results = list(store.results())
        store.close()
    for note in summary.warnings:
        if note.startswith("you: "):  # what the grader read from a notebook or zip
            print(f"note: {note[5:]}")
    if path.is_dir():
        from grader.notebooks import extract_module

        keep = frozenset(n for p in assignment.problems for n in p.names)
        for notebook in sorted(path.glob("*.ipynb")):  # parsed again, only to list what was left out
            for note in extract_module(notebook.read_bytes(), name=notebook.name, keep=keep).notes:
                print(f"  {note}")
    status = print_check(assignment, results)
    failed = [r.problem for r in results if r.score < r.max_score or r.status != "graded"]
    if failed:
        where = "" if args.path == "." else f" {args.path}"
        print("\nTo check one problem again (a few seconds):")
        for problem_id in failed:
            print(f"  grader check {assignment.id}{where} --problem {problem_id}")
    return status


def cmd_validate(args: argparse.Namespace) -> int:
    from grader.validate import validate

    root = _root(args)
    assignments = [args.assignment] if args.assignment else list_assignments(root)
    checks = validate(root, assignments, workers=_workers(args))
    bad = 0
    for c in checks:
        mark = "ok  " if c.ok else "FAIL"
        print(f"{mark} {c.assignment}/{c.problem} {c.subject}: {c.detail}")
        bad += not c.ok
    print(f"{len(checks) - bad} passed, {bad} failed")
    return 1 if bad else 0


def cmd_list(args: argparse.Namespace) -> int:
    root = _root(args)
    for assignment_id in list_assignments(root):
        a = load_assignment(root, assignment_id)
        print(f"{a.id}: {a.title} ({sum(p.points for p in a.problems):g} points)")
        for p in a.problems:
            secret = " [secret reference]" if p.secret else ""
            print(f"  {p.id:24} {p.points:>5g}  {p.module_file:28} {p.title}{secret}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from grader.report import render

    root = _root(args)
    assignment = load_assignment(root, args.assignment)
    out = (Path(args.out) if args.out else root / "reports") / assignment.id
    if not (out / "grades.sqlite").is_file():
        print(f"no results for {assignment.id} in {out}: run 'grader grade {assignment.id}' first", file=sys.stderr)
        return 2
    print(render(assignment, out))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from grader.exports import FORMATS, export

    root = _root(args)
    assignment = load_assignment(root, args.assignment)
    out = (Path(args.out) if args.out else root / "reports") / assignment.id
    if not (out / "grades.sqlite").is_file():
        print(f"no results for {assignment.id} in {out}: run 'grader grade {assignment.id}' first", file=sys.stderr)
        return 2
    for path in export(assignment, out, (args.format,) if args.format else FORMATS):
        print(path)
    return 0


def cmd_kit(args: argparse.Namespace) -> int:
    from grader.kit import KitError, build_kit

    root = _root(args)
    try:
        kit = build_kit(root, args.assignment, Path(args.out))
    except KitError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    for warning in kit.warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    for kp in kit.problems:
        extra = [f"{len(kp.hashed)} by hashed answers"] if kp.hashed else []
        extra += [f"{len(kp.instructor_only)} left to the instructor"] if kp.instructor_only else []
        extra += [f"{kp.hidden} hidden left out"] if kp.hidden else []
        print(f"  {kp.id:24} {len(kp.tests):>3} tests {kp.points:>5g} points  {', '.join(extra)}")
    print(f"{kit.assignment}: student kit -> {kit.folder}")
    if args.gradescope:
        from grader.gradescope_bundle import build_bundle

        print(f"{kit.assignment}: Gradescope autograder -> {build_bundle(root, args.assignment, Path(args.gradescope))}")
    return 0


def cmd_gradescope(args: argparse.Namespace) -> int:
    from grader.gradescope_bundle import build_bundle

    print(build_bundle(_root(args), args.assignment, Path(args.out)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Autograder for deep-learning homework.")
    parser.add_argument("--root", type=Path, help="course folder with problems/ and reference/ (default: the bundled demo)")
    sub = parser.add_subparsers(dest="command", required=True)

    grade = sub.add_parser("grade", help="grade a folder of submissions into reports/")
    grade.add_argument("assignment", nargs="?", help="assignment id (default: every assignment with submissions)")
    grade.add_argument("submissions", nargs="?", help="folder with one sub-folder per student")
    grade.add_argument("--out", help="reports folder (default: ROOT/reports)")
    grade.add_argument("--jobs", "-j", type=int, help="parallel workers (default: number of cores)")
    grade.add_argument("--regrade", action="store_true", help="grade every job again, even unchanged ones")
    grade.add_argument(
        "--cluster", metavar="ADDRESS",
        help="run the jobs on a Dask distributed scheduler (e.g. tcp://10.0.0.5:8786) instead of locally",
    )
    grade.add_argument(
        "--require", action="append", default=[], choices=PROTECTIONS, metavar="PROTECTION",
        help=f"refuse to run student code without this sandbox protection ({', '.join(PROTECTIONS)}); repeatable",
    )
    grade.set_defaults(func=cmd_grade)

    check = sub.add_parser("check", help="check your own submission in the terminal")
    check.add_argument("assignment")
    check.add_argument("path", nargs="?", default=".", help="folder with your files (default: here)")
    check.add_argument("--jobs", "-j", type=int)
    check.add_argument(
        "--problem", action="append", default=[], metavar="ID", help="check only this problem (repeatable)"
    )
    check.set_defaults(func=cmd_check)

    val = sub.add_parser("validate", help="check the bank: references score full marks, mutants fail as declared")
    val.add_argument("assignment", nargs="?")
    val.add_argument("--jobs", "-j", type=int)
    val.set_defaults(func=cmd_validate)

    lst = sub.add_parser("list", help="assignments, problems and points")
    lst.set_defaults(func=cmd_list)

    rep = sub.add_parser("report", help="render the reports again from the store")
    rep.add_argument("assignment")
    rep.add_argument("--out")
    rep.set_defaults(func=cmd_report)

    exp = sub.add_parser("export", help="write grades.csv, Gradescope results or JUnit XML from the store")
    exp.add_argument("assignment")
    exp.add_argument(
        "--format", choices=("csv", "gradescope", "junit"),
        help="csv: grades.csv; gradescope: gradescope/<student>.json; junit: junit.xml (default: all three)",
    )
    exp.add_argument("--out", help="reports folder (default: ROOT/reports)")
    exp.set_defaults(func=cmd_export)

    kit = sub.add_parser("kit", help="write the student kit: statements, public tests, no hidden test or reference")
    kit.add_argument("assignment")
    kit.add_argument("--out", required=True, help="the kit's folder (new or empty)")
    kit.add_argument("--gradescope", metavar="DIR", help="also write the Gradescope autograder bundle into DIR")
    kit.set_defaults(func=cmd_kit)

    gs = sub.add_parser("gradescope", help="write a Gradescope autograder bundle (setup.sh, run_autograder, zip)")
    gs.add_argument("assignment")
    gs.add_argument("--out", required=True, help="folder for autograder/ and autograder.zip")
    gs.set_defaults(func=cmd_gradescope)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SpecError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ngrader: interrupted; finished jobs are stored, run again to resume", file=sys.stderr)
        return 130
