"""Server settings: one dataclass, shared by the CLI, the app factory and the worker processes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from weavewave.errors import BadInputError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
MiB = 1024 * 1024
# Per-job time limits: a one-second floor keeps the server usable; a week is past any real job.
MIN_JOB_TIMEOUT_S = 1.0
# A retention of a century is as good as forever; past it, day arithmetic overflows.
MAX_KEEP_DAYS = 36500.0
MAX_JOB_TIMEOUT_S = 7 * 86400.0


@dataclass(frozen=True)
class Settings:
    """How the server runs.

    Attributes
    ----------
    data_dir: jobs.sqlite3, uploaded inputs and artifacts live here; a restart over it loses nothing.
    workers: worker processes that run generate jobs in parallel (one per core is a good start).
    max_queue: queued jobs allowed at once; more are refused with 429 and Retry-After.
    max_upload_bytes: largest request body; larger ones get 413.
    keep_days: finished jobs older than this are deleted with their files.
    token: when set, every /v1 request needs ``Authorization: Bearer <token>``.
    host: the address it binds; anything but loopback requires a token.
    text_model: "auto" (MiniLM when installed), "minilm" or "lexicon", as ``--text-model``.
    max_attempts: an interrupted job is re-run at most this many times, then failed with the reason.
    job_timeout_s: a job running longer than this is stopped (its worker is ended) and failed with the reason.
    allow_hosts: more Host names the server answers to (``--allow-host``; ``*`` for any), besides loopback's.
    reset_jobs: start with an empty jobs database, keeping a damaged one aside (``--reset-jobs``).
    restore_jobs: replace the jobs database by the backup of the last clean start (``--restore-jobs``).
    """

    data_dir: Path = field(default_factory=lambda: Path("weavewave-data"))
    workers: int = 2
    max_queue: int = 32
    max_upload_bytes: int = 64 * MiB
    keep_days: float = 7.0
    token: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    text_model: str = "auto"
    max_attempts: int = 3
    job_timeout_s: float = 3600.0
    ui: bool = True
    allow_hosts: tuple[str, ...] = ()
    reset_jobs: bool = False
    restore_jobs: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))

    def validated(self) -> Settings:
        """Refuse unsafe or impossible settings before anything starts."""
        if not 1 <= self.port <= 65535:
            raise BadInputError(f"--port {self.port} is out of range: use 1 to 65535")
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise BadInputError(
                f"--data-dir {self.data_dir} is a file, not a folder: give a folder (it is "
                "created when missing)"
            )
        if not 1 <= self.workers <= 64:
            raise BadInputError(f"--workers {self.workers} is out of range: use 1 to 64")
        if self.max_queue < 1:
            raise BadInputError(f"--max-queue {self.max_queue} must be at least 1")
        if self.max_upload_bytes < 1024:
            raise BadInputError("--max-upload-mb is too small: allow at least 1 KiB")
        if not MIN_JOB_TIMEOUT_S <= self.job_timeout_s <= MAX_JOB_TIMEOUT_S:
            raise BadInputError(
                f"--job-timeout {self.job_timeout_s:g} is out of range: use {MIN_JOB_TIMEOUT_S:g} to "
                f"{MAX_JOB_TIMEOUT_S:g} seconds"
            )
        if not 0 < self.keep_days <= MAX_KEEP_DAYS:  # also refuses nan
            raise BadInputError(
                f"--keep-days {self.keep_days:g} is out of range: use more than 0 and at most "
                f"{MAX_KEEP_DAYS:g}"
            )
        for name in self.allow_hosts:
            if not name or any(c in name for c in "/ \t@") or len(name) > 255:
                raise BadInputError(f"--allow-host {name!r} is not a host name: give e.g. music.example.org")
        if self.reset_jobs and self.restore_jobs:
            raise BadInputError("--reset-jobs and --restore-jobs exclude each other: choose one")
        if self.text_model not in ("auto", "minilm", "lexicon"):
            raise BadInputError(f"text model {self.text_model!r}: use auto, minilm or lexicon")
        if self.token is not None and len(self.token) < 8:
            raise BadInputError(
                "--token is too short: use at least 8 characters (e.g. `openssl rand -hex 16`)"
            )
        if not is_loopback(self.host) and not self.token:
            raise BadInputError(
                f"--host {self.host} is reachable from other machines: pass --token SECRET so "
                "only clients sending 'Authorization: Bearer SECRET' get in"
            )
        return self

    @property
    def semantic(self) -> bool | None:
        return {"auto": None, "minilm": True, "lexicon": False}[self.text_model]

    @property
    def db_path(self) -> Path:
        return self.data_dir / "jobs.sqlite3"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @property
    def library_dir(self) -> Path:
        """The server's own music library (clients add to it by upload; they never name a folder)."""
        return self.data_dir / "library"


def is_loopback(host: str) -> bool:
    """True for localhost and 127.0.0.0/8 or ::1; only these may run without a token."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
