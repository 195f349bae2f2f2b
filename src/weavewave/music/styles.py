"""Genre styles: the defaults each genre brings to a brief, and the aliases people type.

The composer's own pattern data (grooves, voicings) lives in ``generators/symbolic``; this table holds
what the bridge needs to fill in a brief and what a user can see and edit there.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from weavewave.errors import BadInputError
from weavewave.music.instruments import DRUMS


@dataclass(frozen=True)
class GenreStyle:
    """What a genre brings to a brief before anything else is known."""

    name: str
    tempo_range: tuple[float, float]  # typical BPM, low to high arousal
    meters: tuple[str, ...]  # first is the default
    ensemble: tuple[str, ...]  # canonical instrument names, in arrangement order
    swing: float  # 0 = straight, 1 = full triplet swing
    valence_bias: float  # where the genre sits, used when nothing else speaks
    arousal_bias: float
    description: str  # the words the caption uses


GENRES: dict[str, GenreStyle] = {
    s.name: s
    for s in (
        GenreStyle(
            "pop",
            (90, 128),
            ("4/4",),
            (
                "Acoustic Grand Piano",
                "Electric Bass (finger)",
                "Pad 2 (warm)",
                "Electric Guitar (clean)",
                DRUMS,
            ),
            0.0,
            0.4,
            0.3,
            "upbeat pop",
        ),
        GenreStyle(
            "rock",
            (100, 150),
            ("4/4",),
            ("Overdriven Guitar", "Distortion Guitar", "Electric Bass (pick)", DRUMS),
            0.0,
            0.1,
            0.6,
            "driving rock",
        ),
        GenreStyle(
            "jazz",
            (80, 180),
            ("4/4", "3/4"),
            ("Tenor Sax", "Acoustic Grand Piano", "Acoustic Bass", DRUMS),
            0.62,
            0.2,
            0.1,
            "swinging jazz",
        ),
        GenreStyle(
            "lofi",
            (65, 90),
            ("4/4",),
            ("Electric Piano 1", "Electric Bass (finger)", "Vibraphone", DRUMS),
            0.55,
            0.1,
            -0.4,
            "lo-fi hip-hop",
        ),
        GenreStyle(
            "electronic",
            (118, 132),
            ("4/4",),
            ("Lead 2 (sawtooth)", "Synth Bass 1", "Pad 3 (polysynth)", "Pad 2 (warm)", DRUMS),
            0.0,
            0.3,
            0.7,
            "electronic dance",
        ),
        GenreStyle(
            "ambient",
            (60, 84),
            ("4/4", "3/4"),
            ("Pad 7 (halo)", "Acoustic Grand Piano", "String Ensemble 1", "Fretless Bass"),
            0.0,
            0.1,
            -0.7,
            "ambient",
        ),
        GenreStyle(
            "classical",
            (66, 132),
            ("4/4", "3/4", "6/8"),
            ("Violin", "String Ensemble 1", "Cello", "Flute", "Orchestral Harp"),
            0.0,
            0.2,
            0.0,
            "classical chamber",
        ),
        GenreStyle(
            "folk",
            (80, 120),
            ("4/4", "3/4", "6/8"),
            ("Acoustic Guitar (steel)", "Fiddle", "Acoustic Bass", "Flute"),
            0.0,
            0.3,
            0.0,
            "acoustic folk",
        ),
        GenreStyle(
            "cinematic",
            (60, 110),
            ("4/4", "6/8"),
            ("French Horn", "String Ensemble 1", "String Ensemble 2", "Contrabass", "Timpani", DRUMS),
            0.0,
            -0.1,
            0.2,
            "cinematic orchestral",
        ),
    )
}

GENRE_ALIASES: dict[str, str] = {
    "pop": "pop",
    "synthpop": "pop",
    "synth pop": "pop",
    "indie pop": "pop",
    "dance pop": "pop",
    "rock": "rock",
    "indie rock": "rock",
    "hard rock": "rock",
    "punk": "rock",
    "alt rock": "rock",
    "jazz": "jazz",
    "swing": "jazz",
    "bebop": "jazz",
    "big band": "jazz",
    "jazzy": "jazz",
    "lofi": "lofi",
    "lo fi": "lofi",
    "lofi hip hop": "lofi",
    "hip hop": "lofi",
    "hiphop": "lofi",
    "chillhop": "lofi",
    "boom bap": "lofi",
    "rap": "lofi",
    "beats": "lofi",
    "electronic": "electronic",
    "edm": "electronic",
    "house": "electronic",
    "techno": "electronic",
    "trance": "electronic",
    "dance": "electronic",
    "synthwave": "electronic",
    "electro": "electronic",
    "ambient": "ambient",
    "chill": "ambient",
    "drone": "ambient",
    "new age": "ambient",
    "meditation": "ambient",
    "classical": "classical",
    "orchestral": "classical",
    "chamber": "classical",
    "baroque": "classical",
    "romantic": "classical",
    "string quartet": "classical",
    "folk": "folk",
    "acoustic": "folk",
    "country": "folk",
    "celtic": "folk",
    "bluegrass": "folk",
    "singer songwriter": "folk",
    "cinematic": "cinematic",
    "film score": "cinematic",
    "soundtrack": "cinematic",
    "epic": "cinematic",
    "trailer": "cinematic",
    "score": "cinematic",
    "movie": "cinematic",
}


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-/]+", " ", name.strip().lower())


_GENRE_BY_NORM = {_norm(k): v for k, v in GENRE_ALIASES.items()}


def resolve_genre(name: str) -> str:
    """Canonical genre for what a user typed ("lo-fi", "hip hop", "EDM").

    Raises
    ------
    BadInputError
        With the closest valid names, if the name is unknown.
    """
    key = _norm(name)
    if key in _GENRE_BY_NORM:
        return _GENRE_BY_NORM[key]
    close = difflib.get_close_matches(key, list(_GENRE_BY_NORM), n=3, cutoff=0.6)
    hint = (
        f"did you mean {', '.join(repr(c) for c in close)}?"
        if close
        else (f"choose one of {', '.join(GENRES)}")
    )
    raise BadInputError(f"unknown genre {name!r}: {hint}")
