"""Shared fixtures. Tests never touch the network: hub lookups are switched off here."""

from __future__ import annotations

import os
import pathlib
import re
import time
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(scope="session")
def skimage_data() -> pathlib.Path:
    """Folder of real photographs shipped inside scikit-image."""
    skimage = pytest.importorskip("skimage")
    return pathlib.Path(skimage.__file__).parent / "data"


# --- neural engineer: tiny random models saved once per session (see tests/tiny_models.py) -----------------
@pytest.fixture(scope="session")
def tiny_musicgen(tmp_path_factory) -> pathlib.Path:
    pytest.importorskip("transformers")
    from tiny_models import build_musicgen

    return build_musicgen(tmp_path_factory.mktemp("models") / "musicgen")


@pytest.fixture(scope="session")
def tiny_musicgen_melody(tmp_path_factory) -> pathlib.Path:
    pytest.importorskip("transformers")
    from tiny_models import build_musicgen

    return build_musicgen(tmp_path_factory.mktemp("models") / "musicgen-melody", melody=True)


@pytest.fixture(scope="session")
def tiny_musicgen_stereo(tmp_path_factory) -> pathlib.Path:
    pytest.importorskip("transformers")
    from tiny_models import build_musicgen

    return build_musicgen(tmp_path_factory.mktemp("models") / "musicgen-stereo", stereo=True)


@pytest.fixture(scope="session")
def tiny_musicgen_melody_stereo(tmp_path_factory) -> pathlib.Path:
    pytest.importorskip("transformers")
    from tiny_models import build_musicgen

    return build_musicgen(tmp_path_factory.mktemp("models") / "musicgen-stereo-melody", melody=True, stereo=True)


@pytest.fixture(scope="session")
def tiny_vision_chat(tmp_path_factory) -> pathlib.Path:
    pytest.importorskip("transformers")
    from tiny_models import build_vision_chat

    return build_vision_chat(tmp_path_factory.mktemp("models") / "vision-chat")


@pytest.fixture(scope="session")
def tiny_audio_chat(tmp_path_factory) -> pathlib.Path:
    pytest.importorskip("transformers")
    from tiny_models import build_audio_chat

    return build_audio_chat(tmp_path_factory.mktemp("models") / "audio-chat")


@pytest.fixture(scope="session")
def tiny_chat_llm(tmp_path_factory) -> pathlib.Path:
    pytest.importorskip("transformers")
    from tiny_models import build_chat_llm

    return build_chat_llm(tmp_path_factory.mktemp("models") / "chat-llm")


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
