"""The exception hierarchy. Every message says what was wrong and what to do."""

from __future__ import annotations

import errno
import re
from pathlib import Path


class WeaveWaveError(Exception):
    """Base class for all weavewave errors."""


class BadInputError(WeaveWaveError, ValueError):
    """The user's input or options are wrong. The CLI exits with code 2."""


class MissingDependencyError(BadInputError, ImportError):
    """An optional dependency is not installed. The message names the install command (with the extra).

    A :class:`BadInputError`: asking for a feature whose extra is not installed is a usage error (exit
    code 2, one line), not an internal one. Raised by :func:`weavewave._deps.require`.
    """


class FieldError(BadInputError):
    """Bad input tied to one request field: ``--tempo`` on the command line, a 422 naming ``tempo`` over HTTP.

    ``field`` is the request field's name (see :mod:`weavewave.request`); ``reason`` says what was wrong and
    what to do, and reads on after the field's name. A reason names other fields as ``@name``; each face
    shows them its own way (:meth:`for_cli`: ``--name``; elsewhere the plain name).
    """

    def __init__(self, field_name: str, reason: str) -> None:
        # One line whatever the input held: a value quoted into the reason (a path of "\n") is escaped.
        reason = reason.replace("\r", "\\r").replace("\n", "\\n")
        self.field, self.template = field_name, reason
        self.reason = re.sub(r"@([a-z_]+)", r"\1", reason)
        super().__init__(f"{field_name}: {self.reason}")

    def for_cli(self) -> str:
        """The message with fields spelled as command-line options."""
        reason = re.sub(r"@([a-z_]+)", lambda m: "--" + m[1].replace("_", "-"), self.template)
        flag = "--" + self.field.replace("_", "-")
        return reason if reason.startswith(flag) else f"{flag}: {reason}"


# errno values that mean "the disk (or this user's quota) is full".
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
# libsndfile reports a failed write as "System error" (its SFE_SYSTEM, code 2) without the errno; with this
# little room left where it wrote, a full disk is the cause.
LIBSNDFILE_SYSTEM_ERROR = 2
LOW_SPACE_BYTES = 16 * 1024 * 1024


class DiskFullError(BadInputError):
    """No space left on the device while writing ``path``. The CLI exits 2 with one line saying so."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(
            f"no space left on the device writing {self.path}: free some space or choose another --out"
        )


def is_disk_full(exc: BaseException, folder: str | Path | None = None) -> bool:
    """True when ``exc`` (raised while writing into ``folder``) means the disk or the quota is full.

    An ``OSError`` says so by its errno. soundfile's ``LibsndfileError`` only says "System error"; it
    counts as a full disk when the C library's errno is ENOSPC or ``folder`` has almost no space left.
    """
    codes = DISK_FULL_ERRNOS
    for err in _chain(exc):
        if isinstance(err, OSError) and err.errno in codes:
            return True
        if type(err).__name__ == "LibsndfileError" and getattr(err, "code", None) == LIBSNDFILE_SYSTEM_ERROR:
            if _c_errno() in codes or (folder is not None and _free_bytes(folder) < LOW_SPACE_BYTES):
                return True
    return False


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during."""
    seen: list[BaseException] = []
    err: BaseException | None = exc
    while err is not None and err not in seen and len(seen) < 16:
        seen.append(err)
        err = err.__cause__ or err.__context__
    return seen


def _c_errno() -> int | None:
    """errno after soundfile's last C call in this thread (None when soundfile is not loaded)."""
    import sys

    sf = sys.modules.get("soundfile")
    ffi = getattr(sf, "_ffi", None)
    try:
        return int(ffi.errno) if ffi is not None else None
    except Exception:  # an ffi without errno: no evidence either way
        return None


def _free_bytes(folder: str | Path) -> int:
    import shutil

    path = Path(folder)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return LOW_SPACE_BYTES  # unknown: not evidence of a full disk
