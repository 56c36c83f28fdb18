"""The `grader` command line: grade, check, validate, list, report, export, forget, kit, gradescope; over a term:
adjust, extend, diff, similarity, gradebook.

Every error reaches the user as one line, `grader: <what went wrong; what to do>`, never as a
traceback (`--debug` shows it): exit status 2 for bad input or a bad spec, 1 for anything else.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from grader.course.spec import list_assignments, load_assignment
from grader.errors import GraderError, InputError, UsageError
from grader.grading.worker import ONE_THREAD
from grader.sandbox.confine import PROTECTIONS

_DEBUG_HINT = "rerun with --debug to see the traceback"


def _root(args: argparse.Namespace) -> Path:
    from grader.run.session import find_root

    return find_root(args.root)


def _workers(args: argparse.Namespace) -> int:
    from grader.run.runner import default_workers

    return args.jobs or default_workers()


def _reports(args: argparse.Namespace, assignment_id: str) -> Path:
    """The reports folder of one assignment: `--out` or ROOT/reports, then the assignment's id."""
    return (Path(args.out) if args.out else _root(args) / "reports") / assignment_id


def jobs_count(text: str) -> int | None:
    """`--jobs`: a number of workers, at least 1, or `auto` (None: one per core)."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers; give 1 or more, or 'auto'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} workers cannot grade anything; give 1 or more, or 'auto'")
    return value


def cmd_grade(args: argparse.Namespace) -> int:
    from grader.results.report import render
    from grader.run.session import GradingSession

    root = _root(args)
    if args.assignment:
        assignments = [args.assignment]
    else:
        assignments = [a for a in list_assignments(root) if (root / "submissions" / a).is_dir()]
        if not assignments:
            raise UsageError(
                f"no assignment in {root / 'problems'} has submissions in {root / 'submissions'}; "
                "give them: grader grade ASSIGNMENT SUBMISSIONS"
            )
    status = 0
    session = GradingSession(root, workers=_workers(args), require=tuple(args.require), cluster=args.cluster)
    with session:  # one sandbox zygote for every assignment of this run
        for assignment_id in assignments:
            assignment = session.assignment(assignment_id)  # validates every spec before anything runs
            submissions = Path(args.submissions) if args.submissions else root / "submissions" / assignment_id
            out = (Path(args.out) if args.out else root / "reports") / assignment_id
            progress = _Progress(assignment_id)
            try:
                summary = session.grade(
                    assignment,
                    submissions,
                    out,
                    regrade=args.regrade,
                    on_result=progress.update,
                    require_modules=True,
                    times=args.times,
                )
            finally:
                progress.close()
            index = render(assignment, out, event="grade")
            for warning in summary.warnings:
                print(f"  warning: {warning}", file=sys.stderr)
            print(
                f"{assignment_id}: {summary.students} students, {summary.jobs} jobs "
                f"({summary.ran} graded, {summary.reused} unchanged) in {summary.seconds:.1f} s -> {index}"
            )
            if summary.missing:
                print(
                    f"  note: {len(summary.missing)} students with stored results were not in {submissions}; "
                    f"their results are kept ('grader forget {assignment_id} --missing' removes them)"
                )
            for error in summary.errors:
                print(
                    f"  grader error: {error.student}/{error.problem}: {error.message.splitlines()[0]}", file=sys.stderr
                )
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
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                JobsPerSecond(),
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
    from grader.grading.sandbox_client import keep_warm_seconds
    from grader.run.session import GradingSession, SubmissionsError

    root = _root(args)
    keep_warm = keep_warm_seconds()
    assignment = load_assignment(root, args.assignment)
    only = tuple(args.problem)
    if only:
        import dataclasses

        assignment = dataclasses.replace(assignment, problems=tuple(assignment.problem(p) for p in only))
    path = Path(args.path).resolve()
    expected = f"expected the folder with your files ({', '.join(p.module_file for p in assignment.problems)})"
    if not path.is_dir():
        raise UsageError(f"{args.path} {'is not a folder' if path.exists() else 'does not exist'}; {expected}")
    with GradingSession(root, workers=_workers(args), keep_warm=keep_warm) as session:
        # The sandbox zygote imports torch in its own process from now on, while this one does the same
        # for the tests: a one-problem check then costs about one `import torch`, not two in a row. It
        # is kept for the next check (GRADER_KEEP_WARM seconds), which then skips that start.
        session.zygote.launch()
        try:
            summary, results = session.grade_one_folder(assignment, path, "you", require_modules=True)
        except SubmissionsError:
            raise UsageError(f"{args.path} holds none of your files for {assignment.id}; {expected}") from None
    for note in summary.warnings:
        if note.startswith("you: "):  # what the grader read from a notebook or zip
            print(f"note: {note[5:]}")
    if path.is_dir():
        from grader.course.notebooks import extract_module

        keep = frozenset(n for p in assignment.problems for n in p.names)
        for notebook in sorted(path.glob("*.ipynb")):  # parsed again, only to list what was left out
            for note in extract_module(notebook.read_bytes(), name=notebook.name, keep=keep).notes:
                print(f"  {note}")
    from grader.results.terminal import print_check

    status = print_check(assignment, results)
    failed = [r.problem for r in results if r.score < r.max_score or r.status != "graded"]
    if failed:
        print("\nTo check one problem again (a few seconds):")
        for line in check_again_commands(assignment.id, failed, path=args.path, root=args.root):
            print(f"  {line}")
    return status


def check_again_commands(assignment_id: str, problems: list[str], *, path: str, root: Path | None) -> list[str]:
    """The `grader check` command lines that check each of `problems` again, quoted for a shell.

    They name the course folder when the check did (`--root`), and the student's folder as it was
    typed, unless it was the working folder.
    """
    import shlex

    root_option = "" if root is None else f" --root {shlex.quote(str(root))}"
    where = "" if path == "." else f" {shlex.quote(path)}"
    return [f"grader{root_option} check {assignment_id}{where} --problem {shlex.quote(p)}" for p in problems]


def cmd_new(args: argparse.Namespace) -> int:
    from grader.course.scaffold import new_problem

    root = (args.root or Path.cwd()).resolve()  # a new course has no problems/ folder yet
    written = new_problem(root, args.assignment, args.problem)
    for path in written:
        print(f"wrote {path.relative_to(root)}")
    where = f"{args.assignment}/{args.problem}"
    print(f"next: pytest problems/{where}   then   grader validate {where}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from grader.run.validate import kill_table, validate

    root = _root(args)
    assignments = [args.assignment] if args.assignment else list_assignments(root)
    checks = validate(root, assignments, workers=_workers(args), mutate=args.mutate)
    bad = 0
    for c in checks:
        mark = "ok  " if c.ok else "FAIL"
        if c.ok and c.subject.startswith("auto ") and not args.verbose:
            continue  # killed or equivalent automatic mutants: counted in the table below
        print(f"{mark} {c.assignment}/{c.problem} {c.subject}: {c.detail}")
        bad += not c.ok
    if args.mutate:
        table = kill_table(checks)
        print("\nmutation analysis (automatic mutants of each reference):")
        print(f"  {'problem':32} {'mutants':>8} {'killed':>7} {'equivalent':>10} {'surviving':>9}")
        for name, total, killed, equivalent, surviving in table:
            print(f"  {name:32} {total:8} {killed:7} {equivalent:10} {surviving:9}")
        if args.mutation_report:
            Path(args.mutation_report).write_text(_mutation_report(table, checks))
    print(f"{len(checks) - bad} passed, {bad} failed")
    return 1 if bad else 0


def _mutation_report(table: Sequence[tuple[str, int, int, int, int]], checks: Sequence[Any]) -> str:
    """The kill table and every surviving mutant, as Markdown."""
    lines = [
        "# Mutation analysis of the bank",
        "",
        "Written by `grader validate --mutate --mutation-report PATH`: every automatic mutant of each",
        "reference (grader/run/mutate.py) graded through the problem's tests. A surviving mutant scores full",
        "marks: a test is too weak to tell it from the reference, or it is equivalent and must be recorded",
        "in the problem's `problem.toml` (`[mutation] equivalent`).",
        "",
        "| problem | mutants | killed | equivalent | surviving |",
        "|---|---:|---:|---:|---:|",
        *(f"| {n} | {t} | {k} | {e} | {s} |" for n, t, k, e, s in table),
        "",
        "## Surviving",
        "",
    ]
    survivors = [c for c in checks if c.subject.startswith("auto ") and not c.ok]
    lines += [f"- `{c.assignment}/{c.problem}` `{c.subject[5:]}`: {c.detail}" for c in survivors] or ["None."]
    equivalent = [c for c in checks if c.subject.startswith("auto ") and c.ok and c.detail.startswith("equivalent:")]
    lines += [
        "",
        "## Recorded as equivalent",
        "",
        "Each computes what the reference computes on every input the statement allows; the reason is",
        "the one recorded in the problem's `problem.toml`.",
        "",
    ]
    lines += [
        f"- `{c.assignment}/{c.problem}` `{c.subject[5:]}`: {c.detail[len('equivalent:') :].strip()}"
        for c in equivalent
    ] or ["None."]
    return "\n".join(lines) + "\n"


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
    from grader.results.report import render

    root = _root(args)
    assignment = load_assignment(root, args.assignment)
    out = _reports(args, assignment.id)
    if not (out / "grades.sqlite").is_file():
        print(f"no results for {assignment.id} in {out}: run 'grader grade {assignment.id}' first", file=sys.stderr)
        return 2
    print(render(assignment, out))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from grader.results.exports import FORMATS, export

    root = _root(args)
    assignment = load_assignment(root, args.assignment)
    out = _reports(args, assignment.id)
    if not (out / "grades.sqlite").is_file():
        print(f"no results for {assignment.id} in {out}: run 'grader grade {assignment.id}' first", file=sys.stderr)
        return 2
    for path in export(assignment, out, (args.format,) if args.format else FORMATS):
        print(path)
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    """Remove stored results, saying which: the only way results leave the store."""
    from grader.results.report import render
    from grader.results.store import Store

    assignment = load_assignment(_root(args), args.assignment)
    out = _reports(args, assignment.id)
    if not (out / "grades.sqlite").is_file():
        print(f"no results for {assignment.id} in {out}: nothing to forget", file=sys.stderr)
        return 2
    store = Store(out / "grades.sqlite")
    try:
        chosen = _chosen_jobs(store, args)
        if not chosen:
            print(f"{assignment.id}: nothing to forget")
            return 0
        if not args.yes:
            print(f"{assignment.id}: would forget {len(chosen)} results (run again with --yes to remove them):")
            for student, problem in chosen:
                print(f"  {student} / {problem}")
            return 0
        gone = store.forget(chosen)
    finally:
        store.close()
    print(f"{assignment.id}: forgot {len(gone)} results:")
    for student, problem in gone:
        print(f"  {student} / {problem}")
    print(f"{assignment.id}: reports -> {render(assignment, out, event='forget')}")
    return 0


def _chosen_jobs(store: Any, args: argparse.Namespace) -> list[tuple[str, str]]:
    """The stored (student, problem) jobs that `grader forget`'s arguments name, sorted."""
    stored = sorted(store.keys())
    students = {s for s, _ in stored}
    problems = {p for _, p in stored}
    unknown = [s for s in args.students if s not in students]
    if unknown:
        raise UsageError(
            f"no stored results for {', '.join(unknown)}; 'grader report {args.assignment}' lists the students"
        )
    for problem in args.problem:
        if problem not in problems:
            raise UsageError(f"no stored results of the problem {problem!r} (stored: {', '.join(sorted(problems))})")
    chosen = set(args.students)
    if args.missing:
        if store.last_run_students() is None:
            raise UsageError(
                "the store records no finished run with its students; --missing needs one: grade a folder first"
            )
        chosen.update(store.missing_from_last_run())
    elif not args.students:
        if not args.problem:
            raise UsageError("say what to forget: STUDENT..., --missing, or --problem ID")
        chosen = students  # --problem alone: that problem, for every student
    return [(s, p) for s, p in stored if s in chosen and (not args.problem or p in args.problem)]


def cmd_kit(args: argparse.Namespace) -> int:
    from grader.distribute.kit import build_kit

    kit = build_kit(_root(args), args.assignment, Path(args.out))
    for warning in kit.warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    for kp in kit.problems:
        extra = [f"{len(kp.hashed)} by hashed answers"] if kp.hashed else []
        extra += [f"{len(kp.instructor_only)} left to the instructor"] if kp.instructor_only else []
        extra += [f"{kp.hidden} hidden left out"] if kp.hidden else []
        print(f"  {kp.id:24} {len(kp.tests):>3} tests {kp.points:>5g} points  {', '.join(extra)}")
    print(f"{kit.assignment}: student kit -> {kit.folder}")
    if args.gradescope:
        from grader.distribute.gradescope_bundle import build_bundle

        bundle = build_bundle(_root(args), args.assignment, Path(args.gradescope))
        print(f"{kit.assignment}: Gradescope autograder -> {bundle}")
    return 0


def cmd_gradescope(args: argparse.Namespace) -> int:
    from grader.distribute.gradescope_bundle import build_bundle

    print(build_bundle(_root(args), args.assignment, Path(args.out), require=args.require or None))
    return 0


# --- over a term -----------------------------------------------------------------------------------


def _store_of(args: argparse.Namespace, assignment_id: str) -> Path:
    """The store of an assignment, which must exist (a one-line usage error otherwise)."""
    path = _reports(args, assignment_id) / "grades.sqlite"
    if not path.is_file():
        raise UsageError(f"no results for {assignment_id} in {path.parent}: run 'grader grade {assignment_id}' first")
    return path


def _stored_students(path: Path) -> list[str]:
    from grader.results.store import Store

    store = Store(path)
    try:
        return store.students()
    finally:
        store.close()


def cmd_adjust(args: argparse.Namespace) -> int:
    """Record a manual adjustment (file first, then the store), or list them."""
    from grader.results import adjustments
    from grader.results.report import render

    assignment = load_assignment(_root(args), args.assignment)
    path = adjustments.file_path(assignment)
    store_path = _store_of(args, assignment.id)
    if args.list:
        return _list_adjustments(assignment, store_path, show_withdrawn=args.all)
    words = list(args.words)
    if len(words) not in (2, 3):
        raise UsageError("give STUDENT [PROBLEM] CHANGE, e.g. grader adjust hw7 alice bn_fold +2 --reason '...'")
    student, change = words[0], words[-1]
    problem = words[1] if len(words) == 3 else ""
    if not args.reason or not args.reason.strip():
        raise UsageError("say why with --reason '...': every adjustment keeps its reason")
    students = _stored_students(store_path)
    if student not in students:
        raise UsageError(f"no stored results for {student!r}; 'grader report {assignment.id}' lists the students")
    try:
        kind, points = adjustments.parse_change(change)
    except Exception as exc:  # SpecError: one line for the user
        raise UsageError(str(exc)) from None
    adjustment = adjustments.Adjustment(
        student=student,
        problem=problem,
        kind=kind,
        points=points,
        reason=args.reason.strip(),
        by=adjustments.who(args.by),
        at=adjustments.now(),
    )
    adjustments.append(path, assignment, adjustment)
    where = f" on {problem}" if problem else ""
    print(f"{assignment.id}: {student}{where} {adjustment.change} ({adjustment.reason}; by {adjustment.by}) -> {path}")
    print(f"{assignment.id}: reports -> {render(assignment, store_path.parent, event='adjust')}")
    return 0


def _list_adjustments(assignment: Any, store_path: Path, *, show_withdrawn: bool) -> int:
    from grader.results.classbook import build_rows
    from grader.results.store import Store
    from grader.results.term import load_term

    store = Store(store_path)
    try:
        term = load_term(assignment, store)
        rows = build_rows(assignment, list(store.results()), term=term)
        log = store.adjustment_log()
    finally:
        store.close()
    for note in term.notes:
        print(f"note: {note}")
    shown = 0
    for row in rows:
        s = row.standing
        if s is None or not row.adjusted:
            continue
        shown += 1
        print(f"{row.id}: tests {s.test_score:g}, final {s.final:g} / {row.max_total:g}")
        for a in s.adjustments:
            where = a.adjustment.problem or "assignment"
            print(
                f"  {where} {a.adjustment.change} ({a.effect:+g}): {a.adjustment.reason} "
                f"[by {a.adjustment.by or 'hand'}, {a.adjustment.at or 'no date'}]"
            )
        if s.extension is not None:
            print(f"  extended until {s.extension.isoformat()}")
        if s.late is not None and s.late.submitted is not None:
            print(f"  late: {s.late.describe()}")
    if not shown:
        print(f"{assignment.id}: no adjustments, extensions or late submissions")
    if show_withdrawn:
        gone = [(entry, seen, at) for entry, seen, at in log if at is not None]
        print(f"withdrawn ({len(gone)}):" if gone else "withdrawn: none")
        for entry, seen, at in gone:
            what = entry.get("points") if entry.get("kind") != "extend" else entry.get("until")
            print(
                f"  {entry.get('student')} {entry.get('problem') or 'assignment'} {entry.get('kind')} {what}: "
                f"{entry.get('reason')} [recorded {seen}, withdrawn {at}]"
            )
    return 0


def cmd_extend(args: argparse.Namespace) -> int:
    """Give a student a later due date (an `extend` row of the adjustments file)."""
    from grader.results import adjustments
    from grader.results.report import render

    assignment = load_assignment(_root(args), args.assignment)
    store_path = _store_of(args, assignment.id)
    if args.student not in _stored_students(store_path):
        raise UsageError(f"no stored results for {args.student!r}; 'grader report {assignment.id}' lists the students")
    adjustment = adjustments.Adjustment(
        student=args.student,
        problem="",
        kind="extend",
        until=args.until.strip(),
        reason=(args.reason or "").strip(),
        by=adjustments.who(args.by),
        at=adjustments.now(),
    )
    path = adjustments.file_path(assignment)
    adjustments.append(path, assignment, adjustment)
    print(f"{assignment.id}: {args.student} due {adjustment.until} (by {adjustment.by}) -> {path}")
    if assignment.due_at is None:
        print(f"  note: {assignment.id} has no due date with a time zone in assignment.toml, so no late policy applies")
    print(f"{assignment.id}: reports -> {render(assignment, store_path.parent, event='extend')}")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    """What changed between two snapshots of the class (default: the last two)."""
    from grader.results.history import diff
    from grader.results.report import render
    from grader.results.store import Store

    assignment = load_assignment(_root(args), args.assignment)
    store_path = _store_of(args, assignment.id)
    render(assignment, store_path.parent)  # keeps a snapshot if the adjustments file changed since the last
    store = Store(store_path)
    try:
        if args.list:
            for snap_id, taken_at, event in store.snapshots():
                print(f"{snap_id:>4}  {taken_at}  {event}")
            return 0
        if len(args.snapshots) not in (0, 2):
            raise UsageError(
                "give two snapshots (grader diff ASSIGNMENT A B), or none for the last two; --list lists them"
            )
        try:
            ids = [int(x) for x in args.snapshots]
        except ValueError:
            raise UsageError(f"snapshots are numbers ({' '.join(args.snapshots)}); --list lists them") from None
        try:
            found = diff(store, *ids) if ids else diff(store)
        except KeyError as exc:
            raise UsageError(str(exc.args[0])) from None
    finally:
        store.close()
    if found is None:
        print(f"{assignment.id}: one snapshot so far; nothing to compare it with")
        return 0
    print(f"{assignment.id}: " + "\n".join(found.lines()))
    return 0


def cmd_similarity(args: argparse.Namespace) -> int:
    """The most similar pairs of submissions per problem, and reports/<a>/similarity.html."""
    from grader.results.report import render
    from grader.results.similarity import WORDING, compare_class
    from grader.results.store import Store

    assignment = load_assignment(_root(args), args.assignment)
    store_path = _store_of(args, assignment.id)
    store = Store(store_path)
    try:
        results = [r for r in store.results() if r.problem in {p.id for p in assignment.problems}]
    finally:
        store.close()
    render(assignment, store_path.parent)
    for p in compare_class(assignment, results, top=args.top):
        print(f"{assignment.id}/{p.problem.id}: {p.compared} modules compared")
        for i, pair in enumerate(p.pairs, start=1):
            print(
                f"  {i:>2}. {pair.a} and {pair.b}: {100 * pair.share_a:.0f}% of {pair.a}'s code and "
                f"{100 * pair.share_b:.0f}% of {pair.b}'s is in both"
            )
        if not p.pairs:
            print("  no two modules share a run of code long enough to count")
    print(WORDING)
    print(f"{assignment.id}: side by side -> {store_path.parent / 'similarity.html'}")
    return 0


def cmd_gradebook(args: argparse.Namespace) -> int:
    """Every assignment's final scores, weighted by problems/course.toml, in one CSV and one page."""
    from grader.results.gradebook import write_gradebook

    root = _root(args)
    csv_path, html_path, book = write_gradebook(root, Path(args.out) if args.out else root / "reports")
    for note in book.notes:
        print(f"note: {note}")
    weights = ", ".join(f"{c.assignment} {100 * c.weight:g}%" for c in book.columns)
    print(f"gradebook: {len(book.students)} students, {weights}")
    print(csv_path)
    print(html_path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Autograder for deep-learning homework.")
    parser.add_argument(
        "--root", type=Path, help="course folder with problems/ and reference/ (default: the bundled demo)"
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    # --debug is also taken after the command (`grader grade hw7 --debug`), without overriding it before.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of an error"
    )
    jobs_help = "parallel workers: 1 or more, or 'auto' (default: auto, one per core)"
    sub = parser.add_subparsers(dest="command", required=True)

    grade = sub.add_parser("grade", parents=[common], help="grade a folder of submissions into reports/")
    grade.add_argument("assignment", nargs="?", help="assignment id (default: every assignment with submissions)")
    grade.add_argument("submissions", nargs="?", help="folder with one sub-folder per student")
    grade.add_argument("--out", help="reports folder (default: ROOT/reports)")
    grade.add_argument("--jobs", "-j", type=jobs_count, metavar="N", help=jobs_help)
    grade.add_argument("--regrade", action="store_true", help="grade every job again, even unchanged ones")
    grade.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run the jobs on a Dask distributed scheduler (e.g. tcp://10.0.0.5:8786) instead of locally",
    )
    grade.add_argument(
        "--require",
        action="append",
        default=[],
        choices=PROTECTIONS,
        metavar="PROTECTION",
        help=f"refuse to run student code without this sandbox protection ({', '.join(PROTECTIONS)}); repeatable",
    )
    grade.add_argument(
        "--times",
        default="auto",
        metavar="SOURCE",
        help="submission times for the late policy: auto (submitted.csv in the folder, else the layout's markers), "
        "mtime (the files' modification times), none, or a CSV file (student,submitted_at)",
    )
    grade.set_defaults(func=cmd_grade)

    check = sub.add_parser("check", parents=[common], help="check your own submission in the terminal")
    check.add_argument("assignment")
    check.add_argument("path", nargs="?", default=".", help="folder with your files (default: here)")
    check.add_argument("--jobs", "-j", type=jobs_count, metavar="N", help=jobs_help)
    check.add_argument(
        "--problem", action="append", default=[], metavar="ID", help="check only this problem (repeatable)"
    )
    check.set_defaults(func=cmd_check)

    val = sub.add_parser(
        "validate",
        parents=[common],
        help="check the bank: references and alternatives score full marks, mutants fail as declared",
    )
    val.add_argument("assignment", nargs="?", help="an assignment, or one problem as ASSIGNMENT/PROBLEM (default: all)")
    val.add_argument("--jobs", "-j", type=jobs_count, metavar="N", help=jobs_help)
    val.add_argument(
        "--mutate",
        action="store_true",
        help="also grade automatic mutants of each reference; each must lose points or be recorded as equivalent",
    )
    val.add_argument("--mutation-report", metavar="PATH", help="with --mutate: write the kill table as Markdown")
    val.add_argument("--verbose", "-v", action="store_true", help="also list every killed automatic mutant")
    val.set_defaults(func=cmd_validate)

    new = sub.add_parser(
        "new", parents=[common], help="scaffold a problem (spec, statement, tests, reference, mutants, alternatives)"
    )
    new.add_argument("assignment", help="the assignment (created if it does not exist)")
    new.add_argument("problem", help="the problem's id, which is also the student's module name")
    new.set_defaults(func=cmd_new)

    lst = sub.add_parser("list", parents=[common], help="assignments, problems and points")
    lst.set_defaults(func=cmd_list)

    rep = sub.add_parser("report", parents=[common], help="render the reports again from the store")
    rep.add_argument("assignment")
    rep.add_argument("--out")
    rep.set_defaults(func=cmd_report)

    exp = sub.add_parser(
        "export", parents=[common], help="write grades.csv, Gradescope results or JUnit XML from the store"
    )
    exp.add_argument("assignment")
    exp.add_argument(
        "--format",
        choices=("csv", "gradescope", "junit"),
        help="csv: grades.csv; gradescope: gradescope/<student>.json; junit: junit.xml (default: all three)",
    )
    exp.add_argument("--out", help="reports folder (default: ROOT/reports)")
    exp.set_defaults(func=cmd_export)

    forget = sub.add_parser(
        "forget",
        parents=[common],
        help="remove stored results (grading never does): lists them, removes them with --yes",
    )
    forget.add_argument("assignment")
    forget.add_argument("students", nargs="*", metavar="STUDENT", help="students whose results to remove")
    forget.add_argument(
        "--problem",
        action="append",
        default=[],
        metavar="ID",
        help="only this problem's results (repeatable); alone: this problem's results of every student",
    )
    forget.add_argument(
        "--missing", action="store_true", help="the students that the latest run did not find in its folder"
    )
    forget.add_argument("--yes", action="store_true", help="remove them (without it: only list what would go)")
    forget.add_argument("--out", help="reports folder (default: ROOT/reports)")
    forget.set_defaults(func=cmd_forget)

    kit = sub.add_parser(
        "kit", parents=[common], help="write the student kit: statements, public tests, no hidden test or reference"
    )
    kit.add_argument("assignment")
    kit.add_argument("--out", required=True, help="the kit's folder (new or empty)")
    kit.add_argument("--gradescope", metavar="DIR", help="also write the Gradescope autograder bundle into DIR")
    kit.set_defaults(func=cmd_kit)

    gs = sub.add_parser(
        "gradescope", parents=[common], help="write a Gradescope autograder bundle (setup.sh, run_autograder, zip)"
    )
    gs.add_argument("assignment")
    gs.add_argument("--out", required=True, help="folder for autograder/ and autograder.zip")
    gs.add_argument(
        "--require",
        action="append",
        default=[],
        choices=PROTECTIONS,
        metavar="PROTECTION",
        help="require exactly these sandbox protections (repeatable; default: every one the image applies at set-up)",
    )
    gs.set_defaults(func=cmd_gradescope)

    adjust = sub.add_parser(
        "adjust",
        parents=[common],
        help="record a manual adjustment (+N, -N, =N) with its reason, or list them (--list)",
    )
    adjust.add_argument("assignment")
    adjust.add_argument(
        "words",
        nargs="*",
        metavar="STUDENT [PROBLEM] CHANGE",
        help="the student, a problem (default: the whole assignment), and +N, -N or =N",
    )
    adjust.add_argument("--reason", help="why (required: it is the audit trail)")
    adjust.add_argument("--by", help="who (default: the operating system's user)")
    adjust.add_argument("--list", action="store_true", help="list every adjustment, extension and late submission")
    adjust.add_argument("--all", action="store_true", help="with --list: also adjustments withdrawn from the file")
    adjust.add_argument("--out", help="reports folder (default: ROOT/reports)")
    adjust.set_defaults(func=cmd_adjust)

    extend = sub.add_parser("extend", parents=[common], help="give a student a later due date")
    extend.add_argument("assignment")
    extend.add_argument("student")
    extend.add_argument("--until", required=True, help="the new due date, e.g. 2026-10-05T23:59:00+02:00")
    extend.add_argument("--reason", help="why (kept with the extension)")
    extend.add_argument("--by", help="who (default: the operating system's user)")
    extend.add_argument("--out", help="reports folder (default: ROOT/reports)")
    extend.set_defaults(func=cmd_extend)

    diff = sub.add_parser(
        "diff", parents=[common], help="the scores that changed between two snapshots (default: the last two), and why"
    )
    diff.add_argument("assignment")
    diff.add_argument("snapshots", nargs="*", metavar="SNAPSHOT", help="two snapshot numbers (see --list)")
    diff.add_argument("--list", action="store_true", help="list the snapshots")
    diff.add_argument("--out", help="reports folder (default: ROOT/reports)")
    diff.set_defaults(func=cmd_diff)

    sim = sub.add_parser(
        "similarity", parents=[common], help="the most similar pairs of submissions per problem (for instructors)"
    )
    sim.add_argument("assignment")
    sim.add_argument("--top", type=int, default=5, help="pairs listed per problem (default: 5)")
    sim.add_argument("--out", help="reports folder (default: ROOT/reports)")
    sim.set_defaults(func=cmd_similarity)

    book = sub.add_parser(
        "gradebook", parents=[common], help="every assignment's final scores, weighted by problems/course.toml"
    )
    book.add_argument("--out", help="reports folder (default: ROOT/reports)")
    book.set_defaults(func=cmd_gradebook)
    return parser


def error_line(exc: BaseException, *, debug: bool = False) -> tuple[str, int]:
    """The one line that tells the user what went wrong and what to do, and the exit status."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    if isinstance(exc, InputError):
        more = "" if debug or len(lines) == 1 else " (rerun with --debug for the details)"
        return f"grader: {lines[0]}{more}", exc.exit_status
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"grader: {exc.filename}: {exc.strerror or lines[0]}", 2
    if isinstance(exc, GraderError):
        hint = "" if debug or not exc.hint else f"; {exc.hint}"
        return f"grader: {lines[0]}{hint}", exc.exit_status
    what = f"grader: internal error: {type(exc).__name__}: {lines[0]}"
    return what + ("; please report it" if debug else f"; {_DEBUG_HINT}, and report it"), 1


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, `timeout`, `docker stop`) or SIGHUP (the terminal closed) arrived:
    the run stops as at Ctrl-C.

    A KeyboardInterrupt, so that every clean-up that Ctrl-C runs (workers killed, the zygote and the
    temporary folders removed) runs for it too.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_STOPPED_BY: dict[int, str] = {signal.SIGTERM: "terminated", signal.SIGHUP: "hung up"}


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise Terminated, once: the clean-up then runs to its end.

    Only in the main thread, and not SIGHUP where it is ignored (`nohup`); the handlers that were there
    are put back after the block.
    """

    def stop(signum: int, frame: object) -> None:
        for sig in installed:
            signal.signal(sig, signal.SIG_IGN)
        raise Terminated(signum)

    installed: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in _STOPPED_BY:
            if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
                continue
            installed[sig] = signal.signal(sig, stop)
    try:
        yield
    finally:
        for sig, previous in installed.items():
            signal.signal(sig, previous)


def main(argv: Sequence[str] | None = None) -> int:
    # numpy's BLAS on one thread, as torch's (grader.grading.worker_threads says why): set before this
    # process or the workers it starts load numpy, as a student's check runs its job in this process.
    os.environ.update(ONE_THREAD)
    args = build_parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    try:
        with _stopped_by_signals():
            return int(args.func(args))
    except Terminated as stop:
        with contextlib.suppress(OSError):  # a terminal that hung up takes no more output
            print(
                f"\ngrader: {_STOPPED_BY[stop.signum]}; finished jobs are stored, run again to resume", file=sys.stderr
            )
        return 128 + stop.signum
    except KeyboardInterrupt:
        print("\ngrader: interrupted; finished jobs are stored, run again to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001  (the last resort: one line, never a traceback unless asked)
        if debug:
            traceback.print_exc()
        line, status = error_line(exc, debug=debug)
        print(line, file=sys.stderr)
        return status
