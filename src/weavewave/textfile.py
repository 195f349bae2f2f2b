"""Reading a small text file the user named (``--text @FILE``, ``--brief FILE``) without hanging or blowing up.

A FIFO would block ``open`` forever, ``/dev/zero`` or ``/dev/urandom`` never end, and a huge file takes
minutes to analyse; each is refused with one clear line before anything is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from weavewave.errors import BadInputError

# A brief is a few kilobytes and a long story a few hundred; past this it is not a prompt.
MAX_TEXT_FILE_BYTES = 1024 * 1024
_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_text_file(path: str | Path, *, what: str, limit: int = MAX_TEXT_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes. Raises BadInputError otherwise.

    Opened without blocking (a FIFO swapped in after a check cannot hang the open), checked on the open
    descriptor, and read only up to ``limit + 1`` bytes.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise BadInputError(f"{what} not found: {p}; check the path") from None
    except OSError as exc:
        raise BadInputError(f"cannot read {what} {p}: {exc.strerror or exc}; check the path") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise BadInputError(f"{what} {p} is {_kind(mode)}, not a file: save the text to a file and "
                            "give its path")
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise BadInputError(f"{what} {p} is larger than {limit // 1024} KiB; give a shorter text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInputError(f"{what} {p} is not UTF-8 text; save it as UTF-8") from None
