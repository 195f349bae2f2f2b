"""A labelled music library made at test time: pieces composed and rendered by weavewave itself, with known
genre, tempo, key and instruments written into their tags (FLAC Vorbis comments, through mutagen).

Shared by the library tests and ``bench/bench_library.py`` (which puts ``tests/`` on the path).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# (genre, tempo, key, instruments): distinct enough that filters and the broad track can be checked.
LABELS: tuple[tuple[str, float, str, tuple[str, ...]], ...] = (
    ("jazz", 96.0, "F major", ("piano", "acoustic bass", "drums")),
    ("ambient", 70.0, "D minor", ("pad", "strings")),
    ("rock", 140.0, "E minor", ("electric guitar", "electric bass", "drums")),
    ("folk", 110.0, "G major", ("acoustic guitar", "violin")),
    ("classical", 84.0, "C major", ("strings", "flute")),
    ("electronic", 126.0, "A minor", ("synth lead", "synth bass", "drums")),
)


@dataclass(frozen=True)
class Labelled:
    """One rendered track and what it is."""

    path: Path
    title: str
    genre: str
    tempo: float
    key: str
    instruments: tuple[str, ...]


def render_labelled(folder: Path, count: int, *, duration: float = 8.0, seed: int = 0) -> list[Labelled]:
    """``count`` pieces cycling through :data:`LABELS` (tempo moved a little per cycle), tagged, as FLAC."""
    import soundfile as sf
    from mutagen.flac import FLAC

    from weavewave import generate

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        genre, tempo, key, instruments = LABELS[i % len(LABELS)]
        tempo = tempo + 2.0 * (i // len(LABELS))
        track = generate(text=f"a {genre} piece", genre=genre, tempo=tempo, key=key, instruments=list(instruments),
                         duration=duration, seed=seed + i, text_model="lexicon")  # fmt: skip
        title = f"{genre.title()} {i:03d}"
        path = folder / f"{genre}-{i:03d}.flac"
        sf.write(path, track.audio, track.sample_rate, format="FLAC")
        tags = FLAC(path)
        tags["title"], tags["artist"], tags["genre"] = title, "weavewave composer", genre
        tags["comment"] = ", ".join(instruments)
        tags["bpm"] = f"{tempo:g}"
        tags.save()
        out.append(Labelled(path, title, genre, tempo, key, instruments))
    return out
