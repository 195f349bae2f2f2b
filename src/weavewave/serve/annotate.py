"""Annotation over HTTP: uploaded music becomes a training dataset, as a job in the server's queue.

``POST /v1/annotate`` takes a multipart form: ``files`` parts (the audio, one part per track), optional
``images`` parts (photos to pair with segments, as ``weavewave annotate --images``), optional
``captions`` parts (the user's caption of a track, ``TRACK.txt`` for ``TRACK.wav``, checked by the
reviewer) and the fields ``segment`` (seconds, or ``sections``), ``review`` (``correct`` or ``reject``) and
``licence``. Everything
that can be checked before any work is checked at once, each refusal a 422 naming its field: the number
of files, that each one is audio (or an image) by its bytes, the upload limit, the total duration, the
options. Then the files are stored in the job's folder and the job is queued like any other: its status
and progress come from ``GET /v1/jobs/{id}``, and a finished job serves ``dataset.zip`` (the dataset
folder, which ``datasets.load_dataset`` reads once unpacked) and ``summary.json`` (the run's counts and
skipped files). A client never names a file on the server; a file that passes the checks but cannot be
decoded is skipped and listed in the dataset, as on the command line.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from weavewave.errors import BadInputError, FieldError
from weavewave.serve.jobs import job_dir
from weavewave.serve.settings import Settings
from weavewave.serve.sniff import EXPECTED, HEAD_BYTES, safe_stem, sniff
from weavewave.serve.store import Job, JobStore

JOB_KIND = "annotate"  # params["kind"] of an annotate job; generate jobs have none
MAX_FILES = 200  # audio files per job: a folder of albums, not a whole collection
MAX_IMAGES = 200
MAX_TOTAL_S = 2 * 3600.0  # two hours of music per job (about 12 minutes of work at 10 s segments)
MAX_LICENCE_CHARS = 500
MAX_CAPTION_BYTES = 4096  # a caption is a sentence or two, not a document
FIELDS = ("segment", "review", "licence")
REVIEW_ACTIONS = ("correct", "reject")
MUSIC_DIR, IMAGES_DIR = "music", "images"  # under the job's inputs/
DATASET_ZIP = "dataset.zip"
SUMMARY_FILE = "summary.json"
ZIP_ROOT = "dataset"  # the folder the archive unpacks into
COPY_CHUNK = 1 << 20


def check_fields(fields: dict[str, str]) -> dict[str, Any]:
    """The annotate options, checked and normalised; FieldError (422) names a bad one."""
    from weavewave.train.annotate import DEFAULT_SEGMENT_S, parse_segment

    for name in fields:
        if name not in FIELDS:
            raise FieldError(
                name, f"is not an annotate option: send {', '.join(FIELDS)}, 'files' and 'images'"
            )
    try:
        segment = parse_segment(fields.get("segment") or DEFAULT_SEGMENT_S)
    except BadInputError as exc:
        raise FieldError("segment", str(exc).removeprefix("--segment ")) from None
    review = (fields.get("review") or "correct").strip().lower()
    if review not in REVIEW_ACTIONS:
        raise FieldError("review", f"{review!r}: use {' or '.join(REVIEW_ACTIONS)}")
    licence = " ".join((fields.get("licence") or "").split()) or None
    if licence is not None and len(licence) > MAX_LICENCE_CHARS:
        raise FieldError("licence", f"is {len(licence)} characters long: keep it under {MAX_LICENCE_CHARS}")
    return {"segment": segment, "review": review, "licence": licence}


def openapi_body() -> dict[str, Any]:
    """The request body of ``POST /v1/annotate`` in the OpenAPI document (the route reads the form itself)."""
    files = {"type": "array", "items": {"type": "string", "format": "binary"}}
    properties = {
        "files": {**files, "maxItems": MAX_FILES, "description": f"{EXPECTED['audio']} per part; at most "
                  f"{MAX_FILES} files and {MAX_TOTAL_S / 60:.0f} minutes in all"},
        "images": {**files, "maxItems": MAX_IMAGES, "description": "photos to pair with segments: "
                   f"{EXPECTED['image']} per part"},
        "captions": {**files, "maxItems": MAX_FILES, "description": "your own captions, one UTF-8 text file per "
                     "track named after it (TRACK.txt for TRACK.wav), checked by the reviewer"},
        "segment": {"type": "string", "default": "10", "description": "segment length in seconds (2 to 30), or "
                    "'sections' (the detected sections)"},
        "review": {"type": "string", "enum": list(REVIEW_ACTIONS), "default": "correct",
                   "description": "what the reviewer does with a caption its measurements contradict"},
        "licence": {"type": "string", "maxLength": MAX_LICENCE_CHARS,
                    "description": "the licence of the music, as you hold it (recorded in the dataset card)"},
    }  # fmt: skip
    schema = {
        "type": "object",
        "properties": properties,
        "required": ["files"],
        "additionalProperties": False,
    }
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def store_file(
    stream: IO[bytes], filename: str | None, field: str, kind: str, folder: Path, limit: int
) -> Path:
    """Copy one upload into ``folder`` after checking, by its first bytes, that it is ``kind``.

    The stored name is a cleaned stem of the client's name (made distinct) plus the sniffed format's
    extension, so neither the name nor a claimed type can steer where or how it is read.
    """
    head = stream.read(HEAD_BYTES)
    found = sniff(head)
    shown = safe_stem(filename, field)
    if found is None or found[0] != kind:
        what = f"looks like {found[0]} ({found[1]})" if found else "is not a format weavewave recognises"
        raise FieldError(field, f"{shown}: the file {what}; send {EXPECTED[kind]}")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{shown}.{found[2]}"
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{shown}-{n}.{found[2]}"
    written = len(head)
    with open(target, "wb") as fh:
        fh.write(head)
        while chunk := stream.read(COPY_CHUNK):
            written += len(chunk)
            if written > limit:
                raise FieldError(field, f"{shown}: is larger than the server's upload limit")
            fh.write(chunk)
    return target


def store_caption(stream: IO[bytes], filename: str | None, tracks: dict[str, Path]) -> Path:
    """Store a user's caption (``TRACK.txt``) beside the uploaded track it names, where annotate reads it.

    Raises FieldError when it names no uploaded track, is too long, or is not UTF-8 text.
    """
    from weavewave.train.annotate import CAPTION_SIDECAR

    stem = safe_stem(filename, "captions")
    track = tracks.get(stem)
    if track is None:
        raise FieldError("captions", f"{stem}{CAPTION_SIDECAR} names no uploaded track: name a caption after its "
                         f"track ({stem}.wav -> {stem}{CAPTION_SIDECAR})")  # fmt: skip
    data = stream.read(MAX_CAPTION_BYTES + 1)
    if len(data) > MAX_CAPTION_BYTES:
        raise FieldError("captions", f"{stem}{CAPTION_SIDECAR} is longer than {MAX_CAPTION_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FieldError("captions", f"{stem}{CAPTION_SIDECAR} is not UTF-8 text") from None
    target = track.with_suffix(CAPTION_SIDECAR)
    target.write_text(text, encoding="utf-8")
    return target


def declared_seconds(path: Path) -> float:
    """The duration a file's header declares; 0 when it cannot be read (the job then skips and lists it)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
        return info.frames / info.samplerate if info.samplerate > 0 else 0.0
    except Exception:  # libsndfile's errors vary by version; an unreadable file is the job's to report
        return 0.0


def submit_annotate(
    uploads: list[tuple[str, IO[bytes], str | None]],
    fields: dict[str, str],
    store: JobStore,
    settings: Settings,
) -> Job:
    """Check the options and the files, store the files in a new job's folder, queue the job.

    ``uploads`` are (part name, stream, client's file name): ``files`` for audio, ``images`` for photos and
    ``captions`` for the user's own captions (``TRACK.txt`` for ``TRACK.wav``, as beside files on disk).
    Raises FieldError (422, naming the field) or QueueFull; on any refusal nothing is left behind.
    """
    from weavewave.io.audio import max_audio_seconds
    from weavewave.serve.store import new_job_id

    options = check_fields(fields)
    music = [u for u in uploads if u[0] == "files"]
    photos = [u for u in uploads if u[0] == "images"]
    if not music:
        raise FieldError("files", "send at least one audio file as a 'files' part")
    if len(music) > MAX_FILES:
        raise FieldError(
            "files", f"{len(music)} files: an annotate job takes at most {MAX_FILES}; send fewer"
        )
    if len([u for u in uploads if u[0] == "captions"]) > len(music):
        raise FieldError("captions", "more captions than tracks: send at most one per track, named after it")
    if len(photos) > MAX_IMAGES:
        raise FieldError("images", f"{len(photos)} photos: an annotate job takes at most {MAX_IMAGES}")
    job_id = new_job_id()
    folder = job_dir(settings, job_id)
    try:
        inputs = folder / "inputs"
        total = 0.0
        tracks: dict[str, Path] = {}  # the client's name (cleaned) -> the stored track, for its caption
        longest = max_audio_seconds()  # what the analysis reads of one file
        for _, stream, name in music:
            path = store_file(stream, name, "files", "audio", inputs / MUSIC_DIR, settings.max_upload_bytes)
            tracks.setdefault(safe_stem(name, "files"), path)
            seconds = declared_seconds(path)
            if seconds > longest:
                raise FieldError("files", f"{path.name} is {seconds:.0f} s long; the server analyses tracks of up to "
                                 f"{longest:.0f} s: cut it into parts")  # fmt: skip
            total += seconds
        if total > MAX_TOTAL_S:
            raise FieldError("files", f"the files last {total / 60:.0f} minutes in all; an annotate job takes at "
                             f"most {MAX_TOTAL_S / 60:.0f}: send fewer, or run `weavewave annotate` yourself")  # fmt: skip
        for _, stream, name in photos:
            store_file(stream, name, "images", "image", inputs / IMAGES_DIR, settings.max_upload_bytes)
        for _, stream, name in [u for u in uploads if u[0] == "captions"]:
            store_caption(stream, name, tracks)
        params = {"kind": JOB_KIND, "annotate": {**options, "images": bool(photos)}}
        return store.submit(params, max_queue=settings.max_queue, job_id=job_id)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def run_annotate(
    params: dict[str, Any],
    base: Path,
    staging: Path,
    progress: Callable[[float, str], None],
    text_model: str = "auto",
) -> list[str]:
    """Run an annotate job's workflow into ``staging``: ``dataset.zip`` and ``summary.json``; returns their names.

    Paths in the dataset are relative to the job's inputs (``music/track.wav``), never the server's. Photos
    and captions meet in the server's text embedder (``text_model``, as ``--text-model``).
    """
    from weavewave.train.annotate import annotate

    inputs = base / "inputs"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    dataset = staging / ZIP_ROOT
    summary = annotate(
        [inputs / MUSIC_DIR], dataset, segment=params["segment"], licence=params.get("licence"),
        review=params.get("review", "correct"), images=inputs / IMAGES_DIR if params.get("images") else None,
        progress=progress, paths_from=inputs, text_model=text_model,
    )  # fmt: skip
    progress(1.0, "packing the dataset")
    with zipfile.ZipFile(staging / DATASET_ZIP, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in dataset.rglob("*") if p.is_file()):
            zf.write(path, arcname=f"{ZIP_ROOT}/{path.relative_to(dataset).as_posix()}")
    shutil.rmtree(dataset)
    (staging / SUMMARY_FILE).write_text(json.dumps(asdict(summary), indent=2) + "\n", encoding="utf-8")
    return [DATASET_ZIP, SUMMARY_FILE]
