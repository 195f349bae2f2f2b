"""The exception hierarchy. Every message says what was wrong and what to do."""

from __future__ import annotations


class WeaveWaveError(Exception):
    """Base class for all weavewave errors."""


class BadInputError(WeaveWaveError, ValueError):
    """The user's input or options are wrong. The CLI exits with code 2."""


class MissingDependencyError(WeaveWaveError, ImportError):
    """An optional dependency is not installed. The message names the install command."""
