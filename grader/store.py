"""The results store: one SQLite database per assignment under `reports/<assignment>/`.

One row per (student, problem), written in its own transaction when the job ends, so an interrupted
run loses nothing and the next run resumes: a job whose key (the hash of its inputs) is already
stored is not run again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
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
"""


class Store:
    """Job results of one assignment."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

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

    def prune(self, keep: set[tuple[str, str]]) -> None:
        """Forget jobs of students or problems that are no longer part of the assignment."""
        stale = [sp for sp in self.keys() if sp not in keep]
        with self.db:
            self.db.executemany("DELETE FROM jobs WHERE student = ? AND problem = ?", stale)

    def start_run(self, facts: dict[str, object]) -> int:
        with self.db:
            cur = self.db.execute("INSERT INTO runs (started_at, facts) VALUES (?, ?)", (time.time(), json.dumps(facts)))
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, facts: dict[str, object]) -> None:
        with self.db:
            self.db.execute("UPDATE runs SET finished_at = ?, facts = ? WHERE id = ?", (time.time(), json.dumps(facts), run_id))

    def last_run(self) -> dict[str, object]:
        row = self.db.execute("SELECT facts FROM runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else {}
