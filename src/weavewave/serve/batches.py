"""Batches over HTTP: a manifest upload whose rows become jobs in the server's queue.

``POST /v1/batches`` takes a multipart form: ``manifest`` (JSON Lines or CSV, rows as for
``weavewave batch``) and any number of ``files`` parts. A row names its input files by the uploaded
file's name (``{"image": "cat.png"}`` with a ``files`` part named ``cat.png``) or by a URL of a remote
filesystem (``https://``, ``s3://``, ...), which the server fetches, within its upload limit. A row never
names a file on the server. Every row is checked before any job is queued; bad rows are one 422 naming
each row and field. ``GET /v1/batches/{id}`` reads the row jobs' states.

A batch is a small JSON record (``<data-dir>/batches/<id>.json``) listing its rows' jobs; the jobs are
ordinary jobs, run, retried and cleaned up as any other.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from weavewave.errors import FieldError
from weavewave.serve.jobs import job_dir
from weavewave.serve.settings import Settings
from weavewave.serve.sniff import EXPECTED, HEAD_BYTES, sniff
from weavewave.serve.store import ACTIVE, JobStore, QueueFull, new_job_id

BATCHES_DIR = "batches"
# Remote filesystems a row may name; never file://, local:// or memory://, which would read the server.
REMOTE_SCHEMES = ("http", "https", "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss")
# Upload names a row may refer to: plain file names, no folders.
UPLOAD_NAME = re.compile(r"^[^/\\\x00]{1,255}$")
MEDIA_FIELDS = ("image", "video", "audio", "melody")
QUEUE_FULL_RETRY_S = 60
COPY_CHUNK = 1 << 20


def batches_dir(settings: Settings) -> Path:
    return settings.data_dir / BATCHES_DIR


def submit_batch(
    manifest_name: str, manifest_bytes: bytes, uploads: dict[str, Path], store: JobStore, settings: Settings
) -> dict[str, Any]:
    """Check every row, then queue one job per row; returns the batch as the API shows it.

    ``uploads`` maps the uploaded files' names to where they were stored (a temporary folder the caller
    removes). Raises FieldError (one row) or ManifestError (all bad rows), QueueFull when the queue cannot
    take every row.
    """
    from weavewave.batch.manifest import check_rows, read_rows

    try:
        text = manifest_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise FieldError("manifest", "is not UTF-8 text: send JSON Lines or CSV") from None
    fetch_dir = Path(tempfile.mkdtemp(prefix="batch-fetch-", dir=_tmp(settings)))
    try:

        def resolve(name: str, value: str) -> str:
            return _resolve_input(name, value, uploads, fetch_dir, settings)

        parsed = [(n, _with_defaults(d, settings)) for n, d in read_rows(text, manifest_name)]
        rows = check_rows(parsed, manifest_name, base=None, resolve=resolve)
        library_checked = [_library_fields(row.number, dict(row.fields), settings) for row in rows]
        queued = store.counts().get("queued", 0)
        if queued + len(rows) > settings.max_queue:
            raise QueueFull(QUEUE_FULL_RETRY_S)
        batch_id = new_job_id()
        entries = []
        for row, given in zip(rows, library_checked, strict=True):
            job_id = new_job_id()
            folder = job_dir(settings, job_id)
            for name in MEDIA_FIELDS:  # each job keeps its own copy, as an uploaded job does
                value = given.get(name)
                if value is None:
                    continue
                paths = value if isinstance(value, list) else [value]
                stored = [_copy_in(Path(p), folder / "inputs" / name, i) for i, p in enumerate(paths)]
                rel = [str(p.relative_to(folder)) for p in stored]
                given[name] = rel if isinstance(value, list) else rel[0]
            if isinstance(given.get("brief"), str):
                given["brief"] = json.loads(given["brief"])
            params = {"request": given, "batch": batch_id, "row": row.number}
            store.submit(params, max_queue=settings.max_queue + len(rows), job_id=job_id,
                         brief=given.get("brief"))  # fmt: skip
            entries.append({"row": row.number, "id": row.id, "job": job_id})
        record = {"id": batch_id, "manifest": manifest_name, "rows": entries}
        folder = batches_dir(settings)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{batch_id}.tmp"
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, folder / f"{batch_id}.json")
        return batch_json(record, store)
    finally:
        shutil.rmtree(fetch_dir, ignore_errors=True)


def _tmp(settings: Settings) -> Path:
    folder = settings.data_dir / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _library_fields(number: int, given: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A row's references checked against the server's own library, as a single request's are; a brief's
    hand-added references bound to the library tracks they name (never to a path the row gives)."""
    from weavewave.serve.service import bind_references, server_library

    try:
        if given.get("references") is not None or given.get("reference_track"):
            ids = given.get("reference_track") or []
            server_library(settings, [ids] if isinstance(ids, str) else list(ids))
        brief = given.get("brief")
        if isinstance(brief, str):
            brief = given["brief"] = json.loads(brief)
        if isinstance(brief, dict) and brief.get("references"):
            given["brief"] = bind_references(brief, settings)
    except FieldError as exc:
        raise FieldError(exc.field, f"row {number}: {exc.reason}") from None
    return given


def _with_defaults(data: dict[str, Any] | str, settings: Settings) -> dict[str, Any] | str:
    """A row with the server's text reader as its default, as a single generate request gets it."""
    if isinstance(data, dict):
        from weavewave.request import Request

        for name in data:
            info = Request.model_fields.get(name)
            extra = info.json_schema_extra if info is not None else None
            if isinstance(extra, dict) and not extra.get("http", True):
                return f"{name}: is not a field this server takes"
        return {"text_model": settings.text_model, **data}
    return data


def _resolve_input(
    name: str, value: str, uploads: dict[str, Path], fetch_dir: Path, settings: Settings
) -> str:
    """An uploaded file's stored path, or a fetched URL's; checked to be the kind of file ``name`` takes."""
    from weavewave.batch.manifest import is_url

    if name == "brief":
        if value.lstrip().startswith("{"):
            return value
        raise FieldError(name, "give the brief itself as a JSON object in the row, not a file name")
    if name not in MEDIA_FIELDS:
        raise FieldError(name, "is not a field this server takes")
    if is_url(value):
        scheme = value.split("://", 1)[0].lower()
        if scheme not in REMOTE_SCHEMES:
            raise FieldError(name, f"{scheme}:// is not fetched by the server: use {', '.join(REMOTE_SCHEMES)}, "
                             "or upload the file")  # fmt: skip
        path = _fetch_limited(name, value, fetch_dir, settings.max_upload_bytes)
    elif value in uploads:
        path = uploads[value]
    else:
        raise FieldError(name, f"{value!r} is neither an uploaded file (send it as a 'files' part with that "
                         "name) nor a URL; a batch cannot name files on the server")  # fmt: skip
    kind = "audio" if name == "melody" else name
    with open(path, "rb") as fh:
        found = sniff(fh.read(HEAD_BYTES))
    if found is None or found[0] != kind:
        what = f"looks like {found[0]} ({found[1]})" if found else "is not a format weavewave recognises"
        raise FieldError(name, f"{value}: the file {what}; send {EXPECTED[kind]}")
    return str(path)


def _fetch_limited(name: str, url: str, folder: Path, limit: int) -> Path:
    from weavewave.batch.manifest import fsspec_module

    target = folder / f"{len(list(folder.iterdir()))}-{Path(url.split('?', 1)[0]).name or 'input'}"
    written = 0
    try:
        with fsspec_module().open(url, "rb") as src, open(target, "wb") as dst:
            while chunk := src.read(COPY_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise FieldError(name, f"{url} is larger than the server's upload limit")
                dst.write(chunk)
    except FieldError:
        raise
    except Exception as exc:  # network and auth errors vary by filesystem
        raise FieldError(name, f"{url}: cannot fetch it ({type(exc).__name__})") from None
    return target


def _copy_in(source: Path, folder: Path, index: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{index}-{re.sub(r'[^A-Za-z0-9._-]', '_', source.name)[-100:]}"
    shutil.copyfile(source, target)
    return target


def load_batch(settings: Settings, batch_id: str) -> dict[str, Any] | None:
    """A batch's record, or None (ids are alphanumeric, so a path cannot be smuggled in)."""
    if not batch_id.isalnum():
        return None
    try:
        return dict(json.loads((batches_dir(settings) / f"{batch_id}.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def batch_json(record: dict[str, Any], store: JobStore, prefix: str = "/v1") -> dict[str, Any]:
    """A batch as the API shows it: its state, counts by job status, and each row's job."""
    rows: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for entry in record["rows"]:
        job = store.get(entry["job"])
        status = job.status if job is not None else "deleted"
        counts[status] = counts.get(status, 0) + 1
        rows.append({**entry, "status": status, "error": job.error if job is not None else None,
                     "url": f"{prefix}/jobs/{entry['job']}",
                     "files": [f"{prefix}/jobs/{entry['job']}/files/{n}" for n in (job.files if job else [])]})  # fmt: skip
    if any(s in ACTIVE for s in counts):
        state = "running" if counts.get("running") or len(counts) > 1 else "queued"
    else:
        state = "succeeded" if set(counts) == {"succeeded"} else "finished"
    return {"id": record["id"], "status": state, "manifest": record.get("manifest"), "total": len(rows),
            "counts": counts, "rows": rows}  # fmt: skip
