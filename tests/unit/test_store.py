"""The results store keeps every job it ever graded; only `forget` removes any, and runs record what they saw."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.records import JobResult
from grader.results.store import Store, StoreError


def result(student: str, problem: str, score: float = 1.0, key: str = "k") -> JobResult:
    return JobResult(student=student, assignment="hw", problem=problem, status="graded", score=score, max_score=1.0, key=key)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "hw/grades.sqlite")
    yield s
    s.close()


def graded(store: Store, folder: str, students: list[str], problems: tuple[str, ...] = ("conv", "fold")) -> None:
    """One run over `students`, as grade_assignment records it."""
    run = store.start_run({"submissions": folder, "students": len(students)}, students=students)
    for s in students:
        for p in problems:
            store.put(result(s, p))
    store.finish_run(run, {"seconds": 1.0})


def test_a_run_over_a_subset_keeps_the_other_students(store):
    graded(store, "/class", ["ann", "ben", "cat"])
    graded(store, "/class-subset", ["ann"])
    assert store.students() == ["ann", "ben", "cat"]
    assert len(store.keys()) == 6
    assert store.last_run_students() == {"ann"}
    assert store.missing_from_last_run() == ["ben", "cat"]


def test_a_run_over_another_folder_keeps_both_classes(store):
    graded(store, "/section-a", ["ann", "ben"])
    graded(store, "/section-b", ["cat", "dan"])
    assert store.students() == ["ann", "ben", "cat", "dan"]
    assert store.missing_from_last_run() == ["ann", "ben"]
    assert store.last_run()["submissions"] == "/section-b"


def test_finish_run_adds_to_the_facts_the_run_started_with(store):
    graded(store, "/class", ["ann"])
    assert store.last_run() == {"submissions": "/class", "students": 1, "seconds": 1.0}


def test_an_unfinished_run_changes_neither_the_jobs_nor_the_latest_run(store):
    graded(store, "/class", ["ann", "ben"])
    store.start_run({"submissions": "/typo", "students": 1}, students=["zed"])  # interrupted: never finished
    store.put(result("zed", "conv"))
    assert store.students() == ["ann", "ben", "zed"]
    assert store.last_run()["submissions"] == "/class"
    assert store.missing_from_last_run() == ["zed"]


def test_forget_removes_exactly_the_named_jobs_and_says_which_were_stored(store):
    graded(store, "/class", ["ann", "ben"])
    gone = store.forget([("ben", "fold"), ("ann", "conv"), ("nobody", "conv")])
    assert gone == [("ann", "conv"), ("ben", "fold")]
    assert sorted(store.keys()) == [("ann", "fold"), ("ben", "conv")]


def test_nobody_is_missing_where_no_run_recorded_its_students(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # a store written by a grader before runs recorded their students
        db.executescript(
            "CREATE TABLE jobs (student TEXT NOT NULL, problem TEXT NOT NULL, key TEXT NOT NULL, result TEXT NOT NULL,"
            " finished_at REAL NOT NULL, PRIMARY KEY (student, problem));"
            "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at REAL NOT NULL, finished_at REAL,"
            " facts TEXT NOT NULL);"
            "INSERT INTO runs (started_at, finished_at, facts) VALUES (1, 2, '{\"seconds\": 1}');"
        )
    store = Store(path)
    store.put(result("ann", "conv"))
    assert store.last_run_students() is None
    assert store.missing_from_last_run() == []
    store.close()
    empty = Store(tmp_path / "new.sqlite")
    assert empty.last_run() == {} and empty.last_run_students() is None
    empty.close()


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path):
    path = tmp_path / "grades.sqlite"
    path.write_text("these are not the grades you are looking for\n" * 100)
    with pytest.raises(StoreError, match=r"grades.sqlite: not a usable results store \(file is not a database\)"):
        Store(path)
