"""Shared fixtures. Tests never touch the network: hub lookups are switched off here."""

from __future__ import annotations

import os
import pathlib

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(scope="session")
def skimage_data() -> pathlib.Path:
    """Folder of real photographs shipped inside scikit-image."""
    skimage = pytest.importorskip("skimage")
    return pathlib.Path(skimage.__file__).parent / "data"
