"""Jobs in SQLite: the queue itself, shared by the API process and the worker processes.

The database is the only source of truth, so a restart loses nothing: queued rows stay queued, rows
left ``running`` by a stopped server are re-queued (or failed once they have used up their attempts),
and finished rows keep pointing at their artifacts. WAL mode lets workers write progress while the
API reads.

Every claim carries a fresh random ``token``. A worker's writes (progress, success, failure) only apply
while the row is still running under its token, so a worker that lost its job (re-queued after a server
crash, claimed by a second server) can never overwrite what the job's current worker records.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL CHECK (status IN ('queued','running','succeeded','failed','cancelled')),
    progress    REAL NOT NULL DEFAULT 0,
    message     TEXT NOT NULL DEFAULT '',
    params      TEXT NOT NULL,
    brief       TEXT,
    error       TEXT,
    files       TEXT NOT NULL DEFAULT '[]',
    attempts    INTEGER NOT NULL DEFAULT 0,
    worker      TEXT,
    cancel      INTEGER NOT NULL DEFAULT 0,
    token       TEXT,
    created_at  REAL NOT NULL,
    started_at  REAL,
    finished_at REAL,
    updated_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status_created ON jobs (status, created_at);
"""


# Columns added after the first release, with their definitions, for databases made before them.
_ADDED_COLUMNS = {"token": "TEXT"}


class ClaimLost(Exception):
    """The job is no longer this worker's: it was re-queued or claimed again meanwhile; write nothing."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} is no longer held by this worker (re-queued or claimed again)")
        self.job_id = job_id


class QueueFull(Exception):
    """The bounded queue has no room; ``retry_after`` is a fair guess in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the queue is full; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass
class Job:
    """One row, as the API shows it."""

    id: str
    status: str
    progress: float
    message: str
    params: dict[str, Any]
    brief: dict[str, Any] | None
    error: str | None
    files: list[str]
    attempts: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    token: str | None = None  # the current claim's; never shown by the API

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        """The row as a Job; a damaged JSON column reads as empty rather than failing every listing."""
        return cls(
            id=row["id"],
            status=row["status"],
            progress=row["progress"],
            message=row["message"],
            params=_json_or(row["params"], {}),
            brief=_json_or(row["brief"], None) if row["brief"] else None,
            error=row["error"],
            files=_json_or(row["files"], []),
            attempts=row["attempts"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            token=row["token"] if "token" in row.keys() else None,
        )


def _json_or(text: Any, default: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return default


def unreadable_params(text: Any) -> str | None:
    """Why a row's stored parameters cannot be run (not JSON, or not a JSON object); None when they can."""
    try:
        params = json.loads(text)
    except (TypeError, ValueError, RecursionError) as exc:
        return f"its stored parameters are not valid JSON ({type(exc).__name__})"
    if not isinstance(params, dict):
        return f"its stored parameters are a JSON {type(params).__name__}, not an object"
    return None


class JobStore:
    """All job state transitions, each one a single short transaction.

    One store object per process; it is safe to share between that process's threads.
    """

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        db = self._db()
        db.executescript(_SCHEMA)
        have = {r["name"] for r in db.execute("PRAGMA table_info(jobs)").fetchall()}
        for name, kind in _ADDED_COLUMNS.items():
            if name not in have:
                db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")

    # --- plumbing ------------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: take the write lock up front so check-then-write steps cannot race."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # --- submitting and reading ----------------------------------------------------------------
    def submit(
        self,
        params: dict[str, Any],
        *,
        max_queue: int,
        job_id: str | None = None,
        brief: dict[str, Any] | None = None,
    ) -> Job:
        """Queue a job, or raise QueueFull when ``max_queue`` jobs already wait."""
        now = time.time()
        job_id = job_id or new_job_id()
        with self._tx() as db:
            queued = db.execute("SELECT COUNT(*) FROM jobs WHERE status='queued'").fetchone()[0]
            if queued >= max_queue:
                raise QueueFull(self._retry_after(db, queued))
            db.execute(
                "INSERT INTO jobs (id, status, message, params, brief, created_at, updated_at) "
                "VALUES (?, 'queued', 'waiting for a worker', ?, ?, ?, ?)",
                (job_id, json.dumps(params), json.dumps(brief) if brief else None, now, now),
            )
        job = self.get(job_id)
        assert job is not None  # just inserted in this process
        return job

    def _retry_after(self, db: sqlite3.Connection, queued: int) -> int:
        """Seconds until a slot is likely free: the recent mean run time times the queue ahead."""
        row = db.execute(
            "SELECT AVG(finished_at - started_at), COUNT(DISTINCT worker) FROM ("
            "SELECT finished_at, started_at, worker FROM jobs WHERE status='succeeded' "
            "ORDER BY finished_at DESC LIMIT 20)"
        ).fetchone()
        mean_s = row[0] or 10.0
        workers = max(1, row[1] or 1)
        return max(1, min(600, round(mean_s * max(1, queued) / workers / 4)))

    def get(self, job_id: str) -> Job | None:
        row = self._db().execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return Job.from_row(row) if row else None

    def list(self, *, status: str | None = None, limit: int = 50, offset: int = 0) -> list[Job]:
        query, args = "SELECT * FROM jobs", []
        if status:
            query += " WHERE status=?"
            args.append(status)
        query += " ORDER BY created_at DESC LIMIT ? OFFSET ?"
        rows = self._db().execute(query, (*args, limit, offset)).fetchall()
        return [Job.from_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._db().execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        return {s: 0 for s in STATUSES} | {r[0]: r[1] for r in rows}

    # --- the worker's side -----------------------------------------------------------------------
    def claim(self, worker: str) -> Job | None:
        """Take the oldest queued job for ``worker``, atomically; None when nothing waits.

        A row whose parameters cannot be read (a damaged or hand-edited database) is failed with the
        reason on the way, never handed to a worker: one poison row must not stop the queue.
        """
        now = time.time()
        with self._tx() as db:
            while True:
                row = db.execute(
                    "SELECT id, params FROM jobs WHERE status='queued' ORDER BY created_at LIMIT 1"
                ).fetchone()
                if row is None:
                    return None
                reason = unreadable_params(row["params"])
                if reason is None:
                    break
                db.execute(
                    "UPDATE jobs SET status='failed', message='failed', error=?, finished_at=?, "
                    "updated_at=? WHERE id=?",
                    (f"cannot run this job: {reason}; submit it again", now, now, row["id"]),
                )
            token = uuid.uuid4().hex
            db.execute(
                "UPDATE jobs SET status='running', worker=?, token=?, attempts=attempts+1, started_at=?, "
                "updated_at=?, progress=0, message='starting' WHERE id=?",
                (worker, token, now, now, row["id"]),
            )
        return self.get(row["id"])

    def set_progress(self, job_id: str, fraction: float, message: str, *, token: str | None = None) -> bool:
        """Record progress; returns True when the job should stop (cancelled meanwhile).

        With ``token`` (the claim's), raises :class:`ClaimLost` when the row is no longer running under it.
        """
        db = self._db()
        cur = db.execute(
            "UPDATE jobs SET progress=?, message=?, updated_at=? WHERE id=? AND status='running' "
            "AND (? IS NULL OR token=?)",
            (max(0.0, min(1.0, fraction)), message[:200], time.time(), job_id, token, token),
        )
        if token is not None and cur.rowcount == 0:
            raise ClaimLost(job_id)
        row = db.execute("SELECT cancel FROM jobs WHERE id=?", (job_id,)).fetchone()
        return bool(row and row[0])

    def succeed(
        self,
        job_id: str,
        files: builtins.list[str],
        brief: dict[str, Any] | None,
        *,
        token: str | None = None,
        publish: Callable[[], None] | None = None,
    ) -> bool:
        """Record success; False (and nothing done) when the claim ``token`` no longer holds the job.

        ``publish`` (moving the artifacts into place) runs inside the same write transaction, after the
        claim is checked, so a worker that lost its job cannot replace the files of the one that has it.
        """
        now = time.time()
        with self._tx() as db:
            held = db.execute(
                "SELECT 1 FROM jobs WHERE id=? AND status='running' AND (? IS NULL OR token=?)",
                (job_id, token, token),
            ).fetchone()
            if held is None:
                return False
            if publish is not None:
                publish()
            db.execute(
                "UPDATE jobs SET status='succeeded', progress=1, message='done', files=?, brief=?, "
                "error=NULL, finished_at=?, updated_at=? WHERE id=?",
                (json.dumps(files), json.dumps(brief), now, now, job_id),
            )
        return True

    def fail(self, job_id: str, error: str, *, token: str | None = None) -> None:
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET status='failed', message='failed', error=?, finished_at=?, updated_at=? "
                "WHERE id=? AND status IN ('queued','running') AND (? IS NULL OR token=?)",
                (error, now, now, job_id, token, token),
            )

    def mark_cancelled(self, job_id: str, *, token: str | None = None) -> None:
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET status='cancelled', message='cancelled', finished_at=?, updated_at=? "
                "WHERE id=? AND status IN ('queued','running') AND (? IS NULL OR token=?)",
                (now, now, job_id, token, token),
            )

    def requeue(
        self, job_id: str, reason: str, *, count_attempt: bool = True, token: str | None = None
    ) -> None:
        """Put a running job back in the queue (a stop, a crash); the attempt is kept unless forgiven."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET status='queued', worker=NULL, token=NULL, progress=0, message=?, "
                "updated_at=?, attempts=attempts-? WHERE id=? AND status='running' AND (? IS NULL OR token=?)",
                (reason, time.time(), 0 if count_attempt else 1, job_id, token, token),
            )

    # --- the API's side --------------------------------------------------------------------------
    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued job at once; ask a running one to stop at its next progress report."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET status='cancelled', message='cancelled', finished_at=?, updated_at=? "
                "WHERE id=? AND status='queued'",
                (now, now, job_id),
            )
            db.execute(
                "UPDATE jobs SET cancel=1, message='cancelling', updated_at=? "
                "WHERE id=? AND status='running'",
                (now, job_id),
            )
        return self.get(job_id)

    def delete(self, job_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM jobs WHERE id=?", (job_id,))

    def recover(self, max_attempts: int) -> builtins.list[str]:
        """At start-up: rows left running by a stopped server are re-queued or, past their attempts, failed.

        Returns the ids that were touched.
        """
        now = time.time()
        touched = []
        with self._tx() as db:
            for row in db.execute("SELECT id, attempts, cancel FROM jobs WHERE status='running'").fetchall():
                touched.append(row["id"])
                if row["cancel"]:
                    db.execute(
                        "UPDATE jobs SET status='cancelled', message='cancelled', finished_at=?, "
                        "updated_at=? WHERE id=?",
                        (now, now, row["id"]),
                    )
                elif row["attempts"] >= max_attempts:
                    db.execute(
                        "UPDATE jobs SET status='failed', message='failed', error=?, finished_at=?, "
                        "updated_at=? WHERE id=?",
                        (
                            f"interrupted {row['attempts']} times by a server stop or crash while running; "
                            "not retried again: submit it anew, perhaps shorter",
                            now,
                            now,
                            row["id"],
                        ),
                    )
                else:
                    db.execute(
                        "UPDATE jobs SET status='queued', worker=NULL, token=NULL, progress=0, updated_at=?, "
                        "message='re-queued: the server stopped while it ran' WHERE id=?",
                        (now, row["id"]),
                    )
        return touched

    def backup(self) -> Path:
        """Copy the database to ``<name>.bak`` (SQLite's online backup, then an atomic rename): the last good
        state, which ``--restore-jobs`` puts back if the database is damaged later."""
        target = backup_path(self.db_path)
        tmp = Path(f"{target}.tmp")
        tmp.unlink(missing_ok=True)
        out = sqlite3.connect(tmp)
        try:
            self._db().backup(out)
        finally:
            out.close()
        tmp.replace(target)
        return target

    def running_rows(self) -> builtins.list[sqlite3.Row]:
        """id, worker, started_at, updated_at and cancel of every running job (for the pool's watchdog)."""
        return (
            self._db()
            .execute("SELECT id, worker, started_at, updated_at, cancel FROM jobs WHERE status='running'")
            .fetchall()
        )

    def running_on(self, worker: str) -> builtins.list[str]:
        rows = self._db().execute("SELECT id FROM jobs WHERE status='running' AND worker=?", (worker,))
        return [r[0] for r in rows.fetchall()]

    def expired(self, older_than: float) -> builtins.list[str]:
        """Finished jobs whose end is before the epoch time ``older_than``."""
        rows = (
            self._db()
            .execute(
                f"SELECT id FROM jobs WHERE status IN ({','.join('?' * len(FINISHED))}) AND finished_at < ?",
                (*FINISHED, older_than),
            )
            .fetchall()
        )
        return [r[0] for r in rows]


BACKUP_SUFFIX = ".bak"
DAMAGED_SUFFIX = ".damaged"
# SQLite's companion files, moved along with the database they belong to.
SIDE_FILES = ("-wal", "-shm")


def database_problem(db_path: str | Path) -> str | None:
    """Why the jobs database at ``db_path`` cannot be trusted, or None when it is sound or absent.

    A 0-byte file is a damaged one (a crash or a full disk mid-write), never a new empty queue: SQLite
    would open it as empty and every job would be forgotten without a word.
    """
    path = Path(db_path)
    if not path.exists():
        return None
    if not path.is_file():
        return "it is not a file"
    if path.stat().st_size == 0:
        return "the file is empty (0 bytes)"
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
        try:
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return f"SQLite: {exc}"
    if verdict != "ok":
        return f"SQLite's check: {str(verdict).splitlines()[0][:120]}"
    if "jobs" not in tables:
        return "it holds no jobs table"
    return None


def backup_path(db_path: str | Path) -> Path:
    return Path(f"{db_path}{BACKUP_SUFFIX}")


def set_aside(db_path: str | Path) -> Path | None:
    """Move the database (and its WAL files) to ``<name>.damaged-<time>``; returns the new name."""
    path = Path(db_path)
    if not path.exists():
        return None
    target = Path(f"{path}{DAMAGED_SUFFIX}-{time.strftime('%Y%m%d-%H%M%S')}")
    for side in ("", *SIDE_FILES):
        src = Path(f"{path}{side}")
        if src.exists():
            src.replace(Path(f"{target}{side}"))
    return target


def restore_backup(db_path: str | Path) -> Path | None:
    """Put the backup of the last clean start in place of the database (set aside first); raises
    ValueError when there is no sound backup. Returns where the replaced database went."""
    import shutil

    backup = backup_path(db_path)
    if not backup.is_file():
        raise ValueError(f"there is no backup ({backup.name}) to restore")
    problem = database_problem(backup)
    if problem:
        raise ValueError(f"the backup {backup.name} is damaged too ({problem})")
    aside = set_aside(db_path)
    tmp = Path(f"{db_path}.restoring")
    shutil.copyfile(backup, tmp)
    tmp.replace(db_path)
    return aside


def new_job_id() -> str:
    """Random, unguessable, and safe as a folder name."""
    return uuid.uuid4().hex
