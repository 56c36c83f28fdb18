"""The results store: one SQLite database per assignment under `reports/<assignment>/`.

One row per (student, problem), written in its own transaction when the job ends, so an interrupted
run loses nothing and the next run resumes: a job whose key (the hash of its inputs) is already
stored is not run again. The store never forgets on its own: a run over a subset or another folder
updates the jobs it graded and keeps every other one; only `forget` (the `grader forget` command)
removes results. Each run records the submissions folder it read and the students it found there
(`run_students`), so that renderers can say which stored students the latest run did not see.

Over a term the store also keeps, apart from the test scores: what each graded job's key was made
of (`job_inputs`: the submission's files, the problem folder's files, the reference, the grader
version), each student's latest submission (its files' hashes and when it was handed in), a log of
every adjustment the course's adjustments file has held (grader.results.adjustments; the file wins, and rows
gone from it stay here as withdrawn), and a snapshot of the class after each change (grader.results.history).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from grader.errors import StoreError
from grader.records import JobResult
from grader.safetext import bounded_result

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
CREATE TABLE IF NOT EXISTS job_inputs (
    key TEXT PRIMARY KEY,
    inputs TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    student TEXT PRIMARY KEY,
    files TEXT NOT NULL,
    submitted TEXT,
    run INTEGER
);
CREATE TABLE IF NOT EXISTS adjustment_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    row TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    withdrawn_at TEXT
);
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    taken_at TEXT NOT NULL,
    event TEXT NOT NULL,
    state TEXT NOT NULL
);
"""


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

    def put(self, result: JobResult, *, inputs: dict[str, Any] | None = None) -> None:
        """Store a job's result, and what its key was made of (kept for every key ever graded).

        Every string of the result is bounded and made encodable here (grader.safetext), whoever made it.
        """
        result = bounded_result(result)
        with self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO jobs (student, problem, key, result, finished_at) VALUES (?, ?, ?, ?, ?)",
                (result.student, result.problem, result.key, json.dumps(result.to_dict()), time.time()),
            )
            if inputs is not None and result.key:
                self.db.execute(
                    "INSERT OR IGNORE INTO job_inputs (key, inputs) VALUES (?, ?)",
                    (result.key, json.dumps(inputs, sort_keys=True)),
                )

    def job_inputs(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """What each of these job keys was made of, where the grader that graded it recorded it."""
        found: dict[str, dict[str, Any]] = {}
        for key in set(keys):
            row = self.db.execute("SELECT inputs FROM job_inputs WHERE key = ?", (key,)).fetchone()
            if row is not None:
                found[key] = json.loads(row[0])
        return found

    def results(self) -> Iterator[JobResult]:
        for (text,) in self.db.execute("SELECT result FROM jobs ORDER BY student, problem"):
            yield bounded_result(JobResult.from_dict(json.loads(text)))  # rows stored before results were bounded

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
            cur = self.db.execute(
                "INSERT INTO runs (started_at, facts) VALUES (?, ?)", (time.time(), json.dumps(facts))
            )
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

    def latest_run_id(self) -> int | None:
        row = self._last_run_row()
        return row[0] if row else None

    def missing_from_last_run(self) -> list[str]:
        """Stored students whom the latest finished run did not find in its folder (their results are kept)."""
        seen = self.last_run_students()
        if seen is None:
            return []
        return [s for s in self.students() if s not in seen]

    # --- submissions ------------------------------------------------------------------------------

    def record_submissions(
        self, files: dict[str, dict[str, str]], submitted: dict[str, dict[str, object]], *, run: int
    ) -> None:
        """Each student's files (name -> hash) and submission time as this run found them.

        A time this run does not know is kept from an earlier run while the student's files are
        unchanged: it belongs to the submission it was recorded for.
        """
        with self._transaction():
            for student, manifest in files.items():
                text = json.dumps(manifest, sort_keys=True)
                row = self.db.execute(
                    "SELECT files, submitted FROM submissions WHERE student = ?", (student,)
                ).fetchone()
                when = submitted.get(student)
                if when is None and row is not None and row[0] == text:
                    kept = row[1]
                else:
                    kept = None if when is None else json.dumps(when, sort_keys=True)
                self.db.execute(
                    "INSERT OR REPLACE INTO submissions (student, files, submitted, run) VALUES (?, ?, ?, ?)",
                    (student, text, kept, run),
                )

    def submissions(self) -> dict[str, tuple[dict[str, str], dict[str, Any] | None]]:
        """Every student's latest recorded submission: (files, submission time or None)."""
        return {
            s: (json.loads(f), json.loads(t) if t else None)
            for s, f, t in self.db.execute("SELECT student, files, submitted FROM submissions ORDER BY student")
        }

    # --- adjustments ------------------------------------------------------------------------------

    def sync_adjustments(self, rows: list[dict[str, Any]], *, at: str) -> tuple[int, int]:
        """Make the active adjustments exactly `rows` (the file's); returns (added, withdrawn).

        Rows gone from the file are marked withdrawn, never deleted; a row that comes back is logged anew.
        """
        wanted = [json.dumps(r, sort_keys=True) for r in rows]
        with self._transaction():
            active = list(self.db.execute("SELECT id, row FROM adjustment_log WHERE withdrawn_at IS NULL ORDER BY id"))
            unmatched = list(wanted)
            withdrawn = 0
            for log_id, text in active:
                if text in unmatched:
                    unmatched.remove(text)
                else:
                    self.db.execute("UPDATE adjustment_log SET withdrawn_at = ? WHERE id = ?", (at, log_id))
                    withdrawn += 1
            self.db.executemany(
                "INSERT INTO adjustment_log (row, seen_at) VALUES (?, ?)", ((text, at) for text in unmatched)
            )
        return len(unmatched), withdrawn

    def adjustment_log(self) -> list[tuple[dict[str, Any], str, str | None]]:
        """Every adjustment the store has seen: (row, first seen, withdrawn at or None), oldest first."""
        return [
            (json.loads(r), seen, gone)
            for r, seen, gone in self.db.execute("SELECT row, seen_at, withdrawn_at FROM adjustment_log ORDER BY id")
        ]

    # --- snapshots --------------------------------------------------------------------------------

    def add_snapshot(self, event: str, state: dict[str, Any], *, at: str) -> int | None:
        """Keep `state` as a new snapshot unless it equals the latest one; returns its id (None: unchanged)."""
        text = json.dumps(state, sort_keys=True)
        with self._transaction():
            last = self.db.execute("SELECT state FROM snapshots ORDER BY id DESC LIMIT 1").fetchone()
            if last is not None and last[0] == text:
                return None
            cur = self.db.execute("INSERT INTO snapshots (taken_at, event, state) VALUES (?, ?, ?)", (at, event, text))
            return int(cur.lastrowid or 0)

    def snapshots(self) -> list[tuple[int, str, str]]:
        """Every snapshot as (id, taken at, event), oldest first."""
        return [(int(i), t, e) for i, t, e in self.db.execute("SELECT id, taken_at, event FROM snapshots ORDER BY id")]

    def snapshot(self, snapshot_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT state FROM snapshots WHERE id = ?", (snapshot_id,)).fetchone()
        return json.loads(row[0]) if row else None
