"""The music library over HTTP: list, search and add by upload (``/v1/library/...``).

The server keeps its own library in ``DATA_DIR/library`` (a client never names server paths); uploaded
tracks are stored by content hash in ``DATA_DIR/library-files/HASH/NAME`` and indexed like ``weavewave library add``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from starlette.concurrency import run_in_threadpool

from weavewave.errors import BadInputError, FieldError
from weavewave.serve.settings import Settings

FILES_FOLDER = "library-files"
MAX_RESULTS = 100


def library_router(settings: Settings) -> APIRouter:
    """The ``/library`` routes, mounted under ``/v1`` by :func:`weavewave.serve.api.create_app`."""
    router = APIRouter(prefix="/library", tags=["library"])
    folder = settings.library_dir

    def opened(create: bool = False) -> Any:
        from weavewave.library import open_library

        if not create and not folder.is_dir():
            return None
        return open_library(folder, create=create, what="server library")

    @router.get("/tracks")
    def list_tracks(limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> dict[str, Any]:
        """The library's tracks (no vectors), by title."""
        lib = opened()
        rows = [] if lib is None else lib.rows(limit=limit)
        rows.sort(key=lambda r: (r["title"].lower(), r["id"]))
        return {"tracks": [_public(r) for r in rows], "count": 0 if lib is None else lib.count()}

    @router.get("/search")
    def search_tracks(
        q: Annotated[
            str | None, Query(description="words: mood, theme, genre, 'my track \\'Title\\''")
        ] = None,
        genre: str | None = None,
        instrument: str | None = None,
        artist: str | None = None,
        title: str | None = None,
        tempo: Annotated[str | None, Query(description="a BPM range, e.g. 100-120")] = None,
        key: Annotated[str | None, Query(description="'D minor', or a mode: 'minor'")] = None,
        reference_track: Annotated[list[str] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 10,
    ) -> dict[str, Any]:
        """Dual-track retrieval: each result with its track (broad or targeted), score and why."""
        lib = opened()
        if lib is None:
            return {"results": []}
        try:
            return {"results": search_results(lib, q=q, genre=genre, instrument=instrument, artist=artist,
                                              title=title, tempo=tempo, key=key, track=reference_track,
                                              limit=limit)}  # fmt: skip
        except BadInputError as exc:
            raise FieldError("tempo" if "--tempo" in str(exc) else "q", str(exc)) from None

    @router.post("/tracks", status_code=201)
    async def add_track(file: Annotated[UploadFile, File(description="an audio file: WAV, FLAC, MP3, OGG")]):
        """Upload a track: stored by content hash and analysed into the library (a duplicate is stored once)."""
        return await run_in_threadpool(_add_upload, settings, file, opened)

    return router


def _add_upload(settings: Settings, upload: UploadFile, opened: Any) -> dict[str, Any]:
    from weavewave.io.audiofiles import content_hash, is_audio_path
    from weavewave.library.indexer import add_paths

    name = Path(upload.filename or "upload").name
    if not is_audio_path(name):
        raise FieldError("file", f"{name}: not an audio file name; send a .wav, .flac, .mp3 or .ogg file")
    store = settings.data_dir / FILES_FOLDER
    store.mkdir(parents=True, exist_ok=True)
    part = store / f".upload-{id(upload)}{Path(name).suffix.lower()}"
    with part.open("wb") as fh:
        shutil.copyfileobj(upload.file, fh)
    digest = content_hash(part)
    final = store / digest[:16] / name  # a folder per content keeps the name (the title when untagged)
    final.parent.mkdir(exist_ok=True)
    part.replace(final)
    lib = opened(create=True)
    report = add_paths(lib, [final], text_model=settings.text_model)
    if report.skipped:
        final.unlink(missing_ok=True)
        raise FieldError("file", f"{name}: {report.skipped[0].reason}")
    row = lib.get(digest)
    return {"added": report.added, "duplicate": report.added == 0, "track": _public(row or {})}


def search_results(
    lib: Any,
    *,
    q: str | None = None,
    genre: str | None = None,
    instrument: str | None = None,
    artist: str | None = None,
    title: str | None = None,
    tempo: str | None = None,
    key: str | None = None,
    track: list[str] | None = None,
    limit: int = 10,
) -> list[dict[str, Any]]:
    """Dual-track retrieval in ``lib`` as the API and the page show it: each result with its rank, track
    (broad or targeted), score and why. Raises BadInputError on a bad tempo range or query."""
    from weavewave.library.search import Query as LibraryQuery
    from weavewave.library.search import parse_tempo_range, search

    query = LibraryQuery(text=q, track=list(track or []), genre=genre, instrument=instrument, artist=artist,
                         title=title, key=key, limit=limit,
                         tempo=parse_tempo_range(tempo) if tempo else None)  # fmt: skip
    hits = search(lib, query)
    return [{"rank": i + 1, "track": h.track, "score": round(h.score, 4), "why": h.why, **_public(h.row)}
            for i, h in enumerate(hits)]  # fmt: skip


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """A row without its vectors and embedding text (what a client shows)."""
    return {
        k: v for k, v in row.items() if not k.endswith("_vector") and k not in ("embed_text", "_distance")
    }
