"""The music library over HTTP: add by upload, list and search (``/v1/library/...``)."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("lancedb")

from fastapi.testclient import TestClient  # noqa: E402

from conftest import LOCAL_URL  # noqa: E402
from reference_audio import recording_path  # noqa: E402
from weavewave.serve.api import create_app  # noqa: E402
from weavewave.serve.settings import Settings  # noqa: E402


def test_upload_list_and_search_the_servers_library(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", workers=1, text_model="lexicon", ui=False)
    with TestClient(create_app(settings, start_workers=False), base_url=LOCAL_URL) as client:
        assert client.get("/v1/library/tracks").json() == {"tracks": [], "count": 0}
        audio = recording_path().read_bytes()
        r = client.post("/v1/library/tracks", files={"file": ("scale.wav", audio, "audio/wav")})
        assert r.status_code == 201, r.text
        track = r.json()["track"]
        assert r.json()["added"] == 1 and track["title"] == "scale" and "text_vector" not in track
        again = client.post("/v1/library/tracks", files={"file": ("scale.wav", audio, "audio/wav")})
        assert again.json()["duplicate"] is True
        listed = client.get("/v1/library/tracks").json()
        assert listed["count"] == 1 and listed["tracks"][0]["id"] == track["id"]
        found = client.get("/v1/library/search", params={"q": "a quiet piece", "tempo": "60-200"}).json()
        assert found["results"][0]["id"] == track["id"] and found["results"][0]["track"] == "broad"
        assert found["results"][0]["why"]
        none = client.get("/v1/library/search", params={"genre": "rock"}).json()
        assert none["results"] == []
        bad = client.post("/v1/library/tracks", files={"file": ("notes.txt", b"hello", "text/plain")})
        assert bad.status_code == 422 and "not an audio file" in bad.text
