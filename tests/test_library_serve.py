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


@pytest.fixture(scope="module")
def served_library(tmp_path_factory):
    """A server data folder whose library holds two rendered, tagged tracks (jazz and ambient), added by upload."""
    from library_media import render_labelled

    root = tmp_path_factory.mktemp("served-library")
    pieces = render_labelled(root / "music", 2, duration=8.0)
    settings = Settings(data_dir=root / "data", workers=1, text_model="lexicon", ui=False)
    ids = {}
    with TestClient(create_app(settings, start_workers=False), base_url=LOCAL_URL) as client:
        for piece in pieces:
            r = client.post("/v1/library/tracks", files={"file": (piece.path.name, piece.path.read_bytes())})
            assert r.status_code == 201, r.text
            ids[piece.genre] = r.json()["track"]["id"]
    return settings, ids


def test_describe_takes_references_from_the_servers_library(served_library):
    settings, ids = served_library
    with TestClient(create_app(settings, start_workers=False), base_url=LOCAL_URL) as client:
        r = client.post(
            "/v1/describe", json={"text": "a calm evening", "reference_track": ids["jazz"], "seed": 1}
        )
        assert r.status_code == 200, r.text
        brief = r.json()
        ref = brief["references"][0]
        assert (ref["track_id"], ref["title"], ref["track"]) == (ids["jazz"], "Jazz 000", "targeted")
        assert "tempo_bpm" in ref["lent"] and brief["provenance"]["tempo_bpm"]["source"] == "reference"
        assert abs(brief["tempo_bpm"] - 96.0) < 96.0 * 0.02
        assert "Jazz 000" in brief["caption"]
        # The server's folders stay its own: the path is relative to its data folder.
        assert ref["path"].startswith("library-files/") and str(settings.data_dir) not in r.text
        # A multipart form (the page's way) with a number of references: the broad track picks them.
        r = client.post("/v1/describe", data={"text": "slow ambient drones", "references": "2"})
        assert r.status_code == 200, r.text
        assert {x["track_id"] for x in r.json()["references"]} == set(ids.values())


def test_http_references_never_name_a_folder_or_a_file(served_library, tmp_path):
    settings, ids = served_library
    with TestClient(create_app(settings, start_workers=False), base_url=LOCAL_URL) as client:
        r = client.post("/v1/describe", json={"text": "calm", "library": str(tmp_path), "references": 1})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "library"]
        assert "server uses its own library" in r.json()["detail"][0]["msg"]
        r = client.post("/v1/generate", json={"text": "calm", "reference_track": "0123456789ab"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reference_track"]
        assert "no such track" in r.text and str(settings.data_dir) not in r.text
        r = client.post("/v1/describe", json={"text": "calm", "references": 0})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "references"]
        # A reference added to a brief by hand names a library track, never a path on the server.
        brief = client.post("/v1/describe", json={"text": "calm", "seed": 1}).json()
        by_path = {**brief, "references": [{"path": "/etc/hostname", "title": "x"}]}
        r = client.post("/v1/describe", json={"brief": by_path})
        assert r.status_code == 422 and "track_id" in r.text
        by_id = {**brief, "references": [{"path": "anything", "track_id": ids["jazz"]}]}
        r = client.post("/v1/describe", json={"brief": by_id})
        assert r.status_code == 200, r.text
        assert r.json()["references"][0]["lent"] and abs(r.json()["tempo_bpm"] - 96.0) < 2.0


def test_an_empty_server_library_is_one_clear_422(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", workers=1, text_model="lexicon", ui=False)
    with TestClient(create_app(settings, start_workers=False), base_url=LOCAL_URL) as client:
        r = client.post("/v1/describe", json={"text": "calm", "references": 1})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "references"]
        assert "holds no tracks yet" in r.text and "POST /v1/library/tracks" in r.text


def test_a_generate_job_lends_from_the_servers_library(served_library):
    import json
    import threading

    from weavewave.serve.jobs import run_job

    settings, ids = served_library
    app = create_app(settings, start_workers=False)
    with TestClient(app, base_url=LOCAL_URL) as client:
        r = client.post("/v1/generate", json={"text": "a calm evening", "reference_track": [ids["ambient"]],
                                               "duration": 6, "seed": 2})  # fmt: skip
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        assert "library" not in app.state.store.get(job_id).params["request"]  # found again when it runs
        job = app.state.store.claim("w-test")
        run_job(app.state.store, settings, job, threading.Event())
        done = client.get(f"/v1/jobs/{job_id}").json()
        assert done["status"] == "succeeded", done["error"]
        brief = json.loads(client.get(f"/v1/jobs/{job_id}/files/brief.json").content)
        assert brief["references"][0]["track_id"] == ids["ambient"] and brief["references"][0]["lent"]
        assert brief["references"][0]["path"].startswith("library-files/") and done["brief"] == brief
        # It lent what the library measured of that track.
        row = next(t for t in client.get("/v1/library/tracks").json()["tracks"] if t["id"] == ids["ambient"])
        assert "tempo_bpm" in brief["references"][0]["lent"] and "key" in brief["references"][0]["lent"]
        assert abs(brief["tempo_bpm"] - row["tempo_bpm"]) <= 0.02 * row["tempo_bpm"]
        assert f"{brief['key']['tonic']} {brief['key']['mode']}" == row["key"]


def test_batch_rows_take_references_from_the_servers_library_only(served_library):
    import json

    settings, ids = served_library

    def manifest(*rows: dict) -> tuple[str, bytes]:
        return ("rows.jsonl", "\n".join(json.dumps(r) for r in rows).encode())

    app = create_app(settings, start_workers=False)
    with TestClient(app, base_url=LOCAL_URL) as client:
        brief = client.post("/v1/describe", json={"text": "calm", "seed": 1}).json()
        by_path = {**brief, "references": [{"path": "/etc/hostname"}]}
        r = client.post("/v1/batches", files=[("manifest", manifest({"text": "a", "references": 1},
                                                                    {"brief": by_path}))])  # fmt: skip
        assert r.status_code == 422 and "row 2" in r.text and "track_id" in r.text
        assert app.state.store.counts().get("queued", 0) == 0  # nothing queued from a refused batch
        r = client.post(
            "/v1/batches", files=[("manifest", manifest({"text": "a", "reference_track": "ffffffffffff"}))]
        )
        assert r.status_code == 422 and "no such track" in r.text
        by_id = {**brief, "references": [{"path": "x", "track_id": ids["jazz"]}]}
        r = client.post(
            "/v1/batches", files=[("manifest", manifest({"text": "a", "references": 2}, {"brief": by_id}))]
        )
        assert r.status_code == 202, r.text
        job = app.state.store.get(r.json()["rows"][1]["job"])
        assert job.params["request"]["brief"]["references"][0]["path"].endswith("jazz-000.flac")
