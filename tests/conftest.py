"""Shared fixtures. Tests never touch the network: hub lookups are switched off here."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import time
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

# Tests render with the bundled TimGM6mb.sf2 even where `make demo` installed a fuller system SoundFont:
# their expectations (pan, levels, timings) are the bundled font's, and MuseScore General renders about
# 5x slower (docs/SOUNDFONTS.md). The variable reaches CLI subprocesses too; tests of the choice itself
# set or unset it with monkeypatch.
_pretty_midi = importlib.util.find_spec("pretty_midi")
if _pretty_midi is not None and _pretty_midi.origin is not None:
    os.environ["WEAVEWAVE_SOUNDFONT"] = str(pathlib.Path(_pretty_midi.origin).parent / "TimGM6mb.sf2")


@pytest.fixture(scope="session")
def skimage_data() -> pathlib.Path:
    """Folder of real photographs shipped inside scikit-image."""
    skimage = pytest.importorskip("skimage")
    return pathlib.Path(skimage.__file__).parent / "data"


# --- neural engineer: tiny random models saved once per session (see tests/tiny_models.py) -----------------
def _tiny(tmp_path_factory, builder: str, folder: str, **options) -> pathlib.Path:
    pytest.importorskip("transformers")
    import tiny_models

    return getattr(tiny_models, builder)(tmp_path_factory.mktemp("models") / folder, **options)


@pytest.fixture(scope="session")
def tiny_musicgen(tmp_path_factory) -> pathlib.Path:
    return _tiny(tmp_path_factory, "build_musicgen", "musicgen")


@pytest.fixture(scope="session")
def tiny_musicgen_melody(tmp_path_factory) -> pathlib.Path:
    return _tiny(tmp_path_factory, "build_musicgen", "musicgen-melody", melody=True)


@pytest.fixture(scope="session")
def tiny_musicgen_stereo(tmp_path_factory) -> pathlib.Path:
    return _tiny(tmp_path_factory, "build_musicgen", "musicgen-stereo", stereo=True)


@pytest.fixture(scope="session")
def tiny_musicgen_melody_stereo(tmp_path_factory) -> pathlib.Path:
    return _tiny(tmp_path_factory, "build_musicgen", "musicgen-stereo-melody", melody=True, stereo=True)


@pytest.fixture(scope="session")
def tiny_vision_chat(tmp_path_factory) -> pathlib.Path:
    return _tiny(tmp_path_factory, "build_vision_chat", "vision-chat")


@pytest.fixture(scope="session")
def tiny_audio_chat(tmp_path_factory) -> pathlib.Path:
    return _tiny(tmp_path_factory, "build_audio_chat", "audio-chat")


@pytest.fixture(scope="session")
def tiny_chat_llm(tmp_path_factory) -> pathlib.Path:
    return _tiny(tmp_path_factory, "build_chat_llm", "chat-llm")


@pytest.fixture()
def one_torch_thread():
    """Tiny models run fastest on one thread, and the test machines are shared."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


PROGRESS_LINE = re.compile(r"^\[\s*\d+%\s+[\d.]+s\] ")


def message_lines(stderr: str) -> list[str]:
    """stderr without progress lines: on a loaded machine a failing run can pass the 1 s quiet period."""
    return [line for line in stderr.strip().splitlines() if not PROGRESS_LINE.match(line)]


def wait_job(client: Any, job_id: str, timeout: float = 120.0) -> dict:
    """Poll ``GET /v1/jobs/{id}`` through a TestClient until the job has ended; its JSON."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s: {job}")


# The address a default (loopback) server answers to: its Host check refuses TestClient's "testserver".
LOCAL_URL = "http://127.0.0.1:7860"
