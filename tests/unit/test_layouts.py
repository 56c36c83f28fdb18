"""The folder layouts instructors download: folders, LMS-named flat files, zips per student."""

from __future__ import annotations

import stat
import zipfile

import pytest

from grader.layouts import MAX_ZIP_BYTES, LayoutError, discover, extract_zip, split_lms_name

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
