"""The folder layouts instructors download: folders, LMS-named flat files, zips per student."""

from __future__ import annotations

import stat
import zipfile

import pytest

from grader.course.layouts import (
    MAX_ZIP_BYTES,
    FilesFound,
    LayoutError,
    discover,
    extract_zip,
    find_student_files,
    is_stand_in,
    split_lms_name,
)

MODULES = ("true_softmax.py", "bn_fold.py")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("smithjohn_12345_67890_bn_fold.py", ("smithjohn", "bn_fold.py")),
        ("smithjohn_late_12345_67890_bn_fold-1.py", ("smithjohn", "bn_fold.py")),
        ("John Smith_12345_assignsubmission_file_bn_fold.py", ("John Smith", "bn_fold.py")),
        ("alice_bn_fold.py", ("alice", "bn_fold.py")),
        ("alice_correct-true_softmax.py", ("alice_correct", "true_softmax.py")),
        ("bn_fold.py", None),
        ("notes.txt", None),
    ],
)
def test_lms_file_names(name, expected):
    assert split_lms_name(name, MODULES) == expected


def test_folders_are_graded_in_place(tmp_path):
    (tmp_path / "class/alice").mkdir(parents=True)
    (tmp_path / "class/alice/bn_fold.py").write_text("A = 1\n")
    (tmp_path / "class/.hidden").mkdir()
    found = discover(tmp_path / "class", tmp_path / "staging", modules=MODULES)
    assert found.students == {"alice": tmp_path / "class/alice"}


def test_a_moodle_folder_name_gives_the_student(tmp_path):
    (tmp_path / "class/John Smith_12345_assignsubmission_file_").mkdir(parents=True)
    (tmp_path / "class/John Smith_12345_assignsubmission_file_/bn_fold.py").write_text("A = 1\n")
    found = discover(tmp_path / "class", tmp_path / "staging", modules=MODULES)
    assert list(found.students) == ["John Smith"]
    assert (found.students["John Smith"] / "bn_fold.py").read_text() == "A = 1\n"


def test_flat_files_are_grouped_by_student(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "smithjohn_12345_67890_bn_fold.py").write_text("A = 1\n")
    (folder / "smithjohn_12345_67891_true_softmax.py").write_text("B = 2\n")
    (folder / "Ann Lee_777_assignsubmission_file_bn_fold.py").write_text("C = 3\n")
    (folder / "readme.txt").write_text("hello")
    found = discover(folder, tmp_path / "staging", modules=MODULES)
    assert sorted(found.students) == ["Ann Lee", "smithjohn"]
    assert sorted(p.name for p in found.students["smithjohn"].iterdir()) == ["bn_fold.py", "true_softmax.py"]
    assert (found.students["Ann Lee"] / "bn_fold.py").read_text() == "C = 3\n"
    assert found.notes == ["readme.txt: ignored (the name does not say whose file it is)"]


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_a_zip_per_student_with_or_without_a_sub_folder(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    make_zip(folder / "alice.zip", {"hw7/bn_fold.py": "A = 1\n", "hw7/true_softmax.py": "B = 2\n",
                                    "__MACOSX/hw7/._bn_fold.py": "junk"})
    make_zip(folder / "bob.zip", {"bn_fold.py": "C = 3\n"})
    found = discover(folder, tmp_path / "staging", modules=MODULES)
    assert sorted(p.name for p in found.students["alice"].iterdir()) == ["bn_fold.py", "true_softmax.py"]
    assert (found.students["bob"] / "bn_fold.py").read_text() == "C = 3\n"


@pytest.mark.parametrize("bad", ["../evil.py", "/etc/evil.py", "a/../../evil.py"])
def test_zip_paths_that_leave_the_folder_are_refused(tmp_path, bad):
    make_zip(tmp_path / "mallory.zip", {"bn_fold.py": "A = 1\n", bad: "x"})
    with pytest.raises(LayoutError, match="refused the unsafe path"):
        extract_zip(tmp_path / "mallory.zip", tmp_path / "out")
    assert not (tmp_path / "evil.py").exists()


def test_zip_links_are_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "mallory.zip", "w") as zf:
        info = zipfile.ZipInfo("bn_fold.py")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(LayoutError, match="refused the link"):
        extract_zip(tmp_path / "mallory.zip", tmp_path / "out")


def test_oversized_zips_are_refused_and_the_student_gets_a_result(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    with zipfile.ZipFile(folder / "mallory.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bn_fold.py", b"0" * (MAX_ZIP_BYTES + 1))
    found = discover(folder, tmp_path / "staging", modules=MODULES)
    assert found.notes == [f"mallory: mallory.zip: more than {MAX_ZIP_BYTES >> 20} MiB uncompressed"]
    assert [p.name for p in found.students["mallory"].iterdir()] == ["SUBMISSION_REFUSED.txt"]


def test_a_file_that_is_not_a_zip(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(LayoutError, match="not a readable zip file"):
        extract_zip(tmp_path / "x.zip", tmp_path / "out")


def test_a_folder_with_a_notebook_is_staged_not_changed(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import torch\ndef nu(x, beta):\n    return x\nfor i in range(3):\n    pass")]
    (tmp_path / "class/alice").mkdir(parents=True)
    (tmp_path / "class/alice/true_softmax.ipynb").write_text(nbformat.writes(nb))
    found = discover(tmp_path / "class", tmp_path / "staging", modules=MODULES)
    staged = found.students["alice"]
    assert staged.parent == tmp_path / "staging"
    assert "def nu(x, beta):" in (staged / "true_softmax.py").read_text()
    assert not (tmp_path / "class/alice/true_softmax.py").exists()
    assert found.notes == ["alice: read true_softmax.ipynb as a module of its definitions "
                           "(1 top-level statements or magics left out, listed at the top of the module)"]


def test_the_latest_canvas_resubmission_wins(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "smithjohn_1_2_bn_fold.py").write_text("first\n")
    (folder / "smithjohn_1_3_bn_fold-1.py").write_text("second\n")
    (folder / "smithjohn_1_4_bn_fold-2.py").write_text("third\n")
    found = discover(folder, tmp_path / "staging", modules=MODULES)
    assert (found.students["smithjohn"] / "bn_fold.py").read_text() == "third\n"


# -- the student's files in sub-folders: nested repositories, kit copies, notebooks ----------------------

STAND_IN = '"""Not shipped: references never leave the instructor. The kit checks {} against its public tests."""\n'


def make_kit_copy(folder):
    """What a student gets from `grader kit`: problems/, reference/ with stand-ins, the grader package."""
    (folder / "problems/hw7/bn_fold").mkdir(parents=True)
    (folder / "problems/hw7/bn_fold/test_bn_fold.py").write_text("def test_a(student):\n    pass\n")
    (folder / "reference/hw7").mkdir(parents=True)
    for module in MODULES:
        (folder / "reference/hw7" / module).write_text(STAND_IN.format(module[:-3]))
    (folder / "grader").mkdir()
    (folder / "grader/__init__.py").write_text("")
    (folder / "pyproject.toml").write_text('[project]\nname = "grader"\n')


def write_modules(folder, *modules):
    folder.mkdir(parents=True, exist_ok=True)
    for module in modules:
        (folder / module).write_text(f"# {module} by the student\n")


def test_the_kits_stand_in_is_recognised_and_a_students_module_is_not(tmp_path):
    (tmp_path / "stand_in.py").write_text(STAND_IN.format("bn_fold"))
    (tmp_path / "docstring_and_code.py").write_text(STAND_IN.format("bn_fold") + "def fold():\n    pass\n")
    (tmp_path / "empty.py").write_text("")
    assert is_stand_in(tmp_path / "stand_in.py")
    assert not is_stand_in(tmp_path / "docstring_and_code.py")
    assert not is_stand_in(tmp_path / "empty.py")


def test_files_at_the_top_are_graded_as_they_are(tmp_path):
    write_modules(tmp_path / "sub", "bn_fold.py", "true_softmax.py")
    write_modules(tmp_path, "bn_fold.py")
    assert find_student_files(tmp_path, MODULES) == FilesFound(tmp_path, found=True)


def test_a_kit_copy_beside_the_files_is_never_taken_for_the_students_work(tmp_path):
    make_kit_copy(tmp_path / "a_kit")  # shallower and first by name: it still loses
    write_modules(tmp_path / "repo/solutions/hw7", "bn_fold.py", "true_softmax.py")
    found = find_student_files(tmp_path, MODULES)
    assert found == FilesFound(tmp_path / "repo/solutions/hw7", found=True,
                               notes=("graded the files in repo/solutions/hw7/ (none at the top of the submission)",))


def test_a_course_repository_copy_with_real_references_loses_to_the_students_files(tmp_path):
    make_kit_copy(tmp_path / "course")
    write_modules(tmp_path / "course/reference/hw7", "bn_fold.py", "true_softmax.py")  # real code, not stand-ins
    write_modules(tmp_path / "mine/deep/er", "bn_fold.py")
    assert find_student_files(tmp_path, MODULES).folder == tmp_path / "mine/deep/er"


def test_files_only_in_the_kit_copys_reference_are_not_the_students(tmp_path):
    make_kit_copy(tmp_path / "kit")
    found = find_student_files(tmp_path, MODULES)
    assert found.folder == tmp_path and not found.found and not found.others
    assert found.notes == ("found only the course kit's stand-ins for the references (kit/reference/hw7/bn_fold.py, "
                           "kit/reference/hw7/true_softmax.py), which are not the student's work: no file of the "
                           "student's to grade",)


def test_two_sub_folders_each_with_a_module_are_an_ambiguity_noted_and_decided_by_name(tmp_path):
    write_modules(tmp_path / "part_b", "true_softmax.py")
    write_modules(tmp_path / "part_a", "bn_fold.py")
    found = find_student_files(tmp_path, MODULES)
    assert found.folder == tmp_path / "part_a" and found.others == (tmp_path / "part_b",)
    assert found.notes == (
        "graded the files in part_a/ (none at the top of the submission)",
        "more than one folder holds files of this assignment: graded part_a/ (bn_fold.py), not part_b/ "
        "(true_softmax.py); keep one copy of the files to be graded",
    )


def test_the_folder_with_more_of_the_modules_wins_then_the_shallower(tmp_path):
    write_modules(tmp_path / "a_old", "bn_fold.py")
    write_modules(tmp_path / "z/deeper", "bn_fold.py", "true_softmax.py")
    write_modules(tmp_path / "zz", "bn_fold.py", "true_softmax.py")
    found = find_student_files(tmp_path, MODULES)
    assert found.folder == tmp_path / "zz" and found.others == (tmp_path / "z/deeper", tmp_path / "a_old")


def test_hidden_folders_and_links_are_not_searched(tmp_path):
    write_modules(tmp_path / ".git/x", "bn_fold.py")
    write_modules(tmp_path / "elsewhere", "bn_fold.py")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "top").mkdir()
    (tmp_path / "top/bn_fold.py").symlink_to(tmp_path / "elsewhere/bn_fold.py")
    assert find_student_files(tmp_path, MODULES).folder == tmp_path / "elsewhere"


def notebook_text(source):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    return nbformat.writes(nb)


def test_a_notebook_in_a_sub_folder_is_found_and_read(tmp_path):
    (tmp_path / "class/alice/notebooks").mkdir(parents=True)
    (tmp_path / "class/alice/notebooks/hw7.ipynb").write_text(notebook_text("def nu(x, beta):\n    return x\n"))
    make_kit_copy(tmp_path / "class/alice/kit")
    found = discover(tmp_path / "class", tmp_path / "staging", modules=MODULES)
    staged = found.students["alice"]
    assert staged.parent == tmp_path / "staging"
    assert "def nu(x, beta):" in (staged / "true_softmax.py").read_text()
    assert "def nu(x, beta):" in (staged / "bn_fold.py").read_text()  # the only notebook stands in for every module
    assert found.notes == ["alice: graded the files in notebooks/ (none at the top of the submission)",
                           "alice: read hw7.ipynb as a module of its definitions (0 top-level statements or magics "
                           "left out, listed at the top of the module)"]


def test_a_class_with_nested_repositories_kit_copies_and_an_ambiguous_student(tmp_path):
    folder = tmp_path / "class"
    write_modules(folder / "alice/hw7-alice", "bn_fold.py", "true_softmax.py")
    make_kit_copy(folder / "alice/kit")
    write_modules(folder / "bob", "bn_fold.py")
    write_modules(folder / "carol/v2", "bn_fold.py")
    write_modules(folder / "carol/v1", "bn_fold.py")
    make_kit_copy(folder / "dave/kit")
    found = discover(folder, tmp_path / "staging", modules=MODULES)
    assert found.students == {"alice": folder / "alice/hw7-alice", "bob": folder / "bob", "carol": folder / "carol/v1",
                              "dave": folder / "dave"}
    assert found.notes == [
        "alice: graded the files in hw7-alice/ (none at the top of the submission)",
        "carol: graded the files in v1/ (none at the top of the submission)",
        "carol: more than one folder holds files of this assignment: graded v1/ (bn_fold.py), not v2/ (bn_fold.py); "
        "keep one copy of the files to be graded",
        "dave: found only the course kit's stand-ins for the references (kit/reference/hw7/bn_fold.py, "
        "kit/reference/hw7/true_softmax.py), which are not the student's work: no file of the student's to grade",
    ]


def test_a_folder_of_classes_is_not_read_as_students_in_sub_folders(tmp_path):
    folder = tmp_path / "submissions"
    write_modules(folder / "hw7/alice", "bn_fold.py", "true_softmax.py")
    write_modules(folder / "hw7/bob", "bn_fold.py")
    (folder / "hw5/carol").mkdir(parents=True)
    (folder / "hw5/carol/other.py").write_text("")
    found = discover(folder, tmp_path / "staging", modules=MODULES)
    assert found.students == {"hw5": folder / "hw5", "hw7": folder / "hw7"}
    assert found.notes == []


def test_a_zip_of_a_repository_with_a_kit_copy_inside(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    make_zip(folder / "alice.zip", {"repo/kit/reference/hw7/bn_fold.py": STAND_IN.format("bn_fold"),
                                    "repo/kit/problems/hw7/assignment.toml": "", "repo/kit/grader/__init__.py": "",
                                    "repo/src/bn_fold.py": "A = 1\n"})
    found = discover(folder, tmp_path / "staging", modules=MODULES)
    assert found.students["alice"] == tmp_path / "staging/student-0/src"
    assert found.notes == ["alice: graded the files in src/ (none at the top of the submission)"]


def _zip_with(path, *, flag_bits=0, method=None):
    """A zip of one bn_fold.py whose headers claim encryption (`flag_bits`) or another compression method."""
    import struct
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("bn_fold.py", "def fold_conv_bn(conv, bn):\n    return conv\n")
    data = bytearray(path.read_bytes())
    for signature, flags_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = data.find(signature)
        if flag_bits:
            data[at + flags_at:at + flags_at + 2] = struct.pack("<H", flag_bits)
        if method is not None:
            data[at + method_at:at + method_at + 2] = struct.pack("<H", method)
    path.write_bytes(bytes(data))


def test_an_unreadable_submission_refuses_that_student_only(tmp_path):
    """Ingestion never stops a run: whatever fails while one student's files are read fails only them."""
    import json

    folder = tmp_path / "class"
    (folder / "alice").mkdir(parents=True)
    (folder / "alice" / "bn_fold.py").write_text("def fold_conv_bn(conv, bn):\n    return conv\n")
    _zip_with(folder / "bob_encrypted.zip", flag_bits=0x1)  # "password required"
    _zip_with(folder / "carol_aes.zip", method=99)  # a compression method zipfile cannot read
    (folder / "dave").mkdir()
    deep = "x = " + "(" * 100 + "1" + ")" * 100 + "\n" + "y = " + " + ".join(["1"] * 20000) + "\n"
    notebook = {"cells": [{"cell_type": "code", "id": "c1", "metadata": {}, "source": deep, "outputs": [],
                           "execution_count": None}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (folder / "dave" / "bn_fold.ipynb").write_text(json.dumps(notebook))
    found = discover(folder, tmp_path / "staging", modules=("bn_fold.py",))
    assert set(found.students) == {"alice", "bob_encrypted", "carol_aes", "dave"}
    assert (found.students["alice"] / "bn_fold.py").is_file()
    why = {"bob_encrypted": "password required", "carol_aes": "compression method is not supported"}
    # Too deep for the parser: the cell is left out, with a note (Python could not run it either).
    assert "nested too deeply" in (found.students["dave"] / "bn_fold.py").read_text()
    for student, reason in why.items():
        refused = found.students[student] / "SUBMISSION_REFUSED.txt"
        assert refused.is_file() and not (found.students[student] / "bn_fold.py").exists(), student
        note = next(n for n in found.notes if n.startswith(f"{student}: could not read the submission: "))
        assert reason in note and len(note) < 400, note


# --- identity: two submissions never become one student ----------------------------------------------


def _module(text: str) -> str:
    return f"def fold_conv_bn(conv, bn):\n    return {text!r}\n"


def test_two_canvas_students_with_the_same_name_are_kept_apart_by_their_lms_ids(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "smithjohn_111_901_bn_fold.py").write_text(_module("first"))
    (folder / "smithjohn_111_902_true_softmax.py").write_text("B = 1\n")  # the same student: merged
    (folder / "smithjohn_222_903_bn_fold.py").write_text(_module("second"))
    found = discover(folder, tmp_path / "staging", modules=MODULES)
    assert sorted(found.students) == ["smithjohn [111]", "smithjohn [222]"]
    first, second = found.students["smithjohn [111]"], found.students["smithjohn [222]"]
    assert sorted(p.name for p in first.iterdir()) == ["bn_fold.py", "true_softmax.py"]
    assert "first" in (first / "bn_fold.py").read_text() and "second" in (second / "bn_fold.py").read_text()
    [note] = [n for n in found.notes if "none merged" in n]
    assert "2 submissions are named 'smithjohn'" in note
    assert "smithjohn_111_901_bn_fold.py" in note and "smithjohn_222_903_bn_fold.py" in note
    assert "as 'smithjohn [111]'" in note and "as 'smithjohn [222]'" in note


def test_two_moodle_students_with_the_same_full_name(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "Ann Lee_777_assignsubmission_file_bn_fold.py").write_text(_module("a"))
    (folder / "Ann Lee_888_assignsubmission_file_").mkdir()
    (folder / "Ann Lee_888_assignsubmission_file_/bn_fold.py").write_text(_module("b"))
    found = discover(folder, tmp_path / "staging", modules=MODULES)
    assert sorted(found.students) == ["Ann Lee [777]", "Ann Lee [888]"]
    assert "'b'" in (found.students["Ann Lee [888]"] / "bn_fold.py").read_text()


def test_a_folder_and_a_zip_of_the_same_name_are_two_students(tmp_path):
    folder = tmp_path / "class"
    (folder / "alice").mkdir(parents=True)
    (folder / "alice/bn_fold.py").write_text(_module("folder"))
    make_zip(folder / "alice.zip", {"bn_fold.py": _module("zip")})
    found = discover(folder, tmp_path / "staging", modules=MODULES)
    assert sorted(found.students) == ["alice [alice.zip]", "alice [alice/]"]
    assert "'zip'" in (found.students["alice [alice.zip]"] / "bn_fold.py").read_text()
    assert "'folder'" in (found.students["alice [alice/]"] / "bn_fold.py").read_text()
    assert any("alice/, " not in n and "alice.zip as 'alice [alice.zip]'" in n and "alice/ as 'alice [alice/]'" in n
               for n in found.notes), found.notes
    assert found.entries["alice [alice.zip]"] == [folder / "alice.zip"]


def test_a_made_distinct_id_that_is_taken_already_gets_a_number(tmp_path):
    folder = tmp_path / "class"
    for name in ("alice", "alice [alice.zip]"):
        (folder / name).mkdir(parents=True)
        (folder / name / "bn_fold.py").write_text(_module(name))
    make_zip(folder / "alice.zip", {"bn_fold.py": _module("zip")})
    first = discover(folder, tmp_path / "staging1", modules=MODULES)
    again = discover(folder, tmp_path / "staging2", modules=MODULES)
    assert sorted(first.students) == sorted(again.students) == [
        "alice [alice.zip]", "alice [alice.zip] #2", "alice [alice/]"]
    assert "'alice [alice.zip]'" in (first.students["alice [alice.zip]"] / "bn_fold.py").read_text()
    assert "'zip'" in (first.students["alice [alice.zip] #2"] / "bn_fold.py").read_text()


def test_names_that_are_not_utf8_or_too_long_become_printable_bounded_distinct_ids(tmp_path):
    import os

    from grader.course.layouts import MAX_ID_CHARS

    folder = tmp_path / "class"
    folder.mkdir()
    raw = os.fsencode(folder)
    for name in (b"bob\xff", b"bob\xfe", b"bob\\xff", b"x" * 250, b"x" * 249 + b"y", b"eve\x1b[31m"):
        os.mkdir(raw + b"/" + name)
        with open(raw + b"/" + name + b"/bn_fold.py", "w") as f:
            f.write(_module(name.decode("latin-1")))
    found = discover(folder, tmp_path / "staging", modules=MODULES)
    ids = sorted(found.students)
    assert len(ids) == 6
    for student in ids:
        student.encode("utf-8")  # never a lone surrogate
        assert len(student) <= MAX_ID_CHARS and student.isprintable(), student
    assert "bob\\xfe" in ids  # shown as the bytes it has
    # `bob\xff` (one byte) and `bob\\xff` (a backslash written out) read the same: kept apart, with a note
    assert {"bob\\xff [bob\\xff/]", "bob\\xff [b'bob\\xff'/]"} < set(ids)
    assert any("none merged" in n and "b'bob\\xff'/ as" in n and "bob\\xff/ as" in n for n in found.notes)
    assert len([i for i in ids if i.startswith("xxxx")]) == 2  # two long names, cut, still distinct
    assert "eve?[31m" in ids


def test_ids_that_differ_only_by_case_are_kept_with_a_note(tmp_path):
    folder = tmp_path / "class"
    for name in ("Alice", "alice"):
        (folder / name).mkdir(parents=True)
        (folder / name / "bn_fold.py").write_text(_module(name))
    found = discover(folder, tmp_path / "staging", modules=MODULES)
    assert sorted(found.students) == ["Alice", "alice"]
    assert "the ids 'Alice', 'alice' differ only by case or accents: graded as different students" in found.notes


def test_a_folder_nested_very_deep_is_read_to_a_bounded_depth(tmp_path):
    import os

    from grader.course.layouts import MAX_DEPTH, plain_files
    from grader.grading.jobs import read_submission

    folder = tmp_path / "class/deep"
    folder.mkdir(parents=True)
    (folder / "bn_fold.py").write_text(_module("top"))
    fd = os.open(folder, os.O_RDONLY)
    try:  # 300 levels of long names: a path far longer than the system allows (4096 bytes)
        for _ in range(300):
            os.mkdir("d" * 30, dir_fd=fd)
            inner = os.open("d" * 30, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        with open(os.open("bn_fold.ipynb", os.O_WRONLY | os.O_CREAT, dir_fd=fd), "w") as f:
            f.write("{}")
    finally:
        os.close(fd)
    assert plain_files(folder) == [folder / "bn_fold.py"]
    assert [name for name, _ in read_submission(folder)] == ["bn_fold.py"]
    found = discover(tmp_path / "class", tmp_path / "staging", modules=MODULES)
    assert found.students == {"deep": folder}
    assert MAX_DEPTH <= 32


def test_notes_about_names_that_are_not_utf8_are_printable(tmp_path):
    import os

    folder = tmp_path / "class"
    (folder / "alice").mkdir(parents=True)
    raw = os.fsencode(folder / "alice")
    for sub in (b"v1\xff", b"v2\xfe"):  # two sub-folders with the files: a note names both
        os.mkdir(raw + b"/" + sub)
        with open(raw + b"/" + sub + b"/bn_fold.py", "w") as f:
            f.write(_module("x"))
    found = discover(folder, tmp_path / "staging", modules=MODULES)
    assert found.notes and all("\udcff" not in n and "\udcfe" not in n for n in found.notes)
    for note in found.notes:
        note.encode("utf-8")
