"""One library track: a file analysed by the audio perceiver, captioned, and embedded, as a table row.

Nothing here measures audio itself: the analysis is :func:`weavewave.perceive.audio.perceive_audio`'s and
the caption is the bridge's, exactly as ``weavewave describe --audio FILE`` writes them. What is added is
the track's identity (content hash), its tags, and two offline embeddings:

- ``text_vector``: the shipped all-MiniLM-L6-v2 sentence model's embedding of the caption and the tags
  (:data:`TEXT_DIM` values), or, on an install without the ``semantic`` extra, a hashed bag of words of
  the same size (``embedder`` says which, and queries use the same one);
- ``feature_vector``: the musical features (:data:`FEATURES`), each scaled by a fixed range, centred and
  L2-normalised, so cosine similarity compares tempo, mode, key, energy, brightness and activity.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from weavewave.errors import BadInputError

TEXT_DIM = 384  # all-MiniLM-L6-v2's width; the hashed fallback uses the same so one column fits both
ENERGY_POINTS = 16  # the energy curve is kept as this many points, whatever the track's length
MAX_CHORDS = 64  # chord labels kept per track (the caption and the targeted track read a few)
# Fixed ranges that scale each musical feature to 0..1 before centring (values outside are clipped).
FEATURE_RANGES = {
    "tempo": (math.log2(50.0), math.log2(200.0)),  # log tempo: 60 vs 120 BPM is as far as 120 vs 240
    "energy": (0.0, 1.0),
    "brightness": (500.0, 4000.0),  # spectral centroid, Hz
    "activity": (0.0, 8.0),  # onsets per second
    "loudness": (-40.0, -6.0),  # LUFS
}
# The order of ``feature_vector``: the scaled features, then the mode, then the key on the circle of fifths
# (as a unit circle, so B and C# are neighbours), weighted by how sure the key estimate was.
FEATURES = ("tempo", "energy", "brightness", "activity", "loudness", "major", "fifths_cos", "fifths_sin")
FEATURE_DIM = len(FEATURES)
KEY_WEIGHT = 0.5  # the key matters less than tempo and energy for "sounds like"
EMBEDDER_MINILM, EMBEDDER_WORDS = "minilm", "words"
_WORD = re.compile(r"[a-z0-9']+")


def text_embedder() -> str:
    """The text embedder this install has: ``minilm`` (the sentence model) or ``words`` (hashed words)."""
    from weavewave.perceive import semantic

    return EMBEDDER_MINILM if semantic.is_available() else EMBEDDER_WORDS


def embed_texts(texts: list[str], embedder: str) -> np.ndarray:
    """Unit vectors of ``texts`` [shape=(len(texts), TEXT_DIM)] with ``embedder`` (see :func:`text_embedder`)."""
    if not texts:
        return np.zeros((0, TEXT_DIM), dtype=np.float32)
    if embedder == EMBEDDER_MINILM:
        import torch

        from weavewave.perceive import semantic

        threads = torch.get_num_threads()
        if len(texts) == 1:  # one short query: a single thread skips the threads' hand-offs (3-10x faster
            torch.set_num_threads(1)  # on a busy 2-core machine, measured)
        try:
            return semantic.encode(texts).astype(np.float32)
        finally:
            torch.set_num_threads(threads)
    return np.stack([_hashed_words(t) for t in texts])


def _hashed_words(text: str) -> np.ndarray:
    """A bag of words hashed into TEXT_DIM buckets (stable across runs: SHA-1, not Python's hash)."""
    v = np.zeros(TEXT_DIM, dtype=np.float32)
    for word in _WORD.findall(text.lower()):
        h = int.from_bytes(hashlib.sha1(word.encode()).digest()[:4], "little")
        v[h % TEXT_DIM] += 1.0 if (h >> 31) & 1 else -1.0
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def feature_vector(
    *,
    tempo_bpm: float,
    energy: float,
    brightness_hz: float,
    onsets_per_s: float,
    loudness_lufs: float | None,
    key_tonic: str,
    key_mode: str,
    key_correlation: float,
) -> np.ndarray:
    """The normalised musical-feature vector [shape=(FEATURE_DIM,)] (see :data:`FEATURES`)."""
    from weavewave.music.theory import tonic_pitch_class

    raw = {
        "tempo": math.log2(max(tempo_bpm, 1.0)),
        "energy": energy,
        "brightness": brightness_hz,
        "activity": onsets_per_s,
        "loudness": -40.0 if loudness_lufs is None else loudness_lufs,
    }
    scaled = [
        float(np.clip((raw[k] - lo) / (hi - lo), 0.0, 1.0)) - 0.5 for k, (lo, hi) in FEATURE_RANGES.items()
    ]
    fifths = (tonic_pitch_class(key_tonic) * 7) % 12  # position on the circle of fifths
    angle = 2 * math.pi * fifths / 12
    sure = KEY_WEIGHT * float(np.clip(key_correlation, 0.0, 1.0))
    mode = 0.5 if key_mode in ("major", "lydian", "mixolydian") else -0.5
    v = np.array([*scaled, mode, sure * math.cos(angle), sure * math.sin(angle)], dtype=np.float32)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def named_instruments(text: str) -> list[str]:
    """Instruments named in ``text`` by a name :func:`~weavewave.music.instruments.resolve_instrument`
    knows exactly (words and word pairs; no guessing), as canonical General MIDI names."""
    from weavewave.music.instruments import known_instrument_names, resolve_instrument

    known = set(known_instrument_names())
    words = _WORD.findall(text.lower())
    found: list[str] = []
    i = 0
    while i < len(words):  # left to right, the longer name first: "acoustic bass" is not also "bass"
        for n in (2, 1):
            phrase = " ".join(words[i : i + n])
            single = phrase[:-1] if phrase.endswith("s") else phrase
            if i + n <= len(words) and (phrase in known or single in known):
                name = resolve_instrument(phrase)
                if name not in found:
                    found.append(name)
                i += n - 1
                break
        i += 1
    return found


def named_genres(text: str) -> list[str]:
    """Genres named in ``text`` by one of their exact names or aliases ("lo-fi", "hip hop", "EDM")."""
    from weavewave.music.styles import GENRE_ALIASES

    aliases = {re.sub(r"[\s_\-/]+", " ", k.lower()): v for k, v in GENRE_ALIASES.items()}
    words = _WORD.findall(re.sub(r"[\-/]", " ", text.lower()))
    found: list[str] = []
    i = 0
    while i < len(words):
        for n in (2, 1):
            genre = aliases.get(" ".join(words[i : i + n])) if i + n <= len(words) else None
            if genre:
                if genre not in found:
                    found.append(genre)
                i += n - 1
                break
        i += 1
    return found


def tag_instruments(tags: dict[str, str]) -> list[str]:
    """Instruments named in the tags (comment, genre, title), by canonical General MIDI name."""
    return named_instruments(" , ".join(tags.get(k, "") for k in ("comment", "genre", "title")))


def tag_genre(tags: dict[str, str]) -> str | None:
    """The weavewave genre a file's genre tag names ("Jazz", "Lo-Fi"), or None."""
    found = named_genres(tags.get("genre", ""))
    return found[0] if found else None


def _summary_curve(curve: list[float]) -> list[float]:
    """The energy curve at :data:`ENERGY_POINTS` evenly spaced points."""
    if not curve:
        return [0.0] * ENERGY_POINTS
    x = np.linspace(0, len(curve) - 1, ENERGY_POINTS)
    return [round(float(v), 3) for v in np.interp(x, np.arange(len(curve)), curve)]


def analyse_track(path: Path, content_hash: str, tags: dict[str, str]) -> dict[str, Any]:
    """A table row for one file (without its embeddings; see :func:`embed_rows`). Raises BadInputError.

    The melody is not transcribed (a library needs tempo, key, chords and form, not the tune), which keeps
    indexing at about a second per three-minute track once the analysis is compiled.
    """
    from weavewave import bridge
    from weavewave.perceive.audio import perceive_audio

    perception = perceive_audio(path, transcribe=False)
    a = perception.analysis
    if a is None:  # pragma: no cover - perceive_audio always sets it
        raise BadInputError(f"{path.name}: no analysis")
    # The caption describe --audio would write (style mode: tempo and feel are what a reference lends).
    brief = bridge.build([perception], None, reference_mode="style")
    genre = tag_genre(tags) or brief.genre
    text = caption_text(brief.caption, tags)
    st = path.stat()
    return {
        "id": content_hash[:12],
        "content_hash": content_hash,
        "path": str(path),
        "size": int(st.st_size),
        "mtime_ns": int(st.st_mtime_ns),
        "title": tags.get("title", "") or path.stem,
        "artist": tags.get("artist", ""),
        "album": tags.get("album", ""),
        "genre": genre,
        "genre_from": "tags" if tag_genre(tags) else "sound",
        "instruments": tag_instruments(tags),
        "tags": sorted(f"{k}={v}" for k, v in tags.items()),
        "duration_s": float(a.duration_s),
        "tempo_bpm": float(a.tempo_bpm),
        "key": str(a.key),
        "key_tonic": a.key.tonic,
        "key_mode": a.key.mode,
        "key_correlation": float(a.key_correlation),
        "meter": a.meter or "",
        "loudness_lufs": None if a.loudness_lufs is None else float(a.loudness_lufs),
        "energy": float(a.energy),
        "energy_curve": _summary_curve(a.energy_curve),
        "brightness_hz": float(a.brightness_hz),
        "onsets_per_s": float(a.onsets_per_s),
        "sections": [f"{s.label}@{s.start_s:.1f}-{s.end_s:.1f}" for s in a.segments],
        "chords": [c[2] for c in a.chords][:MAX_CHORDS],
        "chords_from": a.chords_from,
        "valence": float(brief.mood.valence),
        "arousal": float(brief.mood.arousal),
        "mood_tags": list(brief.mood.tags),
        "caption": brief.caption.replace(f" After the reference {a.name}.", ""),
        "embed_text": text,
        "feature_vector": feature_vector(
            tempo_bpm=a.tempo_bpm,
            energy=a.energy,
            brightness_hz=a.brightness_hz,
            onsets_per_s=a.onsets_per_s,
            loudness_lufs=a.loudness_lufs,
            key_tonic=a.key.tonic,
            key_mode=a.key.mode,
            key_correlation=a.key_correlation,
        ).tolist(),  # fmt: skip
    }


def caption_text(caption: str, tags: dict[str, str]) -> str:
    """What the text embedding reads: the caption, then the tags a person would search by."""
    named = [tags[k] for k in ("title", "artist", "album", "genre", "comment") if tags.get(k)]
    return caption + (" " + ". ".join(named) if named else "")


def embed_rows(rows: list[dict[str, Any]], embedder: str) -> None:
    """Fill each row's ``text_vector`` (and ``embedder``) in place, one batch through the model."""
    vectors = embed_texts([r["embed_text"] for r in rows], embedder)
    for row, v in zip(rows, vectors, strict=True):
        row["text_vector"] = v.astype(np.float32).tolist()
        row["embedder"] = embedder
