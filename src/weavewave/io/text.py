"""Reading a small text file the user named (``--text @FILE``, ``--brief FILE``) without hanging or blowing up.

A FIFO would block ``open`` forever, ``/dev/zero`` or ``/dev/urandom`` never end, and a huge file takes
minutes to analyse; each is refused with one clear line before anything is read.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from weavewave.errors import BadInputError

# A brief is a few kilobytes and a long story a few hundred; past this it is not a prompt.
MAX_TEXT_FILE_BYTES = 1024 * 1024
_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


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
        raise BadInputError(
            f"{what} {p} is {_kind(mode)}, not a file: save the text to a file and give its path"
        )
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise BadInputError(f"{what} {p} is larger than {limit // 1024} KiB; give a shorter text")
    try:
        return data.decode("utf-8")  # strict: a text file cannot smuggle in lone surrogates
    except UnicodeDecodeError:
        raise BadInputError(f"{what} {p} is not UTF-8 text; save it as UTF-8") from None


# --- JSON from users (briefs): bounded depth, bounded integers, finite numbers, valid text -----------------
# A brief is about five levels deep; deeper JSON is not a brief, and very deep JSON overflows the parser's
# recursion (or pydantic's) into an internal error.
MAX_JSON_DEPTH = 32
# No field of a brief needs more digits than a 64-bit seed; Python refuses over 4300 anyway, with an error
# that reads as a crash.
MAX_INT_DIGITS = 30


def _refuse_constant(name: str) -> Any:
    raise BadInputError(f"{{origin}} holds {name}, which is not a number JSON allows: use a finite number")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise BadInputError(
            f"{{origin}} holds an integer of {len(text.lstrip('-'))} digits: no field takes "
            f"more than {MAX_INT_DIGITS}"
        )
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadInputError(
            f"{{origin}} holds {text}, which is too large to be a number: use a finite number"
        )
    return value


def loads_json(text: str, *, origin: str) -> Any:
    """Parse JSON a user gave (a brief), refusing what would otherwise surface as an internal error.

    Refused with one :class:`BadInputError` line each: invalid JSON, nesting deeper than
    ``MAX_JSON_DEPTH``, integers longer than ``MAX_INT_DIGITS`` digits, ``NaN``/``Infinity`` and numbers
    too large for a float, and strings holding lone surrogates (text that cannot be written as UTF-8).
    """
    try:
        data = json.loads(
            text, parse_constant=_refuse_constant, parse_int=_bounded_int, parse_float=_finite_float
        )
    except BadInputError as exc:
        raise BadInputError(str(exc).replace("{origin}", origin)) from None
    except RecursionError:
        raise BadInputError(
            f"{origin} is nested too deeply to be a brief (over {MAX_JSON_DEPTH} levels)"
        ) from None
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"{origin} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    _check_json_tree(data, origin)
    return data


def _check_json_tree(data: Any, origin: str) -> None:
    """Depth and text checks, iteratively (a recursive walk is what deep input breaks)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadInputError(
                    f"{origin} is nested too deeply to be a brief (over {MAX_JSON_DEPTH} levels)"
                )
            items = list(node.items()) if isinstance(node, dict) else [(None, v) for v in node]
            for key, value in items:
                if key is not None:
                    check_text(key, what=f"{origin}: a key")
                stack.append((value, depth + 1))
        elif isinstance(node, str):
            check_text(node, what=f"{origin}: a string")


def check_text(text: str, *, what: str) -> str:
    """``text`` unchanged, or BadInputError when it holds lone surrogates (bytes that were not UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadInputError(
            f"{what} is not valid UTF-8 text (a stray byte or lone surrogate at character "
            f"{exc.start}); pass UTF-8 text"
        ) from None
    return text
