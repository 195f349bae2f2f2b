"""The exception hierarchy. Every message says what was wrong and what to do."""

from __future__ import annotations


class WeaveWaveError(Exception):
    """Base class for all weavewave errors."""


class BadInputError(WeaveWaveError, ValueError):
    """The user's input or options are wrong. The CLI exits with code 2."""


class MissingDependencyError(WeaveWaveError, ImportError):
    """An optional dependency is not installed. The message names the install command."""


class FieldError(BadInputError):
    """Bad input tied to one request field: ``--tempo`` on the command line, a 422 naming ``tempo`` over HTTP.

    ``field`` is the request field's name (see :mod:`weavewave.request`); ``reason`` says what was wrong and
    what to do, and reads on after the field's name.
    """

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field, self.reason = field_name, reason
