"""Finding each student's files in the folder layouts instructors download.

Three layouts, which may be mixed in one folder:

- one folder per student: `<student>/<module>.py` (the student is the folder's name; a Moodle
  folder name `Full Name_12345_assignsubmission_file_` gives `Full Name`);
- one flat folder of files named by student, as LMS bulk downloads name them:
  Canvas `<student>[_late]_<id>_<id>_<file>` (a resubmitted `<file>-1.py` counts as `<file>.py`),
  Moodle `<Full Name>_<id>_assignsubmission_file_<file>`, or `<student>_<module>.py` /
  `<student>-<module>.py` where `<module>` is a module a problem asks for;
- one zip per student: `<student>.zip` (or a Canvas/Moodle name ending in `.zip`), holding the
  module files, possibly inside one sub-folder.

Anything other than a plain folder is staged into a private folder of plain files, so that every
student ends up as one folder, graded the same way. Zips are extracted by reading members, never by
`extractall`: names with `..`, absolute paths, links and oversized archives are refused. A notebook
(`<name>.ipynb`) is turned into `<name>.py` by parsing (grader.course.notebooks); a problem's module that is
missing is taken from the student's only notebook.

A student's folder with none of the modules at its top (a cloned repository, a zip of a folder of
folders, a notebook in a sub-folder) is searched (`find_student_files`): the student's own files win
over anything that is course material (a copy of the kit or of the course repository, the kit's
stand-ins for references), and when two folders hold the student's files the choice is noted and
made the same way every time. A folder whose every student is such an ambiguous folder is a folder
of classes, not a class: nothing is picked in it.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
import stat
import unicodedata
import zipfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.course.notebooks import extract_module
from grader.errors import LayoutError
from grader.safetext import one_line

MAX_ZIP_BYTES = 32 << 20  # uncompressed, per student (the same cap as a submission folder)
MAX_ZIP_MEMBERS = 2000

_MOODLE = re.compile(r"^(?P<student>.+?)_(?P<id>\d+)_assignsubmission_[a-z]+_(?P<file>.*)\Z")
_CANVAS = re.compile(r"^(?P<student>[A-Za-z0-9-]+?)(?:_late|_LATE)?_(?P<id>\d+)_(?P<sub>\d+)_(?P<file>.+)\Z")
_RESUBMITTED = re.compile(r"^(?P<stem>.+?)-\d+(?P<ext>\.[A-Za-z0-9]+)\Z")
_SKIP = ("__MACOSX", ".DS_Store", "__pycache__")


@dataclass
class Discovered:
    """The students found in a folder, each as one folder of plain files, and what was noticed."""

    students: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # For submission times (grader.results.late): each student's entries in the folder as downloaded (their
    # modification times), and the students an LMS file name marks late (Canvas's `_late_`).
    entries: dict[str, list[Path]] = field(default_factory=dict)
    marked_late: set[str] = field(default_factory=set)


# The instructor's submission times (grader.results.late), not a student's file.
SUBMISSION_TIMES_FILE = "submitted.csv"
_CANVAS_LATE = re.compile(r"^[A-Za-z0-9-]+?_(?:late|LATE)_\d+_\d+_.+\Z")


def marked_late(name: str) -> bool:
    """Whether an LMS download's file name carries Canvas's late marker (`<student>_late_<id>_<id>_<file>`)."""
    return _CANVAS_LATE.match(name) is not None


def split_lms_name(name: str, modules: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """(student, original file name) from an LMS download's file name; None when it names no student."""
    for pattern in (_MOODLE, _CANVAS):
        match = pattern.match(name)
        if match and match.group("file"):
            return match.group("student"), _undo_resubmission(match.group("file"), modules)
    for module in sorted(modules, key=len, reverse=True):
        for sep in ("_", "-"):
            if name.endswith(sep + module) and len(name) > len(sep + module):
                return name[: -len(sep + module)], module
    return None


def _undo_resubmission(file: str, modules: tuple[str, ...]) -> str:
    if file in modules:
        return file
    match = _RESUBMITTED.match(file)
    return match.group("stem") + match.group("ext") if match else file


def student_of_folder(name: str) -> str:
    """A folder's student: its name, without Moodle's `_<id>_assignsubmission_file_` suffix."""
    match = _MOODLE.match(name)
    return match.group("student") if match and not match.group("file") else name


# The first line of the docstring that is the whole body of a kit's stand-in for a reference (grader.distribute.kit).
KIT_STAND_IN = "Not shipped: references never leave the instructor."
_COURSE_MARKERS = ("problems", "reference", "grader")  # two of them make a folder a copy of course material
_COURSE_MATERIAL = (*_COURSE_MARKERS, "submissions", "reports")  # the sub-folders of such a copy
_MAX_SEARCH_DEPTH = 8
_MAX_SEARCH_FOLDERS = 2000
_MAX_STAND_IN_BYTES = 4096


def is_stand_in(path: Path) -> bool:
    """Whether `path` is a kit's stand-in for a reference: a module whose whole body is the kit's docstring."""
    try:
        if path.is_symlink() or path.stat().st_size > _MAX_STAND_IN_BYTES:
            return False
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return False
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return False
    value = tree.body[0].value
    return isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value.startswith(KIT_STAND_IN)


def is_course_copy(folder: Path) -> bool:
    """Whether `folder` is a copy of course material (a student kit, a course repository): two of problems/,
    reference/ and grader/ in it."""
    return sum((folder / name).is_dir() and not (folder / name).is_symlink() for name in _COURSE_MARKERS) >= 2


@dataclass(frozen=True)
class FilesFound:
    """Where a student's files are in a submission, and what the search noticed (paths relative to it)."""

    folder: Path  # the folder to grade: where the files are, or the submission itself when none was found
    found: bool  # whether any module (or notebook) was found
    notes: tuple[str, ...] = ()
    others: tuple[Path, ...] = ()  # other folders with the student's files, not graded: an ambiguity


@dataclass(frozen=True)
class _Candidate:
    folder: Path
    depth: int
    material: bool  # inside a copy of course material: taken only when nothing else holds files
    modules: frozenset[str]  # the modules found as .py files (stand-ins left out)
    covered: frozenset[str]  # the modules found as .py files or notebooks

    def rank(self, root: Path) -> tuple[bool, int, int, int, str]:
        return (
            self.material,
            -len(self.covered),
            -len(self.modules),
            self.depth,
            self.folder.relative_to(root).as_posix(),
        )


def find_student_files(submission: Path, modules: tuple[str, ...]) -> FilesFound:
    """The folder of `submission` that holds the student's files for `modules` (module files such as `bn_fold.py`).

    The submission itself when a module (or a notebook) is at its top; otherwise the sub-folder with
    the most of the modules (a notebook counts for the module it is named after, and a folder's only
    notebook for all of them), then the shallowest, then the first by name. Hidden folders and links
    are not searched. Course material is never taken for the student's work while anything else
    holds files: a kit's stand-in for a reference is never a candidate, and the sub-folders of a copy
    of the kit or of the course repository (problems/, reference/, grader/, ...) are a last resort.
    Other folders that hold files outside the one chosen are named in a note (`others`).
    """
    if not modules or not submission.is_dir():
        return FilesFound(submission, found=False)
    candidates: list[_Candidate] = []
    stand_ins: list[Path] = []
    pending: deque[tuple[Path, int, bool]] = deque([(submission, 0, False)])  # breadth first: the top first
    visited = 0
    while pending and visited < _MAX_SEARCH_FOLDERS:
        folder, depth, material = pending.popleft()
        visited += 1
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        copy = is_course_copy(folder)
        found: set[str] = set()
        notebooks: list[Path] = []
        for entry in entries:
            if entry.is_symlink() or entry.name.startswith(".") or entry.name in _SKIP:
                continue
            if entry.is_dir():
                if depth < _MAX_SEARCH_DEPTH:
                    pending.append((entry, depth + 1, material or (copy and entry.name in _COURSE_MATERIAL)))
            elif entry.name in modules and entry.is_file():
                if is_stand_in(entry):
                    stand_ins.append(entry)
                else:
                    found.add(entry.name)
            elif entry.suffix.lower() == ".ipynb" and entry.is_file():
                notebooks.append(entry)
        covered = set(found) | {m for m in modules if any(nb.stem == Path(m).stem for nb in notebooks)}
        if len(notebooks) == 1:
            covered.update(modules)  # a folder's only notebook stands in for every module (convert_notebooks)
        if covered:
            candidates.append(_Candidate(folder, depth, material, frozenset(found), frozenset(covered)))
    notes: list[str] = []
    if not candidates:
        if stand_ins:
            names = ", ".join(_relative(p, submission) for p in sorted(stand_ins)[:3])
            notes.append(
                f"found only the course kit's stand-ins for the references ({names}), which are not "
                "the student's work: no file of the student's to grade"
            )
        return FilesFound(submission, found=False, notes=tuple(notes))
    if candidates[0].folder == submission:  # files at the top: the common case, graded as they are
        return FilesFound(submission, found=True)
    candidates.sort(key=lambda c: c.rank(submission))
    best = candidates[0]
    others = [
        c
        for c in candidates[1:]
        if c.material == best.material and not c.folder.is_relative_to(best.folder) and c.folder != submission
    ]
    where = _relative(best.folder, submission) + "/"
    notes.append(f"graded the files in {where} (none at the top of the submission)")
    if best.material:
        notes.append(
            f"{where} is inside a copy of the course material; nothing else in the submission holds "
            f"{' or '.join(modules)}"
        )
    if others:
        listed = "; ".join(f"{_relative(c.folder, submission)}/ ({_files(c)})" for c in others[:4])
        notes.append(
            f"more than one folder holds files of this assignment: graded {where} ({_files(best)}), "
            f"not {listed}; keep one copy of the files to be graded"
        )
    return FilesFound(best.folder, found=True, notes=tuple(notes), others=tuple(c.folder for c in others))


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path != root else "."


def _files(candidate: _Candidate) -> str:
    return ", ".join(sorted(candidate.modules)) or "a notebook"


def discover(
    folder: Path, staging: Path, *, modules: tuple[str, ...] = (), keep_names: frozenset[str] = frozenset()
) -> Discovered:
    """Every student in `folder`, each as one folder; non-folder layouts and notebooks go to `staging`.

    `modules` are the module files the problems ask for (`bn_fold.py`); `keep_names` the names they
    ask for (kept from a notebook whatever their value). Two submissions never become one student
    (grader.course.layouts.student_ids): a name that two of them share is made distinct, with a note.
    """
    found = Discovered()
    if not folder.is_dir():
        return found
    submissions: dict[tuple[str, ...], _Submission] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")) or entry.is_symlink() and not entry.is_dir():
            continue
        if entry.is_dir():
            moodle = _MOODLE.match(entry.name)
            if moodle and not moodle.group("file"):
                key: tuple[str, ...] = ("lms", moodle.group("student"), moodle.group("id"))
            else:
                key = ("folder", entry.name)
            _add(submissions, key, ("folder", entry), late=False)
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            split = split_lms_name(entry.name)
            lms = _lms_id(entry.name)
            if split and lms:
                key = ("lms", split[0], lms)
            else:
                key = ("zip", entry.name)
            _add(submissions, key, ("zip", entry), late=bool(split) and marked_late(entry.name))
        elif entry.is_file() and entry.name == SUBMISSION_TIMES_FILE:
            continue
        elif entry.is_file():
            split = split_lms_name(entry.name, modules)
            if split is None:
                found.notes.append(f"{one_line(entry.name)}: ignored (the name does not say whose file it is)")
                continue
            lms = _lms_id(entry.name)
            key = ("lms", split[0], lms) if lms else ("files", split[0])
            _add(submissions, key, (split[1], entry), late=marked_late(entry.name))
    ids = student_ids(list(submissions.values()), found.notes)
    sources: dict[str, list[tuple[str, Path]]] = {}
    for sub_key, submission in submissions.items():
        student = ids[sub_key]
        sources[student] = submission.items
        if submission.late:
            found.marked_late.add(student)
    sources = dict(sorted(sources.items()))
    found.entries = {student: [path for _, path in items] for student, items in sources.items()}
    searched: dict[str, FilesFound] = {}
    unreadable: dict[str, str] = {}  # student -> why their files could not be read: only they are refused
    for student, items in sources.items():
        if len(items) == 1 and items[0][0] == "folder":
            try:
                searched[student] = find_student_files(items[0][1], modules)
            except Exception as exc:  # noqa: BLE001  (one student's odd files never stop the run)
                unreadable[student] = _reason(exc)
    if (
        len(sources) > 1
        and len(searched) == len(sources)
        and not any(r.found and not r.others for r in searched.values())
    ):
        # No entry is one student's folder: each that holds files holds them in several sub-folders.
        # This is a folder of classes (`submissions/` for `submissions/hw7`): nothing is picked in it.
        searched = {student: FilesFound(sources[student][0][1], found=False) for student in searched}
    for number, (student, items) in enumerate(sources.items()):
        try:
            if student in unreadable:
                raise LayoutError(unreadable[student])
            _stage_student(found, student, items, number, searched, staging, modules, keep_names)
        except Exception as exc:  # noqa: BLE001  (a zip, notebook or name nobody foresaw: that student only)
            reason = str(exc) if isinstance(exc, LayoutError) else _reason(exc)
            found.notes.append(f"{student}: could not read the submission: {reason}")
            target = staging / f"student-{number}"
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            (target / "SUBMISSION_REFUSED.txt").write_text(f"could not read the submission: {reason}\n")
            found.students[student] = target
    # Notes name entries of the student's folders, whose names may not be UTF-8: made printable here.
    found.notes = [one_line(note, 2000) for note in found.notes]
    return found


MAX_ID_CHARS = 120  # a student id longer than this (a very long file name) is cut, with a hash to keep it distinct


@dataclass
class _Submission:
    """One student's submission as downloaded: the entries of the folder that make it up."""

    key: tuple[str, ...]  # what makes it one: ("lms", name, LMS id), ("folder", name), ("zip", name), ("files", name)
    items: list[tuple[str, Path]]  # (kind, path): "folder", "zip", or the file name it stands for
    late: bool = False

    @property
    def name(self) -> str:
        """The student as the download names them (possibly not valid UTF-8, possibly shared with another)."""
        kind = self.key[0]
        if kind == "folder":
            return student_of_folder(self.key[1])
        if kind == "zip":
            split = split_lms_name(self.key[1])
            return split[0] if split else Path(self.key[1]).stem
        return self.key[1]

    def describe(self) -> str:
        """Where it comes from, as a note names it: `alice/`, `alice.zip`, `alice_*` or the LMS id."""
        kind = self.key[0]
        if kind == "lms":
            return f"{self.key[2]}"
        if kind == "folder":
            return _source_name(self.key[1]) + "/"
        if kind == "zip":
            return _source_name(self.key[1])
        return f"{_source_name(self.key[1])}_* files"

    def sources(self) -> str:
        return ", ".join(
            _source_name(path.name) + ("/" if kind == "folder" else "") for kind, path in self.items[:4]
        ) + (" ..." if len(self.items) > 4 else "")


def _source_name(name: str) -> str:
    """An entry's name in a note, unambiguous: one that is not valid UTF-8 is shown as its bytes."""
    return one_line(ascii(os.fsencode(name)) if _undecodable(name) else name, MAX_ID_CHARS)


def _undecodable(name: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in name)  # os.fsdecode's stand-ins for bytes that are not UTF-8


def _add(
    submissions: dict[tuple[str, ...], _Submission], key: tuple[str, ...], item: tuple[str, Path], *, late: bool
) -> None:
    submission = submissions.setdefault(key, _Submission(key, []))
    submission.items.append(item)
    submission.late = submission.late or late


def _lms_id(name: str) -> str | None:
    """The LMS's id of the student in a Canvas or Moodle download name (two students may share a name, never an id)."""
    for pattern in (_MOODLE, _CANVAS):
        match = pattern.match(name)
        if match and match.group("file"):
            return match.group("id")
    return None


def printable_name(name: str, most: int = MAX_ID_CHARS) -> str:
    """A file name as text that is valid UTF-8, on one line and bounded; bytes that are not UTF-8 are shown as `\\xNN`."""
    if _undecodable(name):
        name = os.fsencode(name).decode("utf-8", "backslashreplace")
    return one_line(name, most)


def clean_id(name: str) -> str:
    """A student id from a name as downloaded: printable, valid UTF-8, at most MAX_ID_CHARS characters."""
    text = printable_name(name, 10 * MAX_ID_CHARS).strip() or "_"
    if len(text) > MAX_ID_CHARS:
        digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:8]
        text = f"{text[: MAX_ID_CHARS - 10]}…{digest}"
    return text


def student_ids(submissions: list[_Submission], notes: list[str]) -> dict[tuple[str, ...], str]:
    """A distinct id for each submission, the same for the same folder on every run.

    The id is the student's name as the download gives it (made printable and bounded, grader.safetext).
    Two submissions that would share one (two students of the same name, `alice/` beside `alice.zip`,
    names that differ only in bytes that are not UTF-8) both keep their files: each gets the name
    followed by what tells it apart (`Ann Lee [777]` with the LMS's id, `alice [alice.zip]`), and a
    note names both sources. Ids that differ only by case or accents are noted, not changed.
    """
    by_id: dict[str, list[_Submission]] = {}
    for submission in sorted(submissions, key=lambda s: s.key):
        by_id.setdefault(clean_id(submission.name), []).append(submission)
        if clean_id(submission.name) != submission.name and submission.name.strip():
            notes.append(
                f"{clean_id(submission.name)}: the name {printable_name(submission.name)!r} was made "
                f"printable{' and shortened' if len(submission.name) > MAX_ID_CHARS else ''} for the reports"
            )
    ids: dict[tuple[str, ...], str] = {}
    taken: set[str] = set(by_id)
    for name, group in sorted(by_id.items()):
        if len(group) == 1:
            ids[group[0].key] = name
            continue
        chosen = []
        for submission in group:
            candidate = f"{name} [{one_line(submission.describe(), 80)}]"
            number = 2
            while candidate in taken:
                candidate = f"{name} [{one_line(submission.describe(), 80)}] #{number}"
                number += 1
            taken.add(candidate)
            ids[submission.key] = candidate
            chosen.append(f"{submission.sources()} as {candidate!r}")
        notes.append(
            f"{len(group)} submissions are named {name!r}; all are graded, none merged: "
            + "; ".join(chosen)
            + " (rename the folders or files to choose the ids)"
        )
    folded: dict[str, list[str]] = {}
    for student in ids.values():
        folded.setdefault(unicodedata.normalize("NFKC", student).casefold(), []).append(student)
    for same in folded.values():
        if len(same) > 1:
            notes.append(
                f"the ids {', '.join(repr(s) for s in sorted(same))} differ only by case or accents: "
                "graded as different students"
            )
    return ids


def _reason(exc: BaseException) -> str:
    """One line that says what went wrong, bounded in length."""
    text = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]


def _stage_student(
    found: Discovered,
    student: str,
    items: list[tuple[str, Path]],
    number: int,
    searched: dict[str, FilesFound],
    staging: Path,
    modules: tuple[str, ...],
    keep_names: frozenset[str],
) -> None:
    """One student's files as one folder in `found.students`; notes on what was read or refused."""
    if student in searched:
        files = searched[student]
        found.notes.extend(f"{student}: {note}" for note in files.notes)
        if not _has_notebook(files.folder):
            found.students[student] = files.folder  # the common case: graded in place
            return
        items = [("folder", files.folder)]
    # The id stays the student's name as the LMS wrote it (reports make it safe for file names);
    # the staged folder is numbered, so that no name, however odd, becomes a path.
    target = staging / f"student-{number}"
    target.mkdir(parents=True, exist_ok=True)
    try:
        for kind, path in sorted(items, key=_resubmission):  # Canvas's `bn_fold-2.py` after `bn_fold-1.py`
            if kind == "folder":
                _copy_plain(path, target)
            elif kind == "zip":
                extract_zip(path, target)
            else:
                _write_new(target / PurePosixPath(kind).name, path.read_bytes())
    except LayoutError as exc:
        found.notes.append(f"{student}: {exc}")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        (target / "SUBMISSION_REFUSED.txt").write_text(f"could not read the submission: {exc}\n")
    chosen = target
    if student not in searched:  # a zip or LMS-named files: the files may sit in a sub-folder of what was staged
        files = find_student_files(target, modules)
        found.notes.extend(f"{student}: {note}" for note in files.notes)
        chosen = files.folder
    for notebook, left_out in convert_notebooks(chosen, modules=modules, keep_names=keep_names).items():
        found.notes.append(
            f"{student}: read {notebook} as a module of its definitions "
            f"({left_out} top-level statements or magics left out, listed at the top of the module)"
        )
    found.students[student] = chosen


def _resubmission(item: tuple[str, Path]) -> int:
    match = re.search(r"-(\d+)\.[A-Za-z0-9]+$", item[1].name)
    return int(match.group(1)) if match and item[0] not in ("folder", "zip") else 0


MAX_DEPTH = 16  # folders deeper than this inside a submission are not read
MAX_ENTRIES = 20_000  # entries looked at in one submission, at most


def plain_files(folder: Path, *, max_depth: int = MAX_DEPTH) -> list[Path]:
    """The plain files under `folder`, sorted, without following links, at most `max_depth` folders down.

    Bounded whatever a student hands in: a folder nested thousands deep (where `rglob` would overflow
    the stack or a path exceed the system's limit), names that are not valid UTF-8 (skipped: they
    cannot be named in a report or a job's key), entries that cannot be read (skipped).
    """
    found: list[Path] = []
    pending: deque[tuple[Path, int]] = deque([(folder, 0)])
    seen = 0
    while pending and seen < MAX_ENTRIES:
        current, depth = pending.popleft()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_ENTRIES:
                break
            if _undecodable(entry.name):
                continue
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir():
                    if depth + 1 < max_depth:
                        pending.append((Path(entry.path), depth + 1))
                elif entry.is_file():
                    found.append(Path(entry.path))
            except OSError:
                continue
    return sorted(found)


def _has_notebook(folder: Path) -> bool:
    return any(p.suffix.lower() == ".ipynb" for p in plain_files(folder))


def _write_new(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _copy_plain(source: Path, target: Path) -> None:
    for path in plain_files(source):
        rel = path.relative_to(source)
        if any(p.startswith(".") or p in _SKIP for p in rel.parts):
            continue
        _write_new(target / rel, path.read_bytes())


def extract_zip(archive: Path, target: Path) -> None:
    """Extract a student's zip into `target`, safely; one top-level folder holding everything is dropped."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > MAX_ZIP_MEMBERS:
                raise LayoutError(f"{archive.name}: more than {MAX_ZIP_MEMBERS} files")
            names: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
            total = 0
            for m in members:
                path = PurePosixPath(m.filename.replace("\\", "/"))
                if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
                    raise LayoutError(f"{archive.name}: refused the unsafe path {m.filename!r}")
                if stat.S_ISLNK(m.external_attr >> 16):
                    raise LayoutError(f"{archive.name}: refused the link {m.filename!r}")
                if any(p in _SKIP or p.startswith(".") for p in path.parts):
                    continue
                total += m.file_size
                if total > MAX_ZIP_BYTES:
                    raise LayoutError(f"{archive.name}: more than {MAX_ZIP_BYTES >> 20} MiB uncompressed")
                names.append((m, path))
            tops = {p.parts[0] for _, p in names}
            strip = len(tops) == 1 and all(len(p.parts) > 1 for _, p in names)
            for m, path in names:
                rel = PurePosixPath(*path.parts[1:]) if strip else path
                data = _read_capped(zf, m)
                _write_new(target.joinpath(*rel.parts), data)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise LayoutError(f"{archive.name}: not a readable zip file ({exc})") from None


def _read_capped(zf: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    # The header's size may lie (a zip bomb): read at most the declared size plus one byte.
    with zf.open(member) as f:
        data = f.read(member.file_size + 1)
    if len(data) > member.file_size:
        raise LayoutError(f"refused {member.filename!r}: its size does not match the archive's header")
    return data


def convert_notebooks(
    folder: Path, *, modules: tuple[str, ...] = (), keep_names: frozenset[str] = frozenset()
) -> dict[str, int]:
    """Write `<name>.py` next to each `<name>.ipynb` (unless present); per notebook, how much was left out."""
    notes: dict[str, int] = {}
    notebooks = [
        p
        for p in plain_files(folder)
        if p.suffix == ".ipynb" and ".ipynb_checkpoints" not in p.relative_to(folder).parts
    ]
    extracted: dict[Path, str] = {}
    for nb in notebooks:
        result = extract_module(nb.read_bytes(), name=nb.name, keep=keep_names)
        notes[nb.relative_to(folder).as_posix()] = len(result.notes)
        extracted[nb] = result.source
        module = nb.with_suffix(".py")
        if not module.exists():
            module.write_text(result.source)
    top_level = [nb for nb in notebooks if nb.parent == folder]
    if len(top_level) == 1:
        # One notebook for the whole assignment: it stands in for every module the student did not hand in.
        for module_file in modules:
            if not (folder / module_file).exists():
                (folder / module_file).write_text(extracted[top_level[0]])
    return notes
