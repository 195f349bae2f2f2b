"""POST /v1/annotate: uploaded music becomes a dataset through the job queue; bad input is one 422."""

from __future__ import annotations

import io
import time
import zipfile

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
pytest.importorskip("librosa")

from fastapi.testclient import TestClient  # noqa: E402

from annotate_data import SAMPLE_RATE, piece  # noqa: E402
from conftest import LOCAL_URL  # noqa: E402
from weavewave.serve import annotate as serve_annotate  # noqa: E402
from weavewave.serve.api import create_app  # noqa: E402
from weavewave.serve.settings import Settings  # noqa: E402


def wav(tempo: float, key: str, seconds: float) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, piece(tempo, key, seconds), SAMPLE_RATE, format="WAV")
    return buf.getvalue()


def settings_for(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", workers=1, text_model="lexicon", ui=False)


def test_an_annotate_job_returns_a_dataset_that_datasets_loads(tmp_path, skimage_data):
    datasets = pytest.importorskip("datasets")
    settings = settings_for(tmp_path)
    parts = [
        ("files", ("slow song.wav", wav(72.0, "A minor", 12.0))),
        ("files", ("fast.wav", wav(140.0, "D major", 6.0))),
        ("files", ("broken.wav", b"RIFF\x00\x00\x00\x00WAVEjunk")),  # audio by its bytes, undecodable
        ("images", ("night.jpg", (skimage_data / "hubble_deep_field.jpg").read_bytes())),
        ("images", ("coffee.png", (skimage_data / "coffee.png").read_bytes())),
        ("captions", ("fast.txt", b"a happy, energetic tune at 100 BPM")),  # the user's, with a wrong tempo
    ]
    fields = {"segment": "6", "review": "correct", "licence": "CC0, my own recordings"}
    with TestClient(create_app(settings), base_url=LOCAL_URL) as client:
        r = client.post("/v1/annotate", files=parts, data=fields)
        assert r.status_code == 202, r.text
        job = r.json()
        assert r.headers["location"] == f"/v1/jobs/{job['id']}" and job["status"] == "queued"
        deadline = time.monotonic() + 240
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.3)
            job = client.get(f"/v1/jobs/{job['id']}").json()
        assert job["status"] == "succeeded", job["error"]
        assert [f["name"] for f in job["files"]] == ["dataset.zip", "summary.json"]
        summary = client.get(f"/v1/jobs/{job['id']}/files/summary.json").json()
        archive = client.get(f"/v1/jobs/{job['id']}/files/dataset.zip")
        assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    assert summary["tracks_done"] == 2 and summary["kept"] == 3 and summary["images"] == 2
    assert summary["corrected"] == 1
    assert summary["skipped"] == [{"path": "music/broken.wav", "reason": summary["skipped"][0]["reason"]}]
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
        zf.extractall(tmp_path / "got")
        text = b"".join(zf.read(n) for n in zf.namelist() if not n.endswith((".flac", ".png", ".jpg")))
    assert (
        str(settings.data_dir).encode() not in text and str(tmp_path).encode() not in text
    )  # no server paths
    root = tmp_path / "got" / "dataset"
    ds = datasets.load_dataset(str(root), split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert ds.num_rows == 3
    for row in ds:
        assert (root / row["audio"]).is_file() and (root / row["image"]).is_file()
        want = "night.jpg" if row["source"] == "slow-song.wav" else "coffee.png"
        assert row["image_source"] == want, row["caption"]
        if row["source"] == "fast.wav":  # the uploaded caption, its tempo corrected by the reviewer
            assert row["review"] == "corrected" and row["caption"].startswith("a happy, energetic tune at 14")
    card = (root / "README.md").read_text()
    assert "CC0, my own recordings" in card and "music/broken.wav" in card


@pytest.mark.parametrize(
    ("parts", "fields", "loc"),
    [
        ([], {"segment": "6"}, "files"),
        ([("files", ("a.png", b"\x89PNG\r\n\x1a\n" + bytes(40)))], {}, "files"),  # not audio
        ([("files", ("a.wav", b"W"))], {"segment": "99"}, "segment"),
        ([("files", ("a.wav", b"W"))], {"review": "maybe"}, "review"),
        ([("files", ("a.wav", b"W"))], {"music_dir": "/etc"}, "music_dir"),  # no server paths, no such option
        (
            [("files", ("a.wav", b"W")), ("images", ("b.png", b"RIFF\x00\x00\x00\x00WAVE" + bytes(20)))],
            {},
            "images",
        ),
        ([("files", ("a.wav", b"W")), ("brief", ("b.json", b"{}"))], {}, "brief"),
        ([("files", ("a.wav", b"W")), ("captions", ("b.txt", b"a calm piece"))], {}, "captions"),
        ([("files", ("a.wav", b"W")), ("captions", ("a.txt", b"\xff\xfe bad"))], {}, "captions"),
    ],
    ids=[
        "no-files",
        "not-audio",
        "segment",
        "review",
        "unknown-field",
        "image-not-image",
        "stray-file",
        "caption-of-no-track",
        "caption-not-utf8",
    ],  # fmt: skip
)
def test_bad_input_is_one_422_naming_the_field_and_queues_nothing(tmp_path, parts, fields, loc):
    settings = settings_for(tmp_path)
    good = wav(100.0, "C major", 3.0)
    parts = [(n, (f, good if body == b"W" else body)) for n, (f, body) in parts]
    with TestClient(create_app(settings, start_workers=False), base_url=LOCAL_URL) as client:
        r = client.post("/v1/annotate", files=parts or None, data=fields)
        assert r.status_code == 422, r.text
        (detail,) = r.json()["detail"]
        assert detail["loc"] == ["body", loc] and "\n" not in detail["msg"]
        assert client.get("/v1/jobs").json()["counts"].get("queued", 0) == 0
    assert not any(settings.jobs_dir.iterdir())  # nothing stored for a refused request


def test_limits_on_count_and_total_duration_are_checked_before_any_work(tmp_path, monkeypatch):
    settings = settings_for(tmp_path)
    three_s = wav(100.0, "C major", 3.0)
    with TestClient(create_app(settings, start_workers=False), base_url=LOCAL_URL) as client:
        monkeypatch.setattr(serve_annotate, "MAX_FILES", 1)
        r = client.post("/v1/annotate", files=[("files", ("a.wav", three_s)), ("files", ("b.wav", three_s))])
        assert r.status_code == 422 and "at most 1" in r.json()["detail"][0]["msg"]
        monkeypatch.setattr(serve_annotate, "MAX_FILES", 10)
        monkeypatch.setattr(serve_annotate, "MAX_TOTAL_S", 300.0)
        long = wav(100.0, "C major", 1.0)
        # a header that declares ten minutes: the limit reads durations from headers, before decoding
        import soundfile as sf

        buf = io.BytesIO()
        sf.write(buf, piece(100.0, "C major", 1.0).repeat(600), SAMPLE_RATE, format="FLAC")
        r = client.post(
            "/v1/annotate", files=[("files", ("a.wav", long)), ("files", ("b.flac", buf.getvalue()))]
        )
        assert r.status_code == 422, r.text
        assert (
            r.json()["detail"][0]["loc"] == ["body", "files"]
            and "minutes in all" in r.json()["detail"][0]["msg"]
        )
        assert client.post("/v1/annotate", files=[("files", ("a.wav", long))]).status_code == 202
        monkeypatch.setenv("WEAVEWAVE_MAX_AUDIO_S", "2")  # one track longer than the analysis reads
        r = client.post("/v1/annotate", files=[("files", ("three.wav", three_s))])
        assert r.status_code == 422 and "three.wav is 3 s long" in r.json()["detail"][0]["msg"]
    assert len(list(settings.jobs_dir.iterdir())) == 1


def test_a_running_annotate_job_stops_at_a_cancel_and_keeps_nothing(tmp_path):
    import threading

    from weavewave.serve.jobs import out_dir, run_job
    from weavewave.serve.store import JobStore

    settings = settings_for(tmp_path)
    settings.jobs_dir.mkdir(parents=True)
    store = JobStore(settings.db_path)
    upload = [("files", io.BytesIO(wav(100.0, "C major", 6.0)), "a.wav")]
    queued = serve_annotate.submit_annotate(upload, {"segment": "6"}, store, settings)
    job = store.claim("w-test")
    assert job is not None and job.id == queued.id
    store.cancel(job.id)  # asked while it runs: it stops at its first progress report
    run_job(store, settings, job, threading.Event())
    done = store.get(job.id)
    assert done is not None and done.status == "cancelled" and done.files == []
    assert not out_dir(settings, job.id).exists()
    assert not [p for p in (settings.jobs_dir / job.id).iterdir() if p.name.startswith(".staging")]
