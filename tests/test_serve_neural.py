"""The server's neural and restyle options: musicgen jobs through a real worker, the worker's model cache,
the restyle options (reference mode, loop, keep-audio) and a 422 naming the field for every bad value.

MusicGen runs from a tiny random model saved to a temporary folder (``tests/tiny_models.py``) and loaded
through weavewave's own loader; nothing is downloaded.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from conftest import LOCAL_URL, wait_job  # noqa: E402
from weavewave.serve.api import create_app  # noqa: E402
from weavewave.serve.settings import Settings  # noqa: E402


def _settings(data: Path) -> Settings:
    return Settings(data_dir=data, workers=1, text_model="lexicon", ui=False)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """An app with one real worker process."""
    with TestClient(create_app(_settings(tmp_path_factory.mktemp("serve-neural"))), base_url=LOCAL_URL) as c:
        yield c


@pytest.fixture(scope="module")
def queue_only(tmp_path_factory):
    """An app without workers: for requests that must be refused before anything is queued."""
    with TestClient(
        create_app(_settings(tmp_path_factory.mktemp("serve-neural-q")), start_workers=False),
        base_url=LOCAL_URL,
    ) as c:
        yield c


@pytest.fixture(scope="module")
def tune(tmp_path_factory) -> bytes:
    pytest.importorskip("librosa")
    pytest.importorskip("basic_pitch")
    from reference_audio import ODE_TO_JOY, render_to_wav, tune_arrangement

    path = render_to_wav(
        tune_arrangement(ODE_TO_JOY[:15], tempo=120.0), tmp_path_factory.mktemp("serve-tune") / "tune.wav"
    )
    return path.read_bytes()


# --- musicgen through the worker ----------------------------------------------------------------------
def test_musicgen_job_runs_in_the_worker(client, tiny_musicgen):
    import soundfile

    r = client.post(
        "/v1/generate",
        data={
            "text": "a calm piano piece",
            "duration": "2",
            "seed": "3",
            "backend": "musicgen",
            "model": str(tiny_musicgen),
        },
    )
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"], timeout=180.0)
    assert job["status"] == "succeeded", job
    names = [f["name"] for f in job["files"]]
    assert "music.wav" in names and "brief.json" in names and "stems.zip" not in names
    audio, rate = soundfile.read(io.BytesIO(client.get(f"/v1/jobs/{job['id']}/files/music.wav").content))
    assert abs(len(audio) / rate - 2.0) < 0.05
    assert audio.std() > 1e-4  # the random model makes noise, not silence


def test_the_worker_keeps_one_model_cache(tmp_path, tiny_musicgen):
    """Two musicgen jobs in one worker load the model once: the worker's cache holds it afterwards."""
    pytest.importorskip("torch")
    from weavewave.neural.models import ModelCache
    from weavewave.serve.jobs import run_job
    from weavewave.serve.store import JobStore

    settings = _settings(tmp_path).validated()
    settings.jobs_dir.mkdir(parents=True, exist_ok=True)
    store = JobStore(settings.db_path)
    cache = ModelCache()
    params = {
        "text": "warm lofi",
        "controls": {"duration": 1.0, "seed": 1},
        "backend": "musicgen",
        "options": {"model": str(tiny_musicgen)},
    }
    seen = []
    for _ in range(2):
        store.submit(params, max_queue=10)
        job = store.claim("w-test")
        run_job(store, settings, job, threading.Event(), cache)
        done = store.get(job.id)
        assert done.status == "succeeded", done.error
        seen.append(list(cache._items.values()))
    assert len(cache) == 1 and seen[0][0] is seen[1][0]
    store.close()


def test_missing_model_is_a_422_with_how_to_fetch_it(queue_only, tmp_path):
    r = queue_only.post(
        "/v1/generate", data={"text": "calm", "backend": "musicgen", "model": "facebook/musicgen-not-here"}
    )
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "model"]
    assert (
        "not on this machine" in detail["msg"]
        and "hf download" in detail["msg"]
        and "\n" not in detail["msg"]
    )
    r = queue_only.post(
        "/v1/generate", data={"text": "calm", "backend": "musicgen", "model": str(tmp_path / "nope")}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "model"]
    assert "not found" in r.json()["detail"][0]["msg"]
    assert queue_only.get("/v1/jobs").json()["jobs"] == []  # nothing was queued


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"backend": "musicgen", "steer": "sideways"}, "steer"),
        ({"describer": "oracle"}, "describer"),
        ({"refiner": "magic", "instruction": "warmer"}, "refiner"),
        ({"refiner": "llm"}, "refiner"),  # the LLM refiner needs an instruction
        ({"reference_mode": "melody"}, "reference_mode"),  # needs a reference tune
        ({"keep_audio": "true"}, "keep_audio"),  # needs a video
        ({"keep_audio": "maybe"}, "keep_audio"),  # not a boolean (FastAPI's own check)
        ({"loop": "sometimes"}, "loop"),
        ({"model": "facebook/musicgen-small"}, "model"),  # the symbolic backend has no model
        ({"backend": "musicgen", "stems": "true"}, "stems"),  # musicgen makes no stems
        ({"describer": "mllm", "describer_model": "/nowhere/at/all"}, "describer_model"),
    ],
)
def test_bad_options_name_the_field(queue_only, data, field):
    for endpoint in ("/v1/generate", "/v1/describe"):
        if endpoint == "/v1/describe" and field == "stems":
            continue  # describe makes no audio and takes no stems
        r = queue_only.post(endpoint, data={"text": "a quiet morning", **data})
        assert r.status_code == 422, (endpoint, r.text)
        assert r.json()["detail"][0]["loc"][-1] == field, (endpoint, r.json())


def test_bad_reference_mode_with_a_tune(queue_only, tune):
    r = queue_only.post(
        "/v1/describe",
        files={"audio": ("tune.wav", tune, "audio/wav")},
        data={"reference_mode": "everything"},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reference_mode"]
    assert "melody, harmony, style" in r.json()["detail"][0]["msg"]


# --- restyle options reach weavewave.api -----------------------------------------------------------------
def test_reference_mode_and_loop_reach_the_brief(queue_only, tune):
    r = queue_only.post(
        "/v1/describe",
        files={"audio": ("tune.wav", tune, "audio/wav")},
        data={"reference_mode": "harmony", "loop": "true"},
    )
    assert r.status_code == 200, r.text
    brief = r.json()
    assert brief["reference"]["mode"] == "harmony" and brief["loop"] is True
    plain = queue_only.post("/v1/describe", files={"audio": ("tune.wav", tune, "audio/wav")}).json()
    assert plain["reference"]["mode"] == "melody" and not plain["loop"]


def test_loop_job_and_stored_options(client):
    r = client.post("/v1/generate", data={"text": "a bright pop loop", "duration": "4", "loop": "true"})
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"], timeout=180.0)
    assert job["status"] == "succeeded", job
    assert job["brief"]["loop"] is True
