"""The HTTP API (FastAPI) and the app that also mounts the web UI.

Endpoints (all under /v1 need ``Authorization: Bearer <token>`` when the server has a token):

- ``POST /v1/describe``: inputs and controls -> the MusicBrief, at once.
- ``POST /v1/generate``: inputs, controls or a brief -> a queued job (202), its id and URL.
- ``GET /v1/jobs``, ``GET /v1/jobs/{id}``: status, progress, brief, error, files.
- ``GET /v1/jobs/{id}/files/{name}``: an artifact (``music.wav``, ``music.mid``, ``brief.json``, ...).
- ``DELETE /v1/jobs/{id}``: cancel a queued or running job; delete a finished one.
- ``POST /v1/batches``: a manifest (and its input files) -> one queued job per row; ``GET /v1/batches/{id}``.
- ``POST /v1/annotate``: uploaded music (and photos) -> a queued job whose result is a training dataset
  (``dataset.zip``, ``summary.json``); see :mod:`weavewave.serve.annotate`.
- ``GET /healthz``; the OpenAPI document at ``/openapi.json`` and its browser at ``/docs``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from weavewave import __version__
from weavewave.errors import BadInputError, DiskFullError, FieldError, is_disk_full
from weavewave.serve import service
from weavewave.serve.datalock import DataDirLock
from weavewave.serve.guard import Guard, allowed_hosts, token_ok
from weavewave.serve.jobs import WorkerPool, disk_full_reason, public_message
from weavewave.serve.service import UnsupportedMedia
from weavewave.serve.settings import Settings
from weavewave.serve.store import ACTIVE, STATUSES, JobStore, QueueFull

CLEANUP_EVERY_S = 600.0
# Far past any real job list, and well inside SQLite's 64-bit integers (an offset past them was a 500).
MAX_OFFSET = 10**9
MEDIA_TYPES = {
    "wav": "audio/wav",
    "mid": "audio/midi",
    "json": "application/json",
    "png": "image/png",
    "zip": "application/zip",
    "mp4": "video/mp4",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
}
INLINE = {"wav", "png", "mp4", "json", "flac", "mp3"}


class BodyLimit:
    """413 for request bodies over the limit, whether or not they declare their length.

    A declared Content-Length over the limit is refused before reading. A chunked body is counted as it
    streams; once over, whatever the app answers is replaced by the 413.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen, over = 0, False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded(message: Message) -> None:
            if over:
                if message["type"] == "http.response.start":
                    await self._refuse(send)
                return
            await send(message)

        await self.app(scope, counted, guarded)

    async def _refuse(self, send: Send) -> None:
        mb = self.limit / (1024 * 1024)
        await JSONResponse(
            {
                "detail": f"request body is larger than the server's upload limit ({mb:g} MiB): "
                "send a smaller file or start the server with a larger --max-upload-mb"
            },
            status_code=413,
        )({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def _field_422(field: str, message: str) -> JSONResponse:
    """The same shape as FastAPI's own validation errors, naming the field."""
    return JSONResponse(
        {"detail": [{"loc": ["body", field], "msg": message, "type": "value_error"}]}, status_code=422
    )


def create_app(
    settings: Settings, *, start_workers: bool = True, data_lock: DataDirLock | None = None
) -> FastAPI:
    """The whole server: API, worker pool, retention sweeps and (with ``settings.ui``) the web UI.

    While it runs (its lifespan) the app holds ``data_lock``, or takes its own, on ``settings.data_dir``:
    a second server over the same folder is refused rather than running its jobs twice.
    """
    settings = settings.validated()
    settings.jobs_dir.mkdir(parents=True, exist_ok=True)
    prepare_database(settings)
    store = JobStore(settings.db_path)
    pool = WorkerPool(settings, store)
    stop_sweeps = threading.Event()

    def sweeps() -> None:
        while not stop_sweeps.wait(CLEANUP_EVERY_S):
            service.cleanup(store, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lock = data_lock or DataDirLock(settings.data_dir)
        own_lock = not lock.held
        lock.acquire()  # before recover(): it re-queues every running row, which only the holder may do
        store.recover(settings.max_attempts)
        store.backup()  # the last good state, for --restore-jobs after a damaged database
        service.cleanup(store, settings)
        service.warm_imports()  # before the first request: concurrent first imports answered 500
        if start_workers:
            pool.start()
        sweeper = threading.Thread(target=sweeps, name="weavewave-retention", daemon=True)
        sweeper.start()
        try:
            yield
        finally:
            stop_sweeps.set()
            if start_workers:
                pool.stop()
            if own_lock:
                lock.release()

    app = FastAPI(
        title="weavewave",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # serve.docs serves /docs and /redoc from installed assets (offline)
        redoc_url=None,
        description="Turn text, photos, videos and tunes into music. Describe first, edit the brief, "
        "then generate; jobs persist across restarts.",
    )
    app.state.settings, app.state.store, app.state.pool = settings, store, pool
    # Describe requests run in this process; their describer/refiner models load once, here. (Generate
    # jobs run in the workers, each with a cache of its own.)
    from weavewave.neural.models import ModelCache

    cache = app.state.cache = ModelCache()

    # Messages to clients never carry the server's absolute paths (public_message cuts them to file names).
    @app.exception_handler(FieldError)
    async def _field_error(request: Request, exc: FieldError) -> JSONResponse:
        if isinstance(exc, UnsupportedMedia):
            return JSONResponse({"detail": public_message(str(exc))}, status_code=415)
        return _field_422(exc.field, public_message(exc.reason))

    @app.exception_handler(BadInputError)
    async def _bad_input(request: Request, exc: BadInputError) -> JSONResponse:
        if isinstance(exc, DiskFullError):
            return _disk_full()
        return _field_422("inputs", public_message(str(exc)))

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> JSONResponse:
        if is_disk_full(exc):  # storing an upload, say: the server's problem, said plainly (507)
            return _disk_full()
        raise exc  # anything else stays an internal error (500), its details in the server's log

    def _disk_full() -> JSONResponse:
        return JSONResponse({"detail": disk_full_reason(None)}, status_code=507)

    @app.exception_handler(QueueFull)
    async def _queue_full(request: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse(
            {
                "detail": f"the job queue is full ({settings.max_queue} waiting); retry after "
                f"{exc.retry_after} s"
            },
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )

    @app.get("/healthz", tags=["server"])
    def healthz(request: Request) -> JSONResponse:
        """Liveness: ``status`` for anyone (503 while no worker can run a job); with the token (or with
        none set) also the version, workers and job counts."""
        status, reason = pool.health() if start_workers else ("ok", "")
        if settings.token and not token_ok(dict(request.scope["headers"]), settings.token):
            return JSONResponse({"status": status}, status_code=200 if status == "ok" else 503)
        body: dict[str, Any] = {
            "status": status,
            "version": __version__,
            "workers": settings.workers,
            "workers_alive": pool.alive(),
        }
        if reason:
            body["reason"] = reason
        try:
            body["jobs"] = store.counts()
        except Exception as exc:  # the database is what is wrong: say so rather than answer 500
            status, body["status"], body["reason"] = "unhealthy", "unhealthy", f"job database: {exc}"
        return JSONResponse(body, status_code=200 if status == "ok" else 503)

    app.include_router(_router(settings, store, cache))
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes)
    from weavewave.serve.docs import mount_docs

    mount_docs(app)  # before the page: its mount at / would answer /docs otherwise
    if settings.ui:
        from weavewave.serve.ui import mount_ui

        mount_ui(app, settings, store, cache)
    # Outermost: Host and Origin checks, the token on the docs, login throttling, body deadlines.
    app.add_middleware(
        Guard, hosts=allowed_hosts(settings.host, settings.port, settings.allow_hosts), token=settings.token
    )
    return app


def prepare_database(settings: Settings) -> None:
    """Check the jobs database before it is opened; apply ``--reset-jobs`` or ``--restore-jobs``.

    A damaged database (unreadable pages, not SQLite, 0 bytes) stops the start with one line that names
    both ways forward, rather than a traceback or a silent empty queue.
    """
    import datetime

    from weavewave.serve.store import backup_path, database_problem, restore_backup, set_aside

    db = settings.db_path
    if settings.restore_jobs:
        try:
            aside = restore_backup(db)
        except ValueError as exc:
            raise BadInputError(f"--restore-jobs: {exc}; start empty with --reset-jobs instead") from None
        if aside is not None:
            sys.stderr.write(
                f"weavewave: restored the jobs backup; the previous database is kept as {aside}\n"
            )
    elif settings.reset_jobs:
        aside = set_aside(db)
        if aside is not None:
            sys.stderr.write(f"weavewave: starting with no jobs; the previous database is kept as {aside}\n")
    problem = database_problem(db)
    if problem is None:
        return
    backup = backup_path(db)
    if database_problem(backup) is None and backup.is_file():
        when = datetime.datetime.fromtimestamp(backup.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        way = f"restart with --restore-jobs to go back to the backup of the last clean start ({when}), or "
    else:
        way = "there is no usable backup: "
    raise BadInputError(
        f"the jobs database {db} is damaged ({problem}): {way}restart with --reset-jobs to start with no "
        "jobs (either way the damaged file is kept beside it)"
    )


def _auth(settings: Settings):
    """A dependency: with a token set, /v1 needs ``Authorization: Bearer <token>``."""

    def check(request: Request) -> None:
        if not settings.token:
            return
        if not token_ok(dict(request.scope["headers"]), settings.token):
            raise HTTPException(
                401,
                "missing or wrong API token: send 'Authorization: Bearer <token>' with the "
                "token the server was started with",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check


def _request_schema() -> dict[str, Any]:
    """The request body in the OpenAPI document: every field :class:`weavewave.request.Request` offers over
    HTTP, with the files as uploads."""
    from weavewave.request import UPLOADS, Request

    schema = Request.model_json_schema()
    properties: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        if not prop.get("http", True):
            continue
        prop = {k: v for k, v in prop.items() if k not in ("group", "metavar", "http")}
        if name in UPLOADS:
            binary = {"type": "string", "format": "binary"}
            prop = {"type": "array", "items": binary} if name == "image" else binary
            prop["description"] = Request.model_fields[name].description or ""
        elif name == "brief":
            prop = {"type": "string", "description": "a brief.json to reproduce or vary, as JSON text"}
        properties[name] = prop
    body = {"type": "object", "properties": properties, "additionalProperties": False}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": body},
                                                          "application/json": {"schema": body}}}}  # fmt: skip


async def _submission(request: Request) -> service.Submission:
    """The request fields and uploads of a describe or generate call (multipart form, URL-encoded form or a
    JSON object of fields). Unknown names are refused later, by :func:`service.build_request`."""
    from weavewave.io.text import loads_json

    if request.headers.get("content-type", "").startswith("application/json"):
        data = loads_json((await request.body()).decode("utf-8", "replace"), origin="request body")
        if not isinstance(data, dict):
            raise FieldError("request", "the JSON body must be an object of request fields")
        return service.Submission(fields=dict(data))
    form = await request.form()
    sub = service.Submission()
    for name, value in form.multi_items():
        if isinstance(value, StarletteUpload):
            # Browsers send an empty part for an unused file input; that is "no file", not a bad one.
            if not value.filename and (value.size or 0) == 0:
                continue
            upload = service.Upload(value.file, value.filename)
            if name == "image":
                sub.image.append(upload)
            elif name in ("video", "audio", "melody") and getattr(sub, name) is None:
                setattr(sub, name, upload)
            else:
                raise FieldError(
                    name, "takes no file" if name not in ("video", "audio", "melody") else "send one file"
                )
        elif name in sub.fields:
            raise FieldError(name, "was sent twice: send it once")
        else:
            sub.fields[name] = value
    return sub


async def _post_batch(request: Request, settings: Settings, store: JobStore) -> JSONResponse:
    """A batch upload: its manifest and files stored in a temporary folder while the rows are checked."""
    import shutil
    import tempfile
    from pathlib import Path

    from weavewave.batch.manifest import ManifestError
    from weavewave.serve.batches import UPLOAD_NAME, submit_batch

    form = await request.form()
    manifest: Any = None
    tmp_root = settings.data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="batch-", dir=tmp_root))
    try:
        uploads: dict[str, Path] = {}
        for name, value in form.multi_items():
            if not isinstance(value, StarletteUpload):
                raise FieldError(name, "send the manifest and input files as file parts")
            if name == "manifest":
                if manifest is not None:
                    raise FieldError("manifest", "was sent twice: send one manifest")
                manifest = (
                    value.filename or "manifest.jsonl",
                    await value.read(settings.max_upload_bytes + 1),
                )
                if len(manifest[1]) > settings.max_upload_bytes:
                    raise FieldError("manifest", "is larger than the server's upload limit")
            elif name == "files":
                fname = value.filename or ""
                if not UPLOAD_NAME.match(fname) or fname in uploads:
                    raise FieldError("files", f"{fname!r}: give each file a plain, distinct file name")
                target = folder / f"{len(uploads)}"
                with open(target, "wb") as fh:
                    shutil.copyfileobj(value.file, fh)
                uploads[fname] = target
            else:
                raise FieldError(name, "is not a part of a batch: send 'manifest' and 'files'")
        if manifest is None:
            raise FieldError("manifest", "is missing: send the manifest (JSON Lines or CSV) as a file part")
        try:
            batch = await run_in_threadpool(submit_batch, manifest[0], manifest[1], uploads, store, settings)
        except ManifestError as exc:  # every bad row, each naming its row and field
            detail = [{"loc": ["manifest", row, name], "msg": public_message(reason), "type": "value_error"}
                      for row, name, reason in exc.errors]  # fmt: skip
            return JSONResponse({"detail": detail}, status_code=422)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return JSONResponse(batch, status_code=202, headers={"Location": f"/v1/batches/{batch['id']}"})


async def _post_annotate(request: Request, settings: Settings, store: JobStore) -> JSONResponse:
    """An annotate upload: audio ``files``, optional ``images`` and the options, checked before queuing."""
    from weavewave.serve.annotate import submit_annotate

    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise FieldError("files", "send a multipart form: audio as 'files' parts, options as fields")
    form = await request.form()  # counts are checked before anything is stored in a job's folder
    uploads: list[tuple[str, Any, str | None]] = []
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if isinstance(value, StarletteUpload):
            if name not in ("files", "images", "captions"):
                raise FieldError(name, "takes no file: send audio as 'files', photos as 'images', captions as "
                                 "'captions'")  # fmt: skip
            if not value.filename and (value.size or 0) == 0:  # an unused file input
                continue
            uploads.append((name, value.file, value.filename))
        elif name in fields:
            raise FieldError(name, "was sent twice: send it once")
        else:
            fields[name] = value
    job = await run_in_threadpool(submit_annotate, uploads, fields, store, settings)
    return JSONResponse(service.job_json(job), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


def _router(settings: Settings, store: JobStore, cache: Any = None) -> APIRouter:
    router = APIRouter(prefix="/v1", dependencies=[Depends(_auth(settings))])

    def job_or_404(job_id: str):
        job = store.get(job_id) if job_id.isalnum() else None
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}: list jobs with GET /v1/jobs")
        return job

    @router.post("/describe", tags=["music"], openapi_extra=_request_schema())
    async def describe(request: Request) -> dict[str, Any]:
        """The MusicBrief the music would be made from: caption, attributes, sections, provenance. No audio.

        The body holds the fields of ``weavewave describe`` (named as its options, with ``_`` for ``-``)."""
        sub = await _submission(request)
        return await run_in_threadpool(service.describe, sub, settings, cache)

    @router.post("/generate", status_code=202, tags=["music"], openapi_extra=_request_schema())
    async def generate(request: Request) -> JSONResponse:
        """Queue a piece; answers at once with the job. Poll ``GET /v1/jobs/{id}`` until it has finished.

        The body holds the fields of ``weavewave generate`` (named as its options, with ``_`` for ``-``)."""
        sub = await _submission(request)
        job = await run_in_threadpool(service.submit, sub, store, settings)
        return JSONResponse(
            service.job_json(job), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"}
        )

    @router.post("/batches", status_code=202, tags=["batches"])
    async def post_batch(request: Request) -> JSONResponse:
        """Queue a manifest's rows as jobs: a multipart form with ``manifest`` (JSON Lines or CSV, rows as
        for ``weavewave batch``) and ``files`` parts that rows name by file name (or rows give URLs).

        Every row is checked first; bad rows are one 422 naming each row and field. Poll
        ``GET /v1/batches/{id}``."""
        return await _post_batch(request, settings, store)

    from weavewave.serve.annotate import openapi_body

    @router.post("/annotate", status_code=202, tags=["training"], openapi_extra=openapi_body())
    async def post_annotate(request: Request) -> JSONResponse:
        """Queue an annotation job: a multipart form with audio ``files`` parts, optional ``images`` parts
        (photos paired with segments) and the fields ``segment`` (seconds, or ``sections``), ``review``
        (``correct`` or ``reject``) and ``licence``.

        Counts, kinds, sizes, the total duration and the options are checked first (422 naming the field).
        Poll ``GET /v1/jobs/{id}``; the finished job serves ``dataset.zip`` and ``summary.json``."""
        return await _post_annotate(request, settings, store)

    @router.get("/batches/{batch_id}", tags=["batches"])
    def get_batch(batch_id: str) -> dict[str, Any]:
        """A batch's state (queued, running, succeeded, finished), counts by status, and each row's job."""
        from weavewave.serve.batches import batch_json, load_batch

        record = load_batch(settings, batch_id)
        if record is None:
            raise HTTPException(404, f"no batch {batch_id!r}: POST /v1/batches makes one")
        return batch_json(record, store)

    @router.get("/jobs", tags=["jobs"])
    def list_jobs(
        status: Annotated[str | None, Query(description="|".join(STATUSES))] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        """Jobs, newest first, with counts by status."""
        if status is not None and status not in STATUSES:
            raise FieldError("status", f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
        return {
            "jobs": [service.job_json(j) for j in store.list(status=status, limit=limit, offset=offset)],
            "counts": store.counts(),
        }

    @router.get("/jobs/{job_id}", tags=["jobs"])
    def get_job(job_id: str) -> dict[str, Any]:
        """Status (queued, running, succeeded, failed, cancelled), progress, brief, error and files."""
        return service.job_json(job_or_404(job_id))

    @router.get("/jobs/{job_id}/files/{name}", tags=["jobs"])
    def get_file(job_id: str, name: str) -> FileResponse:
        """Download an artifact of a finished job, by a name listed in its ``files``."""
        job = job_or_404(job_id)
        path = service.artifact_path(settings, job, name)
        if path is None:
            raise HTTPException(
                404,
                f"job {job_id} has no file {name!r}"
                + ("" if job.status == "succeeded" else f": it is {job.status}"),
            )
        ext = name.rsplit(".", 1)[-1]
        return FileResponse(
            path,
            media_type=MEDIA_TYPES.get(ext, "application/octet-stream"),
            filename=f"weavewave-{job_id[:8]}-{name}",
            content_disposition_type="inline" if ext in INLINE else "attachment",
        )

    @router.delete("/jobs/{job_id}", tags=["jobs"])
    def delete_job(job_id: str) -> dict[str, Any]:
        """Cancel a queued or running job (a running one stops at its next progress step); delete a finished
        one with its files."""
        job = job_or_404(job_id)
        if job.status in ACTIVE:
            cancelled = store.cancel(job_id)
            assert cancelled is not None
            return service.job_json(cancelled)
        service.remove_job(store, settings, job_id)
        return {"id": job_id, "status": job.status, "deleted": True}

    from weavewave.serve.library import library_router

    router.include_router(library_router(settings))
    return router
