"""Finding a user's music on disk: walking folders for audio files, content hashes, and the files' tags.

Shared by everything that reads a collection of tracks rather than one reference tune (the music library,
the dataset annotator, batch runs). Decoding stays in :mod:`weavewave.io.audio`.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from weavewave.errors import BadInputError

logger = logging.getLogger(__name__)

# Suffixes taken as music. M4A/AAC and AIFF are listed so they are found and, where no installed decoder
# reads them, reported as skipped with the reason rather than silently ignored.
AUDIO_SUFFIXES = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff"}
)
HASH_CHUNK = 1 << 20  # read files for hashing a megabyte at a time
# Tag keys read from files, in mutagen's "easy" names (the same across ID3, Vorbis comments and MP4 atoms).
TAG_KEYS = ("title", "artist", "album", "genre", "date", "tracknumber", "bpm", "comment")
MAX_TAG_CHARS = 200  # a tag longer than this is cut: some files carry whole lyrics or base64 art in tags


@dataclass(frozen=True)
class Skipped:
    """A path that was not taken, and why (one line a user can act on)."""

    path: Path
    reason: str


def is_audio_path(path: str | Path) -> bool:
    """Whether ``path`` has one of :data:`AUDIO_SUFFIXES` (case-insensitive); does not open it."""
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


def find_audio_files(
    paths: Iterable[str | Path], *, recursive: bool = True
) -> tuple[list[Path], list[Skipped]]:
    """The audio files under ``paths`` (files or folders), each once, sorted, with what was skipped.

    Folders are walked (recursively unless ``recursive`` is false; hidden files and folders are left out);
    files named directly are taken if their suffix is an audio one. A path that does not exist, or a
    named file that is not audio, is a :class:`Skipped`, never an error, so one bad path does not stop a
    long indexing run. Raises BadInputError when ``paths`` is empty or none of them exists (a mistyped
    folder is the user's mistake to hear about, not an empty result).
    """
    given = [Path(p) for p in paths]
    if not given:
        raise BadInputError("no paths given: name audio files or folders that hold them")
    found: dict[Path, None] = {}
    skipped: list[Skipped] = []
    for p in given:
        if p.is_dir():
            for f in _walk(p, recursive):
                found.setdefault(f.resolve(), None)
        elif p.is_file():
            if is_audio_path(p):
                found.setdefault(p.resolve(), None)
            else:
                skipped.append(Skipped(p, f"not an audio file (suffix {p.suffix or 'none'})"))
        else:
            skipped.append(Skipped(p, "no such file or folder"))
    if len(skipped) == len(given) and all(s.reason == "no such file or folder" for s in skipped):
        missing = ", ".join(str(p) for p in given)
        raise BadInputError(f"no such file or folder: {missing}; name audio files or folders that hold them")
    return sorted(found), skipped


def _walk(root: Path, recursive: bool) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        for name in sorted(filenames):
            if not name.startswith(".") and is_audio_path(name):
                yield Path(dirpath) / name


def content_hash(path: str | Path) -> str:
    """SHA-256 of the file's bytes, as hex: the identity of a track whatever its name or folder."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_tags(path: str | Path) -> dict[str, str]:
    """The file's own tags (title, artist, album, genre, date, ...) as plain strings; {} where none.

    Reads ID3, Vorbis comments, FLAC, MP4 and RIFF INFO through mutagen. A file whose tags cannot be
    parsed gives {} (logged), never an error: tags are a help, the audio is what matters.
    """
    from weavewave._deps import available

    if not available("mutagen"):  # the library extra is not installed; tags are optional
        return {}
    import mutagen

    try:
        tagged = mutagen.File(str(path), easy=True)
    except Exception as exc:  # mutagen raises many format-specific errors on damaged headers
        logger.info("cannot read tags of %s: %s", Path(path).name, exc)
        return {}
    if tagged is None or not tagged.tags:
        return {}
    tags: dict[str, str] = {}
    for key in TAG_KEYS:
        try:
            values = tagged.tags.get(key)
        except (KeyError, ValueError):  # some easy-tag mappings raise for keys the format lacks
            continue
        if not values:
            continue
        text = "; ".join(str(v).strip() for v in values if str(v).strip())
        if text:
            tags[key] = text[:MAX_TAG_CHARS]
    return tags
