"""Running a batch: one row at a time in local worker processes, resumable and idempotent.

Layout of ``--out``::

    OUT/results.jsonl        one line per row: status, error, timings, seed, output files
    OUT/<id>/                a finished row: music.wav, music.mid, brief.json ... and result.json
    OUT/.staging/            rows being written; a row's folder appears in one rename, complete

A row is finished when ``OUT/<id>/result.json`` exists: locally the folder is renamed into place whole;
on an fsspec URL the files are copied first and ``result.json`` last. A rerun skips finished rows, so a
killed batch resumes where it stopped, with nothing lost or made twice. ``results.jsonl`` is rewritten at
the start and the end of every run with exactly one line per row (in manifest order) and appended to as
rows finish; after a kill it may hold a failed row's old line and its newer one: the last line wins.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weavewave.batch.manifest import Row, is_url, row_request
from weavewave.batch.tasks import TASKS
from weavewave.errors import BadInputError, WeaveWaveError

RESULTS_FILE = "results.jsonl"
ROW_RESULT_FILE = "result.json"
STAGING_DIR = ".staging"
LOCK_FILE = ".batch.lock"
STATUS_OK, STATUS_FAILED = "ok", "failed"
WORKER_POLL_S = 0.5
LOST_ROW_WAIT_S = 30.0
# A row whose engine never reported it (on Ray: its actor died on the row and again on the one retry).
LOST_ROW_ERROR = ("internal error: the {where} running this row died{how} (a crash in a native library, or out "
                  "of memory); the other rows went on: rerun the batch to try it again")  # fmt: skip
# Tests and the bench only: a worker process or Ray actor given a row with one of these ids (comma-separated)
# dies at once of SIGSEGV, as a crash in a native library kills it; the engines' fault handling is tested
# end to end with it.
CRASH_ROW_ENV = "WEAVEWAVE_TEST_CRASH_ROW"


@dataclass
class Summary:
    """How a batch run went: rows made now, already done before, failed; wall time."""

    total: int
    unit: str = "pieces"
    made: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.made + self.skipped == self.total

    def line(self) -> str:
        rate = self.made / self.seconds * 60 if self.seconds > 0 and self.made else 0.0
        return (f"batch: {self.total} rows: {self.made} made, {self.skipped} already done, {self.failed} failed "
                f"in {self.seconds:.1f} s ({rate:.1f} {self.unit}/min)")  # fmt: skip


# --- one row ----------------------------------------------------------------------------------------------
def run_row(task: dict[str, Any], out: str, cache: Any = None) -> dict[str, Any]:
    """Make one row and write it into ``out/<id>`` atomically; return its record. Never raises for a bad
    row: the error is the record's ``error`` line (BadInputError: its message; anything else: "internal
    error: ...")."""
    started = time.perf_counter()
    record: dict[str, Any] = {"row": task["row"], "id": task["id"], "status": STATUS_FAILED, "error": None,
                              "seed": None, "seconds": {}, "outputs": [], "worker": os.getpid()}  # fmt: skip
    fetch_dir = tempfile.mkdtemp(prefix="weavewave-batch-")
    try:
        from weavewave import api

        timings = record["seconds"]
        mode = task.get("mode", "generate")
        if mode in TASKS:  # an annotate or eval job: it writes its folder itself, into the staging area
            from weavewave.batch.tasks import run_task

            t0 = time.perf_counter()
            record["outputs"] = _publish(out, task["id"], lambda d: run_task(mode, task["fields"], d, record),
                                         record)  # fmt: skip
            timings["save"] = round(time.perf_counter() - t0 - timings.get(mode, 0.0), 3)
            return record
        request = row_request(task["fields"], fetch_dir)
        t0 = time.perf_counter()
        if mode == "describe":
            brief = api.describe(request, cache=cache)
            timings["describe"] = round(time.perf_counter() - t0, 3)
            record["seed"] = brief.seed
            files = {"brief.json": brief.to_json()}
            t0 = time.perf_counter()
            record["outputs"] = _publish(out, task["id"], lambda d: _write_files(d, files), record)
        else:
            track = api.generate(request, cache=cache)
            timings["generate"] = round(time.perf_counter() - t0, 3)
            record["seed"] = track.brief.seed
            t0 = time.perf_counter()
            record["outputs"] = _publish(out, task["id"], lambda d: api.save(track, request, d), record)
        timings["save"] = round(time.perf_counter() - t0, 3)
    except WeaveWaveError as exc:
        record["error"] = exc.for_cli() if hasattr(exc, "for_cli") else str(exc)
    except Exception as exc:  # one row's internal error must not stop the batch: record it
        if os.environ.get("WEAVEWAVE_DEBUG"):
            traceback.print_exc()
        record["error"] = f"internal error: {type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(fetch_dir, ignore_errors=True)
        record["seconds"]["total"] = round(time.perf_counter() - started, 3)
    return record


def _write_files(folder: Path, files: dict[str, str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written


def _publish(out: str, row_id: str, write: Callable[[Path], list[Path]], record: dict[str, Any]) -> list[str]:
    """Write a row into a staging folder, then move it into ``out/<id>`` in one step; return its files."""
    local_out = not is_url(out)
    staging_root = Path(out) / STAGING_DIR if local_out else Path(tempfile.mkdtemp(prefix="weavewave-stage-"))
    staging_root.mkdir(parents=True, exist_ok=True)
    stage = staging_root / f"{row_id}.{uuid.uuid4().hex[:8]}"
    try:
        written = write(stage / row_id)
        names = sorted(str(p.relative_to(stage / row_id)) for p in written)
        record["status"] = STATUS_OK
        record["outputs"] = names
        done = {**record, "outputs": names}
        (stage / row_id / ROW_RESULT_FILE).write_text(json.dumps(done) + "\n", encoding="utf-8")
        if local_out:
            target = Path(out) / row_id
            try:
                os.rename(stage / row_id, target)
            except OSError:
                if not (target / ROW_RESULT_FILE).exists():
                    raise
                # Made by someone else meanwhile (a second run of the same manifest): theirs stands.
        else:
            _upload(stage / row_id, f"{out.rstrip('/')}/{row_id}")
        return names
    except BaseException:
        record["status"] = STATUS_FAILED
        raise
    finally:
        shutil.rmtree(stage if local_out else staging_root, ignore_errors=True)


def _upload(folder: Path, url: str) -> None:
    """Copy a finished row to an fsspec URL, ``result.json`` last: its presence means "complete"."""
    from weavewave.batch.manifest import fsspec_module

    fs, root = fsspec_module().core.url_to_fs(url)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != ROW_RESULT_FILE)
    for p in [*files, folder / ROW_RESULT_FILE]:
        target = f"{root}/{p.relative_to(folder).as_posix()}"
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(p), target)


# --- where the batch writes ------------------------------------------------------------------------------
class Output:
    """``--out``: a local folder or an fsspec URL; knows which rows are finished and keeps results.jsonl."""

    def __init__(self, out: str) -> None:
        self.out = out.rstrip("/") if is_url(out) else out
        self.remote = is_url(out)
        if self.remote:
            from weavewave.batch.manifest import fsspec_module

            self.fs, self.root = fsspec_module().core.url_to_fs(self.out)
        else:
            self.fs, self.root = None, self.out

    def prepare(self) -> None:
        if self.remote:
            self.fs.makedirs(self.root, exist_ok=True)
            return
        try:
            Path(self.out).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInputError(f"--out {self.out}: cannot create it ({exc.strerror or exc}); choose another "
                                "folder") from None  # fmt: skip
        if not Path(self.out).is_dir():
            raise BadInputError(f"--out {self.out} is a file, not a folder; choose another --out")
        # Rows half-written by a killed run: their folders never appeared, so they rerun now.
        shutil.rmtree(Path(self.out) / STAGING_DIR, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One batch at a time per --out (two at once would make rows twice): an flock on a local folder, a
        lock file with a heartbeat on an fsspec URL (:class:`RemoteLock`)."""
        if self.remote:
            with RemoteLock(self.fs, f"{self.root}/{LOCK_FILE}", self.out):
                yield
            return
        import fcntl

        with open(Path(self.out) / LOCK_FILE, "a+") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise BadInputError(
                    f"--out {self.out}: another batch is writing there; wait for it or choose another --out"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def finished(self, row_id: str) -> dict[str, Any] | None:
        """The stored record of a finished row, or None."""
        try:
            if self.remote:
                with self.fs.open(f"{self.root}/{row_id}/{ROW_RESULT_FILE}", "rt") as fh:
                    return dict(json.loads(fh.read()))
            return dict(json.loads((Path(self.out) / row_id / ROW_RESULT_FILE).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    def read_results(self) -> dict[str, dict[str, Any]]:
        """results.jsonl as id -> last record (a damaged line, from a kill mid-write, is skipped)."""
        records: dict[str, dict[str, Any]] = {}
        with contextlib.suppress(OSError, FileNotFoundError):
            for line in self._read(RESULTS_FILE).splitlines():
                with contextlib.suppress(ValueError):
                    rec = json.loads(line)
                    if isinstance(rec, dict) and "id" in rec:
                        records[rec["id"]] = rec
        return records

    def write_results(self, records: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r) + "\n" for r in records)
        if self.remote:
            with self.fs.open(f"{self.root}/{RESULTS_FILE}", "wt") as fh:
                fh.write(text)
            return
        tmp = Path(self.out) / f".{RESULTS_FILE}.{os.getpid()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, Path(self.out) / RESULTS_FILE)

    def append_result(self, record: dict[str, Any]) -> None:
        if self.remote:  # object stores cannot append: the file is rewritten at the end
            return
        with open(Path(self.out) / RESULTS_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()

    def _read(self, name: str) -> str:
        if self.remote:
            with self.fs.open(f"{self.root}/{name}", "rt") as fh:
                return str(fh.read())
        return (Path(self.out) / name).read_text(encoding="utf-8")


# An object store has no lock, and fsspec's backends no common atomic create: the lock is a file naming its
# holder, rewritten every LOCK_REFRESH_S; one not rewritten for LOCK_STALE_S (or whose holder is a dead
# process on this host) was left by a killed batch and is taken over.
LOCK_REFRESH_S = 30.0
LOCK_STALE_S = 120.0  # four missed refreshes: also covers clocks a little apart between machines
# Two batches that wrote the lock at once: the store keeps one write; both read it back after this long.
LOCK_SETTLE_S = 2.0


class RemoteLock:
    """One batch at a time on an fsspec URL: a best-effort lock file with a heartbeat (see above).

    Two batches started within :data:`LOCK_SETTLE_S` of each other on a store that is not read-after-write
    consistent could both go on; rows are still written whole and are the same bytes either way.
    """

    def __init__(self, fs: Any, path: str, out: str) -> None:
        import socket

        self.fs, self.path, self.out = fs, path, out
        self.me = {"token": uuid.uuid4().hex, "host": socket.gethostname(), "pid": os.getpid()}
        self._stop: Any = None
        self._thread: Any = None

    def __enter__(self) -> RemoteLock:
        import threading

        held = self._read()
        if held is not None and not self._abandoned(held):
            raise self._busy(held)
        self._write()
        time.sleep(LOCK_SETTLE_S)
        held = self._read()
        if held is None or held.get("token") != self.me["token"]:
            raise self._busy(held or {})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="batch-lock", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._stop.set()
            self._thread.join(timeout=LOCK_REFRESH_S)
        with contextlib.suppress(OSError, FileNotFoundError):
            if (self._read() or {}).get("token") == self.me["token"]:
                self.fs.rm(self.path)

    def _beat(self) -> None:
        while not self._stop.wait(LOCK_REFRESH_S):
            with contextlib.suppress(Exception):  # a store's passing error: the next beat tries again
                if (self._read() or {}).get("token") == self.me["token"]:
                    self._write()

    def _read(self) -> dict[str, Any] | None:
        try:
            with self.fs.open(self.path, "rt") as fh:
                held = json.loads(fh.read())
            return held if isinstance(held, dict) else {}
        except (OSError, FileNotFoundError):
            return None
        except ValueError:  # half-written by a killed batch
            return {}

    def _write(self) -> None:
        with self.fs.open(self.path, "wt") as fh:
            fh.write(json.dumps({**self.me, "time": time.time()}))

    def _abandoned(self, held: dict[str, Any]) -> bool:
        if time.time() - float(held.get("time") or 0.0) > LOCK_STALE_S:
            return True
        if held.get("host") == self.me["host"] and isinstance(held.get("pid"), int):
            try:
                os.kill(held["pid"], 0)
            except ProcessLookupError:
                return True  # its batch on this machine is gone
            except PermissionError:
                return False
        return False

    def _busy(self, held: dict[str, Any]) -> BadInputError:
        ago = time.time() - float(held.get("time") or time.time())
        who = (
            f" (pid {held.get('pid')} on {held.get('host')}, seen {ago:.0f} s ago)"
            if held.get("host")
            else ""
        )
        return BadInputError(
            f"--out {self.out}: another batch is writing there{who}; wait for it or choose another --out (a lock "
            f"left by a killed batch is taken over {LOCK_STALE_S:.0f} s after its last heartbeat)"
        )


# --- the batch --------------------------------------------------------------------------------------------
def run_batch(
    rows: list[Row],
    out: str,
    *,
    workers: int | None = None,
    ray: str | None = None,
    gpus_per_worker: float = 0.0,
    progress: bool = True,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> Summary:
    """Run every unfinished row; write results.jsonl; return the summary. One failing row never stops the
    others. ``workers``: local processes (default: the number of cores; 1 runs in this process).
    ``ray``: run on Ray instead ("local" starts a local instance; else a cluster address)."""
    started = time.perf_counter()
    ray_started = False
    if ray is not None:  # an unreachable cluster is refused before anything is written
        from weavewave.batch.ray_runner import connect

        ray_started = connect(ray, workers)
    try:
        return _run_batch(rows, out, workers=workers, ray=ray, gpus_per_worker=gpus_per_worker,
                          progress=progress, on_record=on_record, started=started)  # fmt: skip
    finally:
        if ray_started:
            import ray as ray_module

            ray_module.shutdown()


def _run_batch(
    rows: list[Row],
    out: str,
    *,
    workers: int | None,
    ray: str | None,
    gpus_per_worker: float,
    progress: bool,
    on_record: Callable[[dict[str, Any]], None] | None,
    started: float,
) -> Summary:
    output = Output(out)
    output.prepare()
    summary = Summary(total=len(rows), unit="pieces" if not rows or rows[0].mode not in TASKS else "rows")
    with output.lock():
        previous = output.read_results()
        records: dict[str, dict[str, Any]] = {}
        todo: list[Row] = []
        for row in rows:
            done = output.finished(row.id)
            if done is not None:
                records[row.id] = {**done, "row": row.number, "resumed": True}
                summary.skipped += 1
            else:
                if row.id in previous:
                    records[row.id] = previous[row.id]
                todo.append(row)
        output.write_results([records[r.id] for r in rows if r.id in records])
        bar = _bar(len(rows), summary.skipped, progress)

        reported: set[str] = set()

        def finish(record: dict[str, Any]) -> None:
            reported.add(record["id"])
            records[record["id"]] = record
            output.append_result(record)
            if record["status"] == STATUS_OK:
                summary.made += 1
            else:
                summary.failed += 1
            bar.update(1)
            if summary.failed:
                bar.set_postfix_str(f"{summary.failed} failed", refresh=False)
            if on_record is not None:
                on_record(record)

        try:
            if ray is not None:
                from weavewave.batch.ray_runner import run_on_ray

                run_on_ray([r.task() for r in todo], out, address=ray, workers=workers,
                           gpus_per_worker=gpus_per_worker, finish=finish)  # fmt: skip
            else:
                _run_local(
                    [r.task() for r in todo], out, workers=workers, finish=finish, finished=output.finished
                )
            where, how = ("Ray actor", ", and again on its retry") if ray is not None else ("worker", "")
            for (
                row
            ) in todo:  # rows the engine never reported: made after all (their folder is there), or lost
                if row.id not in reported:
                    done = output.finished(row.id)
                    finish({**done, "row": row.number} if done is not None else
                           failed_record(row.task(), LOST_ROW_ERROR.format(where=where, how=how)))  # fmt: skip
        finally:
            bar.close()
            output.write_results([records[r.id] for r in rows if r.id in records])
    summary.seconds = time.perf_counter() - started
    summary.records = [records[r.id] for r in rows if r.id in records]
    return summary


def failed_record(task: dict[str, Any], error: str, worker: int | None = None) -> dict[str, Any]:
    """The record of a row that never ran to its end (its worker died)."""
    return {"row": task["row"], "id": task["id"], "status": STATUS_FAILED, "error": error, "seed": None,
            "seconds": {}, "outputs": [], "worker": worker}  # fmt: skip


def crash_if_asked(task: dict[str, Any]) -> None:
    """Tests only (:data:`CRASH_ROW_ENV`): die of SIGSEGV on the named row, as a native crash would."""
    if task["id"] in os.environ.get(CRASH_ROW_ENV, "").split(","):
        import signal

        os.kill(os.getpid(), signal.SIGSEGV)


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _bar(total: int, initial: int, enabled: bool) -> Any:
    from weavewave._deps import available

    if not available("tqdm"):  # the batch extra brings it; without it, a line per row
        return _PlainBar(total, initial, enabled)
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="piece", desc="batch", disable=not enabled,
                file=sys.stderr, dynamic_ncols=True, smoothing=0.1)  # fmt: skip


class _PlainBar:
    """A line per finished row, when tqdm is not installed."""

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        self.total, self.n, self.enabled, self.start = total, initial, enabled, time.perf_counter()

    def update(self, n: int) -> None:
        self.n += n
        if self.enabled:
            elapsed = time.perf_counter() - self.start
            sys.stderr.write(f"batch: {self.n}/{self.total} ({elapsed:.0f} s)\n")

    def set_postfix_str(self, text: str, refresh: bool = False) -> None:
        pass

    def close(self) -> None:
        pass


def _run_local(tasks: list[dict[str, Any]], out: str, *, workers: int | None,
               finish: Callable[[dict[str, Any]], None],
               finished: Callable[[str], dict[str, Any] | None] | None = None) -> None:  # fmt: skip
    """Run tasks in ``workers`` processes (or here, for one worker), each with its own model cache."""
    if not tasks:
        return
    from weavewave import jitcache

    # Compile the audio analysis once, serially, before workers could compile it at once (numba hazard).
    jitcache.warm_if_installed()
    n = min(workers or default_workers(), len(tasks))
    if n <= 1:
        from weavewave.neural.models import ModelCache

        cache = ModelCache()
        for task in tasks:
            finish(run_row(task, out, cache))
        return
    _run_pool(tasks, out, n, finish, finished or (lambda row_id: None))


# Thread pools of the numeric libraries; each sizes itself to every core unless told otherwise.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def limit_threads(threads: int) -> None:
    """Give this worker its share of the cores (as Ray does for an actor with ``num_cpus``): N workers
    each running every core's worth of BLAS and torch threads oversubscribe the machine N times over.
    Call before numpy or torch is imported; a value the user set is kept."""
    for name in THREAD_ENV:
        os.environ.setdefault(name, str(threads))


ROW_SLOT_BYTES = 256  # a row id (at most 128 characters) in a worker's shared slot


def _worker_main(tasks: Any, results: Any, out: str, parent_pid: int, threads: int, slot: Any = None) -> None:
    """A worker process: rows from ``tasks`` until a None, each record onto ``results``."""
    from weavewave.procs import die_with_parent

    die_with_parent(parent_pid)  # a killed batch leaves no worker writing behind it
    limit_threads(threads)
    from weavewave.neural.models import ModelCache

    cache = ModelCache()  # this process's models, loaded once and kept for every row it runs
    while True:
        task = tasks.get()
        if task is None:
            return
        if slot is not None:  # shared memory, written at once: a queue's message could die unsent with us
            slot.value = task["id"].encode()
        results.put(("start", task["id"], os.getpid()))
        crash_if_asked(task)
        results.put(("done", run_row(task, out, cache), os.getpid()))


def _run_pool(
    tasks: list[dict[str, Any]],
    out: str,
    n: int,
    finish: Callable[[dict[str, Any]], None],
    finished: Callable[[str], dict[str, Any] | None],
) -> None:
    """Local worker processes fed from one queue. A worker that dies (a crash in a native library) fails
    its row and is replaced, so the rest of the batch goes on. ``finished(id)``: a row's stored record, for
    rows whose worker wrote them but died before its report left its queue."""
    import multiprocessing
    import queue

    ctx = multiprocessing.get_context("spawn")  # no forked copies of this process's threads or locks
    threads = max(1, default_workers() // n)
    task_q, result_q = ctx.Queue(), ctx.Queue()
    by_id = {t["id"]: t for t in tasks}
    for task in tasks:
        task_q.put(task)
    # The row each worker holds, which the driver reads when the worker dies before it could say so.
    slots = [ctx.Array("c", ROW_SLOT_BYTES, lock=False) for _ in range(n)]

    def spawn(i: int) -> Any:
        # Not a daemon: a row renders in a child process of its own (daemons may not have children).
        slots[i].value = b""
        p = ctx.Process(target=_worker_main, args=(task_q, result_q, out, os.getpid(), threads, slots[i]))
        p.start()
        return p

    def settle(row_id: str, error: str, worker: int | None) -> None:
        """A row whose report never came: made after all when its folder is complete, else failed."""
        pending.discard(row_id)
        done = finished(row_id)
        finish({**done, "row": by_id[row_id]["row"]} if done is not None else
               failed_record(by_id[row_id], error, worker))  # fmt: skip

    procs = [spawn(i) for i in range(n)]
    running: dict[int, str] = {}  # worker pid -> row id
    pending = set(by_id)
    idle_since: float | None = None
    try:
        while pending:
            try:
                kind, payload, pid = result_q.get(timeout=WORKER_POLL_S)
            except queue.Empty:
                for i, p in enumerate(procs):
                    if p.is_alive():
                        continue
                    # The slot is written before a row starts; queue messages can die unsent with the worker
                    # (its last "done" among them), so the slot, not the last "start" seen, names its row.
                    held = running.pop(p.pid, None)
                    lost = slots[i].value.decode() or held
                    if lost is not None and lost in pending:
                        settle(lost, f"internal error: the worker process died (exit code {p.exitcode}); the "
                               "other rows went on: rerun the batch to try it again", p.pid)  # fmt: skip
                    if held is not None and held != lost and held in pending:
                        settle(
                            held,
                            "internal error: lost with a worker process that died; rerun the batch",
                            p.pid,
                        )
                    if pending:
                        procs[i] = spawn(i)
                # A worker that died between taking a row and reporting it took the row with it: when
                # nothing runs and nothing is queued for a while, the rows still missing are settled (a
                # rerun makes the failed ones), so the batch cannot wait forever.
                if running or not task_q.empty():
                    idle_since = None
                elif idle_since is None:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > LOST_ROW_WAIT_S:
                    for lost in sorted(pending, key=lambda i: by_id[i]["row"]):
                        settle(
                            lost,
                            "internal error: lost with a worker process that died; rerun the batch",
                            None,
                        )
                continue
            idle_since = None
            if kind == "start":
                running[pid] = payload
            elif payload["id"] in pending:
                running.pop(pid, None)
                pending.discard(payload["id"])
                finish(payload)
    finally:
        for _ in procs:
            task_q.put(None)
        for p in procs:
            p.join(timeout=2.0)
            if p.is_alive():
                p.kill()
                p.join()
