"""The exception hierarchy. Every message says what was wrong and what to do."""

from __future__ import annotations

import re


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
        self.field, self.template = field_name, reason
        self.reason = re.sub(r"@([a-z_]+)", r"\1", reason)
        super().__init__(f"{field_name}: {self.reason}")

    def for_cli(self) -> str:
        """The message with fields spelled as command-line options."""
        reason = re.sub(r"@([a-z_]+)", lambda m: "--" + m[1].replace("_", "-"), self.template)
        flag = "--" + self.field.replace("_", "-")
        return reason if reason.startswith(flag) else f"{flag}: {reason}"
