"""Running jobs: the worker processes and the pool that keeps them alive.

A worker claims the oldest queued job from SQLite, calls :func:`weavewave.api.generate`, and writes the
artifacts into a staging folder that is renamed into place only when all of them are written. Progress
goes back to the database. A stop request (SIGTERM on the server) re-queues the running job; a cancel
request (DELETE) ends it at its next progress report.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import signal
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from weavewave.procs import die_with_parent
from weavewave.serve.settings import Settings
from weavewave.serve.store import ClaimLost, Job, JobStore

POLL_S = 0.2
PROGRESS_EVERY_S = 0.3
# Stopping is bounded in every state, so SIGTERM ends the server within 10 s (with run.HTTP_GRACE_S):
# workers get STOP_GRACE_S to stop at a progress report, then SIGTERM, then SIGKILL, each waited on once.
STOP_GRACE_S = 4.0
TERMINATE_WAIT_S = 1.0
KILL_WAIT_S = 1.0
# A worker that meets an unexpected error outside a job (the database, say) pauses this long, not spinning.
WORKER_ERROR_PAUSE_S = 1.0
# How often a stop flag is looked at while waiting on it.
FLAG_POLL_S = 0.05
# A worker that dies sooner than this after its start counts as failing to start; each such failure in
# a row doubles the wait before the next respawn, up to RESPAWN_MAX_S, so a broken setup (an unreadable
# data directory, a missing package) does not spin up a process a second forever.
QUICK_DEATH_S = 10.0
# How long the watcher thread waits, after a stop request, for stop() to end the workers (it is joined
# right after; the bound only matters if stop() itself was never called).
REAP_WAIT_S = 15.0
# A running job asked to cancel stops at its next progress report; a job that reports nothing for this
# long after the request (a hung synthesizer, a stuck model) has its worker ended so the cancel happens.
CANCEL_GRACE_S = 10.0
RESPAWN_MAX_S = 60.0
# The files a finished job may serve; anything else in its folder is not an artifact.
ARTIFACT_ORDER = (
    "music.wav",
    "music.flac",
    "music.mp3",
    "music.mid",
    "brief.json",
    "music.png",
    "stems.zip",
    "video.mp4",
)


class _Stop(Exception):
    """Raised inside generation from the progress callback; ``cancelled`` tells cancel from shutdown."""

    def __init__(self, cancelled: bool) -> None:
        super().__init__("cancelled" if cancelled else "server stopping")
        self.cancelled = cancelled


class StopFlag:
    """A stop request shared with the worker processes: one byte of shared memory, no locks.

    Not ``multiprocessing.Event``: a worker killed while it waits on one leaves a sleeper counted in the
    event's condition, and the next ``set()`` waits forever for it to wake, so SIGTERM hung the server
    after any worker had died.
    """

    def __init__(self, ctx: Any) -> None:
        self._value = ctx.RawValue("b", 0)

    def set(self) -> None:
        self._value.value = 1

    def is_set(self) -> bool:
        return bool(self._value.value)

    def wait(self, timeout: float) -> bool:
        """Sleep until set or ``timeout`` seconds have passed; True when set."""
        deadline = time.monotonic() + timeout
        while not self.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, FLAG_POLL_S))
        return True


def disk_full_reason(name: str | None) -> str:
    """A job's error when the server's disk filled up: the server's own words, no server paths."""
    what = f" writing {name}" if name else ""
    return (
        f"no space left on the device{what}: the server's disk is full; free some space in its "
        "--data-dir, then submit the job again"
    )


# An absolute path (POSIX) in a message: its folders are the server's business, its file name is not.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/[^\s/'\"()<>,;:]+(?:/[^\s/'\"()<>,;:]*)+")


def public_message(text: str) -> str:
    """``text`` with every absolute server path cut to its last name: messages shown to HTTP clients never
    say where the server keeps its files. Only paths under a folder that exists at the root of this
    machine count, so URL paths such as ``/v1/jobs`` stay."""

    def cut(match: re.Match[str]) -> str:
        path = match.group(0)
        if not os.path.isdir("/" + path.split("/")[1]):
            return path
        return os.path.basename(path.rstrip("/")) or path

    return _ABSOLUTE_PATH.sub(cut, text)


def job_dir(settings: Settings, job_id: str) -> Path:
    return settings.jobs_dir / job_id


def out_dir(settings: Settings, job_id: str) -> Path:
    """Where a finished job's artifacts live; it appears in one rename, complete."""
    return job_dir(settings, job_id) / "out"


def job_request(params: dict[str, Any], base: Path, library: Path | None = None) -> Any:
    """The :class:`~weavewave.request.Request` of a job from its stored parameters, input paths under ``base``;
    references (``references``, ``reference_track``) come from ``library``, the server's own.

    Jobs queued by an older version stored controls and options apart; they are read the same way.
    """
    from weavewave.request import Request

    given = dict(params["request"]) if "request" in params else _legacy_fields(params)
    if given.get("image"):
        given["image"] = [str(base / p) for p in given["image"]]
    for name in ("video", "audio", "melody"):
        if given.get(name):
            given[name] = str(base / given[name])
    if library is not None and (given.get("references") or given.get("reference_track")):
        given["library"] = str(library)
    return Request.build(given)


def served_brief(brief: Any, data_dir: Path) -> Any:
    """The brief as a client sees it: library references' paths relative to the server's data folder, so
    neither the page, the API nor a job's brief.json shows where the server keeps its files."""
    if not brief.references:
        return brief
    root = Path(data_dir).resolve()
    refs = []
    for ref in brief.references:
        path = Path(ref.path).resolve()
        if path.is_relative_to(root):
            ref = ref.model_copy(update={"path": path.relative_to(root).as_posix()})
        refs.append(ref)
    return brief.model_copy(update={"references": refs})


def _legacy_fields(params: dict[str, Any]) -> dict[str, Any]:
    named = {
        k: params.get(k)
        for k in ("text", "brief", "backend", "stems", "instruction", "image", "video", "audio")
    }
    return {**named, **(params.get("controls") or {}), **(params.get("options") or {})}


def run_job(
    store: JobStore, settings: Settings, job: Job, stop: StopFlag | threading.Event, cache: Any = None
) -> None:
    """Generate one job and record the outcome: succeeded, failed (with the reason), cancelled or re-queued.

    ``cache`` is the worker's :class:`~weavewave.neural.models.ModelCache`: neural models load on the first job
    that needs them and stay loaded for the worker's lifetime.
    """
    from weavewave import api
    from weavewave.errors import DiskFullError, WeaveWaveError, is_disk_full

    last = [0.0]
    token = job.token  # every write below applies only while this claim still holds the job

    def progress(fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_S and fraction < 1.0:
            if stop.is_set():
                raise _Stop(cancelled=False)
            return
        last[0] = now
        if store.set_progress(job.id, 0.95 * fraction, message, token=token):
            raise _Stop(cancelled=True)
        if stop.is_set():
            raise _Stop(cancelled=False)

    base = job_dir(settings, job.id)
    # Per claim, not per attempt: two workers holding the same attempt number never share a folder.
    staging = base / f".staging-{job.attempts}-{(token or 'x')[:8]}"
    final = out_dir(settings, job.id)

    def publish() -> None:  # runs inside the store's transaction, after the claim is checked
        if final.exists():  # a half-recorded earlier attempt; this one replaces it whole
            shutil.rmtree(final)
        os.replace(staging, final)

    try:
        brief: dict[str, Any] | None = None
        if job.params.get("kind") == "annotate":  # POST /v1/annotate: a dataset, not a piece
            from weavewave.serve.annotate import run_annotate

            files = run_annotate(job.params["annotate"], base, staging, progress, settings.text_model)
        else:
            request = job_request(job.params, base, settings.library_dir)
            track = api.generate(request, progress=progress, cache=cache)
            track.brief = served_brief(track.brief, settings.data_dir)
            progress(1.0, "writing files")
            files = write_artifacts(
                track, staging, stems=request.stems, fmt=request.format, video=request.video,
                keep_audio=request.keep_audio)  # fmt: skip
            brief = track.brief.to_dict()
        if store.set_progress(job.id, 0.99, "finishing", token=token):
            raise _Stop(cancelled=True)
        store.succeed(job.id, files, brief, token=token, publish=publish)
    except ClaimLost:
        pass  # the job belongs to another worker now: record nothing, touch nothing but our staging
    except _Stop as stop_reason:
        if stop_reason.cancelled:
            store.mark_cancelled(job.id, token=token)
        else:
            store.requeue(
                job.id, "re-queued: the server stopped while it ran", count_attempt=False, token=token
            )
    except DiskFullError as exc:
        store.fail(job.id, disk_full_reason(exc.path.name), token=token)
    except WeaveWaveError as exc:
        store.fail(job.id, public_message(str(exc)), token=token)
    except Exception as exc:  # an internal error: the job fails with the reason, the worker lives on
        if is_disk_full(exc, staging):
            store.fail(job.id, disk_full_reason(None), token=token)
        else:
            reason = public_message(f"internal error: {type(exc).__name__}: {exc}")
            store.fail(job.id, reason, token=token)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_artifacts(
    track: Any,
    folder: Path,
    *,
    stems: bool,
    fmt: str = "wav",
    video: str | None = None,
    keep_audio: bool = False,
) -> list[str]:
    """music.<fmt>, music.mid, brief.json (via ``export.save_track``), music.png, stems.zip, and video.mp4
    when the piece was scored to ``video``."""
    from weavewave.export.track import save_track
    from weavewave.serve.picture import save_picture

    if folder.exists():
        shutil.rmtree(folder)
    save_track(track, folder, fmt=fmt, video=video, keep_audio=keep_audio, force=True, stems=stems)
    save_picture(track, folder / "music.png")
    stems_dir = folder / "stems"
    if stems_dir.is_dir():
        with zipfile.ZipFile(folder / "stems.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for stem in sorted(stems_dir.iterdir()):
                zf.write(stem, arcname=f"stems/{stem.name}")
        shutil.rmtree(stems_dir)
    present = {p.name for p in folder.iterdir() if p.is_file()}
    ordered = [n for n in ARTIFACT_ORDER if n in present]
    return ordered + sorted(present - set(ordered))


def worker_main(settings: Settings, name: str, stop: StopFlag, parent_pid: int) -> None:
    """A worker process: claim, run, repeat, until ``stop`` is set or the server process is gone."""
    # A worker must not outlive a server killed with SIGKILL: the next server re-queues its job.
    die_with_parent(parent_pid)
    # Ctrl-C reaches the whole process group; the server decides when workers stop. SIGTERM keeps its
    # default (end now): the renderer's children die with it, and the server re-queues the job of a
    # worker that ended mid-run.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import weavewave.generators.symbolic  # noqa: F401  (warm the import before the first job)
    from weavewave.neural.models import ModelCache

    cache = ModelCache()  # one per worker, for its lifetime: each neural model loads once here
    store = JobStore(settings.db_path)
    while not stop.is_set() and os.getppid() == parent_pid:
        try:
            job = store.claim(name)
            if job is None:
                stop.wait(POLL_S)
                continue
            run_job(store, settings, job, stop, cache)
        except Exception as exc:  # e.g. the database locked or damaged: the worker lives on and retries
            sys.stderr.write(f"weavewave: worker {name}: {type(exc).__name__}: {exc}\n")
            stop.wait(WORKER_ERROR_PAUSE_S)
    store.close()


def _warm_main(parent_pid: int) -> None:
    """The warm-up process: compile the audio analysis once, so workers only read numba's cache."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from weavewave.jitcache import warm_if_installed

    warm_if_installed()


class WorkerPool:
    """A fixed number of worker processes; a dead one is replaced and its job re-queued."""

    def __init__(self, settings: Settings, store: JobStore) -> None:
        self.settings, self.store = settings, store
        self._ctx = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._stop = StopFlag(self._ctx)
        self._procs: dict[str, Any] = {}
        self._started: dict[str, float] = {}
        self._quick_deaths: dict[str, int] = {}
        self._respawn_at: dict[str, float] = {}
        self._lock = threading.Lock()  # the watcher and stop() both touch _procs
        self._watch_stop = threading.Event()
        # Set once stop() has ended every worker: the watcher thread, which spawned some of them, must
        # live until then, since their parent-death signal fires when that thread ends.
        self._reaped = threading.Event()
        self._watcher: threading.Thread | None = None
        self._warm_proc: Any = None
        self.warming = False

    def start(self) -> None:
        """Start the workers; first, once per version, compile the audio analysis in a child process.

        Workers compiling numba's cache at the same time could corrupt it (see :mod:`weavewave.jitcache`).
        The compile runs in its own process, from a thread, so a stop request can end it at once.
        """
        from weavewave.jitcache import configure, is_warm, librosa_available

        configure()  # spawned children inherit the cache folder through the environment
        if librosa_available() and not is_warm():
            self.warming = True
            self._watcher = threading.Thread(
                target=self._warm_then_run, name="weavewave-pool-watch", daemon=True
            )
        else:
            self._spawn_all()
            self._watcher = threading.Thread(target=self._watch, name="weavewave-pool-watch", daemon=True)
        self._watcher.start()

    def _warm_then_run(self) -> None:
        proc = self._ctx.Process(target=_warm_main, args=(os.getpid(),), name="weavewave-warmup", daemon=True)
        with self._lock:
            if self._stop.is_set():
                return
            proc.start()
            self._warm_proc = proc
        while proc.is_alive() and not self._stop.is_set():
            proc.join(FLAG_POLL_S * 4)
        if self._stop.is_set():  # the warm-up dies with this thread: let stop() end it first
            self._reaped.wait(REAP_WAIT_S)
            return
        if proc.exitcode not in (0, None):  # workers then compile lazily, still one at a time (the lock)
            sys.stderr.write(
                f"weavewave: compiling the audio analysis failed (exit code {proc.exitcode}); "
                "audio jobs compile it on first use\n"
            )
        self.warming = False
        if self._stop.is_set():
            return
        self._spawn_all()
        self._watch()

    def _spawn_all(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            for i in range(self.settings.workers):
                self._spawn(f"w{i}-{os.getpid()}")

    def _spawn(self, name: str) -> None:
        # Not daemonic: the renderer forks helpers of its own. Workers leave when their parent does.
        proc = self._ctx.Process(
            target=worker_main, args=(self.settings, name, self._stop, os.getpid()), name=name, daemon=False
        )
        proc.start()
        self._procs[name] = proc
        self._started[name] = time.monotonic()

    def _watch(self) -> None:
        while not self._watch_stop.wait(1.0):
            try:
                with self._lock:
                    self._check(time.monotonic())
            except Exception as exc:  # e.g. a locked or damaged database: keep watching, say why
                sys.stderr.write(f"weavewave: worker watch: {type(exc).__name__}: {exc}\n")
        self._reaped.wait(REAP_WAIT_S)

    def _check(self, now: float) -> None:
        """Re-queue the jobs of dead workers and respawn them, backing off from ones that die at start."""
        if self._stop.is_set():
            return
        self._enforce_limits(time.time())
        for name, proc in list(self._procs.items()):
            if proc.is_alive():
                continue
            if name not in self._respawn_at:  # first seen dead
                for job_id in self.store.running_on(name):
                    self.store.requeue(job_id, f"re-queued: its worker died (exit code {proc.exitcode})")
                self._sweep_attempts()
                quick = now - self._started.get(name, now) < QUICK_DEATH_S
                self._quick_deaths[name] = self._quick_deaths.get(name, 0) + 1 if quick else 0
                self._respawn_at[name] = now + self.respawn_delay(self._quick_deaths[name])
            if now >= self._respawn_at[name]:
                del self._respawn_at[name]
                self._spawn(name)

    def _enforce_limits(self, wall_now: float) -> None:
        """End the workers of jobs past the per-job time limit (failed) or stuck past a cancel (cancelled).

        The row is finished first, so the dead worker's job is not re-queued; the worker is killed with
        SIGKILL (its renderer processes die with it) and respawned by the usual check.
        """
        limit = self.settings.job_timeout_s
        for row in self.store.running_rows():
            proc = self._procs.get(row["worker"] or "")
            if proc is None or not proc.is_alive():
                continue
            if row["cancel"] and wall_now - row["updated_at"] > CANCEL_GRACE_S:
                self.store.mark_cancelled(row["id"])
            elif row["started_at"] is not None and wall_now - row["started_at"] > limit:
                self.store.fail(
                    row["id"],
                    f"stopped after {limit:g} s: the server's per-job time limit "
                    "(--job-timeout); ask for a shorter piece or raise the limit",
                )
            else:
                continue
            sys.stderr.write(
                f"weavewave: ended worker {row['worker']} running job {row['id']}: "
                f"{'cancelled but not stopping' if row['cancel'] else 'over the time limit'}\n"
            )
            proc.kill()

    @staticmethod
    def respawn_delay(quick_deaths: int) -> float:
        """Seconds to wait before a respawn: none after a worker that lived, then 1, 2, 4 … 60 s."""
        return 0.0 if quick_deaths == 0 else min(RESPAWN_MAX_S, 2.0 ** (quick_deaths - 1))

    def _sweep_attempts(self) -> None:
        """Jobs that keep killing workers fail instead of looping forever."""
        for job in self.store.list(status="queued", limit=1000):
            if job.attempts >= self.settings.max_attempts:
                self.store.fail(
                    job.id,
                    f"its worker process died {job.attempts} times while running it "
                    "(out of memory?); not retried again",
                )

    def alive(self) -> int:
        return sum(p.is_alive() for p in list(self._procs.values()))

    def health(self) -> tuple[str, str]:
        """("ok" | "starting" | "unhealthy", why): unhealthy when no worker can run a job now."""
        if self.warming:
            return "starting", "compiling the audio analysis before starting the workers (first start)"
        if self._stop.is_set():
            return "unhealthy", "stopping"
        if self._watcher is None:
            return "unhealthy", "the workers were not started"
        if not self._watcher.is_alive():
            return "unhealthy", "the thread that keeps the workers alive has stopped"
        if self.alive() == 0:
            return "unhealthy", "no worker process is running (each dies at start: see the server's log)"
        return "ok", ""

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Ask workers to stop at their next progress report, then end stragglers; their jobs re-queue.

        Every wait is bounded: at most ``grace_s + TERMINATE_WAIT_S + KILL_WAIT_S`` and a little more,
        whatever state the workers are in (running, idle, already dead).
        """
        self._watch_stop.set()
        self._stop.set()
        deadline = time.monotonic() + grace_s
        # The watcher spawns nothing once the flag is set; this waits (briefly) for a spawn in flight.
        locked = self._lock.acquire(timeout=1.0)
        try:
            procs = dict(self._procs)
            if self._warm_proc is not None:
                procs["warm-up"] = self._warm_proc
        finally:
            if locked:
                self._lock.release()
        for proc in procs.values():
            proc.join(max(0.0, deadline - time.monotonic()))
        for signal_them, wait_s in (
            (lambda p: p.terminate(), TERMINATE_WAIT_S),
            (lambda p: p.kill(), KILL_WAIT_S),
        ):
            left = [p for p in procs.values() if p.is_alive()]
            if not left:
                break
            for proc in left:
                signal_them(proc)
            until = time.monotonic() + wait_s
            for proc in left:
                proc.join(max(0.0, until - time.monotonic()))
        for name in procs:
            try:
                for job_id in self.store.running_on(name):
                    self.store.requeue(
                        job_id, "re-queued: the server stopped while it ran", count_attempt=False
                    )
            except Exception as exc:  # the next start's recovery re-queues them anyway
                sys.stderr.write(f"weavewave: could not re-queue {name}'s job: {type(exc).__name__}: {exc}\n")
        self._procs.clear()
        self._reaped.set()
        if self._watcher is not None:
            self._watcher.join(1.0)
