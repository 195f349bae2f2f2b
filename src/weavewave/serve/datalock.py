"""One server per data folder: an exclusive lock on ``--data-dir``.

Two servers over one folder would each re-queue the other's running jobs at start and run them twice.
The lock is an OS file lock (``flock``) on ``<data-dir>/server.lock``: the kernel drops it when the
process ends in any way, ``kill -9`` included, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from weavewave.errors import BadInputError

LOCK_NAME = "server.lock"


class DataDirLock:
    """Hold ``<data_dir>/server.lock`` exclusively while the server runs."""

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> DataDirLock:
        """Take the lock at once or raise BadInputError naming the server that holds it."""
        if self._fd is not None:
            return self
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, as before
            return self
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise BadInputError(
                f"--data-dir {self.data_dir}: cannot create {LOCK_NAME} "
                f"({exc.strerror or exc}); choose a folder you can write to"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f" (pid {holder})" if holder else ""
            raise BadInputError(
                f"--data-dir {self.data_dir} is in use by another weavewave server{who}; "
                "stop it first, or give this one another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the descriptor drops the flock

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
