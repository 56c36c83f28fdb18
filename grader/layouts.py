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
(`<name>.ipynb`) is turned into `<name>.py` by parsing (grader.notebooks); a problem's module that is
missing is taken from the student's only notebook.
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.notebooks import extract_module

MAX_ZIP_BYTES = 32 << 20  # uncompressed, per student (the same cap as a submission folder)
MAX_ZIP_MEMBERS = 2000

_MOODLE = re.compile(r"^(?P<student>.+?)_(?P<id>\d+)_assignsubmission_[a-z]+_(?P<file>.*)$")
_CANVAS = re.compile(r"^(?P<student>[A-Za-z0-9-]+?)(?:_late|_LATE)?_(?P<id>\d+)_(?P<sub>\d+)_(?P<file>.+)$")
_RESUBMITTED = re.compile(r"^(?P<stem>.+?)-\d+(?P<ext>\.[A-Za-z0-9]+)$")
_SKIP = ("__MACOSX", ".DS_Store", "__pycache__")


class LayoutError(Exception):
    """A submission that cannot be read safely (an unsafe or oversized zip)."""


@dataclass
class Discovered:
    """The students found in a folder, each as one folder of plain files, and what was noticed."""

    students: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


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


def discover(folder: Path, staging: Path, *, modules: tuple[str, ...] = (),
             keep_names: frozenset[str] = frozenset()) -> Discovered:
    """Every student in `folder`, each as one folder; non-folder layouts and notebooks go to `staging`.

    `modules` are the module files the problems ask for (`bn_fold.py`); `keep_names` the names they
    ask for (kept from a notebook whatever their value).
    """
    found = Discovered()
    if not folder.is_dir():
        return found
    sources: dict[str, list[tuple[str, Path]]] = {}  # student -> (kind, path)
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")) or entry.is_symlink() and not entry.is_dir():
            continue
        if entry.is_dir():
            sources.setdefault(student_of_folder(entry.name), []).append(("folder", entry))
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            split = split_lms_name(entry.name)
            student = split[0] if split else entry.stem
            sources.setdefault(student, []).append(("zip", entry))
        elif entry.is_file():
            split = split_lms_name(entry.name, modules)
            if split is None:
                found.notes.append(f"{entry.name}: ignored (the name does not say whose file it is)")
                continue
            sources.setdefault(split[0], []).append((split[1], entry))
    for number, (student, items) in enumerate(sorted(sources.items())):
        plain_folder = [p for kind, p in items if kind == "folder"]
        if len(items) == 1 and plain_folder and not _has_notebook(plain_folder[0]):
            found.students[student] = plain_folder[0]  # the common case: graded in place
            continue
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
            (target / "SUBMISSION_REFUSED.txt").write_text(f"{exc}\n")
        for notebook, left_out in convert_notebooks(target, modules=modules, keep_names=keep_names).items():
            found.notes.append(f"{student}: read {notebook} as a module of its definitions "
                               f"({left_out} top-level statements or magics left out, listed at the top of the module)")
        found.students[student] = target
    return found


def _resubmission(item: tuple[str, Path]) -> int:
    match = re.search(r"-(\d+)\.[A-Za-z0-9]+$", item[1].name)
    return int(match.group(1)) if match and item[0] not in ("folder", "zip") else 0


def _has_notebook(folder: Path) -> bool:
    return any(p.suffix.lower() == ".ipynb" for p in folder.rglob("*") if p.is_file())


def _write_new(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _copy_plain(source: Path, target: Path) -> None:
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_symlink() or not path.is_file() or any(p.startswith(".") or p in _SKIP for p in rel.parts):
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


def convert_notebooks(folder: Path, *, modules: tuple[str, ...] = (),
                      keep_names: frozenset[str] = frozenset()) -> dict[str, int]:
    """Write `<name>.py` next to each `<name>.ipynb` (unless present); per notebook, how much was left out."""
    notes: dict[str, int] = {}
    notebooks = sorted(p for p in folder.rglob("*.ipynb") if p.is_file() and ".ipynb_checkpoints" not in p.parts)
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
