"""Issue 13, items 8, 11, 12 and 13: the reference limit, a full disk, a damaged jobs database, and the
server's front door (Host and Origin, the token everywhere, throttling, paths in messages, deadlines)."""

from __future__ import annotations

import errno
import io
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from weavewave.errors import BadInputError, DiskFullError, is_disk_full

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "s3cret-token-for-tests"


# --- item 8: the documented 600 s reference is accepted -------------------------------------------------
def test_a_reference_measuring_a_little_over_600_s_makes_a_600_s_brief():
    from weavewave.brief import MAX_DURATION_S
    from weavewave.io.audio import MAX_AUDIO_S
    from weavewave.perceive.audio import duration_proposal

    assert MAX_AUDIO_S == MAX_DURATION_S  # the reference limit and the brief's limit agree
    # 613 s was measured from a 600 s file: 1226 beats at 120 BPM.
    proposal = duration_proposal(1226.0, 120.0, "tune.wav")
    assert proposal.value == MAX_DURATION_S and "capped" in proposal.reason
    assert duration_proposal(60.0, 120.0, "tune.wav").value == 30.0


# --- item 11: a full disk says so ----------------------------------------------------------------------
def _track():
    from weavewave.api import generate

    return generate(text="a short calm piano piece", duration=3.0, seed=1, text_model="lexicon")


@pytest.fixture(scope="module")
def track():
    return _track()


def _lsf_error():
    import soundfile as sf

    return sf.LibsndfileError(2, prefix="Error writing file: ")  # "System error", as on a full disk


@pytest.mark.parametrize("kind", ["oserror", "libsndfile"], ids=["ENOSPC", "LibsndfileError"])
def test_a_full_disk_while_saving_says_so(track, tmp_path, monkeypatch, kind):
    from weavewave import errors
    from weavewave.export.track import save_track
    from weavewave.io import audio as audio_io

    def full(*a, **k):
        if kind == "oserror":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise _lsf_error()

    monkeypatch.setattr(audio_io, "write_audio", full)
    monkeypatch.setattr(errors, "_free_bytes", lambda folder: 1024)  # what a full disk reports
    out = tmp_path / "out"
    with pytest.raises(DiskFullError, match=r"no space left on the device writing .*music\.wav: free some"):
        save_track(track, out)
    assert not out.exists()  # no partial output


def test_a_libsndfile_system_error_with_room_left_is_not_called_a_full_disk(tmp_path, monkeypatch):
    from weavewave import errors

    monkeypatch.setattr(errors, "_free_bytes", lambda folder: 10 * errors.LOW_SPACE_BYTES)
    monkeypatch.setattr(errors, "_c_errno", lambda: 0)
    assert not is_disk_full(_lsf_error(), tmp_path)
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))


def test_the_cli_exits_2_on_a_full_disk(tmp_path):
    """In a subprocess, the writer fails as on a full disk: one line, exit 2, no 'internal error'."""
    script = (
        "import errno, sys\n"
        "from weavewave.io import audio as audio_io\n"
        "def full(*a, **k): raise OSError(errno.ENOSPC, 'No space left on device')\n"
        "audio_io.write_audio = full\n"
        "from weavewave.cli import main\n"
        f"sys.exit(main(['generate', '--text', 'calm piano', '--duration', '3', '--out', {str(tmp_path / 'o')!r},"
        " '--text-model', 'lexicon']))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "src")})  # fmt: skip
    assert run.returncode == 2, run.stderr
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("weavewave: error")]
    assert lines and "no space left on the device writing" in lines[0] and "internal" not in run.stderr


def test_a_job_on_a_full_disk_fails_with_that_reason(track, tmp_path, monkeypatch):
    from weavewave import api
    from weavewave.io import audio as audio_io
    from weavewave.serve.jobs import StopFlag, run_job
    from weavewave.serve.settings import Settings
    from weavewave.serve.store import JobStore

    settings = Settings(data_dir=tmp_path, text_model="lexicon")
    store = JobStore(settings.db_path)
    store.submit({"request": {"text": "calm piano", "duration": 3.0}}, max_queue=4)
    job = store.claim("w1")
    monkeypatch.setattr(api, "generate", lambda *a, **k: track)
    monkeypatch.setattr(audio_io, "write_audio", lambda *a, **k: (_ for _ in ()).throw(_lsf_error()))
    from weavewave import errors

    monkeypatch.setattr(errors, "_free_bytes", lambda folder: 0)
    import multiprocessing

    run_job(store, settings, job, StopFlag(multiprocessing.get_context("spawn")))
    done = store.get(job.id)
    assert done.status == "failed"
    assert done.error.startswith("no space left on the device writing music.wav")
    assert str(tmp_path) not in done.error and "internal error" not in done.error


# --- item 12: a damaged jobs database -----------------------------------------------------------------
def _serve_app(tmp_path, **kw):
    from weavewave.serve.api import create_app
    from weavewave.serve.settings import Settings

    return create_app(Settings(data_dir=tmp_path, text_model="lexicon", ui=False, **kw), start_workers=False)


def _started(tmp_path, **kw):
    """Create and start an app (its lifespan: recover, back up), then stop it: one clean start."""
    from fastapi.testclient import TestClient

    from conftest import LOCAL_URL

    with TestClient(_serve_app(tmp_path, **kw), base_url=LOCAL_URL) as c:
        return c.get("/v1/jobs").json()


@pytest.mark.parametrize("damage", ["empty", "garbage", "pages"])
def test_a_damaged_database_stops_the_start_with_a_way_forward(tmp_path, damage):
    pytest.importorskip("fastapi")
    from weavewave.serve.store import JobStore

    store = JobStore(tmp_path / "jobs.sqlite3")
    job = store.submit({"request": {"text": "rain"}}, max_queue=4)
    store.close()
    assert len(_started(tmp_path)["jobs"]) == 1  # a clean start: the backup is made
    db = tmp_path / "jobs.sqlite3"
    if damage == "empty":
        db.write_bytes(b"")
    elif damage == "garbage":
        db.write_bytes(b"not a database at all" * 100)
    else:  # overwrite the pages after the header: the header still says SQLite
        data = bytearray(db.read_bytes())
        data[100:] = b"\xff" * (len(data) - 100)
        db.write_bytes(bytes(data))
    with pytest.raises(BadInputError, match=r"is damaged .*--restore-jobs.*--reset-jobs") as info:
        _serve_app(tmp_path)
    assert "\n" not in str(info.value)
    # The backup brings the job back; the damaged file is kept aside.
    assert [j["id"] for j in _started(tmp_path, restore_jobs=True)["jobs"]] == [job.id]
    assert list(tmp_path.glob("jobs.sqlite3.damaged-*"))


def test_reset_jobs_starts_empty_and_keeps_the_damaged_file(tmp_path):
    pytest.importorskip("fastapi")
    (tmp_path / "jobs.sqlite3").write_bytes(b"")
    with pytest.raises(BadInputError, match="no usable backup.*--reset-jobs"):
        _serve_app(tmp_path)
    with pytest.raises(BadInputError, match="--restore-jobs: there is no backup"):
        _serve_app(tmp_path, restore_jobs=True)
    assert _started(tmp_path, reset_jobs=True)["jobs"] == []
    assert [p.stat().st_size for p in tmp_path.glob("jobs.sqlite3.damaged-*")] == [0]
    con = sqlite3.connect(tmp_path / "jobs.sqlite3.bak")  # the new clean start was backed up
    assert con.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0


def test_the_cli_says_a_damaged_database_in_one_line(tmp_path):
    (tmp_path / "jobs.sqlite3").write_bytes(b"garbage" * 50)
    run = subprocess.run(
        [sys.executable, "-m", "weavewave.cli", "serve", "--data-dir", str(tmp_path), "--port", "7999", "--no-ui"],
        capture_output=True, text=True, timeout=120, env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "--reset-jobs" in run.stderr and "Traceback" not in run.stderr


# --- item 13: the front door --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def locked(tmp_path_factory):
    """A server with a token and the page, on loopback."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from conftest import LOCAL_URL
    from weavewave.serve.api import create_app
    from weavewave.serve.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("locked"), token=TOKEN, text_model="lexicon")
    with TestClient(create_app(settings, start_workers=False), base_url=LOCAL_URL) as c:
        yield c


AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("host", ["evil.example:7860", "127.0.0.1:80", "localhost.evil.example:7860", ""])
def test_other_host_names_are_refused(locked, host):
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 reaches us under its own name."""
    r = locked.get("/healthz", headers={"Host": host} | AUTH)
    assert r.status_code == 421 and "--allow-host" in r.json()["detail"]


@pytest.mark.parametrize("host", ["localhost:7860", "127.0.0.1:7860", "[::1]:7860"])
def test_loopback_names_are_answered(locked, host):
    assert locked.get("/healthz", headers={"Host": host}).status_code == 200


def test_allow_host_adds_names(tmp_path):
    from weavewave.serve.guard import allowed_hosts

    assert "music.example.org:7860" in allowed_hosts("127.0.0.1", 7860, ("music.example.org",))
    assert allowed_hosts("127.0.0.1", 7860, ("*",)) is None
    assert allowed_hosts("0.0.0.0", 7860) is None  # public bind: the token guards it
    with pytest.raises(BadInputError, match="--allow-host"):
        from weavewave.serve.settings import Settings

        Settings(data_dir=tmp_path, allow_hosts=("http://x/",)).validated()


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost:9999"])
def test_cross_site_posts_are_refused(locked, origin):
    r = locked.post("/v1/generate", data={"text": "rain"}, headers={"Origin": origin} | AUTH)
    assert r.status_code == 403 and "cross-site" in r.json()["detail"]
    r = locked.delete("/v1/jobs/abc", headers={"Origin": origin} | AUTH)
    assert r.status_code == 403


def test_same_site_and_originless_posts_pass(locked):
    r = locked.post("/v1/describe", data={"text": "rain"}, headers={"Origin": "http://127.0.0.1:7860"} | AUTH)
    assert r.status_code == 200
    assert locked.post("/v1/describe", data={"text": "rain"}, headers=AUTH).status_code == 200


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_every_route_needs_the_token(locked, path):
    r = locked.get(path)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert locked.get(path, headers=AUTH).status_code == 200
    assert locked.get(path, auth=("anyone", TOKEN)).status_code == 200  # a browser's prompt


def test_healthz_without_the_token_says_only_its_status(locked):
    assert locked.get("/healthz").json() == {"status": "ok"}
    assert "jobs" in locked.get("/healthz", headers=AUTH).json()


def test_the_page_login_is_throttled(tmp_path):
    from fastapi.testclient import TestClient

    from conftest import LOCAL_URL
    from weavewave.serve import guard
    from weavewave.serve.api import create_app
    from weavewave.serve.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, token=TOKEN, text_model="lexicon"), start_workers=False)
    with TestClient(app, base_url=LOCAL_URL) as c:
        codes = [
            c.post("/login", data={"username": "me", "password": f"guess-{i}"}).status_code
            for i in range(guard.FREE_FAILURES + 3)
        ]
        assert codes[: guard.FREE_FAILURES] == [400] * guard.FREE_FAILURES
        assert codes[guard.FREE_FAILURES + 1 :] == [429, 429]
        r = c.post("/login", data={"username": "me", "password": TOKEN})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1  # even the right one waits
        assert c.get("/v1/jobs", headers=AUTH).status_code == 429


def test_backoff_doubles_and_a_success_forgets():
    from weavewave.serve.guard import BASE_BACKOFF_S, FREE_FAILURES, MAX_BACKOFF_S, LoginThrottle

    now = [0.0]
    t = LoginThrottle(now=lambda: now[0])
    waits = []
    for _ in range(FREE_FAILURES + 12):
        t.failed("1.2.3.4")
        waits.append(t.wait_s("1.2.3.4"))
    assert waits[:FREE_FAILURES] == [0.0] * FREE_FAILURES
    assert waits[FREE_FAILURES : FREE_FAILURES + 3] == [
        BASE_BACKOFF_S,
        2 * BASE_BACKOFF_S,
        4 * BASE_BACKOFF_S,
    ]
    assert waits[-1] == MAX_BACKOFF_S and t.wait_s("5.6.7.8") == 0.0
    t.succeeded("1.2.3.4")
    assert t.wait_s("1.2.3.4") == 0.0


def test_messages_carry_no_server_paths(tmp_path):
    """An upload that fails to decode and a bad brief: the 422s name files, never the server's folders."""
    from fastapi.testclient import TestClient

    from conftest import LOCAL_URL

    wav = io.BytesIO(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64)  # a WAV header with nothing valid after
    with TestClient(_serve_app(tmp_path), base_url=LOCAL_URL) as c:
        answers = [
            c.post("/v1/describe", files={"audio": ("tune.wav", wav, "audio/wav")}),
            c.post("/v1/describe", data={"brief": '{"duration_s": -1}'}),
            c.post("/v1/describe", data={"brief": "{not json"}),
        ]
    for r in answers:
        assert r.status_code in (415, 422), r.text
        assert str(tmp_path) not in r.text and "/jobs/" not in r.text and "/tmp" not in r.text


def test_public_message_cuts_paths_to_names():
    from weavewave.serve.jobs import public_message

    assert public_message("cannot decode /tmp/data/jobs/ab/inputs/audio/tune.wav (bad)") == (
        "cannot decode tune.wav (bad)"
    )
    assert public_message("list jobs with GET /v1/jobs") == "list jobs with GET /v1/jobs"


def test_the_token_comes_from_a_file_or_the_environment(tmp_path, monkeypatch, capsys):
    from weavewave.cli import _serve_token, build_parser

    def token(*argv):
        return _serve_token(build_parser().parse_args(["serve", *argv]))

    monkeypatch.setenv("WEAVEWAVE_TOKEN", "from-the-environment")
    assert token() == "from-the-environment"
    f = tmp_path / "token"
    f.write_text("from-a-file-1234\n")
    f.chmod(0o600)
    assert token("--token-file", str(f)) == "from-a-file-1234"
    assert "warning" not in capsys.readouterr().err
    assert token("--token", "on-the-command-line") == "on-the-command-line"
    assert "visible to every local user" in capsys.readouterr().err
    f.write_text("")
    with pytest.raises(BadInputError, match="is empty"):
        token("--token-file", str(f))


def test_a_stalled_body_gets_408():
    """A client that starts a body and stops sending is answered 408 after the idle deadline."""
    import asyncio

    from weavewave.serve.guard import Guard

    async def app(scope, receive, send):
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = []
    chunks = [{"type": "http.request", "body": b"x", "more_body": True}]

    async def receive():
        if chunks:
            return chunks.pop()
        await asyncio.sleep(3600)  # the client stalls

    async def send(message):
        sent.append(message)

    guard = Guard(app, hosts=None, token=None, body_idle_s=0.1)
    scope = {"type": "http", "method": "POST", "path": "/v1/generate", "headers": [(b"host", b"x")]}
    asyncio.run(asyncio.wait_for(guard(scope, receive, send), 5))
    assert sent[0]["status"] == 408


def test_a_long_streaming_answer_after_the_body_is_not_cut_off():
    """Once the body is in, waiting for the client to leave is not a slow body: a streaming answer (the
    page's progress events while a piece is made) outlives the idle deadline and is not told "disconnect"."""
    import asyncio

    from weavewave.serve.guard import Guard

    seen = []

    async def app(scope, receive, send):
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:  # a streaming app watches for the client leaving while it works
            seen.append(await asyncio.wait_for(receive(), 0.5))
        except TimeoutError:
            seen.append("still connected")
        await send({"type": "http.response.body", "body": b"done"})

    chunks = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if chunks:
            return chunks.pop()
        await asyncio.sleep(3600)  # the client stays, listening

    sent = []

    async def send(message):
        sent.append(message)

    guard = Guard(app, hosts=None, token=None, body_idle_s=0.1)
    scope = {"type": "http", "method": "GET", "path": "/gradio_api/queue/data", "headers": [(b"host", b"x")]}
    asyncio.run(asyncio.wait_for(guard(scope, receive, send), 5))
    assert seen == ["still connected"] and sent[0]["status"] == 200 and sent[-1]["body"] == b"done"


def test_imports_are_warm_before_serving(tmp_path):
    """The modules describe and generate import lazily are loaded at start (a first burst met them
    half-initialised and answered 500)."""
    script = (
        "import sys\n"
        "from conftest import LOCAL_URL\n"
        "from fastapi.testclient import TestClient\n"
        "from weavewave.serve.api import create_app\n"
        "from weavewave.serve.settings import Settings\n"
        f"app = create_app(Settings(data_dir={str(tmp_path)!r}, ui=False, text_model='lexicon'), start_workers=False)\n"
        "assert 'weavewave.perceive.audio' not in sys.modules\n"
        "with TestClient(app, base_url=LOCAL_URL):\n"
        "    missing = [m for m in ('weavewave.api', 'weavewave.perceive.audio', 'weavewave.perceive.image',\n"
        "               'weavewave.bridge.refine', 'weavewave.export.track') if m not in sys.modules]\n"
        "print('missing', missing)\n"
    )
    env = {**__import__("os").environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'tests'}"}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    assert "missing []" in run.stdout
