"""The results store: one SQLite database per assignment under `reports/<assignment>/`.

One row per (student, problem), written in its own transaction when the job ends, so an interrupted
run loses nothing and the next run resumes: a job whose key (the hash of its inputs) is already
stored is not run again. The store never forgets on its own: a run over a subset or another folder
updates the jobs it graded and keeps every other one; only `forget` (the `grader forget` command)
removes results. Each run records the submissions folder it read and the students it found there
(`run_students`), so that renderers can say which stored students the latest run did not see.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from grader.results import JobResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    student TEXT NOT NULL,
    problem TEXT NOT NULL,
    key TEXT NOT NULL,
    result TEXT NOT NULL,
    finished_at REAL NOT NULL,
    PRIMARY KEY (student, problem)
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    finished_at REAL,
    facts TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS run_students (
    run INTEGER NOT NULL REFERENCES runs (id),
    student TEXT NOT NULL,
    PRIMARY KEY (run, student)
);
"""


class StoreError(Exception):
    """A results store that cannot be opened or read (not an SQLite database, a locked or read-only file)."""


class Store:
    """Job results of one assignment."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: not a usable results store ({exc}); move it away to start a new one") from exc

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """Several statements as one: all of them or none (the connection otherwise commits each)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- jobs -------------------------------------------------------------------------------------

    def keys(self) -> dict[tuple[str, str], str]:
        """The stored key of every (student, problem)."""
        return {(s, p): k for s, p, k in self.db.execute("SELECT student, problem, key FROM jobs")}

    def put(self, result: JobResult) -> None:
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO jobs (student, problem, key, result, finished_at) VALUES (?, ?, ?, ?, ?)",
                (result.student, result.problem, result.key, json.dumps(result.to_dict()), time.time()),
            )

    def results(self) -> Iterator[JobResult]:
        for (text,) in self.db.execute("SELECT result FROM jobs ORDER BY student, problem"):
            yield JobResult.from_dict(json.loads(text))

    def students(self) -> list[str]:
        """Every student with at least one stored job, sorted."""
        return [s for (s,) in self.db.execute("SELECT DISTINCT student FROM jobs ORDER BY student")]

    def forget(self, jobs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Remove these (student, problem) jobs, in one transaction; returns those that were stored.

        The only way results leave the store: grading never removes any.
        """
        stored = self.keys()
        gone = sorted({sp for sp in jobs if sp in stored})
        with self._transaction():
            self.db.executemany("DELETE FROM jobs WHERE student = ? AND problem = ?", gone)
        return gone

    # --- runs -------------------------------------------------------------------------------------

    def start_run(self, facts: dict[str, object], *, students: Iterable[str] = ()) -> int:
        """Record a run that starts, with what it knows already and the students its folder holds."""
        with self._transaction():
            cur = self.db.execute("INSERT INTO runs (started_at, facts) VALUES (?, ?)", (time.time(), json.dumps(facts)))
            run_id = int(cur.lastrowid or 0)
            self.db.executemany(
                "INSERT OR IGNORE INTO run_students (run, student) VALUES (?, ?)", ((run_id, s) for s in students)
            )
        return run_id

    def finish_run(self, run_id: int, facts: dict[str, object]) -> None:
        """Mark a run finished; `facts` are added to those it started with."""
        row = self.db.execute("SELECT facts FROM runs WHERE id = ?", (run_id,)).fetchone()
        merged = {**(json.loads(row[0]) if row else {}), **facts}
        with self.db:
            self.db.execute(
                "UPDATE runs SET finished_at = ?, facts = ? WHERE id = ?", (time.time(), json.dumps(merged), run_id)
            )

    def _last_run_row(self) -> tuple[int, str] | None:
        row = self.db.execute(
            "SELECT id, facts FROM runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def last_run(self) -> dict[str, object]:
        """The facts of the latest finished run ({} when none finished)."""
        row = self._last_run_row()
        return json.loads(row[1]) if row else {}

    def last_run_students(self) -> set[str] | None:
        """The students the latest finished run found in its folder; None where no run recorded them.

        Runs of graders before this table existed recorded no students, and neither did a store
        with no finished run: then nobody can be said to be missing from the latest folder.
        """
        row = self._last_run_row()
        if row is None or "submissions" not in json.loads(row[1]):
            return None
        return {s for (s,) in self.db.execute("SELECT student FROM run_students WHERE run = ?", (row[0],))}

    def missing_from_last_run(self) -> list[str]:
        """Stored students whom the latest finished run did not find in its folder (their results are kept)."""
        seen = self.last_run_students()
        if seen is None:
            return []
        return [s for s in self.students() if s not in seen]
