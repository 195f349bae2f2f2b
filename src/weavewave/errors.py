"""The exception hierarchy. Every message says what was wrong and what to do."""

from __future__ import annotations


class WeaveWaveError(Exception):
    """Base class for all weavewave errors."""


class BadInputError(WeaveWaveError, ValueError):
    """The user's input or options are wrong. The CLI exits with code 2."""


class MissingDependencyError(BadInputError, ImportError):
    """An optional dependency is not installed. The message names the install command (with the extra).

    A :class:`BadInputError`: asking for a feature whose extra is not installed is a usage error (exit
    code 2, one line), not an internal one. Raised by :func:`weavewave._deps.require`.
    """
