"""What the HTTP API and the web UI share: checking inputs, storing uploads, describing, submitting jobs.

Both faces call these functions, so a request from curl and a click in the page take the same path to
:mod:`weavewave.api`. Nothing here imports FastAPI or Gradio.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from weavewave.errors import BadInputError, FieldError
from weavewave.serve.jobs import job_dir, out_dir, served_brief
from weavewave.serve.settings import Settings
from weavewave.serve.sniff import EXPECTED, HEAD_BYTES, safe_stem, sniff
from weavewave.serve.store import ACTIVE, Job, JobStore

if TYPE_CHECKING:
    from weavewave.request import Request as WeaveRequest

__all__ = ["FieldError", "UnsupportedMedia", "Upload", "Submission", "build_request", "describe", "submit"]

CONTROL_FIELDS = ("duration", "tempo", "key", "meter", "genre", "instruments", "seed")
COPY_CHUNK = 1 << 20
UPLOAD_MARK = "upload:"  # stands for an upload's path until it is stored


class UnsupportedMedia(FieldError):
    """An upload whose bytes are not the kind its field takes (415)."""


@dataclass
class Upload:
    """One uploaded file before it is stored: an open binary stream and the name the client gave."""

    stream: IO[bytes]
    filename: str | None = None


@dataclass
class Submission:
    """A describe or generate request as it arrived through the HTTP API or the page: request fields
    (named as :class:`weavewave.request.Request`'s) and uploaded files, before they are stored.

    ``fields`` holds any request field; the named attributes are the page's shorthand for the same.
    """

    text: str | None = None
    image: list[Upload] = field(default_factory=list)
    video: Upload | None = None
    audio: Upload | None = None
    melody: Upload | None = None
    brief: str | dict[str, Any] | None = None
    controls: dict[str, Any] = field(default_factory=dict)
    backend: str | None = None  # None: the request's default (or the generator a brief records)
    stems: bool = False
    instruction: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)

    def uploads(self) -> dict[str, list[Upload]]:
        single = {name: getattr(self, name) for name in ("video", "audio", "melody")}
        return {"image": list(self.image)} | {k: [v] for k, v in single.items() if v is not None}

    def given(self) -> dict[str, Any]:
        """The request fields that were sent; empty values mean "not given", as browsers send them."""
        named = dict(text=self.text, brief=self.brief, backend=self.backend, stems=self.stems,
                     instruction=self.instruction)  # fmt: skip
        merged = {**named, **self.controls, **self.options, **self.fields}
        return {k: v for k, v in merged.items() if v is not None and v != "" and v is not False}


def build_request(sub: Submission, settings: Settings) -> WeaveRequest:
    """The checked :class:`~weavewave.request.Request` of a submission, with its uploads still unstored.

    Every check that can be made before any work is made here, so a bad value is a 422 naming its field
    rather than a job that fails minutes later. Unknown fields and fields the server does not take over
    HTTP (``soundfont``: the server's own) are refused by name; files come as uploads, never as paths.
    """
    from weavewave.request import PATH_FIELDS, UPLOADS, Request

    given = sub.given()
    if "library" in given:
        raise FieldError("library", "is not taken over HTTP: the server uses its own library (add tracks with "
                         "POST /v1/library/tracks, then ask for references or reference_track)")  # fmt: skip
    for name in given:
        info = Request.model_fields.get(name)
        extra = info.json_schema_extra if info is not None else None
        if info is None or (isinstance(extra, dict) and not extra.get("http", True)):
            raise FieldError(name, "is not a field this server takes")
        if name in PATH_FIELDS:
            raise FieldError(name, "send the file itself as an upload, not its path")
    if isinstance(given.get("brief"), str):  # JSON text; never a path: a client cannot name server files
        from weavewave.io.text import loads_json

        try:
            given["brief"] = loads_json(given["brief"], origin="brief")
        except BadInputError as exc:
            raise FieldError("brief", str(exc).removeprefix("brief: ")) from None
        if not isinstance(given["brief"], dict):
            raise FieldError("brief", "send the brief as a JSON object (the text of a brief.json)")
    uploads = sub.uploads()
    for name in UPLOADS:
        if uploads.get(name):
            given[name] = (
                [f"{UPLOAD_MARK}{i}" for i in range(len(uploads[name]))] if name == "image" else UPLOAD_MARK
            )
    given.setdefault("text_model", settings.text_model)
    request = Request.build(given)
    if request.uses_library():
        request = request.model_copy(
            update={"library": str(server_library(settings, request.reference_track))}
        )
    if request.brief is not None and request.brief.get("references"):
        request = request.model_copy(update={"brief": bind_references(request.brief, settings)})
    request.check_models()
    return request


def server_library(settings: Settings, track_ids: list[str] | None = None) -> Path:
    """The server's library folder, checked: it holds tracks, and every id in ``track_ids``.

    References over HTTP always come from here; an empty library or an unknown id is a 422 naming the field.
    """
    from weavewave.library.store import MARKER_NAME, open_library

    folder = settings.library_dir
    lib = open_library(folder, what="server library") if (folder / MARKER_NAME).is_file() else None
    if lib is None or lib.count() == 0:
        raise FieldError("reference_track" if track_ids else "references",
                         "the server's library holds no tracks yet: add some with POST /v1/library/tracks "
                         "(or the page's Library tab)")  # fmt: skip
    for track_id in track_ids or []:
        if lib.get(track_id) is None:
            raise FieldError("reference_track", f"{track_id!r}: no such track in the server's library; list "
                             "them with GET /v1/library/tracks")  # fmt: skip
    return folder


def bind_references(brief: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A brief's references added by hand (``lent`` empty) as the server's library tracks they name.

    Over HTTP such a reference names a track by ``track_id``; its path and content hash are the library's,
    so a client never makes the server read a file it names. References that already lent are records only.
    """
    refs = brief["references"]
    if not isinstance(refs, list) or all(isinstance(r, dict) and r.get("lent") for r in refs):
        return brief
    from weavewave.library.store import open_library

    bound = []
    for ref in refs:
        if isinstance(ref, dict) and not ref.get("lent"):
            track_id = str(ref.get("track_id") or "")
            if not track_id:
                raise FieldError("brief", "a reference added by hand names a track of the server's library by "
                                 "its track_id (GET /v1/library/tracks), not by a path")  # fmt: skip
            server_library(settings, [track_id])
            row = open_library(settings.library_dir, what="server library").get(track_id)
            assert row is not None  # server_library checked it
            ref = {**ref, "track_id": row["id"], "path": row["path"], "content_hash": row["content_hash"]}
            ref.setdefault("title", row["title"])
        bound.append(ref)
    return {**brief, "references": bound}


def check_request(sub: Submission, settings: Settings | None = None) -> dict[str, Any]:
    """Check a submission; returns its controls, normalised (``"f#m"`` -> ``"F# minor"``). Raises FieldError."""
    request = build_request(sub, settings or Settings())
    return {name: getattr(request, name) for name in CONTROL_FIELDS if getattr(request, name) is not None}


def store_upload(upload: Upload, field_name: str, folder: Path, limit_bytes: int) -> Path:
    """Copy an upload into ``folder/<field>/`` after checking its first bytes are that kind of file.

    The stored name is a cleaned stem of the client's name plus the extension of the sniffed format,
    so neither the name nor the claimed type can steer where or how it is read.
    """
    head = upload.stream.read(HEAD_BYTES)
    found = sniff(head)
    kind = "audio" if field_name == "melody" else field_name  # a melody is a recording like any other
    if found is None or found[0] != kind:
        what = f"looks like {found[0]} ({found[1]})" if found else "is not a format weavewave recognises"
        raise UnsupportedMedia(field_name, f"the uploaded file {what}; send {EXPECTED[kind]}")
    target_dir = folder / field_name
    target_dir.mkdir(parents=True, exist_ok=True)
    stem = safe_stem(upload.filename, field_name)
    target = target_dir / f"{stem}.{found[2]}"
    n = 1
    while target.exists():
        n += 1
        target = target_dir / f"{stem}-{n}.{found[2]}"
    written = len(head)
    with open(target, "wb") as fh:
        fh.write(head)
        while chunk := upload.stream.read(COPY_CHUNK):
            written += len(chunk)
            if written > limit_bytes:
                raise FieldError(field_name, "is larger than the server's upload limit")
            fh.write(chunk)
    return target


def _store_media(sub: Submission, request: WeaveRequest, folder: Path, settings: Settings) -> WeaveRequest:
    """Store every upload under ``folder``; the request with their paths in place of the upload marks."""
    stored: dict[str, Any] = {}
    for name, ups in sub.uploads().items():
        paths = [str(store_upload(up, name, folder, settings.max_upload_bytes)) for up in ups]
        if paths:
            stored[name] = paths if name == "image" else paths[0]
    return request.model_copy(update=stored)


def describe(sub: Submission, settings: Settings, cache: Any = None) -> dict[str, Any]:
    """The MusicBrief for a submission, as JSON-ready data. Uploads live in a temporary folder meanwhile.

    ``cache`` is the server's :class:`~weavewave.neural.models.ModelCache` (None: the process-wide one), so a
    describer or refiner model is loaded once for the server's lifetime, not once per request.
    """
    from weavewave import api
    from weavewave.neural.models import shared_cache

    request = build_request(sub, settings)
    tmp_root = settings.data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="describe-", dir=tmp_root))
    try:
        request = _store_media(sub, request, folder, settings)
        brief = api.describe(request, cache=cache if cache is not None else shared_cache())
        return served_brief(brief, settings.data_dir).to_dict()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def refine_brief(brief: Any, instruction: str) -> Any:
    """Rewrite a brief with an instruction ("warmer, add strings") through ``weavewave.bridge.refine``: the page's
    Refine button."""
    from weavewave.bridge.refine import refine

    return refine(brief, instruction)


def submit(sub: Submission, store: JobStore, settings: Settings) -> Job:
    """Check, store the uploads, and queue a generate job. Raises FieldError or QueueFull.

    The job's parameters are the request's given fields, with upload paths relative to the job's folder
    (see :func:`weavewave.serve.jobs.job_request`).
    """
    from weavewave.serve.store import new_job_id

    request = build_request(sub, settings)
    job_id = new_job_id()
    folder = job_dir(settings, job_id)
    try:
        request = _store_media(sub, request, folder / "inputs", settings)
        # The library is the server's own: the job finds it under the data folder when it runs.
        params = {"request": {k: v for k, v in _relative(request, folder).given().items() if k != "library"}}
        return store.submit(params, max_queue=settings.max_queue, job_id=job_id, brief=request.brief)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _relative(request: WeaveRequest, base: Path) -> WeaveRequest:
    """The request with its stored uploads' paths relative to ``base``, so a moved data folder still works."""
    update: dict[str, Any] = {"image": [str(Path(p).relative_to(base)) for p in request.image]}
    for name in ("video", "audio", "melody"):
        if getattr(request, name):
            update[name] = str(Path(getattr(request, name)).relative_to(base))
    return request.model_copy(update=update)


def artifact_path(settings: Settings, job: Job, name: str) -> Path | None:
    """The file for an artifact name, or None. Only names the job recorded are served, and only from
    inside its own folder, so '../' and absolute paths lead nowhere."""
    if name not in job.files or "/" in name or "\\" in name or name.startswith("."):
        return None
    folder = out_dir(settings, job.id).resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        return None
    return path


def remove_job(store: JobStore, settings: Settings, job_id: str) -> None:
    """Delete a finished job's row and folder (cancel active ones first)."""
    job = store.get(job_id)
    if job is not None and job.status in ACTIVE:
        raise BadInputError(f"job {job_id} is {job.status}: cancel it before deleting")
    store.delete(job_id)
    shutil.rmtree(job_dir(settings, job_id), ignore_errors=True)


def cleanup(store: JobStore, settings: Settings, now: float | None = None) -> list[str]:
    """Retention: delete jobs that finished more than ``settings.keep_days`` ago. Returns their ids."""
    now = time.time() if now is None else now
    removed = store.expired(now - settings.keep_days * 86400)
    for job_id in removed:
        remove_job(store, settings, job_id)
    tmp_root = settings.data_dir / "tmp"
    if tmp_root.is_dir():  # describe folders left by a crash mid-request
        for leftover in tmp_root.iterdir():
            if now - leftover.stat().st_mtime > 3600:
                shutil.rmtree(leftover, ignore_errors=True)
    return removed


def job_json(job: Job, prefix: str = "/v1") -> dict[str, Any]:
    """A job as the API shows it."""
    return {
        "id": job.id,
        "status": job.status,
        "progress": round(job.progress, 3),
        "message": job.message,
        "brief": job.brief,
        "error": job.error,
        "files": [{"name": n, "url": f"{prefix}/jobs/{job.id}/files/{n}"} for n in job.files],
        "attempts": job.attempts,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def warm_imports() -> None:
    """Import, once and before serving, what describe and generate requests import lazily.

    Python's import lock is per module: threads importing the same module for the first time at once can
    see it half-initialised, which answered the first requests of a burst with 500s (39 of 200).
    Heavy optional modules (torch, gradio's models) stay lazy: only weavewave's own light modules load.
    """
    from weavewave import api  # noqa: F401
    from weavewave.bridge.picture import score_brief  # noqa: F401
    from weavewave.bridge.refine import refine  # noqa: F401
    from weavewave.export.track import save_track  # noqa: F401
    from weavewave.io.text import loads_json  # noqa: F401
    from weavewave.perceive.audio import perceive_audio  # noqa: F401
    from weavewave.perceive.image import perceive_image  # noqa: F401
    from weavewave.perceive.text import perceive_text  # noqa: F401
    from weavewave.perceive.video import perceive_video  # noqa: F401
    from weavewave.request import Request  # noqa: F401
    from weavewave.serve.picture import save_picture  # noqa: F401
