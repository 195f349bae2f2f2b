"""Faults in the server: SIGTERM ends it within 10 s in every state, poison rows never stop the pool.

Each test runs a real ``weavewave serve`` process (or a real worker pool) over a temporary data folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import weavewave  # noqa: E402
from weavewave import jitcache  # noqa: E402
from weavewave.serve.store import JobStore  # noqa: E402

SRC = str(Path(weavewave.__file__).resolve().parents[1])
SIGTERM_LIMIT_S = 10.0
START_TIMEOUT_S = 60.0
# Time for a new worker to import the generator and start polling for jobs.
IMPORT_S = 5.0

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds workers through /proc")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``weavewave serve`` in a subprocess, over ``data``."""

    def __init__(self, tmp: Path, *, warm: bool = True, workers: int = 2, data: Path | None = None) -> None:
        self.port = _free_port()
        self.data = data or tmp / "data"
        cache = tmp / "numba"
        cache.mkdir(parents=True, exist_ok=True)
        env = dict(
            os.environ,
            PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
            NUMBA_CACHE_DIR=str(cache),
            XDG_CACHE_HOME=str(tmp / "xdg"),
        )
        if warm:
            old = os.environ.get(jitcache.NUMBA_CACHE_ENV)
            os.environ[jitcache.NUMBA_CACHE_ENV] = str(cache)
            try:
                jitcache.marker_path().write_text("{}")
            finally:
                if old is None:
                    del os.environ[jitcache.NUMBA_CACHE_ENV]
                else:
                    os.environ[jitcache.NUMBA_CACHE_ENV] = old
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "weavewave.cli",
                "serve",
                "--no-ui",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data),
                "--workers",
                str(workers),
                "--text-model",
                "lexicon",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def post(self, path: str, fields: dict[str, str]) -> dict:
        body = urllib.parse.urlencode(fields).encode()
        with urllib.request.urlopen(urllib.request.Request(self.url(path), data=body), timeout=10) as r:
            return json.loads(r.read())

    def wait_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read()
            try:
                self.get("/healthz")
                return
            except (OSError, ValueError):
                time.sleep(0.2)
        raise AssertionError("the server did not start")

    def workers(self) -> list[int]:
        """Pids of the server's worker processes (spawned children other than the resource tracker)."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.proc.pid and b"spawn_main" in cmd:
                pids.append(int(stat.parent.name))
        return pids

    def wait_workers(self, n: int) -> list[int]:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            status, health = self.get("/healthz")
            if health.get("workers_alive") == n and len(self.workers()) == n:
                return self.workers()
            time.sleep(0.2)
        raise AssertionError(f"{n} workers did not start: {self.get('/healthz')}")

    def sigterm(self) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds to exit). Fails, after SIGKILL, past the limit."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(SIGTERM_LIMIT_S + 5)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("SIGTERM did not stop the server") from None
        return code, time.monotonic() - started

    def kill(self) -> None:
        for pid in self.workers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture()
def server(tmp_path):
    srv = Server(tmp_path)
    srv.wait_up()
    yield srv
    if srv.proc.poll() is None:
        srv.kill()


def test_sigterm_when_idle(server):
    server.wait_workers(2)
    code, seconds = server.sigterm()
    assert code == 0 and seconds < SIGTERM_LIMIT_S
    assert not server.workers()


def test_sigterm_after_a_worker_was_killed(server):
    """It hung forever: the dead worker was still counted as waiting on the stop event."""
    victim = server.wait_workers(2)[0]
    time.sleep(IMPORT_S)  # past its imports: in its idle loop, waiting on the stop request
    os.kill(victim, signal.SIGKILL)
    time.sleep(1.5)  # the watcher notices and respawns it; the killed one never woke
    code, seconds = server.sigterm()
    assert code == 0 and seconds < SIGTERM_LIMIT_S, seconds
    assert not server.workers()


def test_sigterm_while_a_job_runs_requeues_it(server):
    server.wait_workers(2)
    job = server.post("/v1/generate", {"text": "a long slow ambient drift", "duration": "600", "seed": "1"})
    deadline = time.monotonic() + 30
    while server.get(f"/v1/jobs/{job['id']}")[1]["status"] != "running":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)
    code, seconds = server.sigterm()
    assert code == 0 and seconds < SIGTERM_LIMIT_S, seconds
    assert not server.workers()
    store = JobStore(server.data / "jobs.sqlite3")
    assert store.get(job["id"]).status == "queued"  # kept for the next start
    store.close()


def test_sigterm_while_the_audio_analysis_compiles(tmp_path):
    """A cold numba cache: the server compiles before starting workers; SIGTERM still ends it at once."""
    pytest.importorskip("librosa")
    srv = Server(tmp_path, warm=False)
    try:
        srv.wait_up()
        status, health = srv.get("/healthz")
        assert health["workers_alive"] == 0 and health["status"] == "starting", health
        code, seconds = srv.sigterm()
        assert code == 0 and seconds < SIGTERM_LIMIT_S, seconds
        assert not srv.workers()
        assert not list((tmp_path / "numba").glob(jitcache.MARKER_PREFIX + "*"))  # the next start compiles
    finally:
        if srv.proc.poll() is None:
            srv.kill()


# --- poison rows -------------------------------------------------------------------------------------
POISON_PARAMS = ("not json{", "[1, 2, 3]")


def _insert_poison(db_path: Path, params: str, created_at: float) -> str:
    """A queued row whose parameters cannot be read, as a damaged or hand-edited database holds."""
    import sqlite3
    import uuid

    job_id = uuid.uuid4().hex
    with sqlite3.connect(db_path) as db:
        db.execute(
            "INSERT INTO jobs (id, status, params, created_at, updated_at) VALUES (?, 'queued', ?, ?, ?)",
            (job_id, params, created_at, created_at),
        )
    return job_id


def test_claim_fails_poison_rows_with_a_reason_and_hands_out_the_next(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    poison = [_insert_poison(store.db_path, p, 1.0 + i) for i, p in enumerate(POISON_PARAMS)]
    good = store.submit({"text": "a calm tune"}, max_queue=5)
    claimed = store.claim("w0")
    assert claimed is not None and claimed.id == good.id
    for job_id in poison:
        job = store.get(job_id)
        assert job.status == "failed" and "stored parameters" in job.error
    assert [j.id for j in store.list()]  # listing reads every row, damaged or not
    assert store.claim("w0") is None
    store.close()


def test_a_poison_row_never_stops_the_pool(tmp_path):
    """It killed the worker that claimed it, then the thread that respawns workers: no job ran again."""
    from fastapi.testclient import TestClient

    from conftest import LOCAL_URL, wait_job
    from weavewave.serve.api import create_app
    from weavewave.serve.settings import Settings

    settings = Settings(data_dir=tmp_path, workers=1, text_model="lexicon", ui=False)
    app = create_app(settings)
    poison = [_insert_poison(settings.db_path, p, 1.0 + i) for i, p in enumerate(POISON_PARAMS)]
    with TestClient(app, base_url=LOCAL_URL) as client:
        r = client.post("/v1/generate", data={"text": "a short calm tune", "duration": "3", "seed": "3"})
        assert r.status_code == 202, r.text
        assert wait_job(client, r.json()["id"], timeout=90.0)["status"] == "succeeded"
        for job_id in poison:
            job = client.get(f"/v1/jobs/{job_id}").json()
            assert job["status"] == "failed" and "stored parameters are" in job["error"], job
        assert client.get("/v1/jobs").status_code == 200
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json()["workers_alive"] == 1


class _DeadProc:
    exitcode = 1
    is_alive = staticmethod(lambda: False)
    join = terminate = kill = staticmethod(lambda *args: None)


def test_healthz_is_503_when_no_worker_can_run(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from conftest import LOCAL_URL
    from weavewave.serve import jobs
    from weavewave.serve.api import create_app
    from weavewave.serve.settings import Settings

    def dead_on_arrival(self, name: str) -> None:  # as a worker that dies at start every time
        self._procs[name], self._started[name] = _DeadProc(), time.monotonic()

    monkeypatch.setattr(jobs.WorkerPool, "_spawn", dead_on_arrival)
    monkeypatch.setattr(jitcache, "is_warm", lambda: True)
    app = create_app(Settings(data_dir=tmp_path, workers=2, text_model="lexicon", ui=False))
    with TestClient(app, base_url=LOCAL_URL) as client:
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "unhealthy" and health.json()["workers_alive"] == 0


# --- crashes: no job runs twice (issue 13, item 5) -------------------------------------------------------
def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _wait_running(srv: Server, job_id: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while srv.get(f"/v1/jobs/{job_id}")[1]["status"] != "running":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)


def test_workers_die_with_a_killed_server(server):
    """kill -9 of the server left a busy worker running its job as an orphan; the restarted server
    re-queued that job, so it ran twice."""
    workers = server.wait_workers(2)
    job = server.post("/v1/generate", {"text": "a long slow ambient drift", "duration": "600", "seed": "1"})
    _wait_running(server, job["id"])
    server.proc.kill()
    server.proc.wait(10)
    deadline = time.monotonic() + 5.0
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "workers outlived the killed server"


def test_a_second_server_on_the_same_data_dir_exits_2(server, tmp_path):
    server.wait_workers(2)
    second = Server(tmp_path / "second", data=server.data)
    try:
        code = second.proc.wait(START_TIMEOUT_S)
        err = second.proc.stderr.read().strip()
    finally:
        if second.proc.poll() is None:
            second.kill()
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "in use by another weavewave server" in lines[0], err
    assert f"pid {server.proc.pid}" in lines[0]
    assert server.get("/healthz")[0] == 200  # the first one is untouched


def test_the_data_dir_lock_is_released_on_exit_and_on_kill(tmp_path):
    from weavewave.errors import BadInputError
    from weavewave.serve.datalock import DataDirLock

    with DataDirLock(tmp_path):
        with pytest.raises(BadInputError, match="in use by another weavewave server"):
            DataDirLock(tmp_path).acquire()
    DataDirLock(tmp_path).acquire().release()  # released by the first
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.path.insert(0, sys.argv[1]); "
            "from weavewave.serve.datalock import DataDirLock; DataDirLock(sys.argv[2]).acquire(); "
            "print('held', flush=True); time.sleep(60)",
            SRC,
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BadInputError, match=f"pid {holder.pid}"):
            DataDirLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait(10)
    DataDirLock(tmp_path).acquire().release()  # the kernel dropped a killed holder's lock


def test_a_lost_claim_writes_nothing(tmp_path):
    """The old claim of a re-queued and re-claimed job can neither record progress nor succeed."""
    from weavewave.serve.store import ClaimLost

    store = JobStore(tmp_path / "jobs.sqlite3")
    job = store.submit({"text": "a calm tune"}, max_queue=5)
    old = store.claim("old-server-w0")
    assert store.recover(max_attempts=3) == [job.id]  # the restarted server re-queues it
    new = store.claim("new-server-w0")
    assert old.token and new.token and old.token != new.token
    with pytest.raises(ClaimLost):
        store.set_progress(job.id, 0.5, "old", token=old.token)
    published = []
    assert not store.succeed(job.id, ["music.wav"], {}, token=old.token, publish=lambda: published.append(1))
    store.fail(job.id, "old worker's failure", token=old.token)
    store.requeue(job.id, "old worker's re-queue", token=old.token)
    assert not published and store.get(job.id).status == "running"
    assert store.succeed(
        job.id, ["music.wav"], {"v": 1}, token=new.token, publish=lambda: published.append(2)
    )
    assert published == [2] and store.get(job.id).status == "succeeded"
    store.close()


def test_a_worker_that_lost_its_job_cannot_replace_its_files(tmp_path, monkeypatch):
    """run_job of a worker whose job was re-queued and finished by another leaves the files alone."""
    from types import SimpleNamespace

    from weavewave import api
    from weavewave.serve import jobs
    from weavewave.serve.settings import Settings

    settings = Settings(data_dir=tmp_path, workers=1, text_model="lexicon", ui=False)
    store = JobStore(settings.db_path)
    job = store.submit({"text": "a calm tune"}, max_queue=5)
    old = store.claim("old")

    def generate_while_another_server_takes_over(request, **kwargs):
        store.recover(max_attempts=3)
        new = store.claim("new")
        final = jobs.out_dir(settings, job.id)
        final.mkdir(parents=True)
        (final / "music.wav").write_bytes(b"the new worker's")
        assert store.succeed(job.id, ["music.wav"], {}, token=new.token)
        return SimpleNamespace(brief=SimpleNamespace(to_dict=dict))

    def write(track, folder, **_):
        folder.mkdir(parents=True)
        (folder / "music.wav").write_bytes(b"the old worker's")
        return ["music.wav"]

    monkeypatch.setattr(api, "generate", generate_while_another_server_takes_over)
    monkeypatch.setattr(jobs, "write_artifacts", write)
    jobs.run_job(store, settings, old, jobs.threading.Event())
    assert (jobs.out_dir(settings, job.id) / "music.wav").read_bytes() == b"the new worker's"
    assert store.get(job.id).status == "succeeded"
    assert not list(jobs.job_dir(settings, job.id).glob(".staging-*"))
    store.close()


# --- stuck jobs: per-job time limit and cancels that are not heard (issue 13, item 4) ---------------------
class _StuckProc:
    """A worker process that is alive and never reports: a hung synthesizer or model."""

    exitcode = None

    def __init__(self) -> None:
        self.killed = False

    def is_alive(self) -> bool:
        return not self.killed

    def kill(self) -> None:
        self.killed = True


def _stuck_pool(tmp_path, **settings_kw):
    from weavewave.serve.jobs import WorkerPool
    from weavewave.serve.settings import Settings

    settings = Settings(data_dir=tmp_path, workers=1, text_model="lexicon", ui=False, **settings_kw)
    store = JobStore(settings.db_path)
    job = store.submit({"text": "a calm tune"}, max_queue=5)
    store.claim("w0")
    pool = WorkerPool(settings, store)
    pool._procs["w0"] = _StuckProc()
    return pool, store, job


def test_a_cancel_of_a_job_that_stops_reporting_ends_its_worker(tmp_path):
    """DELETE had no effect on a job whose renderer hung: the cancel flag was never read."""
    from weavewave.serve.jobs import CANCEL_GRACE_S

    pool, store, job = _stuck_pool(tmp_path)
    store.cancel(job.id)
    pool._enforce_limits(time.time())
    assert not pool._procs["w0"].killed and store.get(job.id).status == "running"  # within its grace
    pool._enforce_limits(time.time() + CANCEL_GRACE_S + 1)
    assert pool._procs["w0"].killed and store.get(job.id).status == "cancelled"
    store.close()


def test_a_job_past_the_time_limit_is_failed_and_its_worker_ended(tmp_path):
    pool, store, job = _stuck_pool(tmp_path, job_timeout_s=60)
    pool._enforce_limits(time.time() + 30)
    assert not pool._procs["w0"].killed
    pool._enforce_limits(time.time() + 61)
    failed = store.get(job.id)
    assert pool._procs["w0"].killed and failed.status == "failed" and "per-job time limit" in failed.error
    store.close()


def test_the_time_limit_fails_a_long_job_and_the_next_one_runs(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from conftest import LOCAL_URL, wait_job
    from weavewave.serve.api import create_app
    from weavewave.serve.settings import Settings

    monkeypatch.setattr(jitcache, "is_warm", lambda: True)
    app = create_app(Settings(data_dir=tmp_path, workers=1, text_model="lexicon", ui=False, job_timeout_s=5))
    with TestClient(app, base_url=LOCAL_URL) as client:
        long = client.post(
            "/v1/generate", data={"text": "a long slow ambient drift", "duration": "600"}
        ).json()
        short = client.post(
            "/v1/generate", data={"text": "a short calm tune", "duration": "1", "seed": "3"}
        ).json()
        ended = wait_job(client, long["id"], timeout=60.0)
        assert ended["status"] == "failed" and "per-job time limit" in ended["error"], ended
        assert wait_job(client, short["id"], timeout=90.0)["status"] == "succeeded"  # a new worker ran it
