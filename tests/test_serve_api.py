"""The HTTP API through FastAPI's TestClient: every endpoint, every error code, traversal, tokens, restarts.

Apps that only need the queue run without workers (``start_workers=False``) so queue states are exact;
the ones that generate run one real worker process over a temporary data folder.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from conftest import LOCAL_URL, wait_job  # noqa: E402
from weavewave.errors import BadInputError  # noqa: E402
from weavewave.serve import service  # noqa: E402
from weavewave.serve.api import create_app  # noqa: E402
from weavewave.serve.settings import Settings  # noqa: E402
from weavewave.serve.store import JobStore  # noqa: E402

TOKEN = "s3cret-token-for-tests"


def _settings(data: Path, **kw) -> Settings:
    return Settings(data_dir=data, workers=1, text_model="lexicon", ui=False, **kw)


@pytest.fixture(scope="module")
def photo(skimage_data) -> bytes:
    return (skimage_data / "coffee.png").read_bytes()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """One app with one real worker, shared by the tests that generate."""
    app = create_app(_settings(tmp_path_factory.mktemp("serve-api")))
    with TestClient(app, base_url=LOCAL_URL) as c:
        yield c


@pytest.fixture(scope="module")
def done_job(client) -> dict:
    """A finished 4-second piece from text, with stems."""
    r = client.post(
        "/v1/generate",
        data={
            "text": "a calm sunrise over the sea, soft piano",
            "duration": "4",
            "tempo": "90",
            "key": "D major",
            "seed": "7",
            "stems": "true",
        },
    )
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/jobs/{r.json()['id']}"
    return wait_job(client, r.json()["id"])


def _queue_app(tmp_path: Path, **kw) -> TestClient:
    return TestClient(create_app(_settings(tmp_path, **kw), start_workers=False), base_url=LOCAL_URL)


# --- endpoints -------------------------------------------------------------------------------------
def test_healthz_and_openapi(client):
    deadline = time.monotonic() + 120  # a cold numba cache compiles first (status "starting", 503)
    while (health := client.get("/healthz").json())["status"] == "starting" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert health["status"] == "ok" and health["workers_alive"] == 1
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/describe",
        "/v1/generate",
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/jobs/{job_id}/files/{name}",
    ):
        assert path in paths
    fields = paths["/v1/generate"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert fields  # the form is documented (text, image, video, audio, brief and the controls)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_work_offline(tmp_path, page):
    """The API's browser pages load Swagger UI / ReDoc from this server (a CDN is unreachable offline), and
    every URL they name answers, also with the web page mounted at /."""
    import re

    with TestClient(
        create_app(Settings(data_dir=tmp_path, workers=1, text_model="lexicon"), start_workers=False),
        base_url=LOCAL_URL,
    ) as c:
        html = c.get(page)
        assert html.status_code == 200 and "text/html" in html.headers["content-type"]
        urls = set(re.findall(r'(?:src|href)="([^"]+)"', html.text))
        urls |= set(re.findall(r"(?:url|spec-url)[:=]\s*['\"]([^'\"]+)['\"]", html.text))
        assert any(u.endswith(".js") for u in urls) and "/openapi.json" in urls, urls
        remote = [u for u in urls if not u.startswith("/") or u.startswith("//")]
        assert not remote, f"{page} loads from outside the server: {remote}"
        for url in urls:
            r = c.get(url)
            assert r.status_code == 200, (url, r.status_code)
            if url.endswith(".js"):
                assert len(r.content) > 100_000 and "javascript" in r.headers["content-type"], url
        assert "gradio" not in html.text.lower()  # the page at / did not answer instead


def test_describe_photo(client, photo):
    r = client.post(
        "/v1/describe",
        files={"image": ("coffee.png", photo, "image/png")},
        data={"duration": "12", "tempo": "100"},
    )
    assert r.status_code == 200, r.text
    brief = r.json()
    assert brief["schema"] == "weavewave.brief/1"
    assert brief["duration_s"] == 12 and brief["tempo_bpm"] == 100
    assert brief["provenance"]["tempo_bpm"]["source"] == "user"
    assert brief["observations"][0]["source"] == "image"
    assert "image" in brief["caption"].lower()


def test_describe_sniffs_content_not_the_name(client, photo):
    r = client.post("/v1/describe", files={"image": ("holiday.jpg", photo, "image/jpeg")})
    assert r.status_code == 200
    assert r.json()["observations"][0]["input"].startswith("holiday")


def test_generate_and_download(client, done_job):
    assert done_job["status"] == "succeeded", done_job
    assert done_job["progress"] == 1 and done_job["error"] is None
    names = [f["name"] for f in done_job["files"]]
    assert names[:4] == ["music.wav", "music.mid", "brief.json", "music.png"] and "stems.zip" in names
    assert done_job["brief"]["tempo_bpm"] == 90 and done_job["brief"]["key"] == {
        "tonic": "D",
        "mode": "major",
    }
    base = f"/v1/jobs/{done_job['id']}/files"
    wav = client.get(f"{base}/music.wav")
    assert (
        wav.status_code == 200 and wav.headers["content-type"] == "audio/wav" and wav.content[:4] == b"RIFF"
    )
    import soundfile

    audio, rate = soundfile.read(io.BytesIO(wav.content))
    assert abs(len(audio) / rate - 4.0) < 0.05
    assert client.get(f"{base}/music.mid").content[:4] == b"MThd"
    assert json.loads(client.get(f"{base}/brief.json").content)["seed"] == 7
    assert client.get(f"{base}/music.png").content[:8] == b"\x89PNG\r\n\x1a\n"
    import zipfile

    stems = zipfile.ZipFile(io.BytesIO(client.get(f"{base}/stems.zip").content)).namelist()
    assert stems and all(n.startswith("stems/") and n.endswith(".wav") for n in stems)


def test_list_jobs(client, done_job):
    listing = client.get("/v1/jobs", params={"status": "succeeded"}).json()
    assert done_job["id"] in [j["id"] for j in listing["jobs"]]
    assert listing["counts"]["succeeded"] >= 1
    r = client.get("/v1/jobs", params={"status": "exploded"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "status"]


def test_generate_from_an_edited_brief(client, done_job):
    brief = dict(done_job["brief"], tempo_bpm=120.0)
    r = client.post("/v1/generate", data={"brief": json.dumps(brief), "duration": "3"})
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["brief"]["tempo_bpm"] == 120 and job["brief"]["duration_s"] == 3


def test_cancel_a_running_job(client):
    r = client.post("/v1/generate", data={"text": "a long stormy night, orchestra", "duration": "40"})
    job_id = r.json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/v1/jobs/{job_id}").json()["status"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.delete(f"/v1/jobs/{job_id}").status_code == 200
    job = wait_job(client, job_id)
    assert job["status"] == "cancelled" and job["files"] == []


# --- error codes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "text"),
        ({"text": "rain", "tempo": "500"}, "tempo"),
        ({"text": "rain", "tempo": "fast"}, "tempo"),
        ({"text": "rain", "duration": "0"}, "duration"),
        ({"text": "rain", "key": "H sharp"}, "key"),
        ({"text": "rain", "genre": "polka-metal-9"}, "genre"),
        ({"text": "rain", "instruments": " , "}, "instruments"),
        ({"text": "rain", "seed": "-1"}, "seed"),
        ({"text": "rain", "backend": "kazoo"}, "backend"),
        ({"brief": "{not json"}, "brief"),
        ({"brief": json.dumps({"schema": "weavewave.brief/1", "caption": "x"})}, "brief"),
    ],
    ids=[
        "nothing",
        "tempo-range",
        "tempo-type",
        "duration",
        "key",
        "genre",
        "instruments",
        "seed",
        "backend",
        "brief-json",
        "brief-fields",
    ],
)
def test_422_names_the_field(client, data, field):
    for endpoint in ("/v1/describe", "/v1/generate"):
        r = client.post(endpoint, data=data)
        assert r.status_code == 422, (endpoint, r.text)
        assert r.json()["detail"][0]["loc"] == ["body", field], r.json()


@pytest.mark.parametrize(
    ("field", "payload"),
    [
        ("image", b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64)),
        ("image", b"#!/bin/sh\necho hello\n" * 4),
        ("audio", b"\x89PNG\r\n\x1a\n" + bytes(64)),
    ],
    ids=["wav-as-image", "script-as-image", "png-as-audio"],
)
def test_415_for_wrong_content(client, field, payload):
    r = client.post("/v1/generate", files={field: ("photo.png", payload, "image/png")})
    assert r.status_code == 415, r.text
    assert field in r.json()["detail"]


def test_413_for_large_uploads(tmp_path, photo):
    with _queue_app(tmp_path, max_upload_bytes=64 * 1024) as c:
        r = c.post("/v1/generate", files={"image": ("big.png", photo, "image/png")})
        assert r.status_code == 413 and "upload limit" in r.json()["detail"]
        chunks = (photo[i : i + 8192] for i in range(0, len(photo), 8192))  # no Content-Length: counted
        r = c.post(
            "/v1/describe", content=chunks, headers={"content-type": "multipart/form-data; boundary=x"}
        )
        assert r.status_code == 413
        assert c.get("/v1/jobs").json()["jobs"] == []


def test_429_when_the_queue_is_full(tmp_path, photo):
    upload = {"image": ("coffee.png", photo, "image/png")}
    with _queue_app(tmp_path, max_queue=2) as c:
        for _ in range(2):
            assert c.post("/v1/generate", files=upload).status_code == 202
        r = c.post("/v1/generate", files=upload)
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert len(c.get("/v1/jobs").json()["jobs"]) == 2
        assert len(list((tmp_path / "jobs").iterdir())) == 2  # the refused job left no folder


def test_404s(client, done_job):
    assert client.get("/v1/jobs/0123456789abcdef").status_code == 404
    assert client.delete("/v1/jobs/nope").status_code == 404
    assert client.get(f"/v1/jobs/{done_job['id']}/files/music.flac").status_code == 404


@pytest.mark.parametrize(
    "name",
    [
        "../../jobs.sqlite3",
        "..%2F..%2Fjobs.sqlite3",
        "%2e%2e%2f%2e%2e%2fjobs.sqlite3",
        "..",
        ".",
        "%2Fetc%2Fpasswd",
        "..%5C..%5Cjobs.sqlite3",
        "music.wav%00.txt",
        ".staging-1",
        "inputs",
    ],
)
def test_no_path_traversal(client, done_job, name):
    r = client.get(f"/v1/jobs/{done_job['id']}/files/{name}")
    if name in ("..", "."):  # the client resolves dot segments: it asks for the job or its (absent) listing
        assert r.headers["content-type"] == "application/json"
    else:
        assert r.status_code in (404, 400, 405), (name, r.status_code)
    assert b"SQLite format" not in r.content and b"root:" not in r.content


def test_artifact_path_refuses_escapes(tmp_path):
    settings = _settings(tmp_path)
    store = JobStore(settings.db_path)
    job = store.submit({"text": "x"}, max_queue=5)
    job.files = ["music.wav", "../jobs.sqlite3", "/etc/passwd"]
    for name in ("../jobs.sqlite3", "/etc/passwd", "missing.wav"):
        assert service.artifact_path(settings, job, name) is None


# --- the token ---------------------------------------------------------------------------------------------
def test_token_required(tmp_path):
    with _queue_app(tmp_path, token=TOKEN) as c:
        assert c.get("/v1/jobs").status_code == 401
        assert c.get("/v1/jobs").headers["www-authenticate"] == "Bearer"
        assert c.get("/v1/jobs", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        assert c.post("/v1/generate", data={"text": "rain"}).status_code == 401
        assert c.get("/v1/jobs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert c.get("/healthz").status_code == 200


def test_other_hosts_need_a_token(tmp_path):
    with pytest.raises(BadInputError, match="--token"):
        _settings(tmp_path, host="0.0.0.0").validated()
    assert _settings(tmp_path, host="0.0.0.0", token=TOKEN).validated().host == "0.0.0.0"
    assert _settings(tmp_path, host="::1").validated().host == "::1"


# --- cancel, delete, retention -----------------------------------------------------------------------------
def test_cancel_queued_and_delete_finished(tmp_path, photo):
    with _queue_app(tmp_path) as c:
        job_id = c.post("/v1/generate", files={"image": ("coffee.png", photo, "image/png")}).json()["id"]
        r = c.delete(f"/v1/jobs/{job_id}")
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert (tmp_path / "jobs" / job_id).exists()
        r = c.delete(f"/v1/jobs/{job_id}")
        assert r.json()["deleted"] is True
        assert c.get(f"/v1/jobs/{job_id}").status_code == 404
        assert not (tmp_path / "jobs" / job_id).exists()


def test_retention_removes_old_jobs(tmp_path):
    settings = _settings(tmp_path, keep_days=1)
    store = JobStore(settings.db_path)
    old = store.submit({"text": "x"}, max_queue=5)
    fresh = store.submit({"text": "y"}, max_queue=5)
    (tmp_path / "jobs" / old.id / "out").mkdir(parents=True)
    for job in (old, fresh):
        store.mark_cancelled(job.id)
    now = time.time()
    assert service.cleanup(store, settings, now=now) == []
    with store._tx() as db:
        db.execute("UPDATE jobs SET finished_at=? WHERE id=?", (now - 2 * 86400, old.id))
    assert service.cleanup(store, settings, now=now) == [old.id]
    assert store.get(old.id) is None and store.get(fresh.id) is not None
    assert not (tmp_path / "jobs" / old.id).exists()


# --- restart ------------------------------------------------------------------------------------------------
def test_restart_loses_nothing(tmp_path):
    """Submit, stop at once (jobs queued and running), start again over the same folder: every job ends
    succeeded or failed with a reason, and finished artifacts stay downloadable after another restart."""
    texts = ["rain on a tin roof", "a sunny market", "night train", "mountain dawn"]
    with TestClient(create_app(_settings(tmp_path)), base_url=LOCAL_URL) as c:
        ids = [c.post("/v1/generate", data={"text": t, "duration": "3"}).json()["id"] for t in texts]
        deadline = time.monotonic() + 60
        while c.get(f"/v1/jobs/{ids[0]}").json()["status"] == "queued" and time.monotonic() < deadline:
            time.sleep(0.05)
    # A crash: a row left "running" by a worker that no longer exists, and one that crashed too often.
    store = JobStore(tmp_path / "jobs.sqlite3")
    crashed = store.submit({"text": "crashed mid-run", "controls": {"duration": 3}}, max_queue=99)
    hopeless = store.submit({"text": "keeps crashing", "controls": {"duration": 3}}, max_queue=99)
    with store._tx() as db:
        for job, attempts in ((crashed, 1), (hopeless, 3)):
            db.execute(
                "UPDATE jobs SET status='running', attempts=?, worker='gone' WHERE id=?", (attempts, job.id)
            )
    before = {j.id: j.status for j in store.list(limit=100)}
    assert len(before) == 6 and before[crashed.id] == before[hopeless.id] == "running"
    assert any(before[i] in ("queued", "running") for i in ids)  # the stop left work unfinished
    with TestClient(create_app(_settings(tmp_path)), base_url=LOCAL_URL) as c:
        jobs = {i: wait_job(c, i, timeout=180) for i in [*ids, crashed.id, hopeless.id]}
    assert len(jobs) == 6
    for job in jobs.values():
        assert job["status"] in ("succeeded", "failed"), job
        if job["status"] == "failed":
            assert job["error"]
    assert all(jobs[i]["status"] == "succeeded" for i in [*ids, crashed.id])
    assert jobs[hopeless.id]["status"] == "failed" and "interrupted 3 times" in jobs[hopeless.id]["error"]
    with _queue_app(tmp_path) as c:  # a third start: artifacts are still there
        for job_id in ids:
            r = c.get(f"/v1/jobs/{job_id}/files/music.wav")
            assert r.status_code == 200 and r.content[:4] == b"RIFF"
        assert len(c.get("/v1/jobs", params={"limit": 100}).json()["jobs"]) == 6


# --- the page's brief editing (no browser needed) ------------------------------------------------------------
def test_edited_brief_goes_through_the_api(tmp_path):
    pytest.importorskip("gradio")
    from weavewave.serve.ui import brief_fields, edited_brief

    brief = service.describe(
        service.Submission(text="a calm lake at dusk", controls={"duration": 20}), _settings(tmp_path)
    )
    caption, tempo, key, genre, duration, instruments, energy, sections, why, as_json = brief_fields(brief)
    assert json.loads(as_json) == brief and any(row[0] == "tempo_bpm" for row in why)
    sections[0][4] = "a hushed opening"
    edited = edited_brief(brief, caption, 72, "A minor", genre, duration, instruments, energy, sections)
    assert edited["tempo_bpm"] == 72 and edited["key"] == {"tonic": "A", "mode": "minor"}
    assert edited["provenance"]["tempo_bpm"] == {"source": "user", "reason": "tempo 72: set in the web page"}
    assert edited["sections"][0]["caption"] == "a hushed opening"
    assert "72 BPM" in edited["caption"]


# --- video: the job's artifacts include the video with its new soundtrack --------------------------------
def test_video_job_writes_video_mp4(client, tmp_path):
    pytest.importorskip("av")
    from video_media import PHOTOS, Shot, make_video  # tests/ is on sys.path

    clip = tmp_path / "clip.mp4"
    make_video(clip, [Shot(PHOTOS[i], 30) for i in range(3)])  # three 1.2 s shots at 25 fps
    r = client.post("/v1/generate", files={"video": ("clip.mov", clip.read_bytes(), "video/quicktime")})
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"], timeout=180)
    assert job["status"] == "succeeded", job
    assert "video.mp4" in [f["name"] for f in job["files"]]
    mp4 = client.get(f"/v1/jobs/{job['id']}/files/video.mp4")
    assert (
        mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4" and mp4.content[4:8] == b"ftyp"
    )
    png_named_mp4 = b"\x89PNG\r\n\x1a\n" + bytes(64)
    r = client.post("/v1/describe", files={"video": ("clip.mp4", png_named_mp4, "video/mp4")})
    assert r.status_code == 415 and "video" in r.json()["detail"]


def test_instruction_goes_through_the_refiner_or_names_the_field(client):
    import importlib.util

    r = client.post("/v1/describe", data={"text": "a quiet morning", "instruction": "warmer, add strings"})
    if importlib.util.find_spec("weavewave.bridge.refine") is None:
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "instruction"]
        assert "refiner" in r.json()["detail"][0]["msg"]
    else:
        assert r.status_code == 200, r.text
        plain = client.post("/v1/describe", data={"text": "a quiet morning"}).json()
        assert r.json() != plain  # the instruction changed the brief


def test_the_page_asks_for_the_token(tmp_path):
    pytest.importorskip("gradio")
    settings = Settings(data_dir=tmp_path, token=TOKEN, text_model="lexicon")
    with TestClient(create_app(settings, start_workers=False), base_url=LOCAL_URL) as c:
        assert c.get("/config").status_code == 401
        assert c.post("/login", data={"username": "me", "password": "wrong-token!"}).status_code == 400
        assert c.post("/login", data={"username": "me", "password": TOKEN}).json() == {"success": True}
        assert c.get("/config").status_code == 200


class _DeadProc:
    is_alive = staticmethod(lambda: False)
    exitcode = 1


def test_a_worker_that_dies_at_start_is_respawned_with_back_off(tmp_path, monkeypatch):
    import numpy as np

    from weavewave.serve.jobs import RESPAWN_MAX_S, WorkerPool

    settings = _settings(tmp_path)
    store = JobStore(settings.db_path)
    pool = WorkerPool(settings, store)
    spawned: list[float] = []
    clock = [1000.0]

    def fake_spawn(name: str) -> None:  # a worker that is dead again as soon as it starts
        spawned.append(clock[0])
        pool._procs[name] = _DeadProc()
        pool._started[name] = clock[0]

    monkeypatch.setattr(pool, "_spawn", fake_spawn)
    fake_spawn("w0")
    while clock[0] < 1000.0 + 300.0:  # five minutes of the watcher's one-second ticks
        clock[0] += 1.0
        pool._check(clock[0])
    gaps = np.diff(spawned)
    assert list(gaps[:6]) == [2.0, 3.0, 5.0, 9.0, 17.0, 33.0]  # the wait doubles (plus the tick) ...
    assert gaps.max() == RESPAWN_MAX_S + 1.0  # ... up to the ceiling
    assert len(spawned) < 15  # not 300 respawns, one a second, as without back-off

    # A worker that lived a while and then died is replaced at once, and its job goes back to the queue.
    job = store.submit({"text": "a calm tune"}, max_queue=5)
    claimed = store.claim("w1")
    assert claimed is not None and claimed.id == job.id
    pool._procs["w1"], pool._started["w1"] = _DeadProc(), clock[0] - 600.0
    spawned.clear()
    pool._check(clock[0])
    assert len(spawned) == 1
    assert store.get(job.id).status == "queued"
    store.close()
