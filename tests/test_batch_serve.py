"""POST /v1/batches and GET /v1/batches/{id}: a manifest's rows become jobs in the server's queue."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from conftest import LOCAL_URL  # noqa: E402
from weavewave.serve.api import create_app  # noqa: E402
from weavewave.serve.settings import Settings  # noqa: E402


def _manifest(rows: list[dict]) -> tuple[str, bytes, str]:
    return ("pieces.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode(), "application/x-ndjson")


def test_a_batch_runs_its_rows_as_jobs_with_uploads(tmp_path, skimage_data):
    settings = Settings(data_dir=tmp_path / "data", workers=1, text_model="lexicon", ui=False)
    photo = (skimage_data / "coffee.png").read_bytes()
    rows = [
        {"text": "calm piano", "duration": 2, "seed": 1, "id": "piano"},
        {"image": "coffee.png", "duration": 2, "seed": 2},
    ]
    with TestClient(create_app(settings), base_url=LOCAL_URL) as client:
        r = client.post(
            "/v1/batches", files=[("manifest", _manifest(rows)), ("files", ("coffee.png", photo))]
        )
        assert r.status_code == 202, r.text
        batch = r.json()
        assert r.headers["location"] == f"/v1/batches/{batch['id']}"
        assert batch["total"] == 2 and [row["id"] for row in batch["rows"]][0] == "piano"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            batch = client.get(f"/v1/batches/{batch['id']}").json()
            if batch["status"] not in ("queued", "running"):
                break
            time.sleep(0.25)
        assert batch["status"] == "succeeded", [r["error"] for r in batch["rows"]]
        assert batch["counts"] == {"succeeded": 2}
        for row in batch["rows"]:
            assert any(f.endswith("/music.wav") for f in row["files"])
            job = client.get(row["url"]).json()
            assert job["brief"]["seed"] == row["row"]
        assert client.get("/v1/batches/nosuchbatch").status_code == 404


def test_bad_rows_are_one_422_naming_each_row_and_nothing_is_queued(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", workers=1, text_model="lexicon", ui=False)
    rows = [
        {"text": "fine"},
        {"image": "/etc/passwd"},  # a server path: refused
        {"audio": "file:///etc/hostname"},  # a local URL: refused
        {"text": "x", "soundfont": "x.sf2"},  # the server's own choice
        {"image": "not-uploaded.png"},
        {"text": "y", "tempo": 5000},
    ]
    with TestClient(create_app(settings, start_workers=False), base_url=LOCAL_URL) as client:
        r = client.post("/v1/batches", files=[("manifest", _manifest(rows))])
        assert r.status_code == 422, r.text
        locs = [tuple(d["loc"]) for d in r.json()["detail"]]
        assert locs == [("manifest", 2, "image"), ("manifest", 3, "audio"), ("manifest", 4, "row"),
                        ("manifest", 5, "image"), ("manifest", 6, "tempo")]  # fmt: skip
        assert "/etc" not in r.text
        assert client.get("/v1/jobs").json()["counts"].get("queued", 0) == 0
        assert client.post("/v1/batches", files=[("files", ("a.png", b"x"))]).status_code == 422
