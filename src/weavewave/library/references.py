"""From a request and the brief its inputs make to the library tracks that steer the piece.

The broad query is the brief's caption, mood words and genre; the targeted track takes the titles the
prompt quotes ("in the style of my track 'Harbour'") and ``reference_track`` ids. Each picked track is
analysed again from its file (the restyle machinery needs its beats and chords), after checking that the
file is still there and unchanged: a reference that is gone is one clear line, never a silent skip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from weavewave.brief import LibraryReference, MusicBrief
from weavewave.errors import BadInputError, FieldError
from weavewave.library.search import Hit, Query, brief_query_text, search
from weavewave.library.store import open_library

Pick = tuple[LibraryReference, Any, dict[str, Any]]  # (reference, AudioPerception, library row)


def pick_references(req: Any, brief: MusicBrief) -> list[Pick]:
    """The ``req.references`` best tracks of ``req.library`` for ``brief``, analysed, in rank order."""
    try:
        library = open_library(req.library, what="library")
    except BadInputError as exc:
        raise FieldError("library", str(exc).removeprefix("library ")) from None
    if library.count() == 0:
        raise FieldError(
            "library", f"{library.folder} holds no tracks yet: add some with `weavewave library add`"
        )
    text = " ".join(t for t in (req.text, brief_query_text(brief)) if t)
    hits = search(library, Query(text=text, track=list(req.reference_track), limit=req.references or 1))
    return [_pick(hit) for hit in hits[: req.references or 1]]


def _pick(hit: Hit) -> Pick:
    row = hit.row
    ref = LibraryReference(track_id=row["id"], path=row["path"], content_hash=row["content_hash"],
                           title=row["title"], score=round(hit.score, 4), track=hit.track,
                           why="; ".join(hit.why))  # fmt: skip
    return ref, analyse_reference(ref), row


def analyse_reference(ref: LibraryReference) -> Any:
    """The reference's analysis from its file; BadInputError (one line) when the file is gone or changed."""
    from weavewave.perceive.audio import perceive_audio

    check_reference_file(ref)
    return perceive_audio(Path(ref.path), transcribe=False)


def check_reference_file(ref: LibraryReference) -> None:
    """BadInputError (one line) when the reference's file is gone, or changed since it was added."""
    from weavewave.io.audiofiles import content_hash

    path = Path(ref.path)
    name = f"reference '{ref.title or path.name}'" + (f" (track {ref.track_id})" if ref.track_id else "")
    if not path.is_file():
        raise BadInputError(
            f"{name} is no longer at {path}: add its new folder with `weavewave library add`, or remove it "
            f"with `weavewave library remove {ref.track_id or path}`"
        )
    if ref.content_hash and content_hash(path) != ref.content_hash:
        raise BadInputError(
            f"{name} at {path} has changed since it was added: run `weavewave library add {path.parent}` again"
        )


def hand_references(brief: MusicBrief) -> list[Pick]:
    """References added to a brief.json by hand (``lent`` empty), analysed so they can lend."""
    picks: list[Pick] = []
    for ref in brief.references:
        if ref.lent:
            continue
        perception = analyse_reference(ref)
        tags_row: dict[str, Any] = {"instruments": []}
        picks.append((ref, perception, tags_row))
    return picks
