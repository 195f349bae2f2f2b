"""Finding what to evaluate: output folders (``music.wav`` + ``brief.json``, found recursively) or a JSONL
manifest, and reference sets (any folder of audio files, or a manifest)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from weavewave.errors import BadInputError

if TYPE_CHECKING:
    import numpy as np

    from weavewave.brief import MusicBrief


AUDIO_NAMES = ("music.wav", "music.flac", "music.mp3")
# MusFlow reports its scores per task, named by what the music was made from. A text this long or longer
# is a story (a narrative paragraph); a shorter one a caption (a line describing the music or a scene).
STORY_MIN_WORDS = 40
TASKS = ("image-to-music", "story-to-music", "caption-to-music", "multimodal-to-music", "video-to-music",
         "music-to-music", "brief-to-music")  # fmt: skip
# The inputs a task is read from (a multimodal model's description adds no input of its own).
INPUT_SOURCES = ("text", "image", "video", "audio")
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")
MANIFEST_KEYS = {"audio", "brief", "midi", "image", "text", "name"}


@dataclass
class Item:
    """One track to evaluate, and what it was asked to be.

    ``brief`` is None for plain audio (reference sets); ``text`` is the original prompt when known;
    ``image`` a photo it was made from, for image-music alignment.
    """

    name: str
    audio: Path
    brief: MusicBrief | None = None
    midi: Path | None = None
    image: Path | None = None
    text: str | None = None

    def __repr__(self) -> str:
        return f"Item({self.name!r}, {self.audio.name}, brief={'yes' if self.brief else 'no'})"


def task_of(brief: MusicBrief | None, *, image: Path | None = None, text: str | None = None) -> str:
    """The task a piece answers, from the inputs its brief observed (else a manifest's ``image``/``text``).

    One photo: ``image-to-music``; one text: ``story-to-music`` from :data:`STORY_MIN_WORDS` words up, else
    ``caption-to-music``; inputs of several kinds: ``multimodal-to-music``; a video: ``video-to-music``; a
    reference tune: ``music-to-music``; nothing observed (a brief written by hand): ``brief-to-music``.
    """
    words: int | None = None
    kinds: set[str] = set()
    if brief is not None:
        for o in brief.observations:
            if o.source not in INPUT_SOURCES:
                continue
            kinds.add(o.source)
            if o.source == "text":
                count = re.match(r"(\d+) words?\b", o.summary)  # the text perceiver's summary opens so
                words = int(count.group(1)) if count else len(o.input.split())
    if not kinds:
        if image is not None:
            kinds.add("image")
        if text:
            kinds.add("text")
            words = len(text.split())
    if len(kinds) > 1:
        return "multimodal-to-music"
    if not kinds:
        return "brief-to-music"
    kind = kinds.pop()
    if kind == "text":
        return "story-to-music" if (words or 0) >= STORY_MIN_WORDS else "caption-to-music"
    return {"image": "image-to-music", "video": "video-to-music", "audio": "music-to-music"}[kind]


def load_audio(path: Path) -> tuple[np.ndarray, int]:
    """(samples [shape=(n, channels)], sample rate) from a WAV/FLAC/MP3/OGG file; a clear error if unreadable."""
    from weavewave.io.audio import read_audio

    return read_audio(path)


def find_items(paths: list[str | Path], *, images: str | Path | None = None) -> list[Item]:
    """Every generated output under ``paths`` (folders searched recursively, or ``.jsonl`` manifests).

    ``images``: a folder holding the photos the pieces were made from. A folder item whose brief was
    described from a photo gets that photo (found by the name its brief records) for image-music
    alignment; ``brief.json`` keeps only the file's name, not where it was.
    """
    image_dir = Path(images) if images is not None else None
    if image_dir is not None and not image_dir.is_dir():
        raise BadInputError(
            f"--images {image_dir} is not a folder: give the folder that holds the photos the "
            "pieces were made from"
        )
    items: list[Item] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise BadInputError(f"{p} does not exist: give output folders or a .jsonl manifest")
        if p.is_file():
            if p.suffix != ".jsonl":
                raise BadInputError(
                    f"{p} is not a folder or a .jsonl manifest: give the folder that holds "
                    "music.wav and brief.json"
                )
            items.extend(read_manifest(p))
            continue
        for folder in sorted({a.parent for name in AUDIO_NAMES for a in p.rglob(name)}):
            items.append(_folder_item(folder, p, image_dir))
    if not items:
        raise BadInputError(
            f"nothing to evaluate in {', '.join(map(str, paths))}: expected folders holding "
            "music.wav and brief.json (as `weavewave generate` writes) or a .jsonl manifest"
        )
    _unique_names(items)
    return items


def _folder_item(folder: Path, root: Path, image_dir: Path | None = None) -> Item:
    from weavewave.brief import MusicBrief

    audio = next(folder / n for n in AUDIO_NAMES if (folder / n).exists())
    brief_path = folder / "brief.json"
    if not brief_path.exists():
        raise BadInputError(
            f"{folder} has {audio.name} but no brief.json: evaluation measures the music "
            "against its brief; pass plain audio as --reference instead"
        )
    midi = folder / "music.mid"
    rel = folder.relative_to(root) if folder != root else Path(root.name or "track")
    brief = MusicBrief.load(brief_path)
    return Item(
        name=str(rel),
        audio=audio,
        brief=brief,
        midi=midi if midi.exists() else None,
        image=_source_photo(brief, folder, image_dir) if image_dir is not None else None,
    )


def _source_photo(brief: MusicBrief, folder: Path, image_dir: Path) -> Path | None:
    """The photo ``brief`` was described from, looked up by name in ``image_dir``; None for other pieces."""
    name = next((o.input for o in brief.observations if o.source == "image" and o.input), None)
    if name is None:
        return None
    photo = image_dir / Path(name).name
    if not photo.is_file():
        raise BadInputError(
            f"{folder / 'brief.json'} was made from the photo {name}, which is not in "
            f"{image_dir}: put it there, or leave out --images"
        )
    return photo


def read_manifest(path: Path) -> list[Item]:
    """Items from a JSONL manifest: one object per line with ``audio`` and ``brief`` (a path or an
    object), and optional ``midi``, ``image``, ``text``, ``name``. Relative paths are relative to the
    manifest's folder."""
    from weavewave.brief import MusicBrief

    base = path.parent
    items = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}, line {lineno}"
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"{where} is not valid JSON: {exc.msg}") from None
        if not isinstance(entry, dict) or "audio" not in entry:
            raise BadInputError(f'{where}: each line must be an object with at least "audio"')
        unknown = set(entry) - MANIFEST_KEYS
        if unknown:
            raise BadInputError(
                f"{where}: unknown key(s) {', '.join(sorted(unknown))}; use "
                f"{', '.join(sorted(MANIFEST_KEYS))}"
            )

        brief = entry.get("brief")
        if isinstance(brief, dict):
            brief = MusicBrief.from_dict(brief, origin=where)
        elif brief is not None:
            brief_path = _resolve(entry, "brief", base, where)
            assert brief_path is not None  # the entry names a brief
            brief = MusicBrief.load(brief_path)
        audio = _resolve(entry, "audio", base, where)
        if audio is None:
            raise BadInputError(f'{where}: no audio: each entry needs an "audio" path')
        items.append(
            Item(
                name=str(entry.get("name") or audio.stem),
                audio=audio,
                brief=brief,
                midi=_resolve(entry, "midi", base, where),
                image=_resolve(entry, "image", base, where),
                text=entry.get("text"),
            )
        )
    return items


def _resolve(entry: dict, key: str, base: Path, where: str) -> Path | None:
    """A manifest path, relative to the manifest's folder; it must exist."""
    if entry.get(key) is None:
        return None
    q = Path(entry[key])
    q = q if q.is_absolute() else base / q
    if not q.exists():
        raise BadInputError(f"{where}: {key} file {q} does not exist")
    return q


def find_reference(path: str | Path) -> list[Item]:
    """A reference set: every audio file under a folder, or the ``audio`` of each line of a manifest."""
    p = Path(path)
    if not p.exists():
        raise BadInputError(
            f"reference set {p} does not exist: give a folder of audio files or a .jsonl manifest"
        )
    if p.is_file():
        if p.suffix == ".jsonl":
            return read_manifest(p)
        raise BadInputError(f"reference set {p} is a file: give a folder of audio files or a .jsonl manifest")
    files = sorted(
        f
        for f in p.rglob("*")
        if f.suffix.lower() in AUDIO_SUFFIXES and f.is_file() and "stems" not in f.relative_to(p).parts
    )
    if not files:
        raise BadInputError(f"no audio files (.wav, .flac, .mp3, .ogg) under reference set {p}")
    return [Item(name=str(f.relative_to(p)), audio=f) for f in files]


def _unique_names(items: list[Item]) -> None:
    seen: dict[str, int] = {}
    for it in items:
        k = seen.get(it.name, 0)
        seen[it.name] = k + 1
        if k:
            it.name = f"{it.name}-{k + 1}"


def slug(name: str) -> str:
    """A safe folder name for a track's pictures."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "track"
